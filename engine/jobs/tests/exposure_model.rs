//! The exposure job against a reference model of `engine/JOBS.md`
//! ("Exposure rule"), and the exposure and overfill jobs run together.
//!
//! The model is a plain per-event loop over a map of pairs that follows the
//! rule's steps 1–9 literally: a list of the purchases in each pair's window,
//! re-summed at every step, with none of the engine's machinery (no batches,
//! partitions, expiry queue or hashed keys). It reads the same lines as the
//! engine, through the SPEC §1 parser (whose own tests live in `ingest`).
//!
//! Streams are small-alphabet on purpose: a few clients, stocks, orders and
//! purchase ids, small share counts, a small window, limit and lateness, so
//! that crossings, re-arms, evictions, late and outside-window purchases,
//! duplicates and client overrides all occur.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::{JobSet, JobsOutcome, RunOpts, event, run_jobs};
use engine_core::AlertOrder;
use ingest::parse::{ParseScratch, is_blank, parse_line};
use jobs::exposure::ExposureConfig;
use proptest::{prelude::*, test_runner::FileFailurePersistence};
use serde_json::{Value, json};

// ---- the reference model ------------------------------------------------------

/// One purchase in a pair's window.
#[derive(Debug, Clone)]
struct Entry {
    t: u64,
    shares: u64,
    order: String,
    id: String,
}

#[derive(Debug, Default)]
struct Pair {
    window: Vec<Entry>,
    alerted: bool,
}

impl Pair {
    fn sum(&self) -> u128 {
        self.window.iter().map(|e| u128::from(e.shares)).sum()
    }
}

/// The exposure rule, one event at a time.
#[derive(Debug)]
struct Model {
    cfg: ExposureConfig,
    clock: u64,
    event_time: bool,
    pairs: HashMap<(String, String), Pair>,
    /// (input position of the trigger, alert).
    alerts: Vec<(u64, Value)>,
    counters: BTreeMap<&'static str, u64>,
}

impl Model {
    fn new(cfg: ExposureConfig) -> Self {
        Model {
            cfg,
            clock: 0,
            event_time: false,
            pairs: HashMap::new(),
            alerts: Vec::new(),
            counters: BTreeMap::new(),
        }
    }

    fn count(&mut self, name: &'static str) {
        *self.counters.entry(name).or_default() += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        pos: u64,
        id: &str,
        order: Option<&str>,
        shares: u64,
        client: &str,
        stock: &str,
        ts: Option<u64>,
        ingest_ms: u64,
    ) {
        // 1. Clock (SPEC §2 step 1).
        match ts {
            Some(ts) => {
                self.event_time = true;
                self.clock = self.clock.max(ts);
            }
            None if !self.event_time => self.clock = self.clock.max(ingest_ms),
            None => {}
        }
        let clock = self.clock;

        // 2. Requests are ignored.
        let Some(order) = order else {
            return;
        };

        // 3. Event time.
        let t = ts.unwrap_or(clock);

        // 4. Lateness: t + allowed_lateness < clock.
        if u128::from(t) + u128::from(self.cfg.allowed_lateness_ms) < u128::from(clock) {
            self.count("late");
            return;
        }

        // 5. The window (clock − window_ms, clock], in signed arithmetic.
        let start = i128::from(clock) - i128::from(self.cfg.window_ms);
        if i128::from(t) <= start {
            self.count("outside_window");
            return;
        }
        let limit = self
            .cfg
            .client_limits
            .get(client)
            .copied()
            .unwrap_or(self.cfg.limit);
        let pair = self
            .pairs
            .entry((client.to_owned(), stock.to_owned()))
            .or_default();
        pair.window.retain(|e| i128::from(e.t) > start);

        // 6. Re-arm.
        let mut rearmed = false;
        if pair.alerted && pair.sum() <= u128::from(limit) {
            pair.alerted = false;
            rearmed = true;
        }

        // 7. Duplicates.
        let duplicate = pair.window.iter().any(|e| e.order == order && e.id == id);

        // 8. Count.
        let mut alert = None;
        if !duplicate {
            pair.window.push(Entry {
                t,
                shares,
                order: order.to_owned(),
                id: id.to_owned(),
            });
            // 9. Exposure.
            let sum = pair.sum();
            if sum > u128::from(limit) && !pair.alerted {
                pair.alerted = true;
                alert = Some(json!({
                    "alert_id": format!("exposure:{client}:{stock}:{order}/{id}"),
                    "kind": "exposure",
                    "client": client,
                    "stock": stock,
                    "limit": limit,
                    "exposure": u64::try_from(sum).unwrap_or(u64::MAX),
                    "window_ms": self.cfg.window_ms,
                    "window_start": i64::try_from(start).expect("small clocks"),
                    "window_end": clock,
                    "order_id": order,
                    "trigger_id": id,
                    "event_ts": ts,
                }));
            }
        }
        if rearmed {
            self.count("rearmed");
        }
        if duplicate {
            self.count("duplicate_purchase");
            return;
        }
        self.count("counted");
        if let Some(a) = alert {
            self.count("exposure");
            self.alerts.push((pos, a));
        }
    }
}

