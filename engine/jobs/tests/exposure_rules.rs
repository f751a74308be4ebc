//! The exposure job (`engine/JOBS.md`, "Exposure rule"), one test per rule,
//! on handwritten lines.
//!
//! Every test runs its lines under all of the harness's batch sizes and
//! thread counts ([`common::run_jobs_all`]) and demands identical outcomes,
//! then checks the alerts field by field (all but `detected_at`) and the
//! job's counters.

mod common;

use std::collections::BTreeMap;

use common::{CLIENT, JobSet, JobsOutcome, RunOpts, STOCK, owned_by, p, pr, run_jobs_all};
use engine_core::AlertOrder;
use jobs::exposure::ExposureConfig;
use serde_json::{Value, json};

/// Event time of the first line of most tests.
const T: u64 = 1_700_000_000_000;

const JOB: &str = "exposure";

fn cfg(window_ms: u64, limit: u64, allowed_lateness_ms: u64) -> ExposureConfig {
    ExposureConfig {
        window_ms,
        limit,
        client_limits: BTreeMap::new(),
        allowed_lateness_ms,
    }
}

/// Runs `lines` through the exposure job alone, under every shape.
fn run(lines: &[String], cfg: ExposureConfig) -> JobsOutcome {
    run_opts(lines, cfg, RunOpts::default())
}

fn run_opts(lines: &[String], cfg: ExposureConfig, opts: RunOpts) -> JobsOutcome {
    let o = run_jobs_all(lines, opts, &JobSet::exposure(cfg));
    assert_eq!(o.rejected_total(), 0, "handwritten lines parse: {lines:?}");
    for (a, order) in o.alerts.iter().zip(&o.orders) {
        assert_eq!(a["kind"], json!("exposure"), "{a}");
        assert_ne!(order.pos, AlertOrder::DRAIN, "exposure has no drain: {a}");
        assert_eq!(order.class, AlertOrder::EVENT, "an event's own alert: {a}");
    }
    o
}

/// The counters of the exposure job, all of them.
fn counters(o: &JobsOutcome) -> BTreeMap<String, u64> {
    o.counters.get(JOB).cloned().expect("exposure counters")
}

/// The expected counters: every counter of the job, zero unless given.
fn want_counters(nonzero: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut m: BTreeMap<String, u64> = jobs::exposure::COUNTERS
        .iter()
        .map(|&n| (n.to_owned(), 0))
        .collect();
    for &(n, v) in nonzero {
        assert!(m.contains_key(n), "unknown counter {n}");
        m.insert(n.to_owned(), v);
    }
    m
}

/// The expected exposure alert: pair, triggering purchase, limit, windowed
/// sum, window length and the clock at the trigger (`window_end`).
#[allow(clippy::too_many_arguments)]
fn exposure(
    (client, stock): (&str, &str),
    (order, trigger): (&str, &str),
    limit: u64,
    sum: u64,
    window_ms: u64,
    clock: u64,
    event_ts: impl Into<Option<u64>>,
) -> Value {
    json!({
        "alert_id": format!("exposure:{client}:{stock}:{order}/{trigger}"),
        "kind": "exposure",
        "client": client,
        "stock": stock,
        "limit": limit,
        "exposure": sum,
        "window_ms": window_ms,
        "window_start": clock - window_ms,
        "window_end": clock,
        "order_id": order,
        "trigger_id": trigger,
        "event_ts": event_ts.into(),
    })
}

const PAIR: (&str, &str) = (CLIENT, STOCK);

/// Byte offset of line `i` (the harness numbers lines by byte offset).
fn pos_of(lines: &[String], i: usize) -> u64 {
    lines[..i].iter().map(|l| l.len() as u64 + 1).sum()
}

// ---- step 2: requests -------------------------------------------------------

