//! `Engine::snapshot` / `Engine::restore` (what `aldebaran run` writes at a
//! graceful shutdown and reads at start), without a broker.
//!
//! SPEC §2 determinism across restarts: for any stream whose events carry
//! `ts` and any cut point, running one engine over the first part, restoring
//! its snapshot into a fresh engine — of the same or another thread count
//! and partitioning — and running the rest gives exactly the alerts (content
//! and order, drained ones included) of one engine over the whole stream,
//! with both jobs (`overfill,exposure`) running. A corrupt snapshot (a byte
//! flipped, truncated, or garbage with a valid CRC) is an error, never a
//! panic.

mod common;

use columnar::TradeBatchBuilder;
use engine_core::{Alert, Engine, EngineOptions};
use ingest::{
    parse::{ParseScratch, is_blank, parse_line},
    synth::{SynthConfig, generate},
};
use jobs::add_jobs;
use proptest::prelude::*;
use serde_json::Value;

const JOBS: &str = "overfill,exposure";

/// Small TTLs and window so that a short stream expires books, forgets
/// tombstones and slides windows.
#[derive(Debug, Clone, Copy)]
struct Settings {
    book_ttl_ms: u64,
    tombstone_ttl_ms: u64,
    window_ms: u64,
    limit: u64,
    lateness_ms: u64,
}

/// The default configuration's job sections with `s` set.
fn config(s: &Settings) -> toml::Table {
    let mut sections = common::default_sections();
    let mut set = |job: &str, key: &str, v: u64| {
        let t = sections
            .get_mut(job)
            .and_then(toml::Value::as_table_mut)
            .expect("the job's section in the default config");
        t.insert(key.into(), toml::Value::Integer(v as i64));
    };
    set("overfill", "book_ttl_ms", s.book_ttl_ms);
    set("overfill", "tombstone_ttl_ms", s.tombstone_ttl_ms);
    set("exposure", "window_ms", s.window_ms);
    set("exposure", "limit", s.limit);
    set("exposure", "allowed_lateness_ms", s.lateness_ms);
    sections
}

fn engine(s: &Settings, threads: usize, partitions: usize) -> Engine {
    let mut e = Engine::new(EngineOptions {
        threads,
        partitions,
        ..EngineOptions::default()
    })
    .expect("engine starts");
    add_jobs(&mut e, JOBS, &config(s)).expect("jobs added");
    e
}

/// Runs `lines` through `engine` in batches of `batch` accepted events, as
/// the pipeline does (positions are byte offsets from `first_pos`, ingest
/// time fixed: every event carries `ts`); appends the alerts to `out`.
fn feed(
    engine: &mut Engine,
    lines: &[Vec<u8>],
    first_pos: u64,
    batch: usize,
    out: &mut Vec<Alert>,
) {
    let mut builder = TradeBatchBuilder::new(batch);
    let mut scratch = ParseScratch::default();
    let mut pos = first_pos;
    for line in lines {
        if is_blank(line) {
            builder.skip_blank();
        } else {
            match parse_line(line, &mut scratch) {
                Ok(ev) => builder.append(pos, 0, &ev),
                Err(reason) => builder.reject(pos, reason, line, false),
            }
        }
        pos += line.len() as u64 + 1;
        if builder.rows() >= batch {
            engine.process(&builder.finish().expect("batch"), 0, out);
        }
    }
    if !builder.is_empty() {
        engine.process(&builder.finish().expect("batch"), 0, out);
    }
}

fn offset_of(lines: &[Vec<u8>]) -> u64 {
    lines.iter().map(|l| l.len() as u64 + 1).sum()
}

/// Payloads without the wall-clock `detected_at`.
fn payloads(alerts: &[Alert]) -> Vec<Value> {
    alerts
        .iter()
        .map(|a| {
            let mut v: Value = serde_json::from_slice(&a.payload).expect("payload is JSON");
            v.as_object_mut()
                .expect("payload is an object")
                .remove("detected_at");
            v
        })
        .collect()
}

