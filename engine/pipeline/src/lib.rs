//! **Pipeline**: the threads and outputs around the engine for one run —
//! ingest → engine core and jobs → journal → sink shippers — in two modes
//! over one shared loop.
//!
//! - **Modes**: [`replay`] reads a captured file or stdin to its end into
//!   the journal and returns a [`Summary`]; [`serve_forever`] (`aldebaran
//!   run`) consumes the configured source (RabbitMQ or a followed file) with
//!   crash-consistent checkpoints, recovery after a crash, one shipper per
//!   configured sink, Prometheus metrics and health, until it ends or a
//!   signal stops it.
//! - **Configuration** ([`config`]): the layered [`config::Config`]
//!   (embedded default, file, `ALDEBARAN_*` environment); each stage's own
//!   options are built from it once, at the top of a run (`options`), so no
//!   stage sees the whole config. Jobs are built from their sections through
//!   the `jobs` registry; no code here names a job.
//! - **Threads**: the caller's thread runs the cutter and the engine (the
//!   loop, `run_loop`); behind it the journal thread (group commit, dead
//!   letters, stats, acknowledgements) and, for `run`, the checkpoint thread
//!   (snapshots, then the input log's and the journal's retention,
//!   `retention`) and one `ship-<sink>` thread per sink; [`metrics::serve`] answers
//!   `/metrics` and `/healthz` on its own thread.
//! - **Invariants**: an alert counts as done only once durable; a checkpoint
//!   is written only after the alerts it covers are durable, and an
//!   acknowledging source is acknowledged only up to the newest checkpoint;
//!   after a crash the alerts already journaled are not appended again.
//!
//! Errors: [`PipelineError`].

pub mod config;
mod error;
pub mod metrics;

mod checkpoint;
mod checkpoint_policy;
mod checkpoint_writer;
mod dead_letters;
mod delivery;
mod durable_claim;
mod formats;
mod ha;
mod input_log;
mod journal_writer;
mod latency;
mod options;
mod outputs;
mod progress;
mod recovery;
mod replay;
mod restore;
mod retention;
mod run_loop;
mod service;
mod shard_mark;
mod signals;
mod source;
mod source_id;
mod stats;
mod summary;
mod tally;
mod writers;

pub use error::{PipelineError, Result};
pub use options::alert_fields;

/// The registered jobs' names, comma-separated (for help texts).
pub fn job_names() -> String {
    jobs::known_names()
}
pub use ha::status::{PairStatus, pair_status};
pub use latency::Percentiles;
pub use progress::Progress;
pub use replay::{ReplayPlan, replay};
pub use service::{ServicePlan, serve_forever};
pub use stats::BatchStats;
pub use summary::Summary;
