//! Test harness: SPEC §1 lines in, the engine's alerts out.
//!
//! [`run`] does what the replay pipeline does, minus threads and the journal:
//! each non-blank line is parsed with `ingest::parse`, rejected lines become
//! dead letters (counted per reason), accepted events are appended with a
//! deterministic ingest time into a `TradeBatchBuilder`, a batch is cut every
//! `batch_events` accepted events, `Engine::process` runs per batch and
//! `Engine::drain` at the end. Alerts come back as their JSON payloads with
//! the wall-clock `detected_at` removed, so they compare exactly.
//!
//! [`run`] / [`run_full`] / [`run_all`] run the overfill job alone;
//! [`run_jobs`] / [`run_jobs_all`] run any job set (a [`JobSet`]: the
//! `--job` spec and the `[exposure]` settings), built as the binary builds it
//! with `jobs::add_jobs` on the job sections of the embedded default
//! configuration (`configs/default.toml`), and also return each alert's
//! [`AlertOrder`] and every job's counters.

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use columnar::TradeBatchBuilder;
use engine_core::{Alert, AlertOrder, Engine, EngineOptions};
use ingest::parse::{ParseScratch, is_blank, parse_line};
use jobs::{
    add_jobs,
    exposure::ExposureConfig,
    overfill::{OverfillConfig, OverfillJob},
};
use serde_json::{Map, Value, json};

/// How to run a stream through the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOpts {
    /// Accepted events per micro-batch (at least 1).
    pub batch_events: usize,
    /// Engine worker threads.
    pub threads: usize,
    /// Shards per job; 0 lets the engine pick from `threads`.
    pub partitions: usize,
    /// SPEC §2 `book_ttl`.
    pub book_ttl_ms: u64,
    /// SPEC §2 `tombstone_ttl`.
    pub tombstone_ttl_ms: u64,
    /// Close every open book at the end of input (SPEC §2 drain).
    pub drain: bool,
    /// Ingest wall time (ns) of line 0.
    pub ingest_ns: u64,
    /// Added to the ingest time per line, so line `i` is ingested at
    /// `ingest_ns + i * ingest_step_ns` (0: a fixed ingest time).
    pub ingest_step_ns: u64,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            batch_events: 1024,
            threads: 1,
            partitions: 0,
            book_ttl_ms: 60_000,
            tombstone_ttl_ms: 600_000,
            drain: true,
            ingest_ns: 0,
            ingest_step_ns: 0,
        }
    }
}

impl RunOpts {
    /// Default options with the two TTLs.
    pub fn ttl(book_ttl_ms: u64, tombstone_ttl_ms: u64) -> Self {
        RunOpts {
            book_ttl_ms,
            tombstone_ttl_ms,
            ..RunOpts::default()
        }
    }

    /// The same options without the end-of-input drain.
    pub fn no_drain(self) -> Self {
        RunOpts {
            drain: false,
            ..self
        }
    }

    /// The ingest time (ns) of line `i`.
    pub fn ingest_ns_of(&self, i: usize) -> u64 {
        self.ingest_ns
            .saturating_add((i as u64).saturating_mul(self.ingest_step_ns))
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Alert payloads in output order, without `detected_at`.
    pub alerts: Vec<Value>,
    /// Rejected lines per SPEC §1 reason.
    pub rejected: BTreeMap<String, u64>,
    /// Positions (byte offsets) of the rejected lines, in input order.
    pub rejected_pos: Vec<u64>,
    /// Accepted events.
    pub accepted: u64,
    /// Blank lines skipped.
    pub blank: u64,
    /// The overfill job's counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Open books after the run (after the drain, if any).
    pub open_books: usize,
    /// The engine clock after the run.
    pub clock: u64,
}

impl Outcome {
    /// A counter of the overfill job (0 if unknown).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Lines rejected for `reason` (e.g. `bad:#shares`).
    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejected.get(reason).copied().unwrap_or(0)
    }

