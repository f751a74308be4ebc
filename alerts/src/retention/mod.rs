//! Retention: keeping a journal from a seq on, so it does not grow forever.
//!
//! Whole segments before the oldest seq kept are removed (deleted, or moved
//! to an archive directory); the active (newest) segment never is. Files,
//! from the leaves up:
//! - `oldest`: the `OLDEST` marker recovery reads, and the first seq a
//!   reader can start at;
//! - `remove`: the mechanism (marker first, then the segments, then the
//!   directory fsyncs), shared with the input log of `run`;
//! - `plan`: the pure decision of which segments of the alert journal go,
//!   from observed facts, the floor (the lowest seq anyone still needs) and
//!   the [`RetentionPolicy`];
//! - `apply`: one pass over the alert journal, observing, planning,
//!   executing ([`retain_journal`]).
//!
//! Who needs which seqs (sinks, checkpoints, a standby) is the caller's to
//! gather; the delivery module answers for the sinks
//! ([`crate::delivery::sinks_need`]).

mod apply;
mod oldest;
mod plan;
mod remove;

pub use apply::{RetentionReport, retain_journal};
pub(crate) use oldest::write_oldest;
pub use oldest::{first_kept_seq, oldest_kept};
pub use plan::{Hold, RetentionPolicy};
pub use remove::{Retained, retain_from};
