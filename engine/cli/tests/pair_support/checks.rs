//! What the failover tests demand of the sinks and the journals at the end:
//! each exactly-once sink holds exactly replay's alerts, a raw repeat only
//! inside a send a new active reported in doubt, the epochs never go down in
//! arrival order (never two shippers at once), and the journals of the two
//! nodes hold the same alert at every seq they share.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Debug,
    fs,
    time::Duration,
};

use serde_json::Value;

use super::Pair;
use crate::{
    amqp_support::{assert_same_alerts, journal_alerts},
    sink_endpoints::drain_amqp_messages,
};

/// `sink=NAME ... from=A to=B` of every "delivery in doubt" log line.
pub fn in_doubt(logs: &str, sink: &str) -> Vec<(u64, u64)> {
    let field = |l: &str, k: &str| -> Option<u64> {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
    };
    logs.lines()
        .filter(|l| l.contains("delivery in doubt") && l.contains(&format!("sink={sink} ")))
        .filter_map(|l| Some((field(l, "from=")?, field(l, "to=")?)))
        .collect()
}

fn covered(ranges: &[(u64, u64)], seq: u64) -> bool {
    ranges.iter().any(|&(a, b)| (a..=b).contains(&seq))
}

/// `seq` and `alert_id` of a record line (a JSON object with both).
#[track_caller]
pub fn seq_and_id(line: &str) -> (u64, String) {
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (
        v["seq"].as_u64().expect("seq"),
        v["alert_id"].as_str().expect("alert_id").to_owned(),
    )
}

/// The records of a journal dump by seq, checking the seqs run 1, 2, 3, …
#[track_caller]
pub fn records(dump: &str, what: &str) -> BTreeMap<u64, Value> {
    let mut out = BTreeMap::new();
    for (i, l) in dump.lines().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l}"));
        let seq = v["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: no seq: {l}"));
        assert_eq!(seq, i as u64 + 1, "{what}: seqs are not gapless at {l}");
        out.insert(seq, v);
    }
    out
}

/// Asserts both journals hold the same alert at every seq they share
/// (every field but `detected_at`, the wall clock of the node that
/// journaled it: a record the dead active never replicated is journaled
/// again by its successor, later); returns how many seqs they share.
#[track_caller]
pub fn journals_agree(a: &str, b: &str) -> usize {
    let (ra, rb) = (records(a, "first journal"), records(b, "second journal"));
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("detected_at");
        }
        v
    };
    let shared = ra.len().min(rb.len());
    for seq in 1..=shared as u64 {
        let (x, y) = (&ra[&seq], &rb[&seq]);
        assert_eq!(
            strip(x),
            strip(y),
            "the journals differ at seq {seq} (of {} and {} records)",
            ra.len(),
            rb.len()
        );
    }
    shared
}

/// Names what one set has that the other lacks (ten of each at most).
fn set_diff<T: Ord + Debug>(got: &BTreeSet<T>, want: &BTreeSet<T>) -> String {
    let missing: Vec<&T> = want.difference(got).take(10).collect();
    let extra: Vec<&T> = got.difference(want).take(10).collect();
    format!(
        "{} got, {} wanted; missing {} (first {missing:?}), unexpected {} (first {extra:?})",
        got.len(),
        want.len(),
        want.difference(got).count(),
        got.difference(want).count()
    )
}

/// Asserts `epochs` (in arrival order) never go down; names the first drop.
#[track_caller]
pub fn assert_epochs_never_go_down(sink: &str, epochs: &[u64]) {
    if let Some(i) = (1..epochs.len()).find(|&i| epochs[i] < epochs[i - 1]) {
        let lo = i.saturating_sub(5);
        panic!(
            "{sink}: epoch {} arrived after epoch {} (delivery #{i} of {}): two nodes shipped \
             at once; epochs around it: {:?}",
            epochs[i],
            epochs[i - 1],
            epochs.len(),
            &epochs[lo..(i + 5).min(epochs.len())]
        );
    }
}

/// What one exactly-once sink over a key received, checked against the
/// final journal (`by_seq`): the keys are exactly the journal's ids, each
/// delivery is the journal's record, and a key delivered twice lies inside
/// a reported in-doubt range. Returns the raw duplicates.
#[track_caller]
fn check_keyed(
    sink: &str,
    got: &[(String, String)],
    by_seq: &BTreeMap<u64, String>,
    doubt: &[(u64, u64)],
) -> usize {
    let want: BTreeSet<&str> = by_seq.values().map(String::as_str).collect();
    let keys: BTreeSet<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys == want,
        "{sink}: the keys are not the journal's alert ids: {}",
        set_diff(&keys, &want)
    );
    let mut count: HashMap<u64, usize> = HashMap::new();
    for (key, body) in got {
        let (seq, id) = seq_and_id(body);
        assert_eq!(&id, key, "{sink}: a body's alert_id is not its key");
        assert_eq!(
            by_seq.get(&seq),
            Some(&id),
            "{sink}: seq {seq} is not the journal's {id}"
        );
        *count.entry(seq).or_default() += 1;
    }
    let mut dups = 0;
    for (&seq, &n) in &count {
        if n > 1 {
            assert!(
                covered(doubt, seq),
                "{sink}: seq {seq} delivered {n} times outside any reported in-doubt send {doubt:?}"
            );
            dups += n - 1;
        }
    }
    dups
}