    /// All rejected lines.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Runs `lines` (one event each, without `\n`) and returns the alerts.
pub fn run<L: AsRef<[u8]>>(lines: &[L], opts: RunOpts) -> Vec<Value> {
    run_full(lines, opts).alerts
}

/// Runs `lines` and returns alerts, rejects and counters.
pub fn run_full<L: AsRef<[u8]>>(lines: &[L], opts: RunOpts) -> Outcome {
    let mut engine = new_engine(&opts);
    engine
        .add_job(OverfillJob::new(OverfillConfig {
            book_ttl_ms: opts.book_ttl_ms,
            tombstone_ttl_ms: opts.tombstone_ttl_ms,
        }))
        .expect("job added");

    let (out, mut outcome) = feed(lines, &opts, &mut engine);
    outcome.alerts = out.iter().map(payload).collect();
    outcome.counters = engine
        .counters()
        .into_iter()
        .filter(|(job, _)| *job == jobs::overfill::NAME)
        .flat_map(|(_, cs)| cs)
        .map(|(name, v)| (name.to_owned(), v))
        .collect();
    outcome
}

/// An engine with `opts`' threads and partitions and no job yet.
fn new_engine(opts: &RunOpts) -> Engine {
    Engine::new(EngineOptions {
        threads: opts.threads,
        partitions: opts.partitions,
        ..EngineOptions::default()
    })
    .expect("engine starts")
}

/// Parses `lines` into batches of `opts.batch_events`, runs `engine` over
/// them (and its drain if `opts.drain`), checks the alerts' order and
/// returns them with the outcome's input-side fields, clock and live keys
/// filled in (alerts and counters left empty).
fn feed<L: AsRef<[u8]>>(lines: &[L], opts: &RunOpts, engine: &mut Engine) -> (Vec<Alert>, Outcome) {
    let batch_events = opts.batch_events.max(1);
    let mut builder = TradeBatchBuilder::new(batch_events);
    let mut scratch = ParseScratch::default();
    let mut out: Vec<Alert> = Vec::new();
    let mut outcome = Outcome {
        alerts: Vec::new(),
        rejected: BTreeMap::new(),
        rejected_pos: Vec::new(),
        accepted: 0,
        blank: 0,
        counters: BTreeMap::new(),
        open_books: 0,
        clock: 0,
    };

    let mut pos = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        assert!(!line.contains(&b'\n'), "one line per entry: {line:?}");
        if is_blank(line) {
            builder.skip_blank();
        } else {
            match parse_line(line, &mut scratch) {
                Ok(ev) => builder.append(pos, opts.ingest_ns_of(i), &ev),
                Err(reason) => builder.reject(pos, reason, line, false),
            }
        }
        pos += line.len() as u64 + 1;
        if builder.rows() >= batch_events {
            cut(&mut builder, engine, &mut out, &mut outcome);
        }
    }
    if !builder.is_empty() {
        cut(&mut builder, engine, &mut out, &mut outcome);
    }
    let processed = out.len();
    if opts.drain {
        engine.drain(0, &mut out);
    }

    check_alert_order(&out, processed);
    outcome.open_books = engine.live_keys();
    outcome.clock = engine.clock();
    (out, outcome)
}

/// Cuts the builder's batch, records its dead letters and runs the engine.
fn cut(
    builder: &mut TradeBatchBuilder,
    engine: &mut Engine,
    out: &mut Vec<Alert>,
    o: &mut Outcome,
) {
    let batch = builder.finish().expect("batch cut");
    for d in batch.dead_letters().iter() {
        *o.rejected.entry(d.reason.as_str().to_owned()).or_default() += 1;
        o.rejected_pos.push(d.pos);
    }
    o.accepted += batch.len() as u64;
    o.blank += batch.skipped_blank();
    engine.process(&batch, 0, out);
}