/// What the model expects from `lines` run with `opts` and `cfg`.
#[derive(Debug)]
struct Expected {
    alerts: Vec<Value>,
    positions: Vec<u64>,
    counters: BTreeMap<&'static str, u64>,
    rejected: u64,
}

impl Expected {
    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

fn model<L: AsRef<[u8]>>(lines: &[L], opts: RunOpts, cfg: &ExposureConfig) -> Expected {
    let mut m = Model::new(cfg.clone());
    let mut scratch = ParseScratch::default();
    let mut rejected = 0;
    let mut pos = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        if !is_blank(line) {
            match parse_line(line, &mut scratch) {
                Ok(e) => m.event(
                    pos,
                    e.id,
                    e.initial_order_id,
                    e.shares,
                    e.client,
                    e.stock,
                    e.ts,
                    opts.ingest_ns_of(i) / 1_000_000,
                ),
                Err(_) => rejected += 1,
            }
        }
        pos += line.len() as u64 + 1;
    }
    let (positions, alerts) = m.alerts.into_iter().unzip();
    Expected {
        alerts,
        positions,
        counters: m.counters,
        rejected,
    }
}

// ---- random streams -----------------------------------------------------------

/// Event time of the first line, and ingest time (ms) of line 0: far above
/// any window, so windows never reach back before the epoch.
const T0: u64 = 1_000_000;
/// Ingest time between lines (ms).
const INGEST_STEP_MS: u64 = 10;

/// Run options of every random stream.
fn base_opts() -> RunOpts {
    RunOpts {
        ingest_ns: T0 * 1_000_000,
        ingest_step_ns: INGEST_STEP_MS * 1_000_000,
        ..RunOpts::default()
    }
}

const OWNERS: [(&str, &str); 5] = [
    ("c0", "S0"),
    ("c1", "S0"),
    ("c0", "S1"),
    ("c1", "S1"),
    ("c2", "S0"),
];
const CLIENTS: [&str; 3] = ["c0", "c1", "c2"];

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
    /// A line SPEC §1 rejects.
    Rejected {
        which: u8,
    },
    Blank,
}

/// One step of a stream: how far event time moves before it, how far behind
/// that its `ts` is, and whether it has a `ts` at all.
#[derive(Debug, Clone)]
struct Tick {
    step: Step,
    gap: u64,
    back: u64,
    no_ts: bool,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..4u8, 0..40u64, 0..5u8)
            .prop_map(|(order, shares, who)| Step::Request { order, shares, who }),
        12 => (0..7u8, 0..4u8, 0..8u64, 0..5u8)
            .prop_map(|(id, order, shares, who)| Step::Purchase { id, order, shares, who }),
        2 => any::<u16>().prop_map(|back| Step::Duplicate { back }),
        1 => (0..6u8).prop_map(|which| Step::Rejected { which }),
        1 => Just(Step::Blank),
    ]
}

