//! **Jobs**: the use cases that run on the engine core, and the registry
//! through which the pipeline finds them without naming any.
//!
//! Each job is one module built only on [`engine_core`]'s public API: its
//! [`engine_core::Job`] and [`engine_core::Shard`], its config section
//! (`[<name>]` in `configs/default.toml`, parsed by the job itself with
//! unknown keys rejected), and the fields of its alert records, declared so
//! that sink templates can be checked at start. A job registers itself with
//! one line in the `registry!` list below: the module and its [`JobSpec`].
//! The first is [`overfill`], the over-purchase rule of SPEC §2; each
//! module's own doc and `engine/JOBS.md` give the rules of the others.
//!
//! Public surface: [`JOBS`] (every registered job), [`add_jobs`] (build the
//! jobs a `--job` spec names from their sections), [`find`], [`AlertField`],
//! [`JobSpec`], [`JobsError`].

mod error;
mod record;
#[macro_use]
mod registry;

pub use error::{JobsError, Result};
pub use registry::{AlertField, JobSpec, add_jobs, find, known_names};

/// `engine/JOBS.md`, whose "Writing a job" example is compiled as a test.
#[cfg(doctest)]
#[doc = include_str!("../../JOBS.md")]
pub struct JobsMd;

registry! {
    overfill,
    exposure,
    large_order,
}