#[test]
fn requests_are_ignored() {
    let lines = vec![
        pr("o1", 1_000_000, T),
        pr("o2", 50, T + 1),
        // Request ids that equal purchase ids below change nothing either.
        pr("a", 50, T + 2),
        p("a", "o1", 6, T + 3),
        pr("o3", 1_000, T + 4),
        p("b", "o2", 4, T + 5),
    ];
    let o = run(&lines, cfg(60_000, 10, 5_000));
    assert_eq!(
        o.alerts,
        Vec::<Value>::new(),
        "requests' shares never count"
    );
    assert_eq!(counters(&o), want_counters(&[("counted", 2)]));

    // One more share, from a purchase, crosses the limit (6 + 4 + 1 > 10).
    let mut lines = lines;
    lines.push(p("c", "o3", 1, T + 6));
    let o = run(&lines, cfg(60_000, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o3", "c"), 10, 11, 60_000, T + 6, T + 6)]
    );
    assert_eq!(o.orders[0].pos, pos_of(&lines, 6));
}

#[test]
fn requests_alone_leave_no_state() {
    let lines: Vec<String> = (0..20)
        .map(|i| pr(&format!("o{i}"), 1 << 40, T + i))
        .collect();
    let o = run_opts(&lines, cfg(100, 0, 0), RunOpts::default().no_drain());
    assert_eq!(o.alerts, Vec::<Value>::new());
    assert_eq!(o.live_keys, 0);
    assert_eq!(counters(&o), want_counters(&[]));
}

// ---- steps 8–9: count, exposure ---------------------------------------------

#[test]
fn crossing_the_limit_raises_one_alert_with_every_field() {
    let lines = vec![
        p("a", "o1", 4, T),
        p("b", "o2", 4, T + 10),
        // Exactly at the limit: not above it.
        p("c", "o1", 2, T + 20),
        p("d", "o2", 1, T + 30),
    ];
    let o = run(&lines, cfg(1_000, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o2", "d"), 10, 11, 1_000, T + 30, T + 30)]
    );
    let a = &o.alerts[0];
    assert_eq!(a["alert_id"], json!("exposure:c-1:ACME:o2/d"));
    assert_eq!(a["window_start"], json!(T + 30 - 1_000));
    assert_eq!(a["window_end"], json!(T + 30));
    assert_eq!(o.orders[0].pos, pos_of(&lines, 3), "placed at its trigger");
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 4), ("exposure", 1)])
    );
}

#[test]
fn window_end_is_the_clock_not_the_trigger_ts() {
    // A request moves the clock to T+50; the trigger is 30 ms behind it.
    let lines = vec![
        p("a", "o1", 6, T),
        pr("o9", 1, T + 50),
        p("b", "o1", 5, T + 20),
    ];
    let o = run(&lines, cfg(1_000, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 11, 1_000, T + 50, T + 20)]
    );
}

#[test]
fn no_second_alert_while_above_the_limit() {
    let mut lines = vec![p("a", "o1", 11, T)];
    for i in 0..10 {
        lines.push(p(&format!("x{i}"), "o1", 5, T + 1 + i));
    }
    let o = run(&lines, cfg(60_000, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "a"), 10, 11, 60_000, T, T)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 11), ("exposure", 1)])
    );
}

#[test]
fn a_zero_limit_alerts_on_the_first_share() {
    let lines = vec![p("z", "o1", 0, T), p("a", "o1", 1, T + 1)];
    let o = run(&lines, cfg(60_000, 0, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "a"), 0, 1, 60_000, T + 1, T + 1)]
    );
}

// ---- step 6: re-arm ----------------------------------------------------------

#[test]
fn rearms_once_eviction_brings_the_sum_back_to_the_limit() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 8, T),      // 8
        p("b", "o1", 5, T + 10), // 13: alert
        p("c", "o1", 1, T + 50), // 14: still raised
        // The clock reaches T+100: `a` (at T, exactly W old) leaves; 6.
        pr("o9", 1, T + 100),
        p("d", "o1", 3, T + 101), // 9: re-armed, no alert
        p("e", "o1", 2, T + 105), // 11: second alert
        p("f", "o1", 9, T + 106), // 20: still raised
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![
            exposure(PAIR, ("o1", "b"), 10, 13, w, T + 10, T + 10),
            exposure(PAIR, ("o1", "e"), 10, 11, w, T + 105, T + 105),
        ]
    );
    assert_eq!(
        o.orders.iter().map(|x| x.pos).collect::<Vec<_>>(),
        vec![pos_of(&lines, 1), pos_of(&lines, 5)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 6), ("exposure", 2), ("rearmed", 1)])
    );
}