fn tick() -> impl Strategy<Value = Tick> {
    let gap = prop_oneof![
        4 => Just(0u64),
        6 => 1..20u64,
        2 => 20..300u64,
        1 => 300..1_500u64,
    ];
    let back = prop_oneof![
        6 => Just(0u64),
        2 => 1..100u64,
        1 => 100..800u64,
    ];
    (step(), gap, back, prop::bool::weighted(0.1)).prop_map(|(step, gap, back, no_ts)| Tick {
        step,
        gap,
        back,
        no_ts,
    })
}

/// Purchase ids: mostly `p*`, one equal to an order id.
fn purchase_name(id: u8) -> String {
    if id < 6 {
        format!("p{id}")
    } else {
        "o0".to_owned()
    }
}

/// A line SPEC §1 rejects, far in the future: accepted, it would move the
/// clock and empty every window.
fn rejected_line(which: u8, ts: u64) -> String {
    let far = ts + 1_000_000;
    match which {
        0 => format!(
            r##"{{"id":"px","#shares":9,"client":"c0","stock":"S0","initial_order_id":"o1","ts":{far}"##
        ),
        1 => format!(
            r##"{{"id":"px","#shares":1.5,"client":"c0","stock":"S0","initial_order_id":"o1","ts":{far}}}"##
        ),
        2 => format!(
            r##"{{"id":"px","#shares":9,"stock":"S0","initial_order_id":"o1","ts":{far}}}"##
        ),
        3 => format!(
            r##"{{"id":"px","#shares":9,"client":"c0","stock":"S0","initial_order_id":"","ts":{far}}}"##
        ),
        4 => format!(
            r##"{{"id":"px","#shares":9,"client":"c0","stock":"S0","initial_order_id":"o1","ts":"{far}"}}"##
        ),
        _ => format!(
            r##"{{"id":"px","#shares":9,"shares":9,"client":"c0","stock":"S0","initial_order_id":"o1","ts":{far}}}"##
        ),
    }
}

/// Turns ticks into lines, and counts the lines meant to be rejected. Lines
/// before `ts_from` carry no `ts` (the clock is ingest time); from there
/// event time starts at line `ts_from`'s ingest time plus `offset`.
fn render(ticks: &[Tick], ts_from: usize, offset: i64) -> (Vec<String>, u64) {
    let mut lines: Vec<String> = Vec::with_capacity(ticks.len());
    let mut events: Vec<String> = Vec::new();
    let mut rejected = 0;
    let mut t = T0;
    for (i, tk) in ticks.iter().enumerate() {
        if i == ts_from {
            t = (T0 + i as u64 * INGEST_STEP_MS).saturating_add_signed(offset);
        }
        t += tk.gap;
        let ts = (i >= ts_from && !tk.no_ts).then(|| t.saturating_sub(tk.back));
        let line = match tk.step {
            Step::Request { order, shares, who } => {
                let (client, stock) = OWNERS[who as usize % OWNERS.len()];
                event(&format!("o{order}"), shares, None, ts, client, stock)
            }
            Step::Purchase {
                id,
                order,
                shares,
                who,
            } => {
                let (client, stock) = OWNERS[who as usize % OWNERS.len()];
                let order = format!("o{order}");
                event(&purchase_name(id), shares, Some(&order), ts, client, stock)
            }
            Step::Duplicate { back } => match events.len() {
                0 => continue,
                n => events[n - 1 - back as usize % n].clone(),
            },
            Step::Rejected { which } => {
                rejected += 1;
                lines.push(rejected_line(which, t));
                continue;
            }
            Step::Blank => {
                lines.push(String::new());
                continue;
            }
        };
        events.push(line.clone());
        lines.push(line);
    }
    (lines, rejected)
}

