//! End-to-end shipping: a journal written with `Journal`, shippers run over it
//! with real and scripted sinks, and crashes simulated by a sink that panics
//! mid-send (the shipper thread dies with its cursor marked in flight, as a
//! SIGKILL would leave it).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerts::delivery::StartFrom;
use alerts::delivery::{AlertFields, DurableHead, Outgoing, SendError, SendFailure, Sink};
use alerts::{
    AlertsError, DeliveryMode, InDoubtAction, Journal, JournalOptions, ShipperExit, ShipperReport,
    ShipperSpec, SinkConfig, read_cursors, spawn_shipper,
};

fn write_journal(dir: &Path, from: u64, to: u64) {
    let (mut j, _) = Journal::open(
        dir,
        JournalOptions {
            segment_bytes: 512,
            ..JournalOptions::default()
        },
    )
    .expect("open");
    for i in from..=to {
        let payload = format!(r#"{{"alert_id":"overfill:o{i}","kind":"overfill","filled":{i}}}"#);
        assert_eq!(j.append(payload.as_bytes()).expect("append"), i);
    }
    j.sync().expect("sync");
}

fn dump_lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    alerts::dump(dir, &mut out).expect("dump");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(String::from)
        .collect()
}

fn file_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => t.lines().map(String::from).collect(),
        Err(_) => Vec::new(),
    }
}

fn spec(journal: &Path, name: &str, kind: &str, mode: DeliveryMode, durable: u64) -> ShipperSpec {
    ShipperSpec {
        name: name.into(),
        kind: kind.into(),
        mode,
        start: StartFrom::Oldest,
        journal_dir: journal.to_path_buf(),
        durable: Arc::new(DurableHead::new(durable)),
        retry_min: Duration::from_millis(1),
        retry_max: Duration::from_millis(10),
        dead_letter: journal.join("cursors").join(format!("{name}.dead.jsonl")),
        poll_interval: Duration::from_millis(2),
        gate: None,
        mirror: None,
    }
}

fn file_config(name: &str, path: &Path) -> SinkConfig {
    let text = format!(
        "kind = \"file\"\npath = {:?}\nretry_min_ms = 1\nretry_max_ms = 10",
        path
    );
    // No template here: the fields every record has are enough.
    SinkConfig::from_toml(
        name,
        &toml::from_str(&text).expect("toml"),
        &AlertFields::new(),
    )
    .expect("config")
}

/// Runs a shipper until everything durable is delivered.
fn ship_all(spec: ShipperSpec, sink: Box<dyn Sink>) -> ShipperReport {
    let handle = spawn_shipper(spec, sink).expect("spawn");
    handle.finish(Instant::now() + Duration::from_secs(60));
    let report = handle.join().expect("join");
    assert_eq!(report.exit, ShipperExit::Finished);
    report
}

fn ship_file(journal: &Path, out: &Path, durable: u64) -> ShipperReport {
    let cfg = file_config("archive", out);
    let spec = cfg.shipper_spec(journal, Arc::new(DurableHead::new(durable)));
    ship_all(spec, cfg.open_sink().expect("sink"))
}

/// Appends `lines` (plus `torn` bytes of a next line) to `path`, then panics:
/// a crash after the sink got the data, before the shipper heard back.
struct CrashingFileSink {
    path: PathBuf,
    torn: &'static str,
}

impl Sink for CrashingFileSink {
    fn max_batch(&self) -> usize {
        4
    }
    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .expect("open");
        for o in batch {
            f.write_all(&o.json).expect("write");
            f.write_all(b"\n").expect("write");
        }
        f.write_all(self.torn.as_bytes()).expect("write");
        panic!("simulated crash during send");
    }
}

