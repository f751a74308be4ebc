//! `aldebaran status --config FILE [--json]`.

use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use pipeline::{config::Config, pair_status};

use crate::cli::StatusArgs;

/// Prints both nodes; exits 1 when neither answers (0 otherwise: a node
/// down is shown, not an error of this command).
pub fn run(a: StatusArgs) -> Result<ExitCode> {
    // The error says "config:" and where: no context to repeat it.
    let config = Config::load(Some(&a.config), std::env::vars())?;
    let status = pair_status(&config).context("asking the pair")?;
    let text = if a.json {
        format!("{}\n", status.to_json())
    } else {
        status.to_table()
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    let any = status
        .nodes
        .iter()
        .any(|n| n.get("reachable").and_then(|r| r.as_bool()) == Some(true));
    Ok(if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