/// One engine over the whole stream, then its drain.
fn whole(s: &Settings, lines: &[Vec<u8>], batch: usize) -> Vec<Value> {
    let mut e = engine(s, 1, 0);
    let mut out = Vec::new();
    feed(&mut e, lines, 0, batch, &mut out);
    e.drain(0, &mut out);
    payloads(&out)
}

/// How the restarted engine numbers input positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Positions {
    /// Where the first engine stopped (one file read across the restart).
    Continue,
    /// From the start again, as a new `aldebaran run` process does: byte
    /// offsets of a new file, AMQP message numbers counted from 1 anew.
    Restart,
}

/// Engine `a` over `lines[..cut]`, its snapshot restored into engine `b`
/// (threads, partitions), `b` over the rest, then `b`'s drain.
fn split(
    s: &Settings,
    lines: &[Vec<u8>],
    cut: usize,
    batch: usize,
    (a, b): ((usize, usize), (usize, usize)),
    positions: Positions,
) -> Vec<Value> {
    let mut first = engine(s, a.0, a.1);
    let mut out = Vec::new();
    feed(&mut first, &lines[..cut], 0, batch, &mut out);
    let snap = first.snapshot();
    let (clock, live) = (first.clock(), first.live_keys());
    drop(first);

    let mut second = engine(s, b.0, b.1);
    second.restore(&snap).expect("restore");
    assert_eq!(second.clock(), clock, "clock restored");
    assert_eq!(second.live_keys(), live, "live keys restored");
    let first_pos = match positions {
        Positions::Continue => offset_of(&lines[..cut]),
        Positions::Restart => 0,
    };
    feed(&mut second, &lines[cut..], first_pos, batch, &mut out);
    second.drain(0, &mut out);
    payloads(&out)
}

fn synth_lines(cfg: &SynthConfig) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    generate(cfg, &mut buf).expect("generate");
    buf.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn settings() -> impl Strategy<Value = Settings> {
    (1u64..400, 1u64..2_000, 1u64..400, 1u64..30_000, 0u64..100).prop_map(
        |(book_ttl_ms, tombstone_ttl_ms, window_ms, limit, lateness_ms)| Settings {
            book_ttl_ms,
            tombstone_ttl_ms,
            window_ms,
            limit,
            lateness_ms,
        },
    )
}

/// A stream from the generator: interleaved orders, late requests,
/// duplicates, overfills, malformed lines, `ts` in steps.
fn synth_stream() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        1u64..40,
        0u32..5,
        1u32..12,
        0.0..0.5f64,
        0.0..0.3f64,
        0.0..0.05f64,
        0.0..0.6f64,
        1u64..40,
        any::<u64>(),
    )
        .prop_map(
            |(orders, purchases, open, late, dup, bad, over, step, seed)| {
                synth_lines(&SynthConfig {
                    orders,
                    purchases_per_order: purchases,
                    open_orders: open,
                    late_pr_fraction: late,
                    duplicate_fraction: dup,
                    malformed_fraction: bad,
                    overfill_fraction: over,
                    with_ts: true,
                    ts_start_ms: 1_700_000_000_000,
                    ts_step_ms: step,
                    seed,
                })
            },
        )
}

/// A hand-made stream: few orders, clients and stocks, `ts` wandering
/// forwards and backwards (late events), repeated purchase ids.
fn wild_stream() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        (
            0u8..6,
            prop::option::of(0u8..8),
            0u64..400,
            0u8..3,
            0u8..2,
            -60i64..200,
        ),
        0..80,
    )
    .prop_map(|evs| {
        let mut ts: i64 = 1_000_000;
        evs.into_iter()
            .map(|(order, purchase, shares, client, stock, dt)| {
                ts = (ts + dt).max(0);
                let c = format!("c-{client}");
                let s = format!("S{stock}");
                let o = format!("o-{order}");
                match purchase {
                    None => common::event(&o, shares, None, Some(ts as u64), &c, &s),
                    Some(p) => {
                        let id = format!("p-{order}-{p}");
                        common::event(&id, shares, Some(&o), Some(ts as u64), &c, &s)
                    }
                }
                .into_bytes()
            })
            .collect()
    })
}

