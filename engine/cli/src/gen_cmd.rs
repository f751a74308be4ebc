//! `aldebaran gen`: a synthetic trade file.

use std::{fs::File, io::Write, process::ExitCode};

use anyhow::{Context, Result};
use ingest::synth::{SynthConfig, generate};

use crate::cli::GenArgs;

pub fn run(a: GenArgs) -> Result<ExitCode> {
    let cfg = SynthConfig {
        orders: a.orders,
        purchases_per_order: a.purchases,
        open_orders: a.open,
        late_pr_fraction: a.late,
        duplicate_fraction: a.duplicates,
        malformed_fraction: a.malformed,
        overfill_fraction: a.overfill,
        with_ts: !a.no_ts,
        ts_start_ms: a.ts_start,
        ts_step_ms: a.ts_step,
        seed: a.seed,
    };
    let summary = match &a.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let s =
                generate(&cfg, &mut out).with_context(|| format!("writing {}", path.display()))?;
            out.flush()
                .with_context(|| format!("writing {}", path.display()))?;
            s
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let s = generate(&cfg, &mut out).context("writing to standard output")?;
            out.flush().context("writing to standard output")?;
            s
        }
    };
    eprintln!(
        "generated {} events: {} requests ({} late, {} overfilled), {} purchases, {} duplicates, {} malformed",
        summary.events,
        summary.requests,
        summary.late_requests,
        summary.overfill_orders,
        summary.purchases,
        summary.duplicates,
        summary.malformed
    );
    Ok(ExitCode::SUCCESS)
}
