//! The large-order job (`engine/JOBS.md`, "Large-order rule"), one test per
//! rule, on handwritten lines.
//!
//! Every test runs its lines under all of the harness's batch sizes and
//! thread counts ([`common::run_jobs_all`]) and demands identical outcomes,
//! then checks the alerts field by field (all but `detected_at`) and the
//! job's counters.

mod common;

use std::collections::BTreeMap;

use common::{CLIENT, JobSet, JobsOutcome, RunOpts, STOCK, owned_by, p, pr, run_jobs_all};
use engine_core::{AlertOrder, Engine};
use jobs::exposure::ExposureConfig;
use serde_json::{Value, json};

/// Event time of the first line of most tests.
const T: u64 = 1_700_000_000_000;

const JOB: &str = "large_order";

/// The job alone with a limit of `max_shares` and a TTL of `ttl_ms`.
fn jobs(max_shares: i64, ttl_ms: i64) -> JobSet {
    JobSet::new(JOB, ExposureConfig::default())
        .set(JOB, "max_shares", max_shares)
        .set(JOB, "ttl_ms", ttl_ms)
}

/// Runs `lines` through `jobs` under every shape.
fn run(lines: &[String], jobs: &JobSet) -> JobsOutcome {
    let o = run_jobs_all(lines, RunOpts::default(), jobs);
    assert_eq!(o.rejected_total(), 0, "handwritten lines parse: {lines:?}");
    for (a, order) in o.alerts.iter().zip(&o.orders) {
        if a["kind"] == json!(JOB) {
            assert_ne!(
                order.pos,
                AlertOrder::DRAIN,
                "large_order has no drain: {a}"
            );
            assert_eq!(order.class, AlertOrder::EVENT, "an event's own alert: {a}");
        }
    }
    o
}

/// The expected counters: every counter of the job, zero unless given.
fn want_counters(nonzero: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut m: BTreeMap<String, u64> = jobs::large_order::COUNTERS
        .iter()
        .map(|&n| (n.to_owned(), 0))
        .collect();
    for &(n, v) in nonzero {
        assert!(m.contains_key(n), "unknown counter {n}");
        m.insert(n.to_owned(), v);
    }
    m
}

fn counters(o: &JobsOutcome) -> BTreeMap<String, u64> {
    o.counters.get(JOB).cloned().expect("large_order counters")
}

/// The expected alert of request `order` for `shares` over `max_shares`.
fn large(order: &str, shares: u64, max_shares: u64, event_ts: impl Into<Option<u64>>) -> Value {
    json!({
        "alert_id": format!("large_order:{order}"),
        "kind": "large_order",
        "order_id": order,
        "client": CLIENT,
        "stock": STOCK,
        "shares": shares,
        "max_shares": max_shares,
        "event_ts": event_ts.into(),
    })
}

#[test]
fn a_request_above_the_limit_alerts_at_or_below_does_not() {
    let lines = [pr("a", 100, T), pr("b", 101, T + 1), pr("c", 5_000, T + 2)];
    let o = run(&lines, &jobs(100, 60_000));
    assert_eq!(
        o.alerts,
        [large("b", 101, 100, T + 1), large("c", 5_000, 100, T + 2)]
    );
    assert_eq!(counters(&o), want_counters(&[("large_order", 2)]));
    assert_eq!(
        o.orders[0].pos,
        lines[0].len() as u64 + 1,
        "placed at its request"
    );
}

#[test]
fn purchases_never_alert_whatever_their_size() {
    let lines = [
        pr("a", 10, T),
        p("p1", "a", 1_000_000, T + 1),
        p("p2", "zz", 500, T + 2),
    ];
    let o = run(&lines, &jobs(100, 60_000));
    assert!(o.alerts.is_empty(), "{:?}", o.alerts);
    assert_eq!(counters(&o), want_counters(&[]));
}

#[test]
fn a_duplicated_or_redelivered_request_alerts_once_within_the_ttl() {
    let lines = [
        pr("a", 500, T),
        pr("a", 500, T + 10),
        // Another client and size under the same id: still the same request id.
        owned_by(&pr("a", 900, T + 20), "c-2", "XYZ"),
        pr("a", 500, T + 59_999),
    ];
    let o = run(&lines, &jobs(100, 60_000));
    assert_eq!(o.alerts, [large("a", 500, 100, T)]);
    assert_eq!(
        counters(&o),
        want_counters(&[("large_order", 1), ("duplicate", 3)])
    );
}

#[test]
fn past_the_ttl_the_id_is_forgotten_and_alerts_again() {
    let lines = [
        pr("a", 500, T),
        // The clock passes a's TTL: a is forgotten, memory is released.
        pr("b", 1, T + 60_000),
        pr("a", 500, T + 60_001),
    ];
    let o = run(&lines, &jobs(100, 60_000));
    assert_eq!(
        o.alerts,
        [large("a", 500, 100, T), large("a", 500, 100, T + 60_001)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("large_order", 2), ("forgotten", 1)])
    );
    assert_eq!(o.live_keys, 1, "only the second episode of a is held");
}

