//! Pipelines: the threads and outputs around the engine for one run.

mod checkpoint;
mod checkpoint_policy;
mod checkpoint_writer;
mod dead_letters;
mod delivery;
mod job_set;
mod journal_writer;
mod latency;
mod recovery;
mod replay;
mod run_loop;
mod service;
mod source;
mod source_id;
mod stats;
mod summary;

pub use delivery::alert_fields;
pub use job_set::{KNOWN_JOBS, add_jobs};
pub use latency::Percentiles;
pub use replay::{Progress, ReplayPlan, replay};
pub use service::{ServicePlan, serve_forever};
pub use stats::BatchStats;
pub use summary::Summary;