/// Ships 1..=4 cleanly, then crashes during the send of 5..=8 after the sink
/// wrote `torn` extra bytes of line 9 (never complete lines past 8).
fn crash_during_second_send(journal: &Path, out: &Path, torn: &'static str, keep: usize) {
    ship_file(journal, out, 4);
    let sink = CrashingFileSink {
        path: out.to_path_buf(),
        torn,
    };
    let spec = file_config("archive", out).shipper_spec(journal, Arc::new(DurableHead::new(8)));
    let err = spawn_shipper(spec, Box::new(sink))
        .expect("spawn")
        .join()
        .expect_err("crash");
    assert!(matches!(err, AlertsError::ShipperPanicked { .. }), "{err}");
    // Keep only the first `keep` records the crashing send wrote.
    let mut lines = file_lines(out);
    lines.truncate(4 + keep);
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str(torn);
    std::fs::write(out, text).expect("rewrite");
    let cursors = read_cursors(journal).expect("cursors");
    assert_eq!((cursors[0].delivered, cursors[0].in_flight_to), (4, 8));
}

#[test]
fn file_sink_ships_exactly_the_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, out) = (dir.path().join("j"), dir.path().join("out.jsonl"));
    write_journal(&journal, 1, 50);
    let report = ship_file(&journal, &out, 50);
    assert_eq!(
        (report.cursor, report.delivered, report.in_doubt),
        (50, 50, None)
    );
    assert_eq!(file_lines(&out), dump_lines(&journal));
    let cursors = read_cursors(&journal).expect("cursors");
    assert_eq!(cursors.len(), 1);
    let c = &cursors[0];
    assert_eq!(
        (c.name.as_str(), c.kind.as_deref()),
        ("archive", Some("file"))
    );
    assert_eq!(
        (c.mode, c.delivered, c.in_flight_to),
        (Some(DeliveryMode::ExactlyOnce), 50, 50)
    );
    assert_eq!(alerts::journal_last_seq(&journal).expect("last"), Some(50));
    // More records later: the next run continues from the cursor.
    write_journal(&journal, 51, 60);
    let report = ship_file(&journal, &out, 60);
    assert_eq!(report.delivered, 10);
    assert_eq!(file_lines(&out), dump_lines(&journal));
}

#[test]
fn in_flight_range_already_in_the_file_is_not_written_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, out) = (dir.path().join("j"), dir.path().join("out.jsonl"));
    write_journal(&journal, 1, 12);
    crash_during_second_send(&journal, &out, "", 4);
    let report = ship_file(&journal, &out, 12);
    let in_doubt = report.in_doubt.expect("in doubt reported");
    assert_eq!(
        (in_doubt.from, in_doubt.to, in_doubt.action),
        (5, 8, InDoubtAction::Resent)
    );
    assert_eq!(
        in_doubt.alert_ids,
        ["overfill:o5", "overfill:o6", "overfill:o7", "overfill:o8"]
    );
    // The file held 5..=8 already: only 9..=12 were sent.
    assert_eq!(report.delivered, 4);
    assert_eq!(file_lines(&out), dump_lines(&journal));
}

#[test]
fn torn_last_line_is_cut_and_resent_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, out) = (dir.path().join("j"), dir.path().join("out.jsonl"));
    write_journal(&journal, 1, 10);
    // Records 5 and 6 reached the file, then half of 7.
    crash_during_second_send(&journal, &out, "{\"seq\":7,\"alert_id\":\"over", 2);
    let report = ship_file(&journal, &out, 10);
    assert_eq!(report.in_doubt.map(|d| (d.from, d.to)), Some((5, 8)));
    assert_eq!(report.delivered, 4); // 7..=10
    assert_eq!(file_lines(&out), dump_lines(&journal));
}

#[test]
fn nothing_past_the_durable_head_is_shipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, out) = (dir.path().join("j"), dir.path().join("out.jsonl"));
    write_journal(&journal, 1, 10);
    let cfg = file_config("archive", &out);
    let durable = Arc::new(DurableHead::new(6));
    let handle = spawn_shipper(
        cfg.shipper_spec(&journal, Arc::clone(&durable)),
        cfg.open_sink().expect("sink"),
    )
    .expect("spawn");
    let stats = handle.stats();
    while stats.cursor.load(Ordering::Relaxed) < 6 {
        std::thread::sleep(Duration::from_millis(2));
    }
    // Give it many polls to (wrongly) go further.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(file_lines(&out), dump_lines(&journal)[..6]);
    durable.publish(10);
    handle.finish(Instant::now() + Duration::from_secs(60));
    let report = handle.join().expect("join");
    assert_eq!((report.cursor, report.exit), (10, ShipperExit::Finished));
    assert_eq!(file_lines(&out), dump_lines(&journal));
}

