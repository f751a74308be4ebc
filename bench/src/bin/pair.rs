//! Benchmarks of the active-standby pair (SPEC §6): figures only, no
//! assertions. Run by `bench/pair.sh`; every figure goes to stderr.
//!
//! 1. cost: a single node against a pair with sync and with async
//!    replication, side by side in each of `--runs` rounds (see `cost.rs`):
//!    backlog throughput, peak RSS, detection → delivered latency.
//! 2. takeover: a sync pair under a paced stream, `--kills` SIGKILLs of the
//!    active and `--silent` SIGSTOPs (see `takeover.rs`), p50 and max.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use clap::Parser;

#[path = "pair/cost.rs"]
mod cost;
#[path = "pair/node.rs"]
mod node;
#[path = "pair/queue.rs"]
mod queue;
#[path = "pair/receiver.rs"]
mod receiver;
#[path = "pair/takeover.rs"]
mod takeover;

use node::{Node, NodeSpec, Setup};

#[derive(Parser)]
struct Args {
    /// The `aldebaran` binary (a release build).
    #[arg(long, default_value = "target/release/aldebaran")]
    bin: PathBuf,
    /// Where the nodes' directories go (a real disk: fsyncs count).
    #[arg(long, default_value = "target/bench-pair")]
    dir: PathBuf,
    /// SIGKILLs of the active.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// SIGSTOPs of the active (silent losses).
    #[arg(long, default_value_t = 3)]
    silent: usize,
    /// Rounds of the single / sync / async comparison.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Events/s of the stream during the takeovers (~2% of events alert:
    /// ~100 alerts/s, under what a pair's HTTP sink ships).
    #[arg(long, default_value_t = 5_000)]
    rate: u64,
    /// Events/s of the steady latency runs (~2% of events alert).
    #[arg(long, default_value_t = 5_000)]
    steady_rate: u64,
    /// Events/s of the burst runs (2 s of them).
    #[arg(long, default_value_t = 50_000)]
    burst_rate: u64,
    /// Events in the backlog of a throughput run.
    #[arg(long, default_value_t = 2_000_000)]
    backlog: u64,
    /// Seconds of stream per latency run.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Skip the single / sync / async comparison.
    #[arg(long)]
    no_cost: bool,
    /// Skip the takeovers.
    #[arg(long)]
    no_takeover: bool,
}

/// `aldebaran gen` of about `events` events; returns the line count.
fn gen_file(bin: &Path, path: &Path, events: u64, seed: u64) -> Result<u64> {
    let st = Command::new(bin)
        .args([
            "gen",
            "--orders",
            &(events / 5).max(1).to_string(),
            "--open",
            "10000",
        ])
        .args(["--seed", &seed.to_string(), "-o"])
        .arg(path)
        .stderr(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("aldebaran gen failed");
    }
    Ok(fs::read(path)?.iter().filter(|&&b| b == b'\n').count() as u64)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn label(s: Setup) -> &'static str {
    match s {
        Setup::Single => "single",
        Setup::Pair { sync: true } => "sync",
        Setup::Pair { sync: false } => "async",
    }
}

fn cost(a: &Args) -> Result<()> {
    let backlog = a.dir.join("backlog.jsonl");
    let events = gen_file(&a.bin, &backlog, a.backlog, 7)?;
    let paced = a.dir.join("paced.jsonl");
    let paced_events = gen_file(&a.bin, &paced, a.steady_rate * a.latency_secs, 8)?;
    let burst = a.dir.join("burst.jsonl");
    let burst_events = gen_file(&a.bin, &burst, a.burst_rate * 2, 10)?;
    eprintln!(
        "== cost of the pair: backlog {events} events at 100/message; steady {paced_events} events at {} events/s and burst {burst_events} at {} events/s, 10/message, HTTP sink",
        a.steady_rate, a.burst_rate
    );
    let setups = [
        Setup::Single,
        Setup::Pair { sync: true },
        Setup::Pair { sync: false },
    ];
    let mut tput: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut rss: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut p99: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut p50: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut ship: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for run in 1..=a.runs {
        for (k, &s) in setups.iter().enumerate() {
            let dir = a.dir.join(format!("run{run}-{}", label(s)));
            let t = cost::throughput(&a.bin, &dir.join("tput"), &backlog, events, s)?;
            let l = cost::latency(&a.bin, &dir.join("lat"), &paced, a.steady_rate, s)?;
            let b = cost::latency(&a.bin, &dir.join("burst"), &burst, a.burst_rate, s)?;
            eprintln!(
                "  run {run} {:<6} throughput {:>9.0} events/s (publisher alone {:.0}/s), peak RSS {:.1} MiB; \
                 delivered latency over {} alerts: p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms max {:.2} ms; \
                 burst: {:.0} alerts/s shipped, p99 {:.0} ms",
                label(s),
                t.events_per_s,
                t.publish_events_per_s,
                t.peak_rss_mib,
                l.alerts,
                l.p50_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                b.ship_per_s,
                b.p99_ms
            );
            ship[k].push(b.ship_per_s);
            tput[k].push(t.events_per_s);
            rss[k].push(t.peak_rss_mib);
            p50[k].push(l.p50_ms);
            p99[k].push(l.p99_ms);
        }
    }
    eprintln!("  median of {} runs:", a.runs);
    let base = median(&tput[0]);
    for (k, &s) in setups.iter().enumerate() {
        eprintln!(
            "    {:<6} {:>9.0} events/s ({:.2}x single), delivered latency p50 {:.2} ms p99 {:.2} ms, \
             HTTP sink {:.0} alerts/s, peak RSS {:.1} MiB per node",
            label(s),
            median(&tput[k]),
            median(&tput[k]) / base,
            median(&p50[k]),
            median(&p99[k]),
            median(&ship[k]),
            median(&rss[k])
        );
    }
    Ok(())
}

