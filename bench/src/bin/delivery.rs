//! Alert delivery benchmarks (figures only, no assertions).
//!
//! - `throughput`: per sink kind, a journal pre-filled with N alert records
//!   is shipped by one shipper (`alerts::delivery::spawn_shipper`) from an
//!   empty cursor; alerts/s from the spawn to the cursor reaching N. The
//!   endpoints run inside this process (file in a temp dir, stdout, the real
//!   RabbitMQ broker, a tiny_http server, `sh -c 'cat > /dev/null'`, a minimal
//!   SMTP server). Each kind `--runs` times; the median is printed.
//! - `latency`: end to end through `aldebaran run` (file source following a
//!   file this process writes, paced), from the write of each triggering
//!   purchase to the alert's arrival at a consumer in this process: a tail of
//!   the `file` sink's alerts.jsonl and an AMQP consumer of the `amqp` sink's
//!   queue. Percentiles per sink and run, then the median over runs.
//!
//! Results go to stderr: the stdout sink writes to the real stdout (the
//! script sends it to /dev/null).
//!
//! Run: `bench/delivery.sh`, or
//! `target/release/delivery throughput > /dev/null`,
//! `target/release/delivery latency --bin target/release/aldebaran`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[path = "delivery/endpoints.rs"]
mod endpoints;
#[path = "delivery/latency.rs"]
mod latency;
#[path = "delivery/throughput.rs"]
mod throughput;

#[derive(Parser)]
struct Args {
    /// Where the temporary directories go (a real disk, not tmpfs, so the
    /// file sink's fsync costs what it costs in production).
    #[arg(long, default_value = "target/bench-delivery", global = true)]
    dir: PathBuf,
    /// RabbitMQ URL.
    #[arg(
        long,
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        global = true
    )]
    url: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Alerts/s of one shipper per sink kind over a pre-filled journal.
    Throughput(throughput::Args),
    /// Event → alert delivered latency through `aldebaran run`.
    Latency(latency::Args),
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    match args.mode {
        Mode::Throughput(a) => throughput::run(&a, &args.dir, &args.url),
        Mode::Latency(a) => latency::run(&a, &args.dir, &args.url),
    }
}

/// The median of `v` (the mean of the middle two for an even count).
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// A name unique to this process and `tag`, for exchanges and queues.
fn unique_name(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("aldebaran-bench-{tag}-{}-{nanos:09}", std::process::id())
}
