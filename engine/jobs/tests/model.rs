//! The engine against a reference model of SPEC §2, on random streams.
//!
//! The model is a plain per-event loop over maps that follows SPEC §2 steps
//! 1–6 and the drain literally, with none of the engine's machinery (no
//! batches, partitions, expiry queue, arena or hashed keys). Streams are
//! small-alphabet on purpose: a handful of order ids and purchase ids, small
//! share counts and small TTLs, so that duplicates, late requests, exact
//! fills, overfills, orphans, tombstones and re-opened orders all occur.
//!
//! Every case runs the engine twice, with random batch sizes, thread counts
//! and partition counts, and demands the model's alerts (every field but
//! `detected_at`, in order) and counters from both.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::{RunOpts, event, run_full};
use proptest::{prelude::*, test_runner::FileFailurePersistence};
use serde_json::{Value, json};

/// SPEC §1: the largest accepted share count.
const MAX_SHARES: u64 = (1 << 53) - 1;

// ---- the reference model ------------------------------------------------------

/// One accepted event, as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    id: String,
    /// `initial_order_id`: `Some` for a purchase.
    order: Option<String>,
    shares: u64,
    client: String,
    stock: String,
    ts: Option<u64>,
    /// Written with `shares` instead of `#shares`.
    alias: bool,
}

impl Event {
    fn order_id(&self) -> &str {
        self.order.as_deref().unwrap_or(&self.id)
    }

    fn line(&self) -> String {
        let line = event(
            &self.id,
            self.shares,
            self.order.as_deref(),
            self.ts,
            &self.client,
            &self.stock,
        );
        if self.alias {
            line.replace("\"#shares\"", "\"shares\"")
        } else {
            line
        }
    }
}

/// One input line: an event, or a line SPEC §1 rejects.
#[derive(Debug, Clone)]
enum Input {
    Event(Event),
    Rejected(String),
}

impl Input {
    fn line(&self) -> String {
        match self {
            Input::Event(e) => e.line(),
            Input::Rejected(l) => l.clone(),
        }
    }
}

#[derive(Debug)]
struct Book {
    client: String,
    stock: String,
    requested: Option<u64>,
    filled: u64,
    purchases: HashSet<String>,
    /// The first purchase counted: an orphan's `alert_id` names it.
    first_purchase: Option<String>,
    opened_at: u64,
    /// Opening order, to break ties between books opened at the same clock.
    seq: u64,
}

fn bump(counters: &mut BTreeMap<String, u64>, name: &str) {
    *counters.entry(name.to_owned()).or_default() += 1;
}

/// SPEC §2, one event at a time.
#[derive(Debug)]
struct Model {
    book_ttl: u64,
    tombstone_ttl: u64,
    clock: u64,
    event_time: bool,
    books: HashMap<String, Book>,
    /// Closed orders and when they closed.
    tombstones: HashMap<String, u64>,
    next_seq: u64,
    alerts: Vec<Value>,
    counters: BTreeMap<String, u64>,
}

impl Model {
    fn new(book_ttl: u64, tombstone_ttl: u64) -> Self {
        Model {
            book_ttl,
            tombstone_ttl,
            clock: 0,
            event_time: false,
            books: HashMap::new(),
            tombstones: HashMap::new(),
            next_seq: 0,
            alerts: Vec::new(),
            counters: BTreeMap::new(),
        }
    }

    fn count(&mut self, name: &str) {
        bump(&mut self.counters, name);
    }

    /// Closes `order`'s book as step 2 (or the drain) does: an orphan alert if
    /// it counted shares without a request, then a tombstone.
    fn close_quietly(&mut self, order: &str) {
        let b = self.books.remove(order).expect("closing an open book");
        if b.requested.is_none() && b.filled > 0 {
            self.alerts.push(json!({
                "alert_id": format!("orphan:{order}:{}", b.first_purchase.as_deref().unwrap_or("")),
                "kind": "orphan",
                "order_id": order,
                "client": b.client,
                "stock": b.stock,
                "requested": null,
                "filled": b.filled,
                "trigger_id": null,
                "event_ts": self.event_time.then_some(self.clock),
            }));
            self.count("orphan");
        }
        self.tombstones.insert(order.to_owned(), self.clock);
    }

