//! Parse-rate micro benchmark for `ingest::parse::parse_line`.
//!
//! Measures only `parse_line` over lines already in memory (split once, up
//! front); generating the input, splitting it into lines and I/O are excluded
//! from timing. One thread, fixed seed, best of 5 passes. Two inputs side by
//! side: the `synth` default file (~100-byte lines, 1% duplicates, 0.1%
//! malformed) and fixed-shape ~150-byte purchases with one unknown field.
//!
//! Run: `cargo run --release -p bench --bin parse_rate [-- LINES]`.

use std::hint::black_box;
use std::time::Instant;

use ingest::parse::{ParseScratch, parse_line};
use ingest::synth::{SynthConfig, generate};

fn rate(name: &str, text: &[u8]) {
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut scratch = ParseScratch::default();
    let mut best = f64::INFINITY;
    let mut ok = 0u64;
    for _ in 0..5 {
        ok = 0;
        let t = Instant::now();
        for line in &lines {
            if let Ok(e) = parse_line(black_box(line), &mut scratch) {
                ok += black_box(e.shares) & 1 | 1;
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let n = lines.len() as f64;
    println!(
        "{name}: {} lines ({ok} accepted), mean {:.0} B/line: {:.2} M lines/s, {:.0} MB/s, {:.0} ns/line",
        lines.len(),
        bytes as f64 / n,
        n / best / 1e6,
        bytes as f64 / best / 1e6,
        best / n * 1e9
    );
}

fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);

    let mut synth = Vec::new();
    let cfg = SynthConfig {
        orders: n / 5,
        ..SynthConfig::default()
    };
    generate(&cfg, &mut synth)?;
    rate("synth default", &synth);

    let mut wide = Vec::new();
    for i in 0..n {
        let line = format!(
            r##"{{"id":"p-{:07}-2","#shares":{},"client":"client-{:06}","stock":"AAPL","initial_order_id":"o-{:07}","ts":{},"venue":"XNAS"}}"##,
            i,
            i % 9973,
            i % 1000,
            i,
            1_700_000_000_000 + i
        );
        wide.extend_from_slice(line.as_bytes());
        wide.push(b'\n');
    }
    rate("150-byte purchases", &wide);
    Ok(())
}