/// A scripted sink: fails `transient` times, dead-letters `permanent` seqs.
struct FlakySink {
    got: Arc<Mutex<Vec<u64>>>,
    transient: u32,
    permanent: Vec<u64>,
}

impl Sink for FlakySink {
    fn max_batch(&self) -> usize {
        3
    }
    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        if self.transient > 0 {
            self.transient -= 1;
            return Err(SendFailure {
                delivered: 0,
                error: SendError::Transient("endpoint down".into()),
            });
        }
        for (i, o) in batch.iter().enumerate() {
            if self.permanent.contains(&o.seq) {
                return Err(SendFailure {
                    delivered: i,
                    error: SendError::Permanent(format!("rejected {}", o.alert_id)),
                });
            }
            self.got.lock().expect("lock").push(o.seq);
        }
        Ok(())
    }
}

#[test]
fn transient_is_retried_permanent_is_dead_lettered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 10);
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = FlakySink {
        got: Arc::clone(&got),
        transient: 2,
        permanent: vec![5],
    };
    let spec = spec(&journal, "flaky", "test", DeliveryMode::AtLeastOnce, 10);
    let dead = spec.dead_letter.clone();
    let handle = spawn_shipper(spec, Box::new(sink)).expect("spawn");
    let stats = handle.stats();
    handle.finish(Instant::now() + Duration::from_secs(60));
    let report = handle.join().expect("join");
    assert_eq!(*got.lock().expect("lock"), [1, 2, 3, 4, 6, 7, 8, 9, 10]);
    assert_eq!(
        (
            report.retried,
            report.failed,
            report.delivered,
            report.cursor
        ),
        (2, 1, 9, 10)
    );
    assert_eq!(stats.retried.load(Ordering::Relaxed), 2);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    let lines = file_lines(&dead);
    assert_eq!(lines.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(v["seq"], 5);
    assert_eq!(v["alert_id"], "overfill:o5");
    assert_eq!(v["sink"], "flaky");
    assert_eq!(v["reason"], "rejected overfill:o5");
    // The record is embedded byte for byte as `journal dump` prints it.
    let record = format!("\"record\":{}}}", dump_lines(&journal)[4]);
    assert!(lines[0].ends_with(&record), "{}", lines[0]);
}

#[test]
fn stop_interrupts_an_endless_back_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 3);
    let sink = FlakySink {
        got: Arc::default(),
        transient: u32::MAX,
        permanent: Vec::new(),
    };
    let handle = spawn_shipper(
        spec(&journal, "down", "test", DeliveryMode::AtLeastOnce, 3),
        Box::new(sink),
    )
    .expect("spawn");
    let stats = handle.stats();
    while stats.retried.load(Ordering::Relaxed) < 3 {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(stats.running.load(Ordering::Relaxed), "up while retrying");
    handle.stop();
    let report = handle.join().expect("join");
    assert_eq!((report.exit, report.cursor), (ShipperExit::Stopped, 0));
    assert!(!stats.running.load(Ordering::Relaxed), "down once stopped");
    // A deadline ends a finish that cannot complete, reporting what is left.
    let sink = FlakySink {
        got: Arc::default(),
        transient: u32::MAX,
        permanent: Vec::new(),
    };
    let handle = spawn_shipper(
        spec(&journal, "down", "test", DeliveryMode::AtLeastOnce, 3),
        Box::new(sink),
    )
    .expect("spawn");
    handle.finish(Instant::now() + Duration::from_millis(30));
    let report = handle.join().expect("join");
    assert_eq!(report.exit, ShipperExit::Deadline { behind: 3 });
}

/// Crashes (panics) on its first send without delivering anything.
struct CrashOnSend;

impl Sink for CrashOnSend {
    fn max_batch(&self) -> usize {
        4
    }
    fn send(&mut self, _: &[Outgoing]) -> Result<(), SendFailure> {
        panic!("simulated crash during send");
    }
}

