//! `aldebaran replay FILE|-`.

use std::{
    io::{IsTerminal, Write},
    process::ExitCode,
};

use anyhow::{Context, Result};
use ingest::Input;
use pipeline::{Progress, ReplayPlan, config::Config, replay};

use crate::{cli::ReplayArgs, progress_bar::Bar};

pub fn run(a: ReplayArgs) -> Result<ExitCode> {
    // The error says "config:" and where: no context to repeat it.
    let mut cfg = Config::load(a.config.as_deref(), std::env::vars())?;
    apply_flags(&mut cfg, &a);
    let input = if a.file == "-" {
        Input::Stdin
    } else {
        Input::File(a.file.clone().into())
    };
    let plan = ReplayPlan { input, config: cfg };

    let mut bar = (!a.quiet && std::io::stderr().is_terminal()).then(Bar::new);
    let on_progress = |p: &Progress| {
        if let Some(bar) = bar.as_mut() {
            bar.update(p);
        }
    };
    let summary = replay(&plan, on_progress).with_context(|| format!("replaying {}", a.file))?;
    if let Some(bar) = bar {
        bar.finish();
    }
    // The run is done and durable; a closed stdout only loses the summary.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{summary}").and_then(|_| out.flush());
    Ok(ExitCode::SUCCESS)
}

/// Flags override the configuration.
fn apply_flags(cfg: &mut Config, a: &ReplayArgs) {
    if let Some(j) = &a.job {
        cfg.job = j.clone();
    }
    if let Some(d) = &a.journal {
        cfg.journal.dir = d.clone();
    }
    if let Some(p) = &a.dead_letter {
        cfg.replay.dead_letter = p.display().to_string();
    }
    if let Some(p) = &a.stats {
        cfg.replay.stats = p.display().to_string();
    }
    // The over-purchase job's TTLs have flags of their own (SPEC §2); the
    // job checks them with the rest of its section.
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    if let Some(v) = a.book_ttl_ms {
        cfg.set_job_key("overfill", "book_ttl_ms", ms(v));
    }
    if let Some(v) = a.tombstone_ttl_ms {
        cfg.set_job_key("overfill", "tombstone_ttl_ms", ms(v));
    }
    if a.no_drain {
        cfg.replay.drain = false;
    }
    if let Some(v) = a.batch_events {
        cfg.engine.batch_events = v as usize;
    }
    if let Some(v) = a.batch_ms {
        cfg.engine.batch_ms = v;
    }
    if let Some(v) = a.threads {
        cfg.engine.threads = v;
    }
    if let Some(v) = a.parse_threads {
        cfg.engine.parse_threads = v as usize;
    }
    if a.pin {
        cfg.engine.pin = true;
    }
    if let Some(v) = a.rate {
        cfg.replay.rate = v;
    }
    if a.append {
        cfg.replay.append = true;
    }
}
