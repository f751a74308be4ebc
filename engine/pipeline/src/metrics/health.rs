//! What `/healthz` answers. [`Health`] holds the readiness phase and
//! references to what it checks — the shippers' `SinkStats`, the AMQP
//! source's connected flag, the journal thread's failure — and reads them
//! at each request; the pure [`verdict`] turns those facts into a
//! [`Verdict`] (unit-tested below), which `http.rs` sends as JSON: 200 when
//! nothing is wrong, 503 naming every problem otherwise.

use std::sync::{
    Arc, Mutex, OnceLock, PoisonError,
    atomic::{AtomicU8, Ordering},
};

use alerts::delivery::SinkStats;
use ingest::amqp::AmqpCounters;

use super::pair::PairView;
use serde_json::{Value, json};

/// The journal thread's failure, set once by it (through `Metrics`) and read
/// by [`Health`].
#[derive(Debug, Default)]
pub struct JournalFailure(OnceLock<String>);

impl JournalFailure {
    /// Records the failure; the first one stays.
    pub fn set(&self, error: &str) {
        let _ = self.0.set(error.to_owned());
    }

    /// The failure, if the journal thread failed.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Where the process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not ready yet (opening the journal, restoring, starting).
    Starting,
    Ready,
    /// A signal arrived, or the run is ending.
    ShuttingDown,
}

const STARTING: u8 = 0;
const READY: u8 = 1;
const SHUTTING_DOWN: u8 = 2;

/// Readiness and liveness, as answered on `/healthz`. Starts not ready and
/// watching nothing; `run` adds what it starts.
#[derive(Debug, Default)]
pub struct Health {
    phase: AtomicU8,
    sinks: Mutex<Vec<Arc<SinkStats>>>,
    source: Mutex<Option<Arc<AmqpCounters>>>,
    journal: Mutex<Option<Arc<JournalFailure>>>,
    pair: Mutex<Option<Arc<dyn PairView>>>,
}

impl Health {
    /// Not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the process ready (or not) to take traffic. Not ready after
    /// having been ready is shutting down.
    pub fn set_ready(&self, ready: bool) {
        if ready {
            self.phase.store(READY, Ordering::Release);
        } else {
            let _ = self.phase.compare_exchange(
                READY,
                SHUTTING_DOWN,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// Whether the process is ready (whatever its checks say).
    pub fn is_ready(&self) -> bool {
        self.phase() == Phase::Ready
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            STARTING => Phase::Starting,
            READY => Phase::Ready,
            _ => Phase::ShuttingDown,
        }
    }

    /// Checks a shipper: unhealthy while it is paused, or once it stopped.
    pub fn watch_sink(&self, stats: Arc<SinkStats>) {
        let mut s = self.sinks.lock().unwrap_or_else(PoisonError::into_inner);
        // A pair's node starts its shippers again in each active phase.
        s.retain(|old| old.name != stats.name);
        s.push(stats);
    }

    /// Checks the AMQP source: unhealthy while it is disconnected.
    pub fn watch_source(&self, counters: Arc<AmqpCounters>) {
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = Some(counters);
    }

    /// Checks the journal thread: unhealthy once it failed.
    pub fn watch_journal(&self, failure: Arc<JournalFailure>) {
        *self.journal.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure);
    }

    /// A pair's node: its status joins the answer (`ha`), a problem of the
    /// pair makes it unhealthy; a node in the standby phase has no source
    /// and no shippers to check.
    pub(crate) fn watch_pair(&self, node: Arc<dyn PairView>) {
        *self.pair.lock().unwrap_or_else(PoisonError::into_inner) = Some(node);
    }

    /// A node leaving its active phase: its source and shippers are gone.
    pub(crate) fn unwatch_active(&self) {
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The facts, read now.
    pub(crate) fn facts(&self) -> Facts {
        // A poisoned lock only means a panic elsewhere; the list stays valid.
        let sinks = self.sinks.lock().unwrap_or_else(PoisonError::into_inner);
        let pair = self
            .pair
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Facts {
            phase: self.phase(),
            source_connected: self
                .source
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|c| c.connected.load(Ordering::Relaxed) == 1),
            journal_error: self
                .journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .and_then(|j| j.get().map(str::to_owned)),
            pair: pair.as_ref().map(|p| PairFact {
                status: p.health_json(),
                problem: p.problem(),
            }),
            sinks: sinks
                .iter()
                .map(|s| SinkFact {
                    name: s.name.clone(),
                    running: s.running.load(Ordering::Relaxed),
                    paused: s.paused(),
                    error: s.error(),
                })
                .collect(),
        }
    }

    /// The verdict on the facts as they are now.
    pub(crate) fn verdict(&self) -> Verdict {
        verdict(&self.facts())
    }
}

/// What `/healthz` looks at, read at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    pub phase: Phase,
    /// `None` without an AMQP source (nothing to be connected to).
    pub source_connected: Option<bool>,
    /// Why the journal thread failed, if it did.
    pub journal_error: Option<String>,
    pub sinks: Vec<SinkFact>,
    /// A pair's node: its status and what is wrong with the pair.
    pub pair: Option<PairFact>,
}

