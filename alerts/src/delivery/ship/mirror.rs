//! [`CursorMirror`]: how an active-standby pair (SPEC §6) copies a node's
//! delivery positions to its standby *before* each send, so a standby that
//! takes over knows what was delivered and what was in flight, and reports
//! a send the old active may have made as in doubt instead of silently
//! repeating or dropping it.
//!
//! The shipper calls [`CursorMirror::written`] after every durable write it
//! makes under `<journal dir>/cursors/`, with the file's complete bytes:
//! the cursor file after an in-flight mark (before the send) and after a
//! delivered mark, the new cursor file of a sink new to the journal, and
//! the sink registry when it registers a sink (under the registry's lock,
//! so concurrent registrations reach the mirror in the order they were
//! written). The sidecars (`<name>.sink`) are not mirrored: every shipper
//! rewrites its own at start. The standby side is
//! [`install_cursor_file`](crate::delivery::install_cursor_file).

/// Receives every durable write a shipper makes under `cursors/`.
///
/// `written` runs on the shipper's thread, between the write and whatever
/// the shipper does next (after an in-flight mark: the send). It may block
/// — to wait for the standby's acknowledgement, say — and bounds that wait
/// itself; the shipper has no timeout of its own for it. It cannot fail
/// the shipper: what to do when the standby does not answer (go on alone
/// and say so, or close the ship gate) is the pair's decision. A fenced
/// shipper still makes (and mirrors) one kind of write: the record of
/// deliveries it completed before the gate closed, so that a successor
/// starts after them; a peer that has taken over meanwhile holds its
/// cursors locked and refuses such a file
/// ([`install_cursor_file`](crate::delivery::install_cursor_file)).
pub trait CursorMirror: Send + Sync {
    /// `rel_path` (relative to the journal directory, `/`-separated:
    /// `cursors/<sink>.cursor` or `cursors/registry`) now holds exactly
    /// `bytes`, durably.
    fn written(&self, rel_path: &str, bytes: &[u8]);
}