    /// Open books in age order (oldest first), filtered.
    fn books_by_age(&self, due: impl Fn(&Book) -> bool) -> Vec<String> {
        let mut v: Vec<(u64, u64, &String)> = self
            .books
            .iter()
            .filter(|(_, b)| due(b))
            .map(|(o, b)| (b.opened_at, b.seq, o))
            .collect();
        v.sort();
        v.into_iter().map(|(_, _, o)| o.clone()).collect()
    }

    fn event(&mut self, e: &Event, ingest_ms: u64) {
        // 1. Clock.
        match e.ts {
            Some(ts) => {
                self.event_time = true;
                self.clock = self.clock.max(ts);
            }
            None if !self.event_time => self.clock = self.clock.max(ingest_ms),
            None => {}
        }
        let clock = self.clock;

        // 2. Expiry, oldest first.
        let ttl = self.book_ttl;
        for order in self.books_by_age(|b| b.opened_at.saturating_add(ttl) <= clock) {
            self.count("expired");
            self.close_quietly(&order);
        }

        // 3. Closed orders.
        let order = e.order_id().to_owned();
        if let Some(&closed_at) = self.tombstones.get(&order) {
            if clock - closed_at < self.tombstone_ttl {
                self.count("closed");
                return;
            }
            self.tombstones.remove(&order);
        }

        // 4. The order's book, opened by its first event.
        let is_new = !self.books.contains_key(&order);
        if is_new {
            self.count("books_opened");
            let seq = self.next_seq;
            self.next_seq += 1;
            self.books.insert(
                order.clone(),
                Book {
                    client: e.client.clone(),
                    stock: e.stock.clone(),
                    requested: None,
                    filled: 0,
                    purchases: HashSet::new(),
                    first_purchase: None,
                    opened_at: clock,
                    seq,
                },
            );
        }
        let book = self.books.get_mut(&order).expect("just opened");

        // 5. Count the request or the purchase, once.
        if e.order.is_none() {
            if book.requested.is_some() {
                bump(&mut self.counters, "duplicate_request");
                return;
            }
            book.requested = Some(e.shares);
            if !is_new {
                // A late request names the order's owner.
                book.client = e.client.clone();
                book.stock = e.stock.clone();
                bump(&mut self.counters, "late_request");
            }
        } else {
            if !book.purchases.insert(e.id.clone()) {
                bump(&mut self.counters, "duplicate_purchase");
                return;
            }
            book.filled = book.filled.saturating_add(e.shares);
            book.first_purchase.get_or_insert_with(|| e.id.clone());
        }

        // 6. Overfill.
        if let Some(requested) = book.requested
            && book.filled > requested
        {
            let alert = json!({
                "alert_id": format!("overfill:{order}:{}", e.id),
                "kind": "overfill",
                "order_id": order,
                "client": book.client,
                "stock": book.stock,
                "requested": requested,
                "filled": book.filled,
                "trigger_id": e.id,
                "event_ts": e.ts,
            });
            self.alerts.push(alert);
            bump(&mut self.counters, "overfill");
            self.books.remove(&order);
            self.tombstones.insert(order, clock);
        }
    }

    fn drain(&mut self) {
        for order in self.books_by_age(|_| true) {
            self.count("drained");
            self.close_quietly(&order);
        }
    }
}

/// What the model expects from `inputs` run with `opts`.
struct Expected {
    alerts: Vec<Value>,
    counters: BTreeMap<String, u64>,
    open_books: usize,
    rejected: u64,
}

fn model(inputs: &[Input], opts: RunOpts) -> Expected {
    let mut m = Model::new(opts.book_ttl_ms, opts.tombstone_ttl_ms);
    let mut rejected = 0;
    for (i, input) in inputs.iter().enumerate() {
        match input {
            Input::Event(e) => m.event(e, opts.ingest_ns_of(i) / 1_000_000),
            Input::Rejected(_) => rejected += 1,
        }
    }
    if opts.drain {
        m.drain();
    }
    Expected {
        alerts: m.alerts,
        counters: m.counters,
        open_books: m.books.len(),
        rejected,
    }
}