#[test]
fn the_ttl_is_measured_on_the_clock_at_the_request() {
    // Exactly at the TTL the id is no longer a duplicate (clock − at ≥ ttl).
    let lines = [pr("a", 500, T), pr("a", 500, T + 1_000)];
    let o = run(&lines, &jobs(100, 1_000));
    assert_eq!(o.alerts.len(), 2, "{:?}", o.alerts);
    // A request without ts keeps the event-time clock: still a duplicate.
    let lines = [pr("a", 500, T), pr("a", 500, None)];
    let o = run(&lines, &jobs(100, 1_000));
    assert_eq!(o.alerts, [large("a", 500, 100, T)]);
    assert_eq!(
        counters(&o),
        want_counters(&[("large_order", 1), ("duplicate", 1)])
    );
}

#[test]
fn state_is_bounded_by_the_ttl() {
    let mut lines: Vec<String> = (0..200).map(|i| pr(&format!("o{i}"), 500, T + i)).collect();
    lines.push(pr("late", 1, T + 10_000));
    let o = run(&lines, &jobs(100, 1_000));
    assert_eq!(o.alerts.len(), 200);
    assert_eq!(
        o.live_keys, 0,
        "every alerted id forgotten once the clock passed"
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("large_order", 200), ("forgotten", 200)])
    );
}

#[test]
fn beside_overfill_each_job_keeps_its_own_alerts_in_job_order() {
    // One request that is both large and, once filled past it, overfilled.
    let lines = [pr("a", 500, T), p("p1", "a", 501, T + 1)];
    let both = jobs(100, 60_000).with_spec("large_order,overfill");
    let o = run(&lines, &both);
    let kinds: Vec<&Value> = o.alerts.iter().map(|a| &a["kind"]).collect();
    assert_eq!(kinds, [&json!("large_order"), &json!("overfill")]);
    assert_eq!(o.alerts[0], large("a", 500, 100, T));
    assert_eq!(o.alerts_of(&["overfill"]).len(), 1);
}

#[test]
fn its_section_rejects_unknown_keys_and_a_zero_ttl() {
    let build = |section: &str| {
        let sections: toml::Table = format!("[large_order]\n{section}").parse().expect("toml");
        let mut e = Engine::new(Default::default()).expect("engine");
        jobs::add_jobs(&mut e, JOB, &sections).map(|_| ())
    };
    assert!(build("max_shares = 5\nttl_ms = 10").is_ok());
    let err = build("max_share = 5").expect_err("typo").to_string();
    assert!(
        err.contains("max_share") && err.contains("[large_order]"),
        "{err}"
    );
    let err = build("ttl_ms = 0").expect_err("zero ttl").to_string();
    assert!(err.contains("ttl_ms"), "{err}");
    // A wrong type names the section and the key.
    let err = build("max_shares = \"lots\"")
        .expect_err("wrong type")
        .to_string();
    assert!(err.contains("`large_order.max_shares`"), "{err}");
}

#[test]
fn a_restored_engine_remembers_what_alerted() {
    let sections = jobs(100, 60_000).sections(&RunOpts::default());
    let line = |i: usize, id: &str, ts: u64| (i, pr(id, 500, ts));
    let build = || {
        let mut e = Engine::new(Default::default()).expect("engine");
        jobs::add_jobs(&mut e, JOB, &sections).expect("job");
        e
    };
    let mut first = build();
    let before = process(&mut first, &[line(0, "a", T)]);
    assert_eq!(before.len(), 1);
    let mut restored = build();
    restored.restore(&first.snapshot()).expect("restore");
    // The same request redelivered after the restart: still a duplicate.
    let after = process(&mut restored, &[line(1, "a", T + 5), line(2, "b", T + 6)]);
    let ids: Vec<&str> = after.iter().map(|a| a.alert_id.as_str()).collect();
    assert_eq!(ids, ["large_order:b"]);
}

/// One batch of `(position, line)` through `engine`; its alerts.
fn process(engine: &mut Engine, lines: &[(usize, String)]) -> Vec<engine_core::Alert> {
    let mut builder = columnar::TradeBatchBuilder::new(lines.len());
    let mut scratch = ingest::parse::ParseScratch::default();
    for (pos, line) in lines {
        let ev = ingest::parse::parse_line(line.as_bytes(), &mut scratch).expect("valid line");
        builder.append(*pos as u64, 0, &ev);
    }
    let batch = builder.finish().expect("batch");
    let mut out = Vec::new();
    engine.process(&batch, 0, &mut out);
    out
}