/// A pair's node, as `/healthz` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PairFact {
    pub status: Value,
    pub problem: Option<String>,
}

/// One shipper, as `/healthz` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SinkFact {
    pub name: String,
    pub running: bool,
    pub paused: Option<String>,
    pub error: Option<String>,
}

/// Healthy or not, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub ok: bool,
    pub problems: Vec<Problem>,
    /// A pair's node status, said in every answer.
    pub ha: Option<Value>,
}

/// One thing wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Before the start completed, or during shutdown: nothing else is
    /// checked then (stopping shippers are not a fault).
    NotReady { phase: Phase },
    /// The AMQP source is not connected: no input arrives.
    SourceDisconnected,
    /// The journal thread failed: no alert is journaled.
    JournalFailed { error: String },
    /// A shipper stopped: its sink receives nothing until a restart.
    ShipperStopped { sink: String, error: Option<String> },
    /// A sink's endpoint refuses every alert (wrong URL or credentials).
    SinkPaused { sink: String, reason: String },
    /// The pair cannot fail over (a standby that may not take over, a node
    /// its active refused).
    Pair { message: String },
}

/// The verdict on `f`: not ready before start and during shutdown; else
/// every problem found, healthy when there is none.
pub(crate) fn verdict(f: &Facts) -> Verdict {
    let ha = f.pair.as_ref().map(|p| p.status.clone());
    if f.phase != Phase::Ready {
        return Verdict {
            ok: false,
            problems: vec![Problem::NotReady { phase: f.phase }],
            ha,
        };
    }
    let mut problems = Vec::new();
    if f.source_connected == Some(false) {
        problems.push(Problem::SourceDisconnected);
    }
    if let Some(error) = &f.journal_error {
        problems.push(Problem::JournalFailed {
            error: error.clone(),
        });
    }
    for s in &f.sinks {
        if !s.running {
            problems.push(Problem::ShipperStopped {
                sink: s.name.clone(),
                error: s.error.clone(),
            });
        } else if let Some(reason) = &s.paused {
            problems.push(Problem::SinkPaused {
                sink: s.name.clone(),
                reason: reason.clone(),
            });
        }
    }
    if let Some(message) = f.pair.as_ref().and_then(|p| p.problem.clone()) {
        problems.push(Problem::Pair { message });
    }
    Verdict {
        ok: problems.is_empty(),
        problems,
        ha,
    }
}

impl Verdict {
    /// The HTTP status: 200 or 503.
    pub(crate) fn status(&self) -> u16 {
        if self.ok { 200 } else { 503 }
    }

    /// The body: `{"status":"ok"}`, or `{"status":"not ready","problems":[..]}`
    /// / `{"status":"unhealthy","problems":[..]}`, each problem an object
    /// with `check`, `state` and a `message` for people.
    pub(crate) fn to_json(&self) -> String {
        let with_ha = |mut v: Value| {
            if let (Some(ha), Some(o)) = (&self.ha, v.as_object_mut()) {
                o.insert("ha".into(), ha.clone());
            }
            v.to_string()
        };
        if self.ok {
            return with_ha(json!({"status": "ok"}));
        }
        let not_ready = self
            .problems
            .iter()
            .any(|p| matches!(p, Problem::NotReady { .. }));
        let status = if not_ready { "not ready" } else { "unhealthy" };
        let problems: Vec<Value> = self.problems.iter().map(Problem::to_json).collect();
        with_ha(json!({"status": status, "problems": problems}))
    }
}

