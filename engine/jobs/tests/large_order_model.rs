//! The large-order job against a plain per-event reference model of its rule
//! (`engine/JOBS.md`, "Large-order rule"), on random streams: requests and
//! purchases over a few order ids (so duplicates and TTL expiry both happen),
//! `ts` that moves forward with random gaps or is missing, at random batch
//! sizes, thread counts and partition counts.

mod common;

use std::collections::HashMap;

use common::{JobSet, RunOpts, event, run_jobs};
use jobs::exposure::ExposureConfig;
use proptest::{prelude::*, test_runner::FileFailurePersistence};
use serde_json::{Value, json};

const T: u64 = 1_700_000_000_000;

/// One input event: order index, is a request, shares, `ts` gap (None: no ts).
#[derive(Debug, Clone)]
struct Tick {
    order: u8,
    request: bool,
    shares: u64,
    gap: Option<u64>,
}

fn tick() -> impl Strategy<Value = Tick> {
    (
        0u8..6,
        any::<bool>(),
        0u64..200,
        prop::option::weighted(0.9, 0u64..400),
    )
        .prop_map(|(order, request, shares, gap)| Tick {
            order,
            request,
            shares,
            gap,
        })
}

/// The lines of `ticks` (purchase ids are unique per line).
fn lines(ticks: &[Tick]) -> Vec<String> {
    let mut ts = T;
    ticks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let order = format!("o{}", t.order);
            let ts = t.gap.map(|g| {
                ts += g;
                ts
            });
            if t.request {
                event(&order, t.shares, None, ts, "c", "S")
            } else {
                event(&format!("p{i}"), t.shares, Some(&order), ts, "c", "S")
            }
        })
        .collect()
}

/// The rule, event by event: the clock is the running max of `ts` (every
/// stream here starts with a `ts`-less prefix at ingest time 0, which the
/// model's clock reproduces as 0).
/// Returns the alerts and the ids still remembered at the end (alerted less
/// than a TTL before the final clock).
fn model(ticks: &[Tick], max_shares: u64, ttl: u64) -> (Vec<Value>, usize) {
    let mut clock = 0u64;
    let mut ts = T;
    let mut alerted: HashMap<u8, u64> = HashMap::new();
    let mut out = Vec::new();
    for t in ticks {
        let event_ts = t.gap.map(|g| {
            ts += g;
            ts
        });
        if let Some(e) = event_ts {
            clock = clock.max(e);
        }
        if !t.request || t.shares <= max_shares {
            continue;
        }
        if alerted.get(&t.order).is_some_and(|&at| clock - at < ttl) {
            continue;
        }
        alerted.insert(t.order, clock);
        let order = format!("o{}", t.order);
        out.push(json!({
            "alert_id": format!("large_order:{order}"),
            "kind": "large_order",
            "order_id": order,
            "client": "c",
            "stock": "S",
            "shares": t.shares,
            "max_shares": max_shares,
            "event_ts": event_ts,
        }));
    }
    let held = alerted.values().filter(|&&at| at + ttl > clock).count();
    (out, held)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/large_order_model.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn engine_matches_model(
        ticks in prop::collection::vec(tick(), 0..200),
        max_shares in 0u64..150,
        ttl in 1u64..2_000,
        batch_events in 1usize..50,
        threads in 1usize..4,
        partitions in prop::sample::select(vec![0usize, 1, 2, 8]),
    ) {
        let lines = lines(&ticks);
        let jobs = JobSet::new("large_order", ExposureConfig::default())
            .set("large_order", "max_shares", max_shares as i64)
            .set("large_order", "ttl_ms", ttl as i64);
        let opts = RunOpts { batch_events, threads, partitions, ..RunOpts::default() };
        let got = run_jobs(&lines, opts, &jobs);
        let (alerts, held) = model(&ticks, max_shares, ttl);
        prop_assert_eq!(got.alerts, alerts);
        // The TTL bounds the state: only ids alerted within one TTL are held.
        prop_assert_eq!(got.live_keys, held);
    }
}
