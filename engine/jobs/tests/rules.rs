//! SPEC §2 rule by rule: each test feeds a small stream and asserts the exact
//! alerts (content and order) and the counters. Every stream runs under
//! several batch sizes and thread counts ([`common::run_all`]), which must
//! agree.

mod common;

use common::{
    RunOpts, SHAPES, event, orphan, overfill, owned_by, owner, p, pr, run, run_all, run_full,
};
use serde_json::Value;

/// SPEC §1: the largest accepted share count.
const MAX_SHARES: u64 = (1 << 53) - 1;

/// No alert.
const NONE: Vec<Value> = Vec::new();

fn alerts(lines: &[String], opts: RunOpts) -> Vec<Value> {
    run_all(lines, opts).alerts
}

// ---- step 6: overfill -----------------------------------------------------

#[test]
fn brief_example_one_overfill_then_order_is_closed() {
    let lines = vec![
        pr("o1", 100, 1),
        p("p1", "o1", 90, 2),
        p("p2", "o1", 30, 3),
        p("p3", "o1", 50, 4),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, vec![overfill("o1", 100, 120, "p2", 3)]);
    assert_eq!(out.counter("overfill"), 1);
    assert_eq!(
        out.counter("closed"),
        1,
        "the fourth event hits the tombstone"
    );
    assert_eq!(out.open_books, 0);
}

#[test]
fn exact_fill_is_no_alert_and_one_more_share_is() {
    let mut lines = vec![
        pr("o1", 100, 1),
        p("p1", "o1", 60, 2),
        p("p0", "o1", 0, 3),
        p("p2", "o1", 40, 4),
    ];
    assert_eq!(alerts(&lines, RunOpts::default()), NONE);
    // A book with a request closes silently at the drain.
    assert_eq!(alerts(&lines, RunOpts::default().no_drain()), NONE);
    lines.push(p("p3", "o1", 1, 5));
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", 100, 101, "p3", 5)]
    );
}

#[test]
fn zero_share_request_overfills_on_first_share() {
    let lines = vec![pr("o1", 0, 1), p("p0", "o1", 0, 2), p("p1", "o1", 1, 3)];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", 0, 1, "p1", 3)]
    );
}

#[test]
fn overfill_event_ts_is_the_trigger_ts_or_null() {
    // The trigger carries no ts: event_ts is null even though the clock is
    // event time (the ts-less event does not move the clock).
    let lines = vec![pr("o1", 10, 100), p("p1", "o1", 11, None)];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", 10, 11, "p1", None)]
    );
    // Out-of-order ts: the alert keeps the trigger's own ts, not the clock.
    let lines = vec![pr("o1", 10, 500), pr("o2", 1, 900), p("p1", "o1", 11, 400)];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", 10, 11, "p1", 400)]
    );
}

#[test]
fn purchase_ids_are_per_order() {
    // The same purchase id in two orders is two purchases.
    let lines = vec![
        pr("o1", 10, 1),
        pr("o2", 10, 2),
        p("p1", "o1", 6, 3),
        p("p1", "o2", 6, 4),
        p("p2", "o1", 6, 5),
        p("p2", "o2", 6, 6),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(
        out.alerts,
        vec![
            overfill("o1", 10, 12, "p2", 5),
            overfill("o2", 10, 12, "p2", 6)
        ]
    );
    assert_eq!(out.counter("duplicate_purchase"), 0);
}

// ---- step 5: duplicates ---------------------------------------------------

#[test]
fn duplicate_purchase_never_double_counts() {
    let dup = p("p1", "o1", 60, 2);
    let lines = vec![pr("o1", 100, 1), dup.clone(), dup.clone()];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, NONE);
    assert_eq!(out.counter("duplicate_purchase"), 1);

    // A redelivery with other shares, ts or owner is still the same purchase.
    let lines = vec![
        pr("o1", 100, 1),
        dup.clone(),
        p("p1", "o1", 70, 3),
        owned_by(&p("p1", "o1", 60, 4), "c-9", "OTHER"),
        dup,
        p("p2", "o1", 41, 6),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, vec![overfill("o1", 100, 101, "p2", 6)]);
    assert_eq!(out.counter("duplicate_purchase"), 3);
}