#[test]
fn rearms_at_exactly_the_limit_but_not_above_it() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 2, T),
        p("b", "o1", 9, T + 10), // 11: alert
        // Clock T+100: `a` leaves, 9 ≤ 10 → re-armed by the next purchase.
        p("c", "o1", 1, T + 100), // 10: at the limit, no alert
        p("d", "o1", 1, T + 101), // 11: alert again
        // Clock T+110: `b` leaves: 2, re-armed; then 2 + 20 = 22: alert.
        p("e", "o1", 20, T + 110),
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![
            exposure(PAIR, ("o1", "b"), 10, 11, w, T + 10, T + 10),
            exposure(PAIR, ("o1", "d"), 10, 11, w, T + 101, T + 101),
            exposure(PAIR, ("o1", "e"), 10, 22, w, T + 110, T + 110),
        ]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 5), ("exposure", 3), ("rearmed", 2)])
    );
}

#[test]
fn no_rearm_while_the_evicted_sum_stays_above_the_limit() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 1, T),
        p("b", "o1", 11, T + 10), // 12: alert
        // `a` leaves: 11, still above; nothing re-arms, no new alert.
        p("c", "o1", 1, T + 100),
        p("d", "o1", 1, T + 105),
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 12, w, T + 10, T + 10)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 4), ("exposure", 1)])
    );
}

/// Step 6 counts `rearmed` when a purchase of the pair finds its alert
/// raised and its sum back at or below the limit. A pair whose purchases
/// merely leave the window as the clock advances, with no purchase of the
/// pair after, has not re-armed by step 6.
#[test]
fn rearmed_is_counted_by_a_purchase_of_the_pair() {
    let w = 100;
    // The alert is raised, then the clock alone moves past the purchase.
    let lines = vec![p("a", "o1", 11, T), pr("o9", 1, T + 100)];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(o.alerts, vec![exposure(PAIR, ("o1", "a"), 10, 11, w, T, T)]);
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 1), ("exposure", 1)]),
        "no purchase of the pair reached step 6 after the alert"
    );
}

#[test]
fn rearmed_is_counted_once_a_purchase_of_the_pair_comes() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 11, T),
        pr("o9", 1, T + 100),
        p("b", "o1", 1, T + 101),
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 2), ("exposure", 1), ("rearmed", 1)])
    );
}

/// Counters, like alerts, must not depend on the batch size or thread count
/// ([`run`] demands identical outcomes under every shape).
#[test]
fn rearmed_does_not_depend_on_the_shape() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 1, T),
        p("b", "o1", 11, T + 10), // 12: alert
        owned_by(&p("y", "o2", 1, T + 50), "c-2", STOCK),
        // Clock T+105: `a` has left (11, still raised); T+120: `b` has left
        // too. No purchase of the pair since the alert.
        pr("o9", 1, T + 105),
        pr("o8", 1, T + 120),
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 12, w, T + 10, T + 10)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 3), ("exposure", 1)])
    );
}

// ---- step 5: the window ------------------------------------------------------

#[test]
fn a_purchase_exactly_window_ms_old_is_out() {
    let w = 100;
    // One ms younger than the window: still in, 6 + 5 > 10.
    let inside = vec![p("a", "o1", 6, T), p("b", "o1", 5, T + w - 1)];
    let o = run(&inside, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 11, w, T + w - 1, T + w - 1)]
    );

    // Exactly `window_ms` old: at the window's (exclusive) start, evicted.
    let at_start = vec![p("a", "o1", 6, T), p("b", "o1", 5, T + w)];
    let o = run(&at_start, cfg(w, 10, 5_000));
    assert_eq!(o.alerts, Vec::<Value>::new());
    assert_eq!(counters(&o), want_counters(&[("counted", 2)]));
}

#[test]
fn a_purchase_at_or_before_the_window_start_is_dropped_as_outside_window() {
    let w = 100;
    // Lateness larger than the window, so only the window drops these.
    let lines = vec![
        pr("o9", 1, T + 500),
        p("a", "o1", 20, T + 400), // at the start (T+400): out
        p("b", "o1", 20, T + 399), // before it: out
        p("c", "o1", 11, T + 401), // just inside: counted, alert
    ];
    let o = run(&lines, cfg(w, 10, 1_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "c"), 10, 11, w, T + 500, T + 401)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 1), ("outside_window", 2), ("exposure", 1)])
    );
}