fn in_doubt_then_restart(mode: DeliveryMode) -> (ShipperReport, Vec<u64>, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 6);
    let err = spawn_shipper(
        spec(&journal, "sms", "test", mode, 6),
        Box::new(CrashOnSend),
    )
    .expect("spawn")
    .join()
    .expect_err("crash");
    assert!(matches!(err, AlertsError::ShipperPanicked { .. }));
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = FlakySink {
        got: Arc::clone(&got),
        transient: 0,
        permanent: Vec::new(),
    };
    let handle =
        spawn_shipper(spec(&journal, "sms", "test", mode, 6), Box::new(sink)).expect("spawn");
    let stats = handle.stats();
    handle.finish(Instant::now() + Duration::from_secs(60));
    let report = handle.join().expect("join");
    let seqs = got.lock().expect("lock").clone();
    (report, seqs, stats.in_doubt.load(Ordering::Relaxed))
}

#[test]
fn at_most_once_skips_the_in_doubt_range() {
    let (report, got, in_doubt_stat) = in_doubt_then_restart(DeliveryMode::AtMostOnce);
    let d = report.in_doubt.expect("reported");
    assert_eq!((d.from, d.to, d.action), (1, 4, InDoubtAction::Skipped));
    assert_eq!(d.alert_ids.len(), 4);
    assert_eq!(
        (d.first_alert_id.as_deref(), d.last_alert_id.as_deref()),
        (Some("overfill:o1"), Some("overfill:o4"))
    );
    assert_eq!(in_doubt_stat, 4);
    assert_eq!(got, [5, 6]);
    assert_eq!(report.cursor, 6);
}

/// Crashes (panics) on its first send, a batch of up to 40 records.
struct CrashOnBigSend;

impl Sink for CrashOnBigSend {
    fn max_batch(&self) -> usize {
        40
    }
    fn send(&mut self, _: &[Outgoing]) -> Result<(), SendFailure> {
        panic!("simulated crash during send");
    }
}

#[test]
fn a_large_in_doubt_range_reports_its_first_and_last_alert_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 50);
    let spec = || spec(&journal, "bulk", "test", DeliveryMode::AtLeastOnce, 50);
    let err = spawn_shipper(spec(), Box::new(CrashOnBigSend))
        .expect("spawn")
        .join()
        .expect_err("crash");
    assert!(matches!(err, AlertsError::ShipperPanicked { .. }));
    let sink = FlakySink {
        got: Arc::default(),
        transient: 0,
        permanent: Vec::new(),
    };
    let report = ship_all(spec(), Box::new(sink));
    let d = report.in_doubt.expect("reported");
    assert_eq!((d.from, d.to, d.records()), (1, 40, 40));
    assert_eq!(d.first_alert_id.as_deref(), Some("overfill:o1"));
    assert_eq!(d.last_alert_id.as_deref(), Some("overfill:o40"));
    assert!(d.alert_ids.is_empty(), "a large range lists only its ends");
    assert_eq!(
        d.describe(),
        "seq 1..=40 (40 records, alert_id overfill:o1 .. overfill:o40)"
    );
}