// ---- random streams -------------------------------------------------------------

/// Which events carry `ts`, and how it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsMode {
    /// Every event, non-decreasing.
    Sorted,
    /// Every event, sometimes earlier than the clock.
    Jitter,
    /// None: the clock is ingest time.
    Absent,
    /// None up to a random line, then most events.
    Mixed,
}

#[derive(Debug, Clone)]
enum Step {
    Request {
        order: u8,
        shares: u64,
        who: u8,
    },
    Purchase {
        id: u8,
        order: u8,
        shares: u64,
        who: u8,
    },
    /// The exact line of an earlier event again (redelivery).
    Duplicate {
        back: u16,
    },
    Rejected {
        which: u8,
        order: u8,
    },
}

/// One step of a stream, with how far the event time moves before it.
#[derive(Debug, Clone)]
struct Tick {
    step: Step,
    gap: u64,
    has_ts: bool,
    back: u64,
    alias: bool,
}

const OWNERS: [(&str, &str); 4] = [("c0", "S0"), ("c1", "S0"), ("c0", "S1"), ("c2", "S2")];

fn order_name(o: u8) -> String {
    format!("o{o}")
}

/// Purchase ids: mostly `p*`, some equal to an order id (legal, and must not
/// be confused with the request).
fn purchase_name(id: u8) -> String {
    if id < 8 {
        format!("p{id}")
    } else {
        format!("o{}", id - 8)
    }
}

fn step(orders: u8) -> impl Strategy<Value = Step> {
    let shares = prop_oneof![20 => 0..12u64, 1 => Just(MAX_SHARES)];
    prop_oneof![
        3 => (0..orders, 0..30u64, 0..4u8)
            .prop_map(|(order, shares, who)| Step::Request { order, shares, who }),
        7 => (0..11u8, 0..orders, shares, 0..4u8)
            .prop_map(|(id, order, shares, who)| Step::Purchase { id, order, shares, who }),
        1 => any::<u16>().prop_map(|back| Step::Duplicate { back }),
        1 => (0..10u8, 0..orders).prop_map(|(which, order)| Step::Rejected { which, order }),
    ]
}

fn tick(orders: u8) -> impl Strategy<Value = Tick> {
    let gap = prop_oneof![
        4 => Just(0u64),
        6 => 1..20u64,
        2 => 20..300u64,
        1 => 300..3_000u64,
    ];
    let back = prop_oneof![3 => Just(0u64), 1 => 1..600u64];
    (
        step(orders),
        gap,
        prop::bool::weighted(0.7),
        back,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(step, gap, has_ts, back, alias)| Tick {
            step,
            gap,
            has_ts,
            back,
            alias,
        })
}

