//! `aldebaran run --config FILE`.

use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use pipeline::{ServicePlan, config::Config, serve_forever};

use crate::cli::RunArgs;

pub fn run(a: RunArgs) -> Result<ExitCode> {
    let loaded = Config::load(a.config.as_deref(), std::env::vars());
    crate::init_tracing(loaded.as_ref().map_or("info", |c| c.log.level.as_str()));
    // The error says "config:" and where: no context to repeat it.
    let mut config = loaded?;
    if let Some(k) = a.shard {
        config.source.amqp.shard = i64::from(k);
    }
    let summary = serve_forever(&ServicePlan { config }, |_| {}).context("running the service")?;
    // On stderr, after the log: stdout may be a `stdout` sink's alert
    // stream, which a reader parses line by line.
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{summary}").and_then(|_| err.flush());
    Ok(ExitCode::SUCCESS)
}