#[test]
fn duplicate_purchase_before_request_is_not_double_counted() {
    let lines = vec![
        p("p1", "o1", 60, 1),
        p("p1", "o1", 60, 2),
        pr("o1", 100, 3),
        p("p1", "o1", 60, 4),
        p("p2", "o1", 40, 5),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, NONE);
    assert_eq!(out.counter("duplicate_purchase"), 2);
    // Without the request the book is an orphan of 60 shares, not 180.
    let out = run_all(&lines[..2], RunOpts::default());
    assert_eq!(out.alerts, vec![orphan("o1", "p1", 60, 2)]);
}

#[test]
fn many_purchases_of_one_order_are_each_counted_once() {
    // More purchases than a book keeps inline, redelivered in another order.
    let mut lines = vec![pr("o1", 1_000, 0)];
    for i in 0..40 {
        lines.push(p(&format!("p{i}"), "o1", 1, i + 1));
    }
    for i in (0..40).rev() {
        lines.push(p(&format!("p{i}"), "o1", 1, 100));
    }
    lines.push(p("last", "o1", 960, 101));
    let out = run_all(&lines, RunOpts::ttl(1_000, 100));
    assert_eq!(out.alerts, NONE);
    assert_eq!(out.counter("duplicate_purchase"), 40);
    // One share more overfills; the order closes and its tombstone lapses
    // at 201 + 100 (book_ttl 1_000 keeps it open till then).
    lines.push(p("more", "o1", 1, 201));
    lines.push(p("p7", "o1", 1, 300));
    // A new book of the same order counts the same purchase ids anew.
    for i in 0..40 {
        lines.push(p(&format!("p{i}"), "o1", 1, 301));
    }
    lines.push(pr("o1", 39, 302));
    let out = run_all(&lines, RunOpts::ttl(1_000, 100));
    assert_eq!(
        out.alerts,
        vec![
            overfill("o1", 1_000, 1_001, "more", 201),
            overfill("o1", 39, 40, "o1", 302),
        ]
    );
    assert_eq!(out.counter("duplicate_purchase"), 40);
    assert_eq!(out.counter("closed"), 1);
}

#[test]
fn duplicate_request_is_ignored_and_counted() {
    let lines = vec![
        pr("o1", 100, 1),
        // Would overfill at p1 if it replaced the first request.
        owned_by(&pr("o1", 10, 2), "c-9", "OTHER"),
        p("p1", "o1", 60, 3),
        pr("o1", 100, 4),
        p("p2", "o1", 50, 5),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, vec![overfill("o1", 100, 110, "p2", 5)]);
    assert_eq!(out.counter("duplicate_request"), 2);
}

#[test]
fn late_request_triggers_the_overfill_and_names_the_owner() {
    let lines = vec![
        owned_by(&p("p1", "o1", 90, 1), "c-broker", "XYZ"),
        owned_by(&p("p2", "o1", 30, 2), "c-other", "QQQ"),
        pr("o1", 100, 3),
        p("p3", "o1", 5, 4),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, vec![overfill("o1", 100, 120, "o1", 3)]);
    assert_eq!(out.counter("late_request"), 1);
    assert_eq!(out.counter("closed"), 1);
}

#[test]
fn late_request_within_the_limit_then_a_purchase_overfills() {
    let lines = vec![
        owned_by(&p("p1", "o1", 50, 1), "c-broker", "XYZ"),
        pr("o1", 100, 2),
        p("p2", "o1", 50, 3),
        p("p3", "o1", 1, 4),
    ];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", 100, 101, "p3", 4)]
    );
}