impl Problem {
    fn to_json(&self) -> Value {
        match self {
            Problem::NotReady { phase } => {
                let (state, message) = match phase {
                    Phase::Starting => ("starting", "starting up"),
                    Phase::ShuttingDown => ("shutting down", "shutting down"),
                    Phase::Ready => ("ready", "ready"),
                };
                json!({"check": "process", "state": state, "message": message})
            }
            Problem::SourceDisconnected => json!({
                "check": "source",
                "state": "disconnected",
                "message": "the AMQP source is disconnected (reconnecting)",
            }),
            Problem::JournalFailed { error } => json!({
                "check": "journal",
                "state": "failed",
                "error": error,
                "message": format!("the journal is not written: {error}"),
            }),
            Problem::ShipperStopped { sink, error } => {
                let why = error.as_deref().unwrap_or("stopped");
                json!({
                    "check": "sink",
                    "sink": sink,
                    "state": "stopped",
                    "error": why,
                    "message": format!("sink {sink}: shipper stopped: {why}"),
                })
            }
            Problem::Pair { message } => json!({
                "check": "ha",
                "state": "degraded",
                "message": message,
            }),
            Problem::SinkPaused { sink, reason } => json!({
                "check": "sink",
                "sink": sink,
                "state": "paused",
                "reason": reason,
                "message": format!("sink {sink} paused: its endpoint refuses every alert ({reason})"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> Facts {
        Facts {
            phase: Phase::Ready,
            source_connected: None,
            journal_error: None,
            sinks: Vec::new(),
            pair: None,
        }
    }

    fn sink(name: &str, running: bool, paused: Option<&str>, error: Option<&str>) -> SinkFact {
        SinkFact {
            name: name.into(),
            running,
            paused: paused.map(String::from),
            error: error.map(String::from),
        }
    }

    #[test]
    fn healthy_when_nothing_is_wrong() {
        let mut f = ready();
        assert_eq!(
            verdict(&f),
            Verdict {
                ok: true,
                problems: vec![],
                ha: None,
            }
        );
        f.source_connected = Some(true);
        f.sinks = vec![sink("a", true, None, None), sink("b", true, None, None)];
        let v = verdict(&f);
        assert!(v.ok, "{v:?}");
        assert_eq!(
            (v.status(), v.to_json()),
            (200, r#"{"status":"ok"}"#.into())
        );
    }

    #[test]
    fn not_ready_before_start_and_during_shutdown_hides_the_rest() {
        for phase in [Phase::Starting, Phase::ShuttingDown] {
            let f = Facts {
                phase,
                source_connected: Some(false),
                journal_error: Some("disk full".into()),
                sinks: vec![sink("a", false, None, None)],
                pair: None,
            };
            assert_eq!(
                verdict(&f),
                Verdict {
                    ok: false,
                    problems: vec![Problem::NotReady { phase }],
                    ha: None,
                }
            );
            let v: Value = serde_json::from_str(&verdict(&f).to_json()).expect("json");
            assert_eq!(v["status"], "not ready");
            assert_eq!(v["problems"][0]["check"], "process");
        }
    }

    #[test]
    fn every_problem_is_named() {
        let f = Facts {
            phase: Phase::Ready,
            source_connected: Some(false),
            journal_error: Some("journal I/O on /j: disk full".into()),
            sinks: vec![
                sink("ok", true, None, None),
                sink("hook", true, Some("HTTP 404: no such hook"), None),
                sink(
                    "archive",
                    false,
                    None,
                    Some("journal I/O on /j/cursors/archive.cursor"),
                ),
                // Stopped wins over paused: nothing is retried any more.
                sink("sms", false, Some("HTTP 401"), None),
            ],
            pair: None,
        };
        let v = verdict(&f);
        assert_eq!(
            v.problems,
            vec![
                Problem::SourceDisconnected,
                Problem::JournalFailed {
                    error: "journal I/O on /j: disk full".into()
                },
                Problem::SinkPaused {
                    sink: "hook".into(),
                    reason: "HTTP 404: no such hook".into()
                },
                Problem::ShipperStopped {
                    sink: "archive".into(),
                    error: Some("journal I/O on /j/cursors/archive.cursor".into())
                },
                Problem::ShipperStopped {
                    sink: "sms".into(),
                    error: None
                },
            ]
        );
        assert!(!v.ok);
        assert_eq!(v.status(), 503);
        let body: Value = serde_json::from_str(&v.to_json()).expect("json");
        assert_eq!(body["status"], "unhealthy");
        let p = &body["problems"];
        assert_eq!(
            (p[0]["check"].as_str(), p[0]["state"].as_str()),
            (Some("source"), Some("disconnected"))
        );
        assert_eq!(
            (p[1]["check"].as_str(), p[1]["state"].as_str()),
            (Some("journal"), Some("failed"))
        );
        assert_eq!(
            (
                p[2]["sink"].as_str(),
                p[2]["state"].as_str(),
                p[2]["reason"].as_str()
            ),
            (Some("hook"), Some("paused"), Some("HTTP 404: no such hook"))
        );
        assert_eq!(
            (p[3]["sink"].as_str(), p[3]["state"].as_str()),
            (Some("archive"), Some("stopped"))
        );
        assert_eq!(p[4]["error"], "stopped");
        assert_eq!(p.as_array().map(Vec::len), Some(5));
    }

    #[test]
    fn the_facts_are_read_from_what_health_watches() {
        let h = Health::new();
        assert_eq!(h.facts().phase, Phase::Starting);
        h.set_ready(false);
        assert_eq!(
            h.facts().phase,
            Phase::Starting,
            "not ready yet is still starting"
        );
        h.set_ready(true);
        assert!(h.is_ready());
        assert!(h.verdict().ok);
        let counters = Arc::new(AmqpCounters::default());
        h.watch_source(Arc::clone(&counters));
        assert_eq!(h.verdict().problems, vec![Problem::SourceDisconnected]);
        counters.connected.store(1, Ordering::Relaxed);
        assert!(h.verdict().ok);
        let stats = Arc::new(SinkStats::named(
            "hook",
            "http",
            alerts::DeliveryMode::ExactlyOnce,
        ));
        stats.running.store(true, Ordering::Relaxed);
        h.watch_sink(Arc::clone(&stats));
        stats.set_paused(Some("HTTP 404"));
        assert_eq!(
            h.verdict().problems,
            vec![Problem::SinkPaused {
                sink: "hook".into(),
                reason: "HTTP 404".into()
            }]
        );
        stats.set_paused(None);
        let journal = Arc::new(JournalFailure::default());
        h.watch_journal(Arc::clone(&journal));
        assert!(h.verdict().ok);
        journal.set("disk full");
        journal.set("a later error");
        assert_eq!(
            h.verdict().problems,
            vec![Problem::JournalFailed {
                error: "disk full".into()
            }]
        );
        h.set_ready(false);
        assert_eq!(h.facts().phase, Phase::ShuttingDown);
    }

    #[test]
    fn a_pair_node_says_its_status_and_is_unhealthy_only_when_it_cannot_fail_over() {
        let mut f = ready();
        f.pair = Some(PairFact {
            status: json!({"node": "a", "role": "active", "peer_up": false}),
            problem: None,
        });
        let v = verdict(&f);
        assert!(v.ok, "an active alone still serves");
        let body: Value = serde_json::from_str(&v.to_json()).expect("json");
        assert_eq!(body["ha"]["role"], "active");
        f.pair = Some(PairFact {
            status: json!({"node": "b", "role": "standby"}),
            problem: Some("not eligible to take over: out of sync".into()),
        });
        let v = verdict(&f);
        assert_eq!(v.status(), 503);
        let body: Value = serde_json::from_str(&v.to_json()).expect("json");
        assert_eq!(body["problems"][0]["check"], "ha");
        assert_eq!(body["ha"]["node"], "b");
    }
}