/// Window, limit, lateness and one client override.
fn exposure_cfg() -> impl Strategy<Value = ExposureConfig> {
    (
        10..500u64,
        0..30u64,
        0..300u64,
        prop::option::weighted(0.7, (0..CLIENTS.len(), 0..40u64)),
    )
        .prop_map(|(window_ms, limit, allowed_lateness_ms, over)| {
            let mut client_limits = BTreeMap::new();
            if let Some((c, l)) = over {
                client_limits.insert(CLIENTS[c].to_owned(), l);
            }
            ExposureConfig {
                window_ms,
                limit,
                client_limits,
                allowed_lateness_ms,
            }
        })
}

/// An engine shape: batch size, threads, partitions.
fn shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (
        1..64usize,
        1..=4usize,
        prop_oneof![Just(0usize), Just(1), Just(2), Just(16)],
    )
}

fn shaped(opts: RunOpts, (batch_events, threads, partitions): (usize, usize, usize)) -> RunOpts {
    RunOpts {
        batch_events,
        threads,
        partitions,
        ..opts
    }
}

/// Counters the model and the engine must agree on exactly. (`rearmed` is
/// checked by `exposure_rules::rearmed_counts_the_rearms_of_step_6` and only
/// bounded here.)
const EXACT_COUNTERS: &[&str] = &[
    "counted",
    "duplicate_purchase",
    "late",
    "outside_window",
    "exposure",
];

/// The exposure job's output in `got` against the model.
fn check_exposure(got: &JobsOutcome, want: &Expected, what: &str) -> Result<(), TestCaseError> {
    let alerts = got.alerts_of(&["exposure"]);
    prop_assert_eq!(&alerts, &want.alerts, "alerts, {}", what);
    let positions: Vec<u64> = got
        .alerts
        .iter()
        .zip(&got.orders)
        .filter(|(a, _)| a["kind"] == json!("exposure"))
        .map(|(_, o)| o.pos)
        .collect();
    prop_assert_eq!(&positions, &want.positions, "trigger positions, {}", what);
    prop_assert_eq!(got.rejected_total(), want.rejected, "rejected, {}", what);
    for &name in EXACT_COUNTERS {
        prop_assert_eq!(
            got.counter("exposure", name),
            want.counter(name),
            "counter {}, {}",
            name,
            what
        );
    }
    // Every step-6 re-arm is a re-arm; the engine may also note a pair's
    // re-arm as its window empties with no purchase after it.
    let rearmed = got.counter("exposure", "rearmed");
    prop_assert!(
        want.counter("rearmed") <= rearmed && rearmed <= want.counter("exposure"),
        "rearmed {} outside [{}, {}], {}",
        rearmed,
        want.counter("rearmed"),
        want.counter("exposure"),
        what
    );
    Ok(())
}