#[test]
fn orphan_names_the_first_event_s_owner() {
    let lines = vec![
        owned_by(&p("p1", "o1", 5, 1), "c-first", "FIRST"),
        owned_by(&p("p2", "o1", 6, 2), "c-second", "SECOND"),
    ];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![owner(orphan("o1", "p1", 11, 2), "c-first", "FIRST")]
    );
}

// ---- step 2: expiry and orphans ---------------------------------------------

#[test]
fn orphan_at_expiry_comes_before_the_event_s_own_alert() {
    let opts = RunOpts::ttl(100, 1_000).no_drain();
    let head = vec![
        p("p1", "o1", 5, 1_000),
        p("p2", "o1", 7, 1_050),
        pr("o2", 1, 1_060),
    ];
    // One ms short of opened_at + book_ttl: nothing closes.
    let mut lines = head.clone();
    lines.push(p("q1", "o2", 5, 1_099));
    assert_eq!(
        alerts(&lines, opts),
        vec![overfill("o2", 1, 5, "q1", 1_099)]
    );
    // opened_at + book_ttl == clock: o1 closes at this event, before its alert.
    let mut lines = head;
    lines.push(p("q1", "o2", 5, 1_100));
    let out = run_all(&lines, opts);
    assert_eq!(
        out.alerts,
        vec![
            orphan("o1", "p1", 12, 1_100),
            overfill("o2", 1, 5, "q1", 1_100)
        ]
    );
    assert_eq!(out.counter("expired"), 1);
    assert_eq!(out.counter("orphan"), 1);
}

#[test]
fn several_books_expire_at_once_oldest_first() {
    // Ages differ from id order and from hash order.
    let lines = vec![
        p("a", "o3", 3, 1_000),
        p("b", "o1", 1, 1_010),
        pr("o4", 50, 1_015),
        p("c", "o4", 10, 1_016),
        p("d", "o2", 2, 1_020),
        p("e", "o5", 0, 1_030), // counted 0 shares: closes silently
        p("f", "o0", 9, 1_040),
        pr("o9", 1, 1_040),
        // Expires o3, o1, o4, o2, o5 (deadline ≤ 1_130) but not o0, o9.
        p("g", "o9", 2, 1_130),
    ];
    let out = run_all(&lines, RunOpts::ttl(100, 1_000).no_drain());
    assert_eq!(
        out.alerts,
        vec![
            orphan("o3", "a", 3, 1_130),
            orphan("o1", "b", 1, 1_130),
            orphan("o2", "d", 2, 1_130),
            overfill("o9", 1, 2, "g", 1_130),
        ]
    );
    assert_eq!(out.counter("expired"), 5);
    assert_eq!(out.open_books, 1, "o0 is still open");
}

#[test]
fn book_with_request_closes_silently_and_leaves_a_tombstone() {
    let lines = vec![
        pr("o1", 100, 0),
        p("p1", "o1", 50, 10),
        pr("o2", 1, 100),       // expires o1 (closed_at 100)
        p("p2", "o1", 60, 150), // o1 is closed: dropped, no overfill
        p("p3", "o1", 60, 299), // still closed
    ];
    let out = run_all(&lines, RunOpts::ttl(100, 200));
    assert_eq!(out.alerts, NONE);
    assert_eq!(out.counter("expired"), 2, "o1 at 100, o2 at 299");
    assert_eq!(out.counter("closed"), 2);
    // At 300 the tombstone is gone: a new book opens, as an orphan of 60.
    let mut more = lines.clone();
    more.push(p("p4", "o1", 60, 300));
    let out = run_all(&more, RunOpts::ttl(100, 200));
    assert_eq!(out.alerts, vec![orphan("o1", "p4", 60, 300)]);
}

