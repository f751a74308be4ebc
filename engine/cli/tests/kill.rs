//! SPEC §4 under SIGKILL: `aldebaran run` over a generated trade file, with
//! one sink of every kind configured against real endpoints (a file, stdout,
//! RabbitMQ, an HTTP server and an SMTP server in this test, a shell
//! command), is killed at 20+ random moments — while ingesting, while
//! journaling, while delivering — and restarted each time from its
//! checkpoint. At the end:
//! - the journal holds exactly the alerts `replay` gives for the file, in the
//!   same order, each once, seqs gapless;
//! - the exactly-once sinks hold exactly those alerts: the file byte for
//!   byte as the journal dump; AMQP and HTTP once each after deduplicating on
//!   `message_id` / `Idempotency-Key`, and a raw repeat only inside a send
//!   the restarted shipper reported in doubt;
//! - the at-least-once sinks (stdout, command) hold every alert, and a
//!   duplicate only inside a send the restarted shipper reported in doubt;
//! - the at-most-once sink (SMTP) holds no duplicate, and misses an alert
//!   only inside a send reported in doubt.

mod amqp_support;
mod sink_endpoints;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fs,
    path::Path,
    process::{Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use amqp_support::*;
use serde_json::Value;
use sink_endpoints::*;

/// SIGKILLs that must land on a running engine.
const KILLS: usize = 22;

/// A small deterministic generator for the kill moments (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn s(p: &Path) -> String {
    Value::from(p.to_str().expect("utf-8 path")).to_string()
}