/// JOBS.md: the window is `(clock − window_ms, clock]`. Early in epoch time
/// that interval starts before 0, so an event at `ts` 0 (SPEC §1 accepts
/// 0 ≤ ts) lies inside it.
#[test]
fn a_window_reaching_before_the_epoch_holds_ts_zero() {
    let lines = vec![p("a", "o1", 6, 0), p("b", "o1", 5, 0)];
    let o = run(&lines, cfg(100, 10, 5_000));
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 2), ("exposure", 1)]),
        "ts 0 is inside (-100, 0]"
    );
    assert_eq!(o.alerts.len(), 1);
    let a = &o.alerts[0];
    assert_eq!(a["alert_id"], json!("exposure:c-1:ACME:o1/b"));
    assert_eq!(a["exposure"], json!(11));
    assert_eq!(a["window_end"], json!(0));
}

// ---- step 4: lateness --------------------------------------------------------

#[test]
fn a_purchase_later_than_allowed_lateness_is_dropped_as_late() {
    let lines = vec![
        pr("o9", 1, T + 100),
        // 51 ms behind the clock: T+49 + 50 < T+100.
        p("a", "o1", 11, T + 49),
        // Exactly 50 ms behind: not late.
        p("b", "o1", 11, T + 50),
    ];
    let o = run(&lines, cfg(1_000, 10, 50));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 11, 1_000, T + 100, T + 50)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 1), ("late", 1), ("exposure", 1)])
    );
}

#[test]
fn lateness_is_checked_before_the_window() {
    // Too late and outside the window: counted `late` only.
    let lines = vec![pr("o9", 1, T + 500), p("a", "o1", 11, T + 300)];
    let o = run(&lines, cfg(100, 10, 10));
    assert_eq!(o.alerts, Vec::<Value>::new());
    assert_eq!(counters(&o), want_counters(&[("late", 1)]));
}

#[test]
fn zero_lateness_drops_every_purchase_behind_the_clock() {
    let lines = vec![
        pr("o9", 1, T + 10),
        p("a", "o1", 11, T + 9),
        p("b", "o1", 11, T + 10),
    ];
    let o = run(&lines, cfg(1_000, 10, 0));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 11, 1_000, T + 10, T + 10)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 1), ("late", 1), ("exposure", 1)])
    );
}

#[test]
fn an_out_of_order_purchase_within_lateness_counts_at_its_own_event_time() {
    let w = 100;
    let lines = vec![
        pr("o9", 1, T + 100),
        p("a", "o1", 6, T + 50),  // 50 ms behind, lateness 60: counted
        p("b", "o1", 5, T + 120), // 11: alert
        // Clock T+150: `a` leaves by its own time (T+50 ≤ T+50), 5 left.
        pr("o8", 1, T + 150),
        p("c", "o1", 5, T + 151), // 10: re-armed, no alert
        p("d", "o1", 1, T + 140), // 11 (within lateness, in window): alert
    ];
    let o = run(&lines, cfg(w, 10, 60));
    assert_eq!(
        o.alerts,
        vec![
            exposure(PAIR, ("o1", "b"), 10, 11, w, T + 120, T + 120),
            exposure(PAIR, ("o1", "d"), 10, 11, w, T + 151, T + 140),
        ]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 4), ("exposure", 2), ("rearmed", 1)])
    );
}

#[test]
fn an_out_of_order_purchase_is_evicted_before_younger_ones() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 5, T + 60),
        p("b", "o1", 5, T + 10), // out of order, counted: 10
        // Clock T+110: `b` (T+10) leaves, `a` (T+60) stays: 5 + 6 = 11.
        p("c", "o1", 6, T + 110),
    ];
    let o = run(&lines, cfg(w, 10, 1_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "c"), 10, 11, w, T + 110, T + 110)]
    );
}

// ---- step 3: event time without ts -------------------------------------------

#[test]
fn a_purchase_without_ts_takes_the_clock_as_its_event_time() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 5, T),
        pr("o9", 1, T + 50),
        p("b", "o1", 5, None), // event time T+50, not T
        p("c", "o1", 1, None), // 11: alert, event_ts null
        // Clock T+100: only `a` leaves; `b` and `c` (T+50) stay: 6.
        pr("o8", 1, T + 100),
        p("d", "o1", 5, None), // 11 again: re-armed, alert
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![
            exposure(PAIR, ("o1", "c"), 10, 11, w, T + 50, None),
            exposure(PAIR, ("o1", "d"), 10, 11, w, T + 100, None),
        ]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 4), ("exposure", 2), ("rearmed", 1)])
    );
}