#[test]
fn expiry_caused_by_an_event_of_the_same_order() {
    // The request arrives when the purchase's book is already due: the book
    // closes first (orphan), then the request hits the fresh tombstone.
    let lines = vec![p("p1", "o1", 5, 1_000), pr("o1", 1, 1_100)];
    let out = run_all(&lines, RunOpts::ttl(100, 50));
    assert_eq!(out.alerts, vec![orphan("o1", "p1", 5, 1_100)]);
    assert_eq!(out.counter("closed"), 1);
    // With tombstone_ttl 0 the request opens a new book at once.
    let mut lines = lines;
    lines.push(p("p1", "o1", 2, 1_101));
    let out = run_all(&lines, RunOpts::ttl(100, 0));
    assert_eq!(
        out.alerts,
        vec![
            orphan("o1", "p1", 5, 1_100),
            overfill("o1", 1, 2, "p1", 1_101)
        ]
    );
    assert_eq!(out.counter("closed"), 0);
}

#[test]
fn events_without_ts_do_not_move_an_event_time_clock() {
    // Once the clock is event time, a ts-less event (however late its
    // ingest time) does not expire anything.
    let lines = vec![
        p("p1", "o1", 5, 1_000),
        p("p2", "o2", 5, None),
        p("p3", "o2", 5, None),
    ];
    let opts = RunOpts {
        ingest_ns: 10_000_000_000_000,
        ingest_step_ns: 1_000_000_000_000,
        ..RunOpts::ttl(100, 1_000)
    };
    let out = run_all(&lines, opts);
    assert_eq!(out.clock, 1_000);
    // Drained at the end: oldest first, event_ts the final clock.
    assert_eq!(
        out.alerts,
        vec![orphan("o1", "p1", 5, 1_000), orphan("o2", "p2", 10, 1_000)]
    );
    assert_eq!(out.counter("expired"), 0);
    assert_eq!(out.counter("drained"), 2);
}

#[test]
fn out_of_order_ts_never_moves_the_clock_back() {
    let lines = vec![
        p("p1", "o1", 1, 1_000),
        pr("o2", 5, 2_000),      // expires o1 (deadline 2_000)
        p("p2", "o3", 3, 500),   // opens o3 at clock 2_000, not 500
        p("p3", "o2", 1, 2_999), // o3 not yet due
        p("p4", "o2", 1, 1_200),
        p("p5", "o2", 1, 3_000), // o2 and o3 due (opened at 2_000)
    ];
    let out = run_all(&lines, RunOpts::ttl(1_000, 10_000).no_drain());
    assert_eq!(
        out.alerts,
        vec![orphan("o1", "p1", 1, 2_000), orphan("o3", "p2", 3, 3_000)]
    );
    assert_eq!(out.clock, 3_000);
}

#[test]
fn ingest_time_clock_without_any_ts() {
    // No event carries ts: books expire in ingest time, and alerts carry no
    // event_ts. Line i is ingested at 1_000 + 10·i ms.
    let lines = vec![
        p("p1", "o1", 5, None), // 1_000
        pr("o2", 1, None),      // 1_010
        p("p2", "o2", 1, None), // 1_020
        p("p3", "o3", 2, None), // 1_030
        p("p4", "o2", 1, None), // 1_040: o2 overfills
        pr("o4", 9, None),      // 1_050
        p("p5", "o4", 1, None), // 1_060
        p("p6", "o4", 1, None), // 1_070
        p("p7", "o4", 1, None), // 1_080
        p("p8", "o4", 1, None), // 1_090
        p("p9", "o4", 1, None), // 1_100: o1 expires (1_000 + 100)
        p("pa", "o4", 1, None), // 1_110
        p("pb", "o4", 1, None), // 1_120
        p("pc", "o4", 1, None), // 1_130: o3 expires
    ];
    let opts = RunOpts {
        ingest_ns: 1_000_000_000,
        ingest_step_ns: 10_000_000,
        ..RunOpts::ttl(100, 1_000)
    };
    let out = run_all(&lines, opts);
    assert_eq!(
        out.alerts,
        vec![
            overfill("o2", 1, 2, "p4", None),
            orphan("o1", "p1", 5, None),
            orphan("o3", "p3", 2, None),
        ]
    );
    assert_eq!(out.clock, 1_130);
    // With a fixed ingest time nothing ever expires; the drain reports both.
    let out = run_all(&lines, RunOpts::ttl(100, 1_000));
    assert_eq!(
        out.alerts,
        vec![
            overfill("o2", 1, 2, "p4", None),
            orphan("o1", "p1", 5, None),
            orphan("o3", "p3", 2, None),
        ]
    );
    assert_eq!(out.counter("expired"), 0);
    assert_eq!(out.counter("drained"), 3);
}