fn stream() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![synth_stream(), wild_stream()]
}

/// (threads, partitions) of an engine; partitions 0 lets it pick.
fn shape() -> impl Strategy<Value = (usize, usize)> {
    (1usize..4, prop_oneof![Just(0usize), 1usize..9])
}

proptest! {
    // Failures are reported with the shrunk input, not saved to a file.
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn restored_engine_continues_like_one_engine(
        s in settings(),
        lines in stream(),
        cut_frac in 0.0..=1.0f64,
        batch in 1usize..20,
        a in shape(),
        b in shape(),
    ) {
        let cut = ((lines.len() as f64) * cut_frac) as usize;
        let want = whole(&s, &lines, batch);
        // Same shape, then another thread count / partitioning.
        let c = Positions::Continue;
        prop_assert_eq!(&split(&s, &lines, cut, batch, (a, a), c), &want, "same shape, cut {}", cut);
        prop_assert_eq!(&split(&s, &lines, cut, batch, (a, b), c), &want, "shape {:?} -> {:?}, cut {}", a, b, cut);
    }

    /// What `aldebaran run` does across a restart: the new process numbers
    /// input positions from the start again.
    #[test]
    fn restored_engine_continues_like_one_engine_with_positions_from_zero(
        s in settings(),
        lines in stream(),
        cut_frac in 0.0..=1.0f64,
        batch in 1usize..20,
        a in shape(),
        b in shape(),
    ) {
        let cut = ((lines.len() as f64) * cut_frac) as usize;
        let want = whole(&s, &lines, batch);
        let r = Positions::Restart;
        prop_assert_eq!(&split(&s, &lines, cut, batch, (a, b), r), &want, "shape {:?} -> {:?}, cut {}", a, b, cut);
    }

    #[test]
    fn corrupt_snapshots_are_errors(
        s in settings(),
        lines in stream(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut e = engine(&s, 1, 0);
        feed(&mut e, &lines, 0, 7, &mut Vec::new());
        let snap = e.snapshot();

        // A byte flipped: the CRC catches it.
        let mut bad = snap.clone();
        for (at, x) in &flips {
            bad[at.index(snap.len())] ^= x;
        }
        if bad != snap {
            prop_assert!(engine(&s, 1, 0).restore(&bad).is_err(), "flipped snapshot accepted");
        }
        // Truncated anywhere.
        let short = &snap[..cut.index(snap.len())];
        prop_assert!(engine(&s, 1, 0).restore(short).is_err(), "truncated snapshot accepted");

        // The same damage under a valid CRC: the decoder itself must fail
        // cleanly (or accept), never panic or run away.
        let reseal = |body: &[u8]| {
            let mut v = body.to_vec();
            v.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
            v
        };
        let body = &snap[..snap.len() - 4];
        let mut bad_body = body.to_vec();
        for (at, x) in &flips {
            bad_body[at.index(body.len())] ^= x;
        }
        let _ = engine(&s, 1, 0).restore(&reseal(&bad_body));
        let short_body = &body[..cut.index(body.len())];
        prop_assert!(
            engine(&s, 1, 0).restore(&reseal(short_body)).is_err(),
            "truncated snapshot with a valid CRC accepted"
        );
    }
}

/// The smallest case of the property above, as `aldebaran run` meets it: a
/// book opened by a purchase at a late position of the first process, a
/// restart, and the next process's first event (position 0) pushing the
/// clock past the book's deadline. That event closes it (orphan with its
/// `ts`), as it does without the restart.
#[test]
fn a_restored_book_expires_at_the_first_event_past_its_deadline() {
    let s = Settings {
        book_ttl_ms: 100,
        tombstone_ttl_ms: 1_000,
        window_ms: 100,
        limit: u64::MAX >> 12,
        lateness_ms: 0,
    };
    let c = |id: &str, order: Option<&str>, ts: u64| {
        common::event(id, 5, order, Some(ts), "c-1", "ACME").into_bytes()
    };
    let lines = vec![
        c("o-a", None, 1_000),
        c("o-b", None, 1_000),
        c("o-c", None, 1_000),
        c("p-1", Some("o-1"), 1_000), // opens o-1 without a request
        // restart here
        c("o-x", None, 2_000), // clock 2000 ≥ 1000 + 100: o-1 is an orphan now
        c("o-y", None, 2_001),
        c("o-z", None, 2_002),
        c("o-w", None, 2_003),
        c("o-v", None, 2_004),
    ];
    let want = whole(&s, &lines, 1);
    let orphan = |alerts: &[Value]| {
        alerts
            .iter()
            .find(|a| a["alert_id"] == "orphan:o-1:p-1")
            .map(|a| a["event_ts"].clone())
    };
    assert_eq!(orphan(&want), Some(Value::from(2_000)), "{want:?}");
    let shape = ((1, 0), (1, 0));
    let cont = split(&s, &lines, 4, 1, shape, Positions::Continue);
    assert_eq!(orphan(&cont), Some(Value::from(2_000)), "{cont:?}");
    let restarted = split(&s, &lines, 4, 1, shape, Positions::Restart);
    assert_eq!(
        orphan(&restarted),
        Some(Value::from(2_000)),
        "positions from 0 after the restart: {restarted:?}"
    );
    assert_eq!(restarted, want);
}

/// Every single-byte flip and every truncation of one snapshot is an error.
#[test]
fn every_flip_and_truncation_of_a_snapshot_is_an_error() {
    let s = Settings {
        book_ttl_ms: 50,
        tombstone_ttl_ms: 200,
        window_ms: 100,
        limit: 5_000,
        lateness_ms: 10,
    };
    let lines = synth_lines(&SynthConfig {
        orders: 30,
        purchases_per_order: 3,
        open_orders: 8,
        late_pr_fraction: 0.2,
        duplicate_fraction: 0.1,
        malformed_fraction: 0.02,
        overfill_fraction: 0.3,
        with_ts: true,
        ts_start_ms: 1_700_000_000_000,
        ts_step_ms: 3,
        seed: 5,
    });
    let mut e = engine(&s, 2, 4);
    feed(&mut e, &lines[..lines.len() / 2], 0, 5, &mut Vec::new());
    assert!(e.live_keys() > 0, "the snapshot holds open state");
    let snap = e.snapshot();
    let mut fresh = engine(&s, 1, 0);
    fresh.restore(&snap).expect("the snapshot itself restores");

    for at in 0..snap.len() {
        let mut bad = snap.clone();
        bad[at] ^= 0x41;
        assert!(
            engine(&s, 1, 0).restore(&bad).is_err(),
            "flip at {at} accepted"
        );
    }
    for len in 0..snap.len() {
        assert!(
            engine(&s, 1, 0).restore(&snap[..len]).is_err(),
            "truncation to {len} bytes accepted"
        );
    }
    // Trailing garbage.
    let mut long = snap.clone();
    long.push(0);
    assert!(
        engine(&s, 1, 0).restore(&long).is_err(),
        "trailing byte accepted"
    );
}

/// A snapshot of other jobs is refused, not misread.
#[test]
fn a_snapshot_of_other_jobs_is_an_error() {
    let s = Settings {
        book_ttl_ms: 50,
        tombstone_ttl_ms: 200,
        window_ms: 100,
        limit: 5_000,
        lateness_ms: 10,
    };
    let mut only_overfill = Engine::new(EngineOptions {
        threads: 1,
        partitions: 0,
        ..EngineOptions::default()
    })
    .expect("engine starts");
    let cfg = config(&s);
    add_jobs(&mut only_overfill, "overfill", &cfg).expect("job added");
    let snap = only_overfill.snapshot();
    assert!(engine(&s, 1, 0).restore(&snap).is_err(), "one job into two");
    let both = engine(&s, 1, 0).snapshot();
    assert!(only_overfill.restore(&both).is_err(), "two jobs into one");
    assert!(engine(&s, 1, 0).restore(b"").is_err(), "empty");
    assert!(
        engine(&s, 1, 0).restore(b"not a snapshot at all").is_err(),
        "garbage"
    );
}