/// Runs the exposure job on `lines` under two shapes; both must match the
/// model, and each other.
fn check(
    lines: &[String],
    opts: RunOpts,
    cfg: &ExposureConfig,
    shapes: [(usize, usize, usize); 2],
) -> Result<(), TestCaseError> {
    let want = model(lines, opts, cfg);
    let jobs = JobSet::exposure(cfg.clone());
    let mut runs = Vec::new();
    for s in shapes {
        let got = run_jobs(lines, shaped(opts, s), &jobs);
        check_exposure(&got, &want, &format!("shape {s:?}"))?;
        runs.push(got);
    }
    prop_assert_eq!(&runs[0].alerts, &runs[1].alerts);
    prop_assert_eq!(&runs[0].orders, &runs[1].orders);
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Integration tests have no lib.rs for proptest's default lookup.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/exposure_model.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Event time throughout: `ts` non-decreasing with random gaps, some
    /// behind the clock (within and beyond the lateness, before the window),
    /// a few purchases without `ts`, redelivered lines, requests, rejected
    /// and blank lines.
    #[test]
    fn engine_matches_model_with_event_time(
        ticks in prop::collection::vec(tick(), 0..300),
        cfg in exposure_cfg(),
        a in shape(),
        b in shape(),
    ) {
        let (lines, rejected) = render(&ticks, 0, 0);
        prop_assert_eq!(model(&lines, base_opts(), &cfg).rejected, rejected);
        check(&lines, base_opts(), &cfg, [a, b])?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The clock follows ingest time (10 ms a line) until events start
    /// carrying `ts` at a random line, and event time from there on.
    #[test]
    fn engine_matches_model_from_ingest_to_event_time(
        ticks in prop::collection::vec(tick(), 0..300),
        ts_from in 0..300usize,
        offset in -1_000..1_000i64,
        cfg in exposure_cfg(),
        a in shape(),
        b in shape(),
    ) {
        let (lines, _) = render(&ticks, ts_from, offset);
        check(&lines, base_opts(), &cfg, [a, b])?;
    }
}

// ---- both jobs together -------------------------------------------------------

/// The alerts and order keys of `runs` merged as the engine merges jobs: by
/// input position, the clock's alerts of an event before its own, then by
/// job in the order given (each run's `AlertOrder::job` is replaced by its
/// index in `runs`).
fn merge(runs: &[&JobsOutcome]) -> (Vec<Value>, Vec<AlertOrder>) {
    let mut all: Vec<(AlertOrder, Value)> = Vec::new();
    for (job, run) in runs.iter().enumerate() {
        for (a, o) in run.alerts.iter().zip(&run.orders) {
            let order = AlertOrder {
                job: job as u8,
                ..*o
            };
            all.push((order, a.clone()));
        }
    }
    // Stable: within one job, its own output order stands.
    all.sort_by_key(|(o, _)| (o.pos, o.class, o.job));
    let (orders, alerts) = all.into_iter().unzip();
    (alerts, orders)
}

/// The outcome of a run without the `rearmed` counter (see
/// `EXACT_COUNTERS`).
fn comparable(o: &JobsOutcome) -> JobsOutcome {
    let mut o = o.clone();
    for cs in o.counters.values_mut() {
        cs.remove("rearmed");
    }
    o
}

const OVERFILL_KINDS: &[&str] = &["overfill", "orphan"];

/// Runs `lines` with `overfill`, `exposure`, `overfill,exposure` (twice) and
/// `exposure,overfill`, each under its own shape, and checks that the
/// combined runs are exactly the union of the single ones in the engine's
/// order, deterministic, and (for exposure) the model's.
fn check_both<L: AsRef<[u8]>>(
    lines: &[L],
    opts: RunOpts,
    cfg: &ExposureConfig,
    shapes: [(usize, usize, usize); 4],
) -> Result<(JobsOutcome, JobsOutcome), TestCaseError> {
    let jobs = JobSet::exposure(cfg.clone());
    let overfill = run_jobs(lines, shaped(opts, shapes[0]), &jobs.with_spec("overfill"));
    let exposure = run_jobs(lines, shaped(opts, shapes[1]), &jobs);
    let both = run_jobs(
        lines,
        shaped(opts, shapes[2]),
        &jobs.with_spec("overfill,exposure"),
    );
    let again = run_jobs(
        lines,
        shaped(opts, shapes[3]),
        &jobs.with_spec("overfill,exposure"),
    );
    let reversed = run_jobs(
        lines,
        shaped(opts, shapes[3]),
        &jobs.with_spec("exposure,overfill"),
    );

    // Deterministic across shapes.
    prop_assert_eq!(comparable(&both), comparable(&again), "two shapes differ");

    // Each job alone sees only its own kinds.
    prop_assert_eq!(overfill.alerts_of(OVERFILL_KINDS), overfill.alerts.clone());
    prop_assert_eq!(exposure.alerts_of(&["exposure"]), exposure.alerts.clone());

    // The union, in input-position order, jobs in the order named.
    let (alerts, orders) = merge(&[&overfill, &exposure]);
    prop_assert_eq!(&both.alerts, &alerts, "overfill,exposure alerts");
    prop_assert_eq!(&both.orders, &orders, "overfill,exposure order keys");
    let (alerts, orders) = merge(&[&exposure, &overfill]);
    prop_assert_eq!(&reversed.alerts, &alerts, "exposure,overfill alerts");
    prop_assert_eq!(&reversed.orders, &orders, "exposure,overfill order keys");

    // Spelled out: alerts in non-decreasing input position, drained orphans
    // last, and for one event no overfill alert after an exposure alert.
    for (w, o) in both.alerts.windows(2).zip(both.orders.windows(2)) {
        prop_assert!(o[0].pos <= o[1].pos, "out of order: {:?}", o);
        if o[0].pos == o[1].pos {
            prop_assert!(
                !(w[0]["kind"] == json!("exposure") && w[1]["kind"] != json!("exposure")),
                "exposure before overfill for one event: {:?}",
                w
            );
        }
    }

    // Each job keeps its own state: the same counters alone and together.
    for (job, alone) in [("overfill", &overfill), ("exposure", &exposure)] {
        let mut a = comparable(alone).counters.remove(job);
        let mut b = comparable(&both).counters.remove(job);
        prop_assert!(a.is_some(), "no counters for {}", job);
        prop_assert_eq!(a.take(), b.take(), "counters of {}", job);
    }
    prop_assert_eq!(both.accepted, overfill.accepted);
    prop_assert_eq!(both.rejected.clone(), exposure.rejected.clone());

    // The exposure part is the model's.
    let want = model(lines, opts, cfg);
    check_exposure(&exposure, &want, "exposure alone")?;
    check_exposure(&both, &want, "overfill,exposure")?;
    Ok((both, overfill))
}

/// Alert ids of `kinds` in `o` that occur more than once.
fn repeated_ids(o: &JobsOutcome, kinds: &[&str]) -> Vec<String> {
    let mut seen = HashSet::new();
    o.alerts_of(kinds)
        .iter()
        .map(|a| a["alert_id"].as_str().expect("string id").to_owned())
        .filter(|id| !seen.insert(id.clone()))
        .collect()
}

proptest! {
    #![proptest_config(config(96))]

    /// Small-alphabet streams (requests and purchases of the same orders, so
    /// both jobs alert), small TTLs, window, limit and lateness.
    #[test]
    fn both_jobs_are_the_union_of_each_alone(
        ticks in prop::collection::vec(tick(), 0..300),
        cfg in exposure_cfg(),
        book_ttl in 50..500u64,
        tombstone_ttl in 0..1_000u64,
        drain in prop::bool::weighted(0.8),
        shapes in [shape(), shape(), shape(), shape()],
    ) {
        let (lines, _) = render(&ticks, 0, 0);
        let opts = RunOpts {
            book_ttl_ms: book_ttl,
            tombstone_ttl_ms: tombstone_ttl,
            drain,
            ..base_opts()
        };
        check_both(&lines, opts, &cfg, shapes)?;
    }
}

// ---- both jobs on generated trade files ----------------------------------------

/// Synthetic-file settings: small files, in flight orders overlapping.
fn synth_cfg() -> impl Strategy<Value = ingest::synth::SynthConfig> {
    (
        (1..120u64, 0..6u32, 1..24u32),
        (0.0..0.3f64, 0.0..0.2f64, 0.0..0.05f64, 0.0..0.5f64),
        (0..20u64, any::<u64>()),
    )
        .prop_map(
            |(
                (orders, purchases_per_order, open_orders),
                (late_pr_fraction, duplicate_fraction, malformed_fraction, overfill_fraction),
                (ts_step_ms, seed),
            )| ingest::synth::SynthConfig {
                orders,
                purchases_per_order,
                open_orders,
                late_pr_fraction,
                duplicate_fraction,
                malformed_fraction,
                overfill_fraction,
                with_ts: true,
                ts_start_ms: 1_700_000_000_000,
                ts_step_ms,
                seed,
            },
        )
}

/// The generated file's lines with its 1000 clients folded onto `clients`
/// and its 16 stocks onto `stocks`, so that pairs recur across orders.
/// (Malformed lines may not be UTF-8; they are kept as they are.)
fn synth_lines(cfg: &ingest::synth::SynthConfig, clients: u64, stocks: usize) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    ingest::synth::generate(cfg, &mut buf).expect("generate into memory");
    buf.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| match std::str::from_utf8(l) {
            Ok(l) => fold_owner(l, clients, stocks).into_bytes(),
            Err(_) => l.to_vec(),
        })
        .collect()
}