#[test]
fn orphan_closed_in_ingest_time_has_no_event_ts_whatever_follows() {
    // The clock is ingest time (1_000 ms + 100 ms a line) until line 2
    // carries ts. o1 closes at line 1, while the clock is still ingest time:
    // its event_ts is null. o2 closes at line 2, in event time.
    let lines = vec![
        p("a", "o1", 1, None),
        p("b", "o2", 2, None),
        pr("o3", 1, 5_000),
    ];
    let opts = RunOpts {
        ingest_ns: 1_000_000_000,
        ingest_step_ns: 100_000_000,
        ..RunOpts::ttl(100, 1_000)
    };
    let expected = vec![orphan("o1", "a", 1, None), orphan("o2", "b", 2, 5_000)];
    for &(batch_events, threads) in SHAPES {
        assert_eq!(
            run(
                &lines,
                RunOpts {
                    batch_events,
                    threads,
                    ..opts
                }
            ),
            expected,
            "batch_events {batch_events}, threads {threads}"
        );
    }
}

#[test]
fn zero_book_ttl_closes_a_book_at_the_next_event() {
    // With book_ttl 0 a book is due as soon as it opens, but step 2 runs
    // before step 4: the book closes at the next event, at that event's
    // clock, and the last book of a --no-drain input stays open.
    let lines = vec![p("a", "o1", 1, 5), p("b", "o2", 2, 7)];
    let expected = vec![orphan("o1", "a", 1, 7)];
    for &(batch_events, threads) in SHAPES {
        let opts = RunOpts {
            batch_events,
            threads,
            ..RunOpts::ttl(0, 1_000).no_drain()
        };
        let out = run_full(&lines, opts);
        assert_eq!(
            out.alerts, expected,
            "batch_events {batch_events}, threads {threads}"
        );
        assert_eq!(
            out.open_books, 1,
            "batch_events {batch_events}, threads {threads}"
        );
    }
}

// ---- ordering -----------------------------------------------------------------

#[test]
fn orphans_of_one_event_precede_its_overfill_oldest_first() {
    let mut lines = Vec::new();
    // Twenty orphan-to-be books, opened oldest first at 1_000 + i.
    for i in 0..20u64 {
        lines.push(p(&format!("p{i}"), &format!("x{i}"), i + 1, 1_000 + i));
    }
    lines.push(pr("o", 10, 1_020));
    lines.push(p("q1", "o", 10, 1_021));
    // This purchase both expires all twenty books and overfills `o`.
    lines.push(p("q2", "o", 1, 1_119));
    let mut expected: Vec<Value> = (0..20u64)
        .map(|i| orphan(&format!("x{i}"), &format!("p{i}"), i + 1, 1_119))
        .collect();
    expected.push(overfill("o", 10, 11, "q2", 1_119));
    let out = run_all(&lines, RunOpts::ttl(100, 1_000).no_drain());
    assert_eq!(out.alerts, expected);
}

#[test]
fn orphans_follow_the_event_that_reached_their_deadline() {
    // Deadlines reached by different events, some in other partitions.
    let lines = vec![
        p("a", "o1", 1, 0),
        p("b", "o2", 2, 10),
        pr("o3", 1, 20),
        p("c", "o3", 2, 95),  // overfill o3
        p("d", "o4", 4, 100), // o1 expires here
        p("e", "o4", 4, 105),
        pr("o5", 1, 130), // o2 expires here
        p("f", "o5", 3, 131),
    ];
    let out = run_all(&lines, RunOpts::ttl(100, 1_000));
    assert_eq!(
        out.alerts,
        vec![
            overfill("o3", 1, 2, "c", 95),
            orphan("o1", "a", 1, 100),
            orphan("o2", "b", 2, 130),
            overfill("o5", 1, 3, "f", 131),
            orphan("o4", "d", 8, 131), // drained
        ]
    );
}