/// What the sinks showed, for the test's closing line.
#[derive(Debug, Default)]
pub struct SinkReport {
    pub alerts: usize,
    pub http_dups: usize,
    pub amqp_dups: usize,
    /// The distinct epochs seen, in arrival order, per sink.
    pub http_epochs: Vec<u64>,
    pub amqp_epochs: Vec<u64>,
    pub in_doubt: usize,
    /// At each change of epoch at the HTTP receiver: the time between the
    /// last delivery under the old epoch and the first under the new.
    pub http_handovers: Vec<Duration>,
}

fn distinct_in_order(epochs: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for &e in epochs {
        if out.last() != Some(&e) {
            out.push(e);
        }
    }
    out
}

/// The whole end-of-test check, once both nodes are stopped: `journal` is
/// the final active's (holding everything), `logs` every run's log of both
/// nodes (the in-doubt reports of each new active).
#[track_caller]
pub fn check_sinks(pair: &Pair, journal: &std::path::Path, logs: &str) -> SinkReport {
    // The engine: exactly replay's alerts, in order, each once.
    assert_same_alerts(&journal_alerts(journal), &pair.want.alerts);
    let dump = super::dump(journal);
    let by_seq: BTreeMap<u64, String> = dump.lines().map(seq_and_id).collect();

    // file (exactly-once, shared by both nodes): the journal, byte for byte.
    let archived = fs::read_to_string(&pair.archive).unwrap_or_default();
    if archived != dump {
        let lines: Vec<(u64, String)> = archived.lines().map(seq_and_id).collect();
        let mut seen = HashMap::new();
        for (seq, id) in &lines {
            if let Some(prev) = seen.insert(id.clone(), *seq) {
                panic!("file sink: {id} written twice (seq {prev} and {seq})");
            }
        }
        let got: BTreeSet<&str> = lines.iter().map(|(_, id)| id.as_str()).collect();
        let want: BTreeSet<&str> = by_seq.values().map(String::as_str).collect();
        let first = archived.lines().zip(dump.lines()).position(|(x, y)| x != y);
        panic!(
            "the file sink differs from the final journal: {}; first differing line {first:?}",
            set_diff(&got, &want)
        );
    }

    // AMQP (exactly-once by message_id), epochs in queue order.
    let msgs = drain_amqp_messages(&pair.alerts.name);
    let amqp_epochs: Vec<u64> = msgs
        .iter()
        .map(|m| match m.epoch {
            Some(e) if e > 0 => e as u64,
            other => panic!("AMQP message {} carries epoch {other:?}", m.message_id),
        })
        .collect();
    assert_epochs_never_go_down("AMQP sink", &amqp_epochs);
    let amqp: Vec<(String, String)> = msgs.into_iter().map(|m| (m.message_id, m.body)).collect();
    let bus_doubt = in_doubt(logs, "bus");
    let amqp_dups = check_keyed("AMQP sink", &amqp, &by_seq, &bus_doubt);

    // HTTP (exactly-once by Idempotency-Key), epochs in arrival order.
    let hits = pair.http.hits();
    let http_epochs: Vec<u64> = hits
        .iter()
        .map(|h| {
            h.epoch
                .as_deref()
                .and_then(|e| e.parse().ok())
                .filter(|&e: &u64| e > 0)
                .unwrap_or_else(|| {
                    panic!(
                        "HTTP delivery {} carries epoch {:?}",
                        h.idempotency_key, h.epoch
                    )
                })
        })
        .collect();
    assert_epochs_never_go_down("HTTP sink", &http_epochs);
    let http_handovers = (1..hits.len())
        .filter(|&i| http_epochs[i] != http_epochs[i - 1])
        .map(|i| hits[i].at.duration_since(hits[i - 1].at))
        .collect();
    let http: Vec<(String, String)> = hits
        .into_iter()
        .map(|h| (h.idempotency_key, h.body))
        .collect();
    let hook_doubt = in_doubt(logs, "hook");
    let http_dups = check_keyed("HTTP sink", &http, &by_seq, &hook_doubt);

    SinkReport {
        alerts: by_seq.len(),
        http_dups,
        amqp_dups,
        http_epochs: distinct_in_order(&http_epochs),
        amqp_epochs: distinct_in_order(&amqp_epochs),
        in_doubt: bus_doubt.len() + hook_doubt.len() + in_doubt(logs, "archive").len(),
        http_handovers,
    }
}