#[test]
fn without_any_ts_the_window_slides_in_ingest_time() {
    // Line i is ingested at T + 10·i ms.
    let opts = RunOpts {
        ingest_ns: T * 1_000_000,
        ingest_step_ns: 10_000_000,
        ..RunOpts::default()
    };
    let w = 25;
    let lines = vec![
        p("a", "o1", 6, None), // T
        p("b", "o1", 5, None), // T+10: 11, alert
        p("c", "o1", 0, None), // T+20
        p("d", "o1", 1, None), // T+30: `a` left (T ≤ T+5): 6, re-armed
        p("e", "o1", 5, None), // T+40: `b` left: 0 + 1 + 5 = 6
        p("f", "o1", 5, None), // T+50: `c` left: 11, alert
    ];
    let o = run_opts(&lines, cfg(w, 10, 5_000), opts);
    assert_eq!(
        o.alerts,
        vec![
            exposure(PAIR, ("o1", "b"), 10, 11, w, T + 10, None),
            exposure(PAIR, ("o1", "f"), 10, 11, w, T + 50, None),
        ]
    );
}

// ---- step 7: duplicates ------------------------------------------------------

#[test]
fn a_duplicate_purchase_in_the_window_is_not_counted_twice() {
    let lines = vec![
        p("a", "o1", 6, T),
        p("a", "o1", 6, T),      // redelivered line
        p("a", "o1", 6, T + 20), // same purchase, later ts, still in window
        p("b", "o1", 4, T + 30), // 10: at the limit, no alert
        // The same purchase id in another order is another purchase.
        p("a", "o2", 1, T + 40), // 11: alert
        p("a", "o2", 1, T + 41),
    ];
    let o = run(&lines, cfg(1_000, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o2", "a"), 10, 11, 1_000, T + 40, T + 40)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 3), ("duplicate_purchase", 3), ("exposure", 1)])
    );
}

#[test]
fn a_redelivered_line_after_its_purchase_left_the_window_is_dropped_by_time() {
    // The line repeats the original's `ts`, which is now out of the window.
    let w = 100;
    let lines = vec![
        p("a", "o1", 6, T),
        p("b", "o1", 1, T + 150),
        p("a", "o1", 6, T), // 150 ms behind, lateness 1000: outside_window
        p("c", "o1", 4, T + 151),
    ];
    let o = run(&lines, cfg(w, 10, 1_000));
    assert_eq!(o.alerts, Vec::<Value>::new());
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 3), ("outside_window", 1)])
    );
}

/// Step 7 looks only in the pair's window: a purchase id seen again with an
/// event time after the first copy left the window counts again.
#[test]
fn a_purchase_seen_again_after_it_left_the_window_counts_again() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 6, T),
        p("a", "o1", 6, T + 100), // `a`@T left at clock T+100: counted, 6
        p("b", "o1", 5, T + 101), // 11: alert
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![exposure(PAIR, ("o1", "b"), 10, 11, w, T + 101, T + 101)]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 3), ("exposure", 1)])
    );
}

// ---- limits and pairs ---------------------------------------------------------

#[test]
fn a_client_limit_overrides_the_default() {
    let mut c = cfg(60_000, 10, 5_000);
    c.client_limits.insert("vip".to_owned(), 100);
    c.client_limits.insert("tight".to_owned(), 2);
    let lines = vec![
        owned_by(&p("a", "o1", 50, T), "vip", STOCK), // 50 ≤ 100
        owned_by(&p("a", "o2", 3, T + 1), "tight", STOCK), // 3 > 2: alert
        p("a", "o3", 11, T + 2),                      // 11 > 10: alert
        owned_by(&p("b", "o1", 50, T + 3), "vip", STOCK), // 100: at the limit
        owned_by(&p("c", "o1", 1, T + 4), "vip", "OTHER"), // another pair
        owned_by(&p("d", "o1", 1, T + 5), "vip", STOCK), // 101: alert
    ];
    let o = run(&lines, c);
    assert_eq!(
        o.alerts,
        vec![
            exposure(("tight", STOCK), ("o2", "a"), 2, 3, 60_000, T + 1, T + 1),
            exposure(PAIR, ("o3", "a"), 10, 11, 60_000, T + 2, T + 2),
            exposure(("vip", STOCK), ("o1", "d"), 100, 101, 60_000, T + 5, T + 5),
        ]
    );
}