// ---- step 3: tombstones -----------------------------------------------------

#[test]
fn tombstone_drops_events_then_the_order_reopens_and_alerts_again() {
    let lines = vec![
        pr("o1", 10, 0),
        p("p1", "o1", 11, 10), // overfill, closed_at 10
        p("p2", "o1", 5, 200),
        pr("o1", 1_000, 300),
        p("p3", "o1", 5, 509), // 509 - 10 < 500: dropped
        pr("o1", 5, 510),      // 510 - 10 = 500: forgotten, new book
        p("p1", "o1", 6, 520), // same purchase id as before: counted anew
    ];
    let out = run_all(&lines, RunOpts::ttl(1_000, 500));
    assert_eq!(
        out.alerts,
        vec![
            overfill("o1", 10, 11, "p1", 10),
            overfill("o1", 5, 6, "p1", 520),
        ]
    );
    assert_eq!(out.counter("closed"), 3);
    assert_eq!(out.counter("overfill"), 2);
    assert_eq!(out.counter("books_opened"), 2);
}

#[test]
fn tombstone_after_an_orphan() {
    let lines = vec![
        p("p1", "o1", 5, 0),
        pr("o2", 1, 100),      // o1: orphan, closed_at 100
        pr("o1", 1, 150),      // dropped
        p("p2", "o1", 2, 151), // dropped
        p("p3", "o1", 2, 400), // 400 - 100 = 300: new book, opened at 400
    ];
    let out = run_all(&lines, RunOpts::ttl(100, 300));
    assert_eq!(
        out.alerts,
        vec![orphan("o1", "p1", 5, 100), orphan("o1", "p3", 2, 400)]
    );
    assert_eq!(out.counter("closed"), 2);
}

#[test]
fn zero_tombstone_ttl_reopens_at_once() {
    let lines = vec![
        pr("o1", 1, 5),
        p("p1", "o1", 2, 5),
        p("p2", "o1", 2, 5), // new book, same clock
        pr("o1", 1, 5),
    ];
    let out = run_all(&lines, RunOpts::ttl(1_000, 0));
    assert_eq!(
        out.alerts,
        vec![overfill("o1", 1, 2, "p1", 5), overfill("o1", 1, 2, "o1", 5),]
    );
    assert_eq!(out.counter("closed"), 0);
}

// ---- drain ----------------------------------------------------------------------

#[test]
fn drain_reports_orphans_last_oldest_first() {
    let lines = vec![
        p("a", "o2", 2, 10),
        p("b", "o1", 1, 20),
        pr("o0", 5, 25), // closes silently at the drain
        p("z", "o0", 5, 26),
        pr("o3", 5, 30),
        p("c", "o3", 6, 40),
        p("d", "o4", 4, 45),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(
        out.alerts,
        vec![
            overfill("o3", 5, 6, "c", 40),
            orphan("o2", "a", 2, 45),
            orphan("o1", "b", 1, 45),
            orphan("o4", "d", 4, 45),
        ]
    );
    assert_eq!(out.counter("drained"), 4);
    assert_eq!(out.open_books, 0);

    let out = run_all(&lines, RunOpts::default().no_drain());
    assert_eq!(out.alerts, vec![overfill("o3", 5, 6, "c", 40)]);
    assert_eq!(out.counter("drained"), 0);
    assert_eq!(out.open_books, 4);
}

#[test]
fn empty_input_has_no_alerts() {
    let out = run_all(&Vec::<String>::new(), RunOpts::default());
    assert_eq!(out.alerts, NONE);
    let out = run_all(&["", "  ", "\t"], RunOpts::default());
    assert_eq!(out.alerts, NONE);
    assert_eq!(out.blank, 3);
    assert_eq!(out.rejected_total(), 0);
}

// ---- step 5: the sum saturates ----------------------------------------------------

#[test]
fn largest_shares_overfill_without_wrapping() {
    let lines = vec![
        pr("o1", MAX_SHARES, 1),
        p("p1", "o1", MAX_SHARES, 2),
        p("p2", "o1", MAX_SHARES, 3),
    ];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", MAX_SHARES, 2 * MAX_SHARES, "p2", 3)]
    );
}