#[test]
fn at_least_once_resends_the_in_doubt_range() {
    let (report, got, in_doubt_stat) = in_doubt_then_restart(DeliveryMode::AtLeastOnce);
    let d = report.in_doubt.expect("reported");
    assert_eq!((d.from, d.to, d.action), (1, 4, InDoubtAction::Resent));
    assert_eq!(in_doubt_stat, 4);
    assert_eq!(got, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn command_sink_retries_tempfail_and_dead_letters_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 5);
    let (out, mark) = (dir.path().join("out.jsonl"), dir.path().join("mark"));
    // Seq 2 fails temporarily once (exit 75), seq 4 permanently (exit 3).
    let script = format!(
        "if [ \"$ALDEBARAN_SEQ\" = 2 ] && [ ! -e {mark} ]; then touch {mark}; exit 75; fi; \
         if [ \"$ALDEBARAN_SEQ\" = 4 ]; then echo no such recipient >&2; exit 3; fi; \
         cat >> {out}",
        mark = mark.display(),
        out = out.display()
    );
    let text = format!(
        "kind = \"command\"\ncommand = [\"sh\", \"-c\", {script:?}]\nretry_min_ms = 1\nretry_max_ms = 5"
    );
    let cfg = SinkConfig::from_toml(
        "pager",
        &toml::from_str(&text).expect("toml"),
        &AlertFields::new(),
    )
    .expect("config");
    assert_eq!(cfg.mode, DeliveryMode::AtLeastOnce);
    let spec = cfg.shipper_spec(&journal, Arc::new(DurableHead::new(5)));
    let dead = spec.dead_letter.clone();
    let report = ship_all(spec, cfg.open_sink().expect("sink"));
    assert_eq!((report.retried, report.failed, report.delivered), (1, 1, 4));
    let all = dump_lines(&journal);
    assert_eq!(
        file_lines(&out),
        [all[0].as_str(), &all[1], &all[2], &all[4]]
    );
    let dead = file_lines(&dead);
    assert_eq!(dead.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&dead[0]).expect("json");
    assert_eq!(
        (v["seq"].as_u64(), v["reason"].as_str()),
        (Some(4), Some("exit 3: no such recipient"))
    );
}

/// An HTTP receiver answering 404 while `down` is set and 200 otherwise,
/// counting the requests it refused and recording the `Idempotency-Key` of
/// each one it accepted.
#[cfg(feature = "http")]
struct Receiver {
    url: String,
    down: Arc<std::sync::atomic::AtomicBool>,
    refused: Arc<std::sync::atomic::AtomicU64>,
    keys: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

#[cfg(feature = "http")]
impl Receiver {
    fn start() -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU64};
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        let r = Receiver {
            url: format!("http://127.0.0.1:{port}/wrong/path"),
            down: Arc::new(AtomicBool::new(true)),
            refused: Arc::new(AtomicU64::new(0)),
            keys: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (down, refused, keys, stop) = (
            Arc::clone(&r.down),
            Arc::clone(&r.refused),
            Arc::clone(&r.keys),
            Arc::clone(&r.stop),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                if down.load(Ordering::Relaxed) {
                    refused.fetch_add(1, Ordering::Relaxed);
                    let _ = req.respond(
                        tiny_http::Response::from_string("no such hook").with_status_code(404),
                    );
                    continue;
                }
                let key = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Idempotency-Key"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                keys.lock().expect("keys").push(key);
                let _ = req.respond(tiny_http::Response::empty(200));
            }
        });
        r
    }
}

#[cfg(feature = "http")]
impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A 404 says the URL is wrong, not the alert: the sink pauses (nothing is
/// dead-lettered, the records wait), retries slowly, and once the endpoint
/// answers 200 every alert is delivered exactly once.
#[cfg(feature = "http")]
#[test]
fn an_http_404_pauses_the_sink_instead_of_dead_lettering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 10);
    let hook = Receiver::start();
    let text = format!(
        "kind = \"http\"\nurl = {:?}\nretry_min_ms = 1\nretry_max_ms = 20",
        hook.url
    );
    let cfg = SinkConfig::from_toml(
        "hook",
        &toml::from_str(&text).expect("toml"),
        &AlertFields::new(),
    )
    .expect("config");
    let spec = cfg.shipper_spec(&journal, Arc::new(DurableHead::new(10)));
    let dead = spec.dead_letter.clone();
    let handle = spawn_shipper(spec, cfg.open_sink().expect("sink")).expect("spawn");
    let stats = handle.stats();
    let deadline = Instant::now() + Duration::from_secs(60);
    while hook.refused.load(Ordering::Relaxed) < 5 {
        assert!(Instant::now() < deadline, "the sink never retried");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        stats.failed.load(Ordering::Relaxed),
        0,
        "nothing dead-lettered"
    );
    assert_eq!(stats.cursor.load(Ordering::Relaxed), 0, "nothing skipped");
    assert!(!dead.exists(), "no dead-letter file");
    assert_eq!(
        stats.paused().as_deref(),
        Some("HTTP 404: no such hook"),
        "the pause and its reason show in the stats"
    );
    assert!(stats.running.load(Ordering::Relaxed), "paused, not stopped");
    hook.down.store(false, Ordering::Relaxed);
    handle.finish(Instant::now() + Duration::from_secs(60));
    let report = handle.join().expect("join");
    assert_eq!(
        (report.exit, report.delivered, report.failed, report.cursor),
        (ShipperExit::Finished, 10, 0, 10)
    );
    assert_eq!((report.paused, stats.paused()), (None, None), "resumed");
    let want: Vec<String> = (1..=10).map(|i| format!("overfill:o{i}")).collect();
    assert_eq!(
        *hook.keys.lock().expect("keys"),
        want,
        "each alert once, in order"
    );
    assert!(!dead.exists(), "no dead-letter file");
}