/// The engine's own bookkeeping must agree with the payloads: alerts leave
/// `process` in non-decreasing `AlertOrder`, drained ones after the rest.
fn check_alert_order(out: &[Alert], processed: usize) {
    for w in out[..processed].windows(2) {
        assert!(w[0].order <= w[1].order, "alerts out of order: {w:?}");
    }
    for a in &out[processed..] {
        assert_eq!(a.order.pos, AlertOrder::DRAIN, "drained alert: {a:?}");
    }
}

/// The payload of `a` as JSON, without `detected_at`, checked against the
/// alert's own kind and id.
fn payload(a: &Alert) -> Value {
    let mut v: Value = serde_json::from_slice(&a.payload).expect("alert payload is JSON");
    let obj = v.as_object_mut().expect("alert payload is an object");
    assert_declared_fields(obj);
    assert!(obj.remove("detected_at").is_some(), "no detected_at: {a:?}");
    assert_eq!(obj.get("kind"), Some(&json!(a.kind)), "{a:?}");
    assert_eq!(obj.get("alert_id"), Some(&json!(a.alert_id)), "{a:?}");
    v
}

/// Holds the fields a job declares (for sink templates) against a real
/// record: its keys are `alert_id`, `kind` and exactly the fields of one
/// registered job.
fn assert_declared_fields(record: &Map<String, Value>) {
    let keys: BTreeSet<&str> = record.keys().map(String::as_str).collect();
    let declared = jobs::JOBS.iter().find(|j| {
        let want: BTreeSet<&str> = ["alert_id", "kind"]
            .into_iter()
            .chain(j.alert_fields().iter().map(|f| f.name))
            .collect();
        want == keys
    });
    assert!(
        declared.is_some(),
        "no registered job declares the fields of {record:?}"
    );
}

/// Batch sizes and thread counts every rule test runs under.
pub const SHAPES: &[(usize, usize)] = &[(1024, 1), (1, 1), (2, 2), (3, 4), (7, 3), (1, 4)];

/// Runs `lines` under every [`SHAPES`] batch size and thread count (keeping
/// the other options of `opts`), asserts that alerts, rejects and counters
/// are identical, and returns the outcome.
pub fn run_all<L: AsRef<[u8]>>(lines: &[L], opts: RunOpts) -> Outcome {
    let mut first: Option<Outcome> = None;
    for &(batch_events, threads) in SHAPES {
        let o = run_full(
            lines,
            RunOpts {
                batch_events,
                threads,
                ..opts
            },
        );
        match &first {
            None => first = Some(o),
            Some(f) => assert_eq!(
                &o, f,
                "batch_events {batch_events}, threads {threads} differ from {:?}",
                SHAPES[0]
            ),
        }
    }
    first.expect("at least one shape")
}

// ---- any job set ----------------------------------------------------------

/// Which jobs a run uses (as `--job`, e.g. `"overfill,exposure"`), the
/// exposure job's settings and any other job's keys; the overfill TTLs, the
/// drain and the engine shape come from [`RunOpts`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobSet {
    /// Comma-separated job names, in alert order for one event.
    pub spec: String,
    /// The `[exposure]` section.
    pub exposure: ExposureConfig,
    /// Keys set in other jobs' sections: (job, key, value).
    pub keys: Vec<(String, String, toml::Value)>,
}

impl JobSet {
    /// The jobs of `spec` with the exposure settings `exposure`.
    pub fn new(spec: &str, exposure: ExposureConfig) -> Self {
        JobSet {
            spec: spec.to_owned(),
            exposure,
            keys: Vec::new(),
        }
    }

    /// The same jobs with `key = value` in `job`'s section.
    pub fn set(mut self, job: &str, key: &str, value: impl Into<toml::Value>) -> Self {
        self.keys
            .push((job.to_owned(), key.to_owned(), value.into()));
        self
    }

    /// The exposure job alone.
    pub fn exposure(exposure: ExposureConfig) -> Self {
        JobSet::new(jobs::exposure::NAME, exposure)
    }