/// A line SPEC §1 rejects, about `order` and far in the future: accepted, it
/// would change state.
fn rejected_line(which: u8, order: &str, ts: u64) -> String {
    let far = ts + 1_000_000;
    match which {
        0 => {
            format!(
                r##"{{"id":"px","#shares":9,"client":"c0","stock":"S0","initial_order_id":"{order}","ts":{far}"##
            )
        }
        1 => {
            format!(
                r##"{{"id":"px","#shares":1.5,"client":"c0","stock":"S0","initial_order_id":"{order}","ts":{far}}}"##
            )
        }
        2 => format!(r##"{{"id":"{order}","#shares":1,"client":"c0","stock":"S0","ts":-{far}}}"##),
        3 => {
            format!(
                r##"{{"id":"{order}","id":"{order}","#shares":1,"client":"c0","stock":"S0","ts":{far}}}"##
            )
        }
        4 => {
            format!(
                r##"{{"id":"px","#shares":9,"stock":"S0","initial_order_id":"{order}","ts":{far}}}"##
            )
        }
        5 => {
            format!(
                r##"{{"id":"px","#shares":9,"client":"c0","stock":"S0","initial_order_id":"","ts":{far}}}"##
            )
        }
        6 => {
            format!(
                r##"{{"id":"px","#shares":9007199254740992,"client":"c0","stock":"S0","initial_order_id":"{order}"}}"##
            )
        }
        7 => {
            format!(
                r##"[{{"id":"px","#shares":9,"client":"c0","stock":"S0","initial_order_id":"{order}","ts":{far}}}]"##
            )
        }
        8 => format!(r##"{{"id":"{order}","#shares":1,"client":"c0","stock":"S0","ts":"{far}"}}"##),
        _ => {
            format!(
                r##"{{"id":"{order}","#shares":1,"shares":1,"client":"c0","stock":"S0","ts":{far}}}"##
            )
        }
    }
}

/// Event time of the first line in the ts modes, and ingest time (ms) of
/// line 0 in [`TsMode::Mixed`].
const T0: u64 = 1_000_000;
/// Ingest time between lines in [`TsMode::Mixed`] (ms).
const INGEST_STEP_MS: u64 = 10;

/// Turns ticks into lines. `switch` is the line at which [`TsMode::Mixed`]
/// starts carrying `ts`, and `offset` where event time starts relative to
/// ingest time there.
fn render(ticks: &[Tick], mode: TsMode, switch: usize, offset: i64) -> Vec<Input> {
    let mut inputs: Vec<Input> = Vec::with_capacity(ticks.len());
    let mut events: Vec<Event> = Vec::new();
    let mut t = T0;
    for (i, tk) in ticks.iter().enumerate() {
        if mode == TsMode::Mixed && i == switch {
            t = (T0 + i as u64 * INGEST_STEP_MS).saturating_add_signed(offset);
        }
        t += tk.gap;
        let ts = match mode {
            TsMode::Sorted => Some(t),
            TsMode::Jitter => Some(t.saturating_sub(tk.back)),
            TsMode::Absent => None,
            TsMode::Mixed => (i >= switch && tk.has_ts).then_some(t),
        };
        let ev = |id: String, order: Option<String>, shares: u64, who: u8| {
            let (client, stock) = OWNERS[who as usize % OWNERS.len()];
            Event {
                id,
                order,
                shares,
                client: client.to_owned(),
                stock: stock.to_owned(),
                ts,
                alias: tk.alias,
            }
        };
        let input = match tk.step {
            Step::Request { order, shares, who } => {
                Input::Event(ev(order_name(order), None, shares, who))
            }
            Step::Purchase {
                id,
                order,
                shares,
                who,
            } => Input::Event(ev(purchase_name(id), Some(order_name(order)), shares, who)),
            Step::Duplicate { back } => match events.len() {
                0 => continue,
                n => Input::Event(events[n - 1 - back as usize % n].clone()),
            },
            Step::Rejected { which, order } => {
                Input::Rejected(rejected_line(which, &order_name(order), t))
            }
        };
        if let Input::Event(e) = &input {
            events.push(e.clone());
        }
        inputs.push(input);
    }
    inputs
}

/// An engine shape: batch size, threads, partitions.
fn shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (
        1..64usize,
        1..=4usize,
        prop_oneof![Just(0usize), Just(1), Just(2), Just(16)],
    )
}

/// Runs `inputs` under two shapes and checks both against the model.
fn check(
    inputs: &[Input],
    opts: RunOpts,
    shapes: [(usize, usize, usize); 2],
) -> Result<(), TestCaseError> {
    let lines: Vec<String> = inputs.iter().map(Input::line).collect();
    let want = model(inputs, opts);
    let mut got_alerts = Vec::new();
    for (batch_events, threads, partitions) in shapes {
        let got = run_full(
            &lines,
            RunOpts {
                batch_events,
                threads,
                partitions,
                ..opts
            },
        );
        let shape =
            format!("batch_events {batch_events}, threads {threads}, partitions {partitions}");
        prop_assert_eq!(&got.alerts, &want.alerts, "alerts, {}", shape);
        prop_assert_eq!(got.rejected_total(), want.rejected, "rejected, {}", shape);
        prop_assert_eq!(got.open_books, want.open_books, "open books, {}", shape);
        // Counters the model keeps; the engine's may be a superset.
        for (name, &n) in &want.counters {
            prop_assert_eq!(got.counter(name), n, "counter {}, {}", name, shape);
        }
        for (name, &n) in &got.counters {
            prop_assert_eq!(
                want.counters.get(name).copied().unwrap_or(0),
                n,
                "counter {}, {}",
                name,
                shape
            );
        }
        got_alerts.push(got.alerts);
    }
    prop_assert_eq!(&got_alerts[0], &got_alerts[1]);
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Integration tests have no lib.rs for proptest's default lookup.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/model.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Every event carries a non-decreasing `ts` (duplicates repeat an old
    /// one); small TTLs, so books and tombstones expire mid-stream.
    #[test]
    fn engine_matches_model_with_event_time(
        orders in 1..7u8,
        ticks in prop::collection::vec(tick(6), 0..300),
        book_ttl in 50..500u64,
        tombstone_ttl in 0..1_000u64,
        drain in prop::bool::weighted(0.8),
        a in shape(),
        b in shape(),
    ) {
        let ticks = clamp_orders(ticks, orders);
        let inputs = render(&ticks, TsMode::Sorted, 0, 0);
        let opts = RunOpts { drain, ..RunOpts::ttl(book_ttl, tombstone_ttl) };
        check(&inputs, opts, [a, b])?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Every event carries `ts`, some earlier than the clock already is.
    #[test]
    fn engine_matches_model_with_out_of_order_ts(
        ticks in prop::collection::vec(tick(6), 0..300),
        book_ttl in 50..500u64,
        tombstone_ttl in 0..1_000u64,
        a in shape(),
        b in shape(),
    ) {
        let inputs = render(&ticks, TsMode::Jitter, 0, 0);
        check(&inputs, RunOpts::ttl(book_ttl, tombstone_ttl), [a, b])?;
    }

    /// No event carries `ts` and the TTLs never run out: only the drain
    /// closes books, and no alert has an `event_ts`.
    #[test]
    fn engine_matches_model_without_ts(
        ticks in prop::collection::vec(tick(6), 0..300),
        drain in prop::bool::weighted(0.8),
        a in shape(),
        b in shape(),
    ) {
        let inputs = render(&ticks, TsMode::Absent, 0, 0);
        let opts = RunOpts {
            drain,
            ingest_ns: 1_700_000_000_000_000_000,
            ..RunOpts::ttl(u64::MAX / 4, u64::MAX / 4)
        };
        check(&inputs, opts, [a, b])?;
    }

    /// The clock follows ingest time (10 ms a line) until events start
    /// carrying `ts` at a random line, and event time from there on.
    #[test]
    fn engine_matches_model_from_ingest_to_event_time(
        ticks in prop::collection::vec(tick(6), 0..300),
        switch in 0..300usize,
        offset in -1_000..1_000i64,
        book_ttl in 50..500u64,
        tombstone_ttl in 0..1_000u64,
        a in shape(),
        b in shape(),
    ) {
        let inputs = render(&ticks, TsMode::Mixed, switch, offset);
        let opts = RunOpts {
            ingest_ns: T0 * 1_000_000,
            ingest_step_ns: INGEST_STEP_MS * 1_000_000,
            ..RunOpts::ttl(book_ttl, tombstone_ttl)
        };
        check(&inputs, opts, [a, b])?;
    }
}

/// Restricts a stream to the first `orders` order ids (fewer ids, more
/// collisions).
fn clamp_orders(ticks: Vec<Tick>, orders: u8) -> Vec<Tick> {
    ticks
        .into_iter()
        .map(|mut t| {
            match &mut t.step {
                Step::Request { order, .. }
                | Step::Purchase { order, .. }
                | Step::Rejected { order, .. } => *order %= orders,
                Step::Duplicate { .. } => {}
            }
            t
        })
        .collect()
}

/// The model itself, on the SPEC's worked example, so that a bug in the
/// model cannot hide behind an identical bug in the engine.
#[test]
fn model_reproduces_the_brief_example() {
    let e = |id: &str, order: Option<&str>, shares: u64, ts: u64| {
        Input::Event(Event {
            id: id.to_owned(),
            order: order.map(str::to_owned),
            shares,
            client: "c".to_owned(),
            stock: "s".to_owned(),
            ts: Some(ts),
            alias: false,
        })
    };
    let inputs = vec![
        e("o1", None, 100, 1),
        e("p1", Some("o1"), 90, 2),
        e("p2", Some("o1"), 30, 3),
        e("p3", Some("o1"), 30, 4),
        e("q1", Some("o2"), 5, 5),
    ];
    let want = model(&inputs, RunOpts::default());
    assert_eq!(
        want.alerts,
        vec![
            json!({
                "alert_id": "overfill:o1:p2", "kind": "overfill", "order_id": "o1",
                "client": "c", "stock": "s", "requested": 100, "filled": 120,
                "trigger_id": "p2", "event_ts": 3,
            }),
            json!({
                "alert_id": "orphan:o2:q1", "kind": "orphan", "order_id": "o2",
                "client": "c", "stock": "s", "requested": null, "filled": 5,
                "trigger_id": null, "event_ts": 5,
            }),
        ]
    );
    assert_eq!(want.counters.get("closed"), Some(&1));
}

/// A deterministic stream far longer than the proptests': thousands of
/// orders, many with more than a handful of purchases, enough closed orders
/// that the shards' tables grow, get swept and compact, and some orders that
/// come back both inside and after their tombstone.
fn long_stream(seed: u64, events: usize) -> Vec<Input> {
    let mut s = seed | 1;
    let mut rng = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut inputs = Vec::with_capacity(events);
    let mut last: Vec<Event> = Vec::new();
    let mut t = T0;
    for i in 0..events {
        t += rng() % 4;
        let r = rng();
        let base = (i / 8) as u64;
        let order = match r % 100 {
            // Now and then an order from long ago: a tombstone or a re-open.
            0..=2 => base.saturating_sub(rng() % 3_000),
            _ => base + rng() % 24,
        };
        let (client, stock) = OWNERS[(rng() % 4) as usize];
        // Long owner strings (SPEC §1 allows 256 bytes) make the arena compact.
        let client = format!("{client}-{}", "x".repeat((order % 250) as usize));
        let stock = format!("{stock}-{}", "y".repeat((order * 7 % 250) as usize));
        let kind = rng() % 100;
        let input = if kind < 4 && !last.is_empty() {
            Input::Event(last[(rng() % last.len() as u64) as usize].clone())
        } else if kind < 5 {
            Input::Rejected(rejected_line((rng() % 10) as u8, &format!("o{order}"), t))
        } else {
            let request = kind < 25;
            Input::Event(Event {
                id: if request {
                    format!("o{order}")
                } else {
                    format!("p{}", rng() % 16)
                },
                order: (!request).then(|| format!("o{order}")),
                shares: if request { rng() % 60 } else { rng() % 8 },
                client,
                stock,
                ts: Some(t),
                alias: false,
            })
        };
        if let Input::Event(e) = &input {
            if last.len() < 64 {
                last.push(e.clone());
            } else {
                last[(rng() % 64) as usize] = e.clone();
            }
        }
        inputs.push(input);
    }
    inputs
}

#[test]
fn engine_matches_model_on_long_streams() {
    for (seed, book_ttl, tombstone_ttl) in [(1, 200, 1_500), (7, 500, 300), (42, 60, 5_000)] {
        let inputs = long_stream(seed, 40_000);
        let opts = RunOpts::ttl(book_ttl, tombstone_ttl);
        let result = check(&inputs, opts, [(4_096, 1, 0), (97, 4, 0)])
            .and_then(|()| check(&inputs, opts, [(5, 1, 2), (1_000, 2, 1)]));
        if let Err(e) = result {
            panic!("seed {seed}: {e}");
        }
    }
}