/// How many records `journal dump` shows now (0 when it fails: the run may
/// be writing the frame it reads).
fn journaled(journal: &Path) -> usize {
    Command::new(BIN)
        .args(["journal", "dump", journal.to_str().expect("utf-8 path")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or(0, |o| {
            o.stdout
                .split(|&b| b == b'\n')
                .filter(|l| l.starts_with(b"{"))
                .count()
        })
}

/// The records of `replay` (with the end-of-input drain, like a finite `run`)
/// and its dead-letter file.
fn replayed(file: &Path, scratch: &Path) -> (Vec<Value>, String) {
    let journal = scratch.join("replay-journal");
    let dead = scratch.join("replay-dead.jsonl");
    aldebaran_ok(&[
        "replay",
        file.to_str().expect("utf-8"),
        "-q",
        "--dead-letter",
        dead.to_str().expect("utf-8"),
        "--journal",
        journal.to_str().expect("utf-8"),
        "--book-ttl-ms",
        &BOOK_TTL_MS.to_string(),
        "--tombstone-ttl-ms",
        &TOMBSTONE_TTL_MS.to_string(),
    ]);
    let dead = fs::read_to_string(&dead).expect("replay's dead letters");
    (journal_alerts(&journal), dead)
}

/// `sink=NAME ... from=A to=B` of every "delivery in doubt" log line.
fn in_doubt(logs: &str, sink: &str) -> Vec<(u64, u64)> {
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

/// `seq` of each record line (a JSON object with `seq` and `alert_id`).
fn seq_and_id(line: &str) -> (u64, String) {
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (
        v["seq"].as_u64().expect("seq"),
        v["alert_id"].as_str().expect("alert_id").to_owned(),
    )
}

/// Checks an at-least-once sink's deliveries; returns the duplicates.
#[track_caller]
fn check_at_least_once(
    name: &str,
    got: &[(u64, String)],
    want: &BTreeMap<u64, String>,
    doubt: &[(u64, u64)],
) -> usize {
    let mut count: HashMap<u64, usize> = HashMap::new();
    for (seq, id) in got {
        assert_eq!(
            want.get(seq),
            Some(id),
            "{name}: seq {seq} is not the journal's"
        );
        *count.entry(*seq).or_default() += 1;
    }
    for seq in want.keys() {
        assert!(
            count.contains_key(seq),
            "{name}: alert seq {seq} never delivered"
        );
    }
    let mut dups = 0;
    for (&seq, &n) in &count {
        if n > 1 {
            assert!(
                covered(doubt, seq),
                "{name}: seq {seq} delivered {n} times outside any reported in-doubt send {doubt:?}"
            );
            dups += n - 1;
        }
    }
    dups
}

#[test]
fn sigkill_at_random_moments_loses_and_repeats_no_alert() {
    broker();
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    let file = gen_file(dir, 4_000, 99);
    let (want, want_dead) = replayed(&file, dir);
    assert!(
        !want_dead.is_empty(),
        "the file should have malformed lines"
    );
    assert!(
        want.len() > 200,
        "the file should give a few hundred alerts"
    );

    let q = TestQueue::new("kill-alerts");
    let http = HttpEndpoint::start(37);
    let smtp = SmtpEndpoint::start();
    let journal = dir.join("journal");
    let state = dir.join("state");
    let alerts_file = dir.join("alerts.jsonl");
    let pager_file = dir.join("pager.jsonl");
    let dead_file = dir.join("dead.jsonl");
    let config = dir.join("aldebaran.toml");
    let text = format!(
        r#"
[engine]
batch_ms = 2
[overfill]
book_ttl_ms = {BOOK_TTL_MS}
tombstone_ttl_ms = {TOMBSTONE_TTL_MS}
[replay]
rate = 6000
dead_letter = {dead_file}
[source]
kind = "file"
[source.file]
path = {file}
follow = false
[journal]
dir = {journal}
[state]
dir = {state}
checkpoint_interval_ms = 40
[metrics]
listen = ""
[delivery]
shutdown_grace_ms = 2000
[sinks.archive]
kind = "file"
path = {alerts_file}
[sinks.console]
kind = "stdout"
mode = "at-least-once"
[sinks.bus]
kind = "amqp"
exchange = "{q}"
queue = "{q}"
routing_key = "{q}"
[sinks.hook]
kind = "http"
url = "{url}"
[sinks.pager]
kind = "command"
mode = "at-least-once"
command = ["sh", "-c", "cat >> {pager}; echo >> {pager}"]
[sinks.mail]
kind = "smtp"
mode = "at-most-once"
host = "127.0.0.1"
port = {smtp_port}
from = "aldebaran@example.com"
to = ["desk@example.com"]
"#,
        file = s(&file),
        journal = s(&journal),
        state = s(&state),
        alerts_file = s(&alerts_file),
        dead_file = s(&dead_file),
        q = q.name,
        url = http.url,
        pager = pager_file.to_str().expect("utf-8"),
        smtp_port = smtp.port,
    );
    fs::write(&config, text).expect("config");

    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = Rng(seed);
    let mut logs = String::new();
    let mut stdout_lines: Vec<(u64, String)> = Vec::new();
    let mut collect = |n: usize, logs: &mut String| {
        let out = fs::read_to_string(dir.join(format!("run-{n}.out"))).unwrap_or_default();
        for l in out.lines().filter(|l| l.starts_with("{\"seq\":")) {
            stdout_lines.push(seq_and_id(l));
        }
        logs.push_str(&fs::read_to_string(dir.join(format!("run-{n}.err"))).unwrap_or_default());
    };
    let start = |n: usize| {
        Command::new(BIN)
            .args(["run", "--config", config.to_str().expect("utf-8")])
            .env("RUST_LOG", "info,lapin=warn")
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join(format!("run-{n}.out"))).expect("out"))
            .stderr(fs::File::create(dir.join(format!("run-{n}.err"))).expect("err"))
            .spawn()
            .expect("start aldebaran run")
    };

    let mut kills = 0;
    let mut run = 0;
    // Kills that hit a run whose input was already done (delivering only).
    let mut delivery_kills = 0;
    let deadline = Instant::now() + PATIENCE;
    while kills < KILLS {
        assert!(Instant::now() < deadline, "too slow: {kills} kills so far");
        run += 1;
        let mut child = start(run);
        // Both phases must be hit, whatever the machine's speed: on a loaded
        // one, slow starts eat the random delay and a run ingests little
        // before its kill. Once the ingest kills have their share, a run is
        // let go until the journal holds every alert (the input is done),
        // then killed while it only delivers.
        let deliver_only = delivery_kills < 3 && kills - delivery_kills >= KILLS - 3;
        if deliver_only {
            while journaled(&journal) < want.len() {
                assert!(Instant::now() < deadline, "the input never finished");
                if child.try_wait().expect("try_wait").is_some() {
                    break;
                }
                sleep(Duration::from_millis(20));
            }
            sleep(Duration::from_millis(rng.between(0, 300)));
        } else {
            sleep(Duration::from_millis(rng.between(60, 700)));
        }
        match child.try_wait().expect("try_wait") {
            None => {
                child.kill().expect("SIGKILL");
                let _ = child.wait();
                kills += 1;
                let err =
                    fs::read_to_string(dir.join(format!("run-{run}.err"))).unwrap_or_default();
                if deliver_only || err.contains("resume=Done") {
                    delivery_kills += 1;
                }
            }
            Some(st) => {
                collect(run, &mut logs);
                panic!(
                    "run {run} exited by itself ({st}) after {kills} kills: the stream is too short for the kills\n{logs}"
                );
            }
        }
        collect(run, &mut logs);
    }

    // The last run goes to the end: the input, then every sink caught up.
    run += 1;
    let mut child = start(run);
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "the final run did not finish");
        sleep(Duration::from_millis(50));
    };
    collect(run, &mut logs);
    assert!(status.success(), "final run: {status}\n{logs}");
    assert!(
        delivery_kills >= 3 && kills - delivery_kills >= 3,
        "kills should land both while ingesting and while only delivering: {delivery_kills} of {kills} were after the input"
    );
    let restored = logs.matches("restored the checkpoint").count();
    assert!(
        restored >= KILLS / 2,
        "only {restored} restarts restored a checkpoint"
    );

    // The journal: exactly replay's alerts, in order, once each.
    let got = journal_alerts(&journal);
    assert_same_alerts(&got, &want);
    let dump = aldebaran_ok(&["journal", "dump", journal.to_str().expect("utf-8")]);
    let by_seq: BTreeMap<u64, String> = dump.lines().map(seq_and_id).collect();

    // The rejected lines: replay's dead letters, each once.
    let dead = fs::read_to_string(&dead_file).expect("dead letters");
    assert_eq!(
        dead, want_dead,
        "the dead-letter file differs from replay's"
    );

    // file (exactly-once): the journal dump, byte for byte.
    let archived = fs::read_to_string(&alerts_file).expect("alerts file");
    assert_eq!(archived, dump, "the file sink differs from the journal");

    // AMQP (exactly-once by message_id).
    let msgs = drain_amqp_queue(&q.name);
    let ids: BTreeSet<&str> = msgs.iter().map(|(id, _)| id.as_str()).collect();
    let want_ids: BTreeSet<&str> = by_seq.values().map(String::as_str).collect();
    assert_eq!(ids, want_ids, "AMQP message_ids");
    for (id, body) in &msgs {
        let (seq, body_id) = seq_and_id(body);
        assert_eq!(
            (by_seq.get(&seq).map(String::as_str), body_id.as_str()),
            (Some(id.as_str()), id.as_str())
        );
    }
    let amqp_doubt = in_doubt(&logs, "bus");
    // What reaches the consumer twice is only ever a send reported in doubt.
    let amqp_got: Vec<(u64, String)> = msgs.iter().map(|(_, body)| seq_and_id(body)).collect();
    let amqp_dups = check_at_least_once("bus", &amqp_got, &by_seq, &amqp_doubt);

    // HTTP (exactly-once by Idempotency-Key), through 503s.
    let hits = http.hits();
    let keys: BTreeSet<&str> = hits.iter().map(|h| h.idempotency_key.as_str()).collect();
    assert_eq!(keys, want_ids, "HTTP Idempotency-Keys");
    for h in &hits {
        let (seq, id) = seq_and_id(&h.body);
        assert_eq!(id, h.idempotency_key);
        assert_eq!(by_seq.get(&seq), Some(&id));
    }
    let http_got: Vec<(u64, String)> = hits.iter().map(|h| seq_and_id(&h.body)).collect();
    let http_dups = check_at_least_once("hook", &http_got, &by_seq, &in_doubt(&logs, "hook"));
    assert!(
        http.refused.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the 503s were exercised"
    );

    // at-least-once: stdout and the command.
    let console_dups = check_at_least_once(
        "console",
        &stdout_lines,
        &by_seq,
        &in_doubt(&logs, "console"),
    );
    let paged: Vec<(u64, String)> = fs::read_to_string(&pager_file)
        .expect("pager file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(seq_and_id)
        .collect();
    let pager_dups = check_at_least_once("pager", &paged, &by_seq, &in_doubt(&logs, "pager"));

    // at-most-once: SMTP.
    let mail_doubt = in_doubt(&logs, "mail");
    let mails = smtp.mails();
    let mut mail_ids = BTreeSet::new();
    for m in &mails {
        assert!(
            mail_ids.insert(m.message_id.clone()),
            "mail {} sent twice",
            m.message_id
        );
    }
    let mut by_message_id: HashMap<String, u64> = HashMap::new();
    for m in &mails {
        let json_start = m
            .data
            .find("{\"seq\":")
            .expect("the alert JSON in the mail");
        let unfolded = m.data[json_start..]
            .replace("=\r\n", "")
            .replace("=3D", "=");
        let line = unfolded.lines().next().expect("json line");
        let (seq, _) = seq_and_id(line);
        by_message_id.insert(m.message_id.clone(), seq);
    }
    let mailed: BTreeSet<u64> = by_message_id.values().copied().collect();
    let mut mail_missing = 0;
    for seq in by_seq.keys() {
        if !mailed.contains(seq) {
            assert!(
                covered(&mail_doubt, *seq),
                "mail: seq {seq} missing outside any reported in-doubt send {mail_doubt:?}"
            );
            mail_missing += 1;
        }
    }

    eprintln!(
        "kill test (seed {seed:#x}): {kills} kills over {run} runs ({delivery_kills} after the input was done), {} alerts; \
         duplicates seen: amqp {amqp_dups} (in-doubt reports {}), http {http_dups}, \
         stdout {console_dups}, command {pager_dups}; mails missing {mail_missing} \
         (in-doubt reports {})",
        want.len(),
        amqp_doubt.len(),
        mail_doubt.len()
    );
}