    /// The same settings with other jobs.
    pub fn with_spec(&self, spec: &str) -> Self {
        JobSet {
            spec: spec.to_owned(),
            ..self.clone()
        }
    }

    /// The job sections the binary would run with: those of the embedded
    /// default, with the overfill TTLs of `opts` and the exposure section set.
    pub fn sections(&self, opts: &RunOpts) -> toml::Table {
        let mut sections = default_sections();
        let int = |v: u64| toml::Value::Integer(i64::try_from(v).expect("test values fit"));
        let overfill = sections
            .get_mut("overfill")
            .and_then(toml::Value::as_table_mut)
            .expect("[overfill] in the default config");
        overfill.insert("book_ttl_ms".into(), int(opts.book_ttl_ms));
        overfill.insert("tombstone_ttl_ms".into(), int(opts.tombstone_ttl_ms));
        let e = &self.exposure;
        let mut limits = toml::Table::new();
        for (client, &limit) in &e.client_limits {
            limits.insert(client.clone(), int(limit));
        }
        let mut exposure = toml::Table::new();
        exposure.insert("window_ms".into(), int(e.window_ms));
        exposure.insert("limit".into(), int(e.limit));
        exposure.insert("allowed_lateness_ms".into(), int(e.allowed_lateness_ms));
        exposure.insert("client_limits".into(), toml::Value::Table(limits));
        sections.insert("exposure".into(), toml::Value::Table(exposure));
        for (job, key, value) in &self.keys {
            let section = sections
                .entry(job.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(t) = section.as_table_mut() {
                t.insert(key.clone(), value.clone());
            }
        }
        sections
    }
}

/// Everything a run of a job set produced.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsOutcome {
    /// Alert payloads in output order, without `detected_at`.
    pub alerts: Vec<Value>,
    /// The engine's order key of each alert (`job` is the index in the spec).
    pub orders: Vec<AlertOrder>,
    /// Rejected lines per SPEC §1 reason.
    pub rejected: BTreeMap<String, u64>,
    /// Accepted events.
    pub accepted: u64,
    /// Counters by job name, then counter name.
    pub counters: BTreeMap<String, BTreeMap<String, u64>>,
    /// Live keys of all jobs after the run.
    pub live_keys: usize,
    /// The engine clock after the run.
    pub clock: u64,
}

impl JobsOutcome {
    /// A counter of `job` (0 if unknown).
    pub fn counter(&self, job: &str, name: &str) -> u64 {
        self.counters
            .get(job)
            .and_then(|cs| cs.get(name))
            .copied()
            .unwrap_or(0)
    }

    /// All rejected lines.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// The alerts whose `kind` is one of `kinds`, in output order.
    pub fn alerts_of(&self, kinds: &[&str]) -> Vec<Value> {
        self.alerts
            .iter()
            .filter(|a| kinds.iter().any(|k| a["kind"] == json!(k)))
            .cloned()
            .collect()
    }
}

/// The embedded default configuration's top-level tables (the job sections
/// among them), as `configs/default.toml` ships them.
pub fn default_sections() -> toml::Table {
    include_str!("../../../../configs/default.toml")
        .parse()
        .expect("configs/default.toml parses")
}

/// Runs `lines` through the jobs of `jobs`, built as the binary builds them
/// (`jobs::add_jobs` on the default configuration's sections).
pub fn run_jobs<L: AsRef<[u8]>>(lines: &[L], opts: RunOpts, jobs: &JobSet) -> JobsOutcome {
    let mut engine = new_engine(&opts);
    let added = add_jobs(&mut engine, &jobs.spec, &jobs.sections(&opts)).expect("jobs added");
    let added: Vec<&str> = added.iter().map(|j| j.name()).collect();
    assert_eq!(added.join(","), jobs.spec.replace(' ', ""), "jobs added");
    let (out, outcome) = feed(lines, &opts, &mut engine);
    JobsOutcome {
        alerts: out.iter().map(payload).collect(),
        orders: out.iter().map(|a| a.order).collect(),
        rejected: outcome.rejected,
        accepted: outcome.accepted,
        counters: engine
            .counters()
            .into_iter()
            .map(|(job, cs)| {
                let cs = cs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
                (job.to_owned(), cs)
            })
            .collect(),
        live_keys: outcome.open_books,
        clock: outcome.clock,
    }
}