#[test]
fn filled_saturates_at_u64_max() {
    // 2049 purchases of 2^53−1 shares sum past 2^64−1.
    let lines: Vec<String> = (0..2_049)
        .map(|i| p(&format!("p{i}"), "o1", MAX_SHARES, 1))
        .collect();
    let out = run_full(&lines, RunOpts::default());
    assert_eq!(out.alerts, vec![orphan("o1", "p0", u64::MAX, 1)]);
    let out = run_full(
        &lines,
        RunOpts {
            batch_events: 100,
            threads: 2,
            ..RunOpts::default()
        },
    );
    assert_eq!(out.alerts, vec![orphan("o1", "p0", u64::MAX, 1)]);
}

// ---- SPEC §1: rejected lines never touch state --------------------------------------

/// A line rejected for each SPEC §1 reason; each, if it were accepted, would
/// change the alerts of [`reject_base`] (a purchase of o1 or a far `ts`).
fn bad_lines() -> Vec<(&'static str, Vec<u8>)> {
    let long_note = "x".repeat(64 * 1024);
    let f = |s: &str| s.as_bytes().to_vec();
    vec![
        ("malformed", f(r##"{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":"o1""##)),
        ("malformed", f(r##"{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":"o1"} x"##)),
        ("malformed", f(r##"[{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":"o1"}]"##)),
        ("malformed", f("42")),
        ("malformed", f("\"o1\"")),
        ("malformed", f("null")),
        ("malformed", b"{\"id\":\"px\",\"#shares\":500,\"client\":\"c\xff\",\"stock\":\"s\",\"initial_order_id\":\"o1\"}".to_vec()),
        ("too_long", f(&format!(r##"{{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":"o1","note":"{long_note}"}}"##))),
        ("duplicate_key", f(r##"{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":"o1","ts":5,"ts":5}"##)),
        ("duplicate_key", f(r##"{"id":"px","id":"py","#shares":500,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("missing:id", f(r##"{"#shares":500,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("missing:#shares", f(r##"{"id":"px","client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("missing:client", f(r##"{"id":"px","#shares":500,"stock":"s","initial_order_id":"o1"}"##)),
        ("missing:stock", f(r##"{"id":"px","#shares":500,"client":"c","initial_order_id":"o1"}"##)),
        ("bad:id", f(r##"{"id":"","#shares":500,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:id", f(r##"{"id":7,"#shares":500,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:id", f(&format!(r##"{{"id":"{}","#shares":500,"client":"c","stock":"s","initial_order_id":"o1"}}"##, "p".repeat(129)))),
        ("bad:#shares", f(r##"{"id":"px","#shares":500.5,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:#shares", f(r##"{"id":"px","#shares":500.0,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:#shares", f(r##"{"id":"px","#shares":true,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:#shares", f(r##"{"id":"px","#shares":"500","client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:#shares", f(r##"{"id":"px","#shares":-1,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:#shares", f(r##"{"id":"px","#shares":9007199254740992,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:#shares", f(r##"{"id":"px","#shares":500,"shares":500,"client":"c","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:client", f(r##"{"id":"px","#shares":500,"client":"","stock":"s","initial_order_id":"o1"}"##)),
        ("bad:client", f(&format!(r##"{{"id":"px","#shares":500,"client":"{}","stock":"s","initial_order_id":"o1"}}"##, "c".repeat(257)))),
        ("bad:stock", f(r##"{"id":"px","#shares":500,"client":"c","stock":["s"],"initial_order_id":"o1"}"##)),
        ("bad:initial_order_id", f(r##"{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":""}"##)),
        ("bad:initial_order_id", f(r##"{"id":"px","#shares":500,"client":"c","stock":"s","initial_order_id":null}"##)),
        ("bad:ts", f(r##"{"id":"o9","#shares":1,"client":"c","stock":"s","ts":99999999.5}"##)),
        ("bad:ts", f(r##"{"id":"o9","#shares":1,"client":"c","stock":"s","ts":-1}"##)),
        ("bad:ts", f(r##"{"id":"o9","#shares":1,"client":"c","stock":"s","ts":"99999999"}"##)),
        ("bad:ts", f(r##"{"id":"o9","#shares":1,"client":"c","stock":"s","ts":9007199254740992}"##)),
    ]
}

/// A stream with open books, a tombstone and pending expiries.
fn reject_base() -> Vec<Vec<u8>> {
    [
        pr("o1", 100, 1_000),
        p("p1", "o1", 60, 1_010),
        p("q1", "o2", 5, 1_020),
        pr("o3", 1, 1_030),
        p("r1", "o3", 2, 1_040),  // overfill, tombstone
        p("p2", "o1", 40, 1_050), // exact fill
        p("q2", "o2", 5, 1_060),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

#[test]
fn each_reject_reason_is_counted_and_touches_nothing() {
    let opts = RunOpts::ttl(1_000, 5_000);
    let base = reject_base();
    let expected = run_all(&base, opts);
    assert_eq!(
        expected.alerts,
        vec![
            overfill("o3", 1, 2, "r1", 1_040),
            orphan("o2", "q1", 10, 1_060)
        ]
    );
    for (reason, bad) in bad_lines() {
        for at in 0..=base.len() {
            let mut lines = base.clone();
            lines.insert(at, bad.clone());
            let out = run_all(&lines, opts);
            let shown = String::from_utf8_lossy(&bad[..bad.len().min(120)]).into_owned();
            assert_eq!(
                out.rejected
                    .iter()
                    .map(|(r, n)| (r.as_str(), *n))
                    .collect::<Vec<_>>(),
                vec![(reason, 1)],
                "line {shown} at {at}"
            );
            assert_eq!(out.alerts, expected.alerts, "line {shown} at {at}");
            assert_eq!(out.counters, expected.counters, "line {shown} at {at}");
            assert_eq!(out.clock, expected.clock, "line {shown} at {at}");
            assert_eq!(out.accepted, base.len() as u64);
            // The dead letter's position is the byte offset of its line.
            let offset: usize = lines[..at].iter().map(|l| l.len() + 1).sum();
            assert_eq!(out.rejected_pos, vec![offset as u64]);
        }
    }
}

#[test]
fn blank_lines_are_skipped_silently() {
    let lines: Vec<Vec<u8>> = vec![
        pr("o1", 1, 1).into_bytes(),
        Vec::new(),
        b"   ".to_vec(),
        b" \t \r".to_vec(),
        p("p1", "o1", 2, 2).into_bytes(),
    ];
    let out = run_all(&lines, RunOpts::default());
    assert_eq!(out.alerts, vec![overfill("o1", 1, 2, "p1", 2)]);
    assert_eq!(out.blank, 3);
    assert_eq!(out.rejected_total(), 0);
}

#[test]
fn accepted_shapes_are_equivalent() {
    // `shares` instead of `#shares`, unknown fields, escapes and field order
    // do not change what an event means.
    let lines = vec![
        r##"{"stock":"ACME","client":"c-1","shares":10,"id":"o1","extra":{"a":[1,2]},"ts":1}"##
            .to_owned(),
        r##"{"id":"p\u0031","initial_order_id":"\u006f1","#shares":6,"client":"c-1","stock":"ACME","ts":2}"##
            .to_owned(),
        event("p2", 5, Some("o1"), Some(3), "c-1", "ACME"),
    ];
    assert_eq!(
        alerts(&lines, RunOpts::default()),
        vec![overfill("o1", 10, 11, "p2", 3)]
    );
}
