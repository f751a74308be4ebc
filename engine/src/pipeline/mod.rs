//! Pipelines: the threads and outputs around the engine for one run.

mod dead_letters;
mod job_set;
mod journal_writer;
mod latency;
mod replay;
mod run_loop;
mod service;
mod source;
mod state_file;
mod stats;
mod summary;

pub use job_set::{KNOWN_JOBS, add_jobs};
pub use latency::Percentiles;
pub use replay::{Progress, ReplayPlan, replay};
pub use service::{ServicePlan, serve_forever};
pub use stats::BatchStats;
pub use summary::Summary;