/// [`run_jobs`] under every [`SHAPES`] batch size and thread count (keeping
/// the other options of `opts`); asserts identical outcomes and returns it.
pub fn run_jobs_all<L: AsRef<[u8]>>(lines: &[L], opts: RunOpts, jobs: &JobSet) -> JobsOutcome {
    let mut first: Option<JobsOutcome> = None;
    for &(batch_events, threads) in SHAPES {
        let o = run_jobs(
            lines,
            RunOpts {
                batch_events,
                threads,
                ..opts
            },
            jobs,
        );
        match &first {
            None => first = Some(o),
            Some(f) => assert_eq!(
                &o, f,
                "jobs {}: batch_events {batch_events}, threads {threads} differ from {:?}",
                jobs.spec, SHAPES[0]
            ),
        }
    }
    first.expect("at least one shape")
}

// ---- writing events -------------------------------------------------------

/// Default client of the event helpers.
pub const CLIENT: &str = "c-1";
/// Default stock of the event helpers.
pub const STOCK: &str = "ACME";

/// A purchase request for order `id`.
pub fn pr(id: &str, shares: u64, ts: impl Into<Option<u64>>) -> String {
    event(id, shares, None, ts.into(), CLIENT, STOCK)
}

/// A purchase `id` of order `order`.
pub fn p(id: &str, order: &str, shares: u64, ts: impl Into<Option<u64>>) -> String {
    event(id, shares, Some(order), ts.into(), CLIENT, STOCK)
}

/// The same event line with another client and stock.
pub fn owned_by(line: &str, client: &str, stock: &str) -> String {
    let mut v: Value = serde_json::from_str(line).expect("helper lines are JSON");
    v["client"] = json!(client);
    v["stock"] = json!(stock);
    v.to_string()
}

/// One event line (SPEC §1), `#shares` spelling.
pub fn event(
    id: &str,
    shares: u64,
    order: Option<&str>,
    ts: Option<u64>,
    client: &str,
    stock: &str,
) -> String {
    let mut v = json!({ "id": id, "#shares": shares, "client": client, "stock": stock });
    if let Some(o) = order {
        v["initial_order_id"] = json!(o);
    }
    if let Some(ts) = ts {
        v["ts"] = json!(ts);
    }
    v.to_string()
}

// ---- expected alerts ------------------------------------------------------

/// An expected overfill alert (default client and stock).
pub fn overfill(
    order: &str,
    requested: u64,
    filled: u64,
    trigger: &str,
    event_ts: impl Into<Option<u64>>,
) -> Value {
    json!({
        "alert_id": format!("overfill:{order}:{trigger}"),
        "kind": "overfill",
        "order_id": order,
        "client": CLIENT,
        "stock": STOCK,
        "requested": requested,
        "filled": filled,
        "trigger_id": trigger,
        "event_ts": event_ts.into(),
    })
}

/// An expected orphan alert (default client and stock); `first` is the first
/// purchase its book counted, which names the episode (SPEC §3).
pub fn orphan(order: &str, first: &str, filled: u64, event_ts: impl Into<Option<u64>>) -> Value {
    json!({
        "alert_id": format!("orphan:{order}:{first}"),
        "kind": "orphan",
        "order_id": order,
        "client": CLIENT,
        "stock": STOCK,
        "requested": null,
        "filled": filled,
        "trigger_id": null,
        "event_ts": event_ts.into(),
    })
}

/// The same expected alert with another client and stock.
pub fn owner(mut alert: Value, client: &str, stock: &str) -> Value {
    alert["client"] = json!(client);
    alert["stock"] = json!(stock);
    alert
}