#[test]
fn pairs_are_independent() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 6, T),                                // c-1/ACME 6
        owned_by(&p("a", "o1", 6, T), CLIENT, "BETA"),     // c-1/BETA 6 (not a duplicate)
        owned_by(&p("a", "o1", 6, T), "c-2", STOCK),       // c-2/ACME 6
        owned_by(&p("b", "o1", 5, T + 1), "c-2", STOCK),   // c-2/ACME 11: alert
        p("b", "o1", 4, T + 2),                            // c-1/ACME 10: no alert
        owned_by(&p("c", "o1", 5, T + 3), CLIENT, "BETA"), // c-1/BETA 11: alert
        // Clock T+100: all three `a` leave. c-2/ACME re-arms (5), the others
        // have 4 and 5; each pair on its own.
        owned_by(&p("d", "o1", 6, T + 100), "c-2", STOCK), // c-2/ACME 11: alert
        p("d", "o1", 6, T + 100),                          // c-1/ACME 10: no alert
        owned_by(&p("d", "o1", 5, T + 100), CLIENT, "BETA"), // c-1/BETA 10: re-armed
    ];
    let o = run(&lines, cfg(w, 10, 5_000));
    assert_eq!(
        o.alerts,
        vec![
            exposure(("c-2", STOCK), ("o1", "b"), 10, 11, w, T + 1, T + 1),
            exposure((CLIENT, "BETA"), ("o1", "c"), 10, 11, w, T + 3, T + 3),
            exposure(("c-2", STOCK), ("o1", "d"), 10, 11, w, T + 100, T + 100),
        ]
    );
    assert_eq!(
        counters(&o),
        want_counters(&[("counted", 9), ("exposure", 3), ("rearmed", 2)])
    );
}

#[test]
fn pair_names_do_not_run_together() {
    // ("ab", "c") and ("a", "bc") are different pairs.
    let lines = vec![
        owned_by(&p("x", "o1", 6, T), "ab", "c"),
        owned_by(&p("y", "o1", 6, T + 1), "a", "bc"),
    ];
    let o = run(&lines, cfg(60_000, 10, 5_000));
    assert_eq!(o.alerts, Vec::<Value>::new());
}

// ---- the end of the input and memory ------------------------------------------

#[test]
fn the_drain_emits_nothing() {
    let lines = vec![
        p("a", "o1", 6, T),
        p("b", "o1", 4, T + 1),                          // 10: at the limit
        owned_by(&p("c", "o2", 9, T + 2), "c-2", STOCK), // 9
        pr("o3", 1, T + 3),                              // a request, never matched
    ];
    let drained = run(&lines, cfg(60_000, 10, 5_000));
    let kept = run_opts(
        &lines,
        cfg(60_000, 10, 5_000),
        RunOpts::default().no_drain(),
    );
    assert_eq!(drained.alerts, Vec::<Value>::new());
    assert_eq!(kept.alerts, Vec::<Value>::new());
    assert_eq!(counters(&drained), counters(&kept));
    assert_eq!(kept.live_keys, 2, "two pairs with purchases in the window");
    assert_eq!(drained.live_keys, 0);
}

#[test]
fn pairs_whose_window_empties_are_forgotten() {
    let w = 100;
    let lines = vec![
        p("a", "o1", 1, T),
        owned_by(&p("a", "o1", 1, T + 10), "c-2", STOCK),
        owned_by(&p("a", "o1", 1, T + 20), CLIENT, "BETA"),
        pr("o9", 1, T + 119), // `c-1/BETA` (T+20) is still in
    ];
    let o = run_opts(&lines, cfg(w, 10, 5_000), RunOpts::default().no_drain());
    assert_eq!(o.live_keys, 1);
    let mut lines = lines;
    lines.push(pr("o8", 1, T + 120));
    let o = run_opts(&lines, cfg(w, 10, 5_000), RunOpts::default().no_drain());
    assert_eq!(o.live_keys, 0);
}