const TICKERS: [&str; 16] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "NFLX", "IBM", "ORCL", "INTC", "AMD",
    "CSCO", "ADBE", "PYPL", "UBER",
];

fn fold_owner(line: &str, clients: u64, stocks: usize) -> String {
    let mut line = line.to_owned();
    const KEY: &str = r#""client":"c-"#;
    if let Some(at) = line.find(KEY) {
        let from = at + KEY.len();
        let digits = line[from..].bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = line[from..from + digits].parse::<u64>() {
            line.replace_range(from..from + digits, &(n % clients).to_string());
        }
    }
    for (i, t) in TICKERS.iter().enumerate() {
        let key = format!(r#""stock":"{t}""#);
        if line.contains(&key) {
            line = line.replace(&key, &format!(r#""stock":"S{}""#, i % stocks));
            break;
        }
    }
    line
}

proptest! {
    #![proptest_config(config(64))]

    /// `aldebaran gen` files (ts non-decreasing except redelivered lines,
    /// malformed lines, late requests, overfills), owners folded onto a few
    /// pairs, a low limit: both jobs alert, together exactly as alone.
    /// Purchase ids are unique per order and a redelivery repeats its `ts`,
    /// so exposure ids are unique too.
    #[test]
    fn both_jobs_on_generated_files(
        synth in synth_cfg(),
        clients in 1..4u64,
        stocks in 1..3usize,
        window_ms in 10..500u64,
        limit in 500..20_000u64,
        allowed_lateness_ms in 0..100u64,
        book_ttl in 50..2_000u64,
        tombstone_ttl in 0..2_000u64,
        shapes in [shape(), shape(), shape(), shape()],
    ) {
        let lines = synth_lines(&synth, clients, stocks);
        let cfg = ExposureConfig {
            window_ms,
            limit,
            client_limits: BTreeMap::from([("c-0".to_owned(), limit / 2)]),
            allowed_lateness_ms,
        };
        let opts = RunOpts {
            book_ttl_ms: book_ttl,
            tombstone_ttl_ms: tombstone_ttl,
            ..RunOpts::default()
        };
        let (both, _) = check_both(&lines, opts, &cfg, shapes)?;
        prop_assert_eq!(repeated_ids(&both, &["exposure"]), Vec::<String>::new());
    }
}

/// The generated-file property sees alerts of both jobs, and exposure
/// re-arms: a fixed file, so that the property above is not vacuous.
#[test]
fn generated_files_exercise_both_jobs() {
    let synth = ingest::synth::SynthConfig {
        orders: 400,
        purchases_per_order: 4,
        open_orders: 20,
        ts_step_ms: 3,
        duplicate_fraction: 0.05,
        malformed_fraction: 0.01,
        ..ingest::synth::SynthConfig::default()
    };
    let lines = synth_lines(&synth, 3, 2);
    let cfg = ExposureConfig {
        window_ms: 200,
        limit: 8_000,
        client_limits: BTreeMap::from([("c-0".to_owned(), 4_000)]),
        allowed_lateness_ms: 20,
    };
    let opts = RunOpts::ttl(500, 1_000);
    let shapes = [(1_000, 1, 0), (7, 4, 0), (13, 3, 16), (1, 2, 2)];
    let (both, _) = check_both(&lines, opts, &cfg, shapes).unwrap_or_else(|e| panic!("{e}"));
    let count = |kind: &str| both.alerts_of(&[kind]).len();
    assert!(count("overfill") > 10, "overfills: {}", count("overfill"));
    assert!(count("exposure") > 10, "exposures: {}", count("exposure"));
    assert!(both.counter("exposure", "rearmed") > 5);
    assert!(both.counter("exposure", "late") > 0);
    assert!(both.counter("exposure", "duplicate_purchase") > 0);
    assert_eq!(repeated_ids(&both, &["exposure"]), Vec::<String>::new());
}

// ---- the model itself ----------------------------------------------------------

/// The model on a hand-checked stream, so that a bug in the model cannot
/// hide behind an identical bug in the engine.
#[test]
fn model_reproduces_a_worked_example() {
    let cfg = ExposureConfig {
        window_ms: 100,
        limit: 10,
        client_limits: BTreeMap::from([("v".to_owned(), 20)]),
        allowed_lateness_ms: 30,
    };
    let e = |id: &str, order: Option<&str>, shares: u64, client: &str, ts: Option<u64>| {
        event(id, shares, order, ts, client, "s")
    };
    let lines = vec![
        e("o1", None, 500, "c", Some(1_000)),     // request: ignored
        e("a", Some("o1"), 6, "c", Some(1_000)),  // 6
        e("a", Some("o1"), 6, "c", Some(1_010)),  // duplicate
        e("b", Some("o1"), 5, "c", Some(1_020)),  // 11: alert
        e("c", Some("o1"), 6, "c", Some(1_050)),  // 17
        e("d", Some("o1"), 5, "c", Some(1_019)),  // 31 behind, late
        e("e", Some("o1"), 15, "v", Some(1_050)), // v: 15 ≤ 20
        e("f", Some("o1"), 1, "c", Some(1_100)),  // a leaves: 11, still raised: 12
        e("g", Some("o1"), 1, "c", Some(1_000)),  // late (and outside)
        e("h", Some("o1"), 1, "c", None),         // t = 1100: 13
        e("i", Some("o1"), 0, "c", Some(1_121)),  // b leaves: 8, re-armed
        e("j", Some("o1"), 3, "c", Some(1_122)),  // 11: alert
        e("k", Some("o1"), 1, "c", Some(1_092)),  // within lateness: 12
        e("l", Some("o1"), 6, "v", Some(1_122)),  // v: 21: alert
    ];
    let want = model(&lines, base_opts(), &cfg);
    let alert = |client: &str, limit: u64, id: &str, sum: u64, clock: u64| {
        json!({
            "alert_id": format!("exposure:{client}:s:o1/{id}"),
            "kind": "exposure",
            "client": client,
            "stock": "s",
            "limit": limit,
            "exposure": sum,
            "window_ms": 100,
            "window_start": clock - 100,
            "window_end": clock,
            "order_id": "o1",
            "trigger_id": id,
            "event_ts": clock,
        })
    };
    assert_eq!(
        want.alerts,
        vec![
            alert("c", 10, "b", 11, 1_020),
            alert("c", 10, "j", 11, 1_122),
            alert("v", 20, "l", 21, 1_122),
        ]
    );
    let counters: BTreeMap<&str, u64> = [
        ("counted", 10),
        ("duplicate_purchase", 1),
        ("late", 2),
        ("rearmed", 1),
        ("exposure", 3),
    ]
    .into_iter()
    .collect();
    assert_eq!(want.counters, counters);
    // And the engine agrees.
    let got = run_jobs(&lines, base_opts(), &JobSet::exposure(cfg.clone()));
    check_exposure(&got, &want, "worked example").unwrap_or_else(|e| panic!("{e}"));
}