/// A sink that has shipped from a journal and lost its cursor refuses to
/// start instead of starting over; a new sink starts where `start` says.
#[test]
fn a_registered_sink_without_its_cursor_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, out) = (dir.path().join("j"), dir.path().join("out.jsonl"));
    write_journal(&journal, 1, 10);
    ship_file(&journal, &out, 10);
    let cursor = journal.join("cursors").join("archive.cursor");
    std::fs::remove_file(&cursor).expect("delete");
    let cfg = file_config("archive", &out);
    let err = spawn_shipper(
        cfg.shipper_spec(&journal, Arc::new(DurableHead::new(10))),
        cfg.open_sink().expect("sink"),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(&err, AlertsError::CursorMissing { sink, .. } if sink == "archive"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("archive.cursor") && text.contains("--reset archive"),
        "{text}"
    );
    assert!(!cursor.exists(), "the refusal creates nothing");

    // Reset to the head, it resumes from there.
    alerts::delivery::reset_cursor(&journal, "archive", alerts::delivery::ResetTo::Head)
        .expect("reset");
    write_journal(&journal, 11, 12);
    let report = ship_file(&journal, &out, 12);
    assert_eq!((report.delivered, report.cursor), (2, 12));
    assert_eq!(file_lines(&out), dump_lines(&journal));

    // A new sink with start = "head" gets only what comes after it.
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = || FlakySink {
        got: Arc::clone(&got),
        transient: 0,
        permanent: Vec::new(),
    };
    let mut late = spec(&journal, "late", "test", DeliveryMode::AtLeastOnce, 12);
    late.start = StartFrom::Head;
    assert_eq!(ship_all(late.clone(), Box::new(sink())).cursor, 12);
    write_journal(&journal, 13, 14);
    late.durable = Arc::new(DurableHead::new(14));
    // The start key matters only the first time: its cursor says now.
    late.start = StartFrom::Oldest;
    ship_all(late, Box::new(sink()));
    assert_eq!(*got.lock().expect("lock"), [13, 14]);
}

/// The newer cursor slot damaged: reported as damage, and the send the older
/// slot has in flight is in doubt because of it, not because of a crash.
#[test]
fn a_damaged_cursor_slot_is_reported_as_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 8);
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = || FlakySink {
        got: Arc::clone(&got),
        transient: 0,
        permanent: Vec::new(),
    };
    // Batches of 3: marks (0, 3) gen 1, (3, 6) gen 2, (6, 8) gen 3, then
    // settled (8, 8) gen 4, in slot 0 (generation 4 is even).
    ship_all(
        spec(&journal, "s", "test", DeliveryMode::AtLeastOnce, 8),
        Box::new(sink()),
    );
    let cursor = journal.join("cursors").join("s.cursor");
    let mut bytes = std::fs::read(&cursor).expect("read");
    bytes[13] ^= 0x40; // slot 0's `delivered`: its CRC no longer matches
    std::fs::write(&cursor, bytes).expect("damage");
    let report = ship_all(
        spec(&journal, "s", "test", DeliveryMode::AtLeastOnce, 8),
        Box::new(sink()),
    );
    let d = report.in_doubt.expect("in doubt");
    assert_eq!((d.from, d.to), (7, 8));
    assert_eq!(d.cause, alerts::delivery::InDoubtCause::DamagedCursor);
    assert_eq!(*got.lock().expect("lock"), [1, 2, 3, 4, 5, 6, 7, 8, 7, 8]);
}
