//! Hot-path benchmark: time and heap allocations per event of each stage of
//! parse → batch → job, in one process on one thread, with a counting global
//! allocator.
//!
//! What it times: (1) `parse_line` over lines already in memory; (2) appending
//! the parsed events to the Arrow batch builder and cutting batches of
//! `--batch-events`; (3) `Engine::process` of the over-purchase job over those
//! batches (1 thread, 1 partition). Generating the input and reading it are
//! excluded. Alerts allocate by design (an id and a JSON payload each), so the
//! job stage reports allocations per event with the alerts' share taken out.
//! Then (4) the whole threaded replay path — ingest thread, ring, cutter,
//! engine — without the journal, counted end to end.
//!
//! Run: `cargo run --release -p bench --bin hot_path -- FILE`.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use anyhow::{Context, Result};
use clap::Parser;
use columnar::TradeBatchBuilder;
use engine_core::{Engine, EngineOptions};
use ingest::parse::{ParseScratch, parse_line};
use jobs::overfill::{OverfillConfig, OverfillJob};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

#[derive(Parser)]
struct Args {
    /// A trade file (e.g. from `aldebaran gen`).
    file: std::path::PathBuf,
    /// Events per micro-batch.
    #[arg(long, default_value_t = 16384)]
    batch_events: usize,
}

fn report(stage: &str, events: u64, secs: f64, allocs: u64) {
    println!(
        "{stage:<28} {:>9.0} ns/event {:>12.0} events/s {:>10} allocations ({:.5}/event)",
        secs * 1e9 / events as f64,
        events as f64 / secs,
        allocs,
        allocs as f64 / events as f64
    );
}

fn main() -> Result<()> {
    let args = Args::parse();
    let text =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let n = lines.len() as u64;
    println!("{} lines from {}", n, args.file.display());

    // 1. Parse.
    let mut scratch = ParseScratch::default();
    let a0 = allocs();
    let t = Instant::now();
    let mut ok = 0u64;
    for line in &lines {
        if parse_line(black_box(line), &mut scratch).is_ok() {
            ok += 1;
        }
    }
    report("parse", n, t.elapsed().as_secs_f64(), allocs() - a0);

    // 2. Build Arrow batches.
    let mut builder = TradeBatchBuilder::new(args.batch_events);
    let mut batches = Vec::new();
    let a0 = allocs();
    let t = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        if let Ok(ev) = parse_line(line, &mut scratch) {
            builder.append(i as u64, 0, &ev);
            if builder.rows() >= args.batch_events {
                batches.push(builder.finish()?);
            }
        }
    }
    batches.push(builder.finish()?);
    let build_allocs = allocs() - a0;
    report("parse + batch", ok, t.elapsed().as_secs_f64(), build_allocs);
    println!(
        "{:<28} {} batches, {:.1} allocations per batch",
        "",
        batches.len(),
        build_allocs as f64 / batches.len() as f64
    );

    // 3. The job.
    let mut engine = Engine::new(EngineOptions::default())?;
    engine.add_job(OverfillJob::new(OverfillConfig::default()))?;
    let mut out = Vec::with_capacity(1 << 20);
    let a0 = allocs();
    let t = Instant::now();
    for b in &batches {
        engine.process(b, 0, &mut out);
    }
    let secs = t.elapsed().as_secs_f64();
    let job_allocs = allocs() - a0;
    let alerts = out.len() as u64;
    report("job (overfill)", ok, secs, job_allocs);
    // Each alert owns an id and a payload, built by serde_json (a few allocations).
    let per_alert = 2; // its id and its payload buffer
    println!(
        "{:<28} {} alerts; allocations not owned by alerts: {} ({:.5}/event)",
        "",
        alerts,
        job_allocs.saturating_sub(alerts * per_alert),
        job_allocs.saturating_sub(alerts * per_alert) as f64 / ok as f64
    );
    drop(out);

    // 4. The threaded path without the journal.
    let (handle, mut cutter) = ingest::start_replay(
        ingest::Input::File(args.file.clone()),
        &ingest::ReplayOptions {
            cut: ingest::CutPolicy {
                batch_events: args.batch_events,
                batch_time: std::time::Duration::from_millis(1),
            },
            ..ingest::ReplayOptions::default()
        },
    )?;
    let mut engine = Engine::new(EngineOptions::default())?;
    engine.add_job(OverfillJob::new(OverfillConfig::default()))?;
    let mut out = Vec::with_capacity(1 << 20);
    let a0 = allocs();
    let t = Instant::now();
    let mut events = 0u64;
    let mut cuts = 0u64;
    while let Some(b) = cutter.next_batch()? {
        events += b.len() as u64;
        cuts += 1;
        engine.process(&b, 0, &mut out);
    }
    let secs = t.elapsed().as_secs_f64();
    handle.join()?;
    let total = allocs() - a0;
    report("ingest+ring+cut+job", events, secs, total);
    println!(
        "{:<28} {} batches, {} alerts; allocations beyond alerts: {:.2} per batch",
        "",
        cuts,
        out.len(),
        total.saturating_sub(out.len() as u64 * per_alert) as f64 / cuts as f64
    );
    Ok(())
}
