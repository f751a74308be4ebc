use std::io;
use std::path::PathBuf;

/// Errors of the alert journal.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// A file-system operation failed on `path`.
    #[error("journal I/O on {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A record that is not at the tail is damaged, or the seqs have a gap. Never
    /// repaired automatically: the operator decides (SPEC §3).
    #[error("corrupt journal: segment {}, offset {offset}: {reason}", segment.display())]
    Corrupt {
        segment: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Records that something durable relied on (a checkpoint, a sink
    /// cursor) are torn off the end of the journal or missing: not a torn
    /// tail to truncate, since the journal would then give their seqs to
    /// other alerts. Never repaired automatically.
    #[error(
        "journal {} at offset {offset}: seq {from}..={to} {what}, but {claim}: refusing to start, \
         since giving those seqs to other alerts would send sinks that hold them something else \
         under the same numbers; restore the journal from a backup, or move the journal and the \
         state directory away to rebuild both from the input (sinks then receive every alert again)",
        segment.display()
    )]
    Lost {
        segment: PathBuf,
        offset: u64,
        from: u64,
        to: u64,
        /// e.g. "are torn off (incomplete final frame)".
        what: String,
        /// Who says they were durable, e.g. "the checkpoint … covers seq 41".
        claim: String,
    },
    /// A reader asked for seqs that retention already deleted.
    #[error("journal {}: seq {from} is no longer kept (the journal keeps seqs from {oldest} on)", dir.display())]
    NotKept {
        dir: PathBuf,
        from: u64,
        oldest: u64,
    },
    /// Another process (or handle) holds the writer lock of this journal.
    #[error("journal {} is locked by another writer", path.display())]
    Locked { path: PathBuf },
    /// A payload larger than the frame format allows.
    #[error("payload of {len} bytes exceeds the maximum of {max} bytes")]
    PayloadTooLarge { len: usize, max: u32 },
    /// An earlier write or fsync failed, so what reached the disk is unknown.
    /// Retrying an fsync after a failure can report success for lost data, so the
    /// handle refuses further work: reopen the journal, which recovers the tail.
    #[error("journal handle unusable after an earlier I/O error; reopen the journal to recover")]
    Poisoned,
    /// `dump` found a record whose payload is not a JSON object without `seq`.
    #[error(
        "record {seq}: payload is not a one-line JSON object without a \"seq\" field: {reason}"
    )]
    BadPayload { seq: u64, reason: String },
    /// Writing `dump`'s output failed.
    #[error("writing dump output")]
    Output(#[source] io::Error),
    /// A sink's configuration is invalid or the sink cannot be set up (the
    /// broker being down is not this: that is a transient send error).
    #[error("{sink} sink: {reason}")]
    Sink { sink: &'static str, reason: String },
    /// A delivery cursor file exists but neither of its slots is valid. Never
    /// reset silently: a wrong cursor would lose or duplicate alerts.
    #[error("delivery cursor {}: {reason}", path.display())]
    CursorCorrupt { path: PathBuf, reason: String },
    /// A sink's configuration is invalid (unknown kind or key, a mode the kind
    /// cannot honour, a bad name or value).
    #[error("sink {sink:?}: {reason}")]
    SinkConfig { sink: String, reason: String },
    /// A sink that has shipped from this journal (it is in
    /// `cursors/registry`) has lost its cursor file. Never started over
    /// silently: from the oldest record it would resend everything, from the
    /// head it would skip what it never got; the operator decides.
    #[error(
        "sink {sink:?} has shipped from this journal (kind {kind}, from seq {first_seq}, per \
         {}/cursors/registry) but its cursor {} is missing: refusing to start, since starting \
         over would send it again every alert it has (or skip those it has not); restore the \
         file, or set it with `aldebaran journal cursors --reset {sink} --to SEQ|head|oldest {}` \
         (SEQ: the last seq it holds; head: skip everything journaled so far; oldest: send \
         everything again)",
        journal.display(),
        path.display(),
        journal.display()
    )]
    CursorMissing {
        sink: String,
        kind: String,
        first_seq: u64,
        path: PathBuf,
        journal: PathBuf,
    },
    /// A sink's cursor is behind the oldest seq the journal keeps: the
    /// records it has not delivered yet were removed by retention (or the
    /// cursor was restored from an old copy). Never skipped silently: the
    /// operator brings the segments back or accepts the gap.
    #[error(
        "sink {sink:?} has delivered up to seq {delivered} (per its cursor {}) but the journal \
         {} keeps seqs from {oldest} on: refusing to start, since seqs {}..={} are no longer \
         there to send it; move the segments holding them back into the journal (from \
         journal.retention.archive_dir if it was set), or skip them with `aldebaran journal \
         cursors --reset {sink} --to oldest {}` (it then ships from seq {oldest})",
        path.display(),
        journal.display(),
        delivered + 1,
        oldest.saturating_sub(1),
        journal.display()
    )]
    CursorBehind {
        sink: String,
        delivered: u64,
        oldest: u64,
        path: PathBuf,
        journal: PathBuf,
    },
    /// `journal cursors --reset` refused (the sink is unknown, the seq is not
    /// in the journal, or the journal or the cursor is in use).
    #[error("cannot reset the cursor of sink {sink:?}: {reason}")]
    CursorReset { sink: String, reason: String },
    /// A ship gate refused to open at an epoch (below the one it has: epochs
    /// never go back; or too large for the AMQP header). The gate stays as
    /// it was.
    #[error("ship gate: refusing epoch {offered}: {reason}")]
    GateEpoch { offered: u64, reason: String },
    /// A mirrored cursor file was refused by the node receiving it (a path
    /// outside `cursors/`, bytes that are not such a file, a cursor a
    /// shipper holds there).
    #[error("installing mirrored cursor file {rel_path:?}: {reason}")]
    CursorInstall { rel_path: String, reason: String },
    /// An internal invariant does not hold: a bug.
    #[error("internal error (a bug): {0}")]
    Internal(String),
    /// The OS refused to start a shipper thread.
    #[error("starting the shipper thread of sink {sink:?}")]
    ShipperThread {
        sink: String,
        #[source]
        source: io::Error,
    },
    /// A shipper thread panicked: a bug. Its cursor on disk is still consistent.
    #[error("shipper of sink {sink:?} panicked (a bug): {message}")]
    ShipperPanicked { sink: String, message: String },
    /// A file in a format version this binary does not read (a newer
    /// release wrote it, or one older than this release still reads): never
    /// guessed at, since a misread cursor or segment would lose or repeat
    /// alerts. Permanent: the file stays as it is until the operator acts.
    #[error(
        "{what} {}: format version {found}, but this aldebaran reads {reads}; {fix}",
        path.display()
    )]
    UnknownVersion {
        /// What the file is ("journal segment", "delivery cursor", ...).
        what: &'static str,
        path: PathBuf,
        found: u64,
        /// The versions read, as printed ("versions 1 and 2").
        reads: String,
        /// What the operator can do.
        fix: &'static str,
    },
}

impl AlertsError {
    /// Whether trying again later can succeed, so a caller retries only
    /// what can: the file system may recover (a full disk freed), another
    /// holder of a lock may go, a poisoned handle is replaced by reopening,
    /// the OS may start a thread once resources are freed. Everything else
    /// fails the same way again until a person acts: damage, a lost or
    /// missing record, a bad config, a file of an unknown format version,
    /// a bug.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AlertsError::Io { .. }
                | AlertsError::Locked { .. }
                | AlertsError::Poisoned
                | AlertsError::ShipperThread { .. }
        )
    }
}

/// Result with [`AlertsError`] as the default error.
pub type Result<T, E = AlertsError> = std::result::Result<T, E>;

/// Adapter for `map_err`: tags an `io::Error` with the path it happened on.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> AlertsError {
    let path = path.into();
    move |source| AlertsError::Io { path, source }
}