fn percentile_line(name: &str, v: &[f64]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    format!(
        "{name}: n {} p50 {:.0} ms max {:.0} ms (min {:.0} ms) [{}]",
        s.len(),
        median(&s),
        s.last().copied().unwrap_or(f64::NAN),
        s.first().copied().unwrap_or(f64::NAN),
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn takeovers(a: &Args) -> Result<()> {
    // Long enough for every takeover: ~8 s per kill, ~12 s per silent loss.
    let secs = (a.kills as u64 * 8 + a.silent as u64 * 12 + 30).max(60);
    let file = a.dir.join("stream.jsonl");
    let events = gen_file(&a.bin, &file, a.rate * secs, 9)?;
    eprintln!(
        "== takeover: sync pair, default [ha] timings, HTTP sink, {events} events paced at {} events/s (10/message)",
        a.rate
    );
    let rx = receiver::Receiver::start()?;
    let q = queue::Queue::declare(&a.bin, "takeover")?;
    let spec = NodeSpec {
        queue: &q.name,
        http: Some(&rx.url),
        setup: Setup::Pair { sync: true },
    };
    let mut nodes = Node::create(&a.bin, &a.dir.join("takeover"), &spec)?;
    nodes[0].start()?;
    nodes[0].wait("active", Duration::from_secs(60), |v| v["role"] == "active")?;
    nodes[1].start()?;
    let mut feed = Command::new(&a.bin)
        .args([
            "publish",
            "--batch",
            "10",
            "--rate",
            &a.rate.to_string(),
            "--queue",
            &q.name,
        ])
        .arg(&file)
        .stdout(Stdio::null())
        .spawn()
        .context("aldebaran publish")?;
    let mut gap = Vec::new();
    let mut to_first = Vec::new();
    let mut peak: f64 = 0.0;
    for k in 0..a.kills {
        peak = nodes
            .iter()
            .filter_map(Node::peak_rss_mib)
            .fold(peak, f64::max);
        match takeover::one(&mut nodes, &rx, "KILL")? {
            Some(t) => {
                gap.push(t.gap_ms);
                to_first.push(t.signal_to_first_ms);
            }
            None => {
                eprintln!("  the stream ended after {k} kills");
                break;
            }
        }
    }
    let mut silent = Vec::new();
    for _ in 0..a.silent {
        match takeover::one(&mut nodes, &rx, "STOP")? {
            Some(t) => silent.push(t.signal_to_first_ms),
            None => break,
        }
    }
    let _ = feed.kill();
    let _ = feed.wait();
    for n in nodes.iter_mut().rev() {
        n.terminate()?;
    }
    eprintln!(
        "  SIGKILL of the active, {}",
        percentile_line("last old alert → first new alert", &gap)
    );
    eprintln!(
        "  SIGKILL of the active, {}",
        percentile_line("kill → first new alert", &to_first)
    );
    eprintln!(
        "  SIGSTOP of the active, {}",
        percentile_line("stop → first new alert", &silent)
    );
    eprintln!(
        "  alerts received {}; peak RSS of a node {peak:.1} MiB",
        rx.len()
    );
    Ok(())
}

fn main() -> Result<()> {
    let a = Args::parse();
    let _ = fs::remove_dir_all(&a.dir);
    fs::create_dir_all(&a.dir)?;
    if !a.no_cost {
        cost(&a)?;
    }
    if !a.no_takeover {
        takeovers(&a)?;
    }
    Ok(())
}
