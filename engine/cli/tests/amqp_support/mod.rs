//! Harness for the `aldebaran run` tests against a real RabbitMQ on
//! 127.0.0.1:5672: the broker (through `scripts/rabbitmq.sh`), per-test
//! queues deleted with `rabbitmqctl`, the service as a child process stopped
//! with SIGTERM, and the alerts of `replay --no-drain` to compare with.
//!
//! Everything waits by polling with generous deadlines: the tests run on a
//! loaded 2-core machine, several at once.

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::OnceLock,
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");

/// Book TTL of every run: small, so that the generated files (5 ms of event
/// time per line) produce orphans and closed-order drops, not just overfills.
pub const BOOK_TTL_MS: u64 = 2_000;
/// Tombstone TTL of every run: orders are forgotten within a file, but far
/// beyond what a redelivery can rewind (prefetch × batch × 5 ms).
pub const TOMBSTONE_TTL_MS: u64 = 30_000;

/// How long any one wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------
// Broker and queues
// ---------------------------------------------------------------------------

/// Makes sure the broker answers (once per test binary); panics if not.
pub fn broker() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq.sh");
        if script.exists() {
            let out = Command::new("bash")
                .arg(&script)
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if out.status.success() {
                return Ok(());
            }
            return Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        // No script: start the broker ourselves if it does not answer.
        let ping = Command::new("rabbitmqctl").args(["-q", "ping"]).output();
        if !ping.is_ok_and(|o| o.status.success()) {
            let _ = Command::new("rabbitmq-server").arg("-detached").status();
        }
        let out = Command::new("rabbitmqctl")
            .args(["-q", "await_startup", "--timeout", "120"])
            .output()
            .map_err(|e| format!("cannot run rabbitmqctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    });
    if let Err(e) = ready {
        panic!("no RabbitMQ broker: {e}");
    }
}

/// Runs `rabbitmqctl` with `args`; returns stdout, or `None` if it failed.
pub fn rabbitmqctl(args: &[&str]) -> Option<String> {
    let out = Command::new("rabbitmqctl").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A queue of one test (`aldebaran-svc-<pid>-<test>`), deleted when dropped.
pub struct TestQueue {
    /// The queue name.
    pub name: String,
}

impl TestQueue {
    /// The queue of test `test` (the broker is made to answer first).
    pub fn new(test: &str) -> Self {
        broker();
        let q = TestQueue {
            name: format!("aldebaran-svc-{}-{test}", std::process::id()),
        };
        q.delete();
        q
    }

    fn delete(&self) {
        let _ = rabbitmqctl(&["-q", "delete_queue", &self.name]);
    }

    /// `(ready, unacknowledged)` messages, or `None` if the queue does not
    /// exist (or `rabbitmqctl` failed this time).
    pub fn counts(&self) -> Option<(u64, u64)> {
        let out = rabbitmqctl(&[
            "-q",
            "list_queues",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ])?;
        out.lines().find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            match f.as_slice() {
                [name, ready, unacked] if *name == self.name => {
                    Some((ready.trim().parse().ok()?, unacked.trim().parse().ok()?))
                }
                _ => None,
            }
        })
    }

    /// Waits until the queue holds nothing, ready or unacknowledged.
    #[track_caller]
    pub fn wait_empty(&self, svc: &mut Service) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            svc.assert_running();
            if self.counts() == Some((0, 0)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "queue {} not drained: {:?}\n{}",
                self.name,
                self.counts(),
                svc.stderr_tail()
            );
            sleep(Duration::from_millis(300));
        }
    }

    /// Waits until at most `ready` messages are ready (the service consumes).
    #[track_caller]
    pub fn wait_ready_below(&self, ready: u64, svc: &mut Service) -> (u64, u64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            svc.assert_running();
            if let Some(c) = self.counts()
                && c.0 <= ready
            {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "queue {} stays above {ready} ready: {:?}\n{}",
                self.name,
                self.counts(),
                svc.stderr_tail()
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        self.delete();
    }
}

// ---------------------------------------------------------------------------
// The binary's other commands
// ---------------------------------------------------------------------------

/// Runs the binary to completion; panics unless it exits 0. Returns stdout.
#[track_caller]
pub fn aldebaran_ok(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
        .output()
        .expect("run aldebaran");
    assert!(
        out.status.success(),
        "aldebaran {args:?}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `aldebaran gen` with duplicates, late requests and malformed lines, 5 ms
/// of event time per line.
pub fn gen_file(dir: &Path, orders: u64, seed: u64) -> PathBuf {
    let path = dir.join("trades.jsonl");
    aldebaran_ok(&[
        "gen",
        "--orders",
        &orders.to_string(),
        "--late",
        "0.1",
        "--duplicates",
        "0.02",
        "--malformed",
        "0.01",
        "--ts-step",
        "5",
        "--seed",
        &seed.to_string(),
        "-o",
        path_str(&path),
    ]);
    path
}

/// `aldebaran publish FILE --queue Q --batch B` (waits for the confirms).
pub fn publish(file: &Path, queue: &TestQueue, batch: u64) {
    let out = aldebaran_ok(&[
        "publish",
        path_str(file),
        "--queue",
        &queue.name,
        "--batch",
        &batch.to_string(),
    ]);
    assert!(out.starts_with("published "), "{out}");
}

/// Publishes each body as one persistent message to `queue` (declared
/// first), with its `message_id` when given, and waits for each confirm:
/// `aldebaran publish` sets no message id.
pub fn publish_messages(queue: &TestQueue, messages: &[(Option<&str>, &[u8])]) {
    use lapin::{
        BasicProperties, Connection, ConnectionProperties,
        options::{BasicPublishOptions, ConfirmSelectOptions},
    };
    aldebaran_ok(&["declare", "--queue", &queue.name]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("connect");
        let ch = conn.create_channel().await.expect("channel");
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm.select");
        for (id, body) in messages {
            let mut props = BasicProperties::default().with_delivery_mode(2);
            if let Some(id) = id {
                props = props.with_message_id((*id).into());
            }
            // The default exchange routes by queue name.
            ch.basic_publish(
                "".into(),
                queue.name.as_str().into(),
                BasicPublishOptions::default(),
                body,
                props,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        }
        let _ = conn.close(200, "OK".into()).await;
    });
}

/// The journal's records without `seq` and `detected_at`, checking that the
/// seqs run 1, 2, 3, … and that no `alert_id` appears twice.
#[track_caller]
pub fn journal_alerts(dir: &Path) -> Vec<Value> {
    if !dir.exists() {
        return Vec::new();
    }
    let out = aldebaran_ok(&["journal", "dump", path_str(dir)]);
    let mut ids = std::collections::HashSet::new();
    out.lines()
        .enumerate()
        .map(|(i, l)| {
            let mut v: Value = serde_json::from_str(l).expect("journal dump line is JSON");
            let obj = v.as_object_mut().expect("a record is an object");
            assert_eq!(obj.remove("seq"), Some(Value::from(i as u64 + 1)), "{l}");
            assert!(obj.remove("detected_at").is_some(), "{l}");
            assert!(
                ids.insert(obj["alert_id"].as_str().expect("alert_id").to_owned()),
                "alert produced twice: {l}"
            );
            v
        })
        .collect()
}

/// What `replay --no-drain` gives for `file`: its alerts and its summary.
pub struct Expected {
    /// Alerts without `seq` and `detected_at`.
    pub alerts: Vec<Value>,
    /// The summary printed by replay.
    pub summary: Summary,
}

/// Replays `file` without the end-of-input drain (a live service never
/// drains), with the TTLs of the service.
pub fn expected(file: &Path, scratch: &Path) -> Expected {
    let journal = scratch.join("replay-journal");
    let out = aldebaran_ok(&[
        "replay",
        path_str(file),
        "--no-drain",
        "-q",
        "--journal",
        path_str(&journal),
        "--book-ttl-ms",
        &BOOK_TTL_MS.to_string(),
        "--tombstone-ttl-ms",
        &TOMBSTONE_TTL_MS.to_string(),
    ]);
    let alerts = journal_alerts(&journal);
    assert!(
        alerts.iter().any(|a| a["kind"] == "overfill")
            && alerts.iter().any(|a| a["kind"] == "orphan"),
        "the test file should produce both kinds of alert"
    );
    Expected {
        alerts,
        summary: Summary::parse(&out),
    }
}

/// Asserts the same alerts, in the same order, naming the first difference.
#[track_caller]
pub fn assert_same_alerts(got: &[Value], want: &[Value]) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "alert #{i} differs (of {} got, {} expected):\n got  {}\n want {}",
            got.len(),
            want.len(),
            got[i],
            want[i]
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "alert count differs; first extra: {:?}",
        got.get(want.len()).or(want.get(got.len()))
    );
}

/// The figures of a printed summary that the tests check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// `events N`.
    pub events: u64,
    /// `accepted N`.
    pub accepted: u64,
    /// `rejected N`.
    pub rejected: u64,
    /// `alerts N`.
    pub alerts: u64,
    /// The `note` lines.
    pub notes: Vec<String>,
}

impl Summary {
    /// Parses the summary text.
    #[track_caller]
    pub fn parse(text: &str) -> Self {
        let mut s = Summary::default();
        let mut seen = 0;
        for line in text.lines() {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            let rest = rest.trim_start();
            let first = || -> u64 {
                rest.split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("a count in summary line {line:?}"))
            };
            match key {
                "events" => (s.events, seen) = (first(), seen + 1),
                "accepted" => (s.accepted, seen) = (first(), seen + 1),
                "rejected" => (s.rejected, seen) = (first(), seen + 1),
                "alerts" => (s.alerts, seen) = (first(), seen + 1),
                "note" => s.notes.push(rest.to_owned()),
                _ => {}
            }
        }
        assert_eq!(seen, 4, "not a summary: {text}");
        s
    }
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/// The directories and settings of one test's service.
pub struct ServiceDirs {
    /// Everything of the test lives here.
    pub tmp: TempDir,
    /// The config file.
    pub config: PathBuf,
    /// `[journal] dir`.
    pub journal: PathBuf,
    /// `[state] dir`.
    pub state: PathBuf,
    /// `[replay] dead_letter`, if set.
    pub dead_letter: Option<PathBuf>,
}

impl ServiceDirs {
    /// Writes the config of a service consuming `queue` with `prefetch`,
    /// cutting micro-batches after `batch_ms` (with a small prefetch, a
    /// longer cut bounds the consumption rate to ~prefetch per cut).
    pub fn new(queue: &TestQueue, prefetch: u16, batch_ms: u64, dead_letter: bool) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let journal = tmp.path().join("journal");
        let state = tmp.path().join("state");
        let dead = dead_letter.then(|| tmp.path().join("dead.jsonl"));
        let config = tmp.path().join("aldebaran.toml");
        let toml_str = |p: &Path| Value::from(path_str(p)).to_string();
        let text = format!(
            "[engine]\n\
             batch_ms = {batch_ms}\n\
             [overfill]\n\
             book_ttl_ms = {BOOK_TTL_MS}\n\
             tombstone_ttl_ms = {TOMBSTONE_TTL_MS}\n\
             [source]\n\
             kind = \"amqp\"\n\
             [source.amqp]\n\
             queue = \"{q}\"\n\
             prefetch = {prefetch}\n\
             consumer_tag = \"{q}\"\n\
             reconnect_min_ms = 100\n\
             reconnect_max_ms = 1000\n\
             [journal]\n\
             dir = {journal}\n\
             [metrics]\n\
             listen = \"127.0.0.1:0\"\n\
             [state]\n\
             dir = {state}\n\
             [replay]\n\
             dead_letter = {dead}\n",
            q = queue.name,
            journal = toml_str(&journal),
            state = toml_str(&state),
            dead = dead.as_deref().map_or("\"\"".to_owned(), toml_str),
        );
        fs::write(&config, text).expect("write config");
        ServiceDirs {
            tmp,
            config,
            journal,
            state,
            dead_letter: dead,
        }
    }

    /// Starts `aldebaran run --config` (run number `n`, for its log files).
    pub fn start(&self, n: u32) -> Service {
        self.start_with(n, &[])
    }

    /// [`ServiceDirs::start`] with these environment variables set (e.g.
    /// `ALDEBARAN_SOURCE__AMQP__URL`, `RUST_LOG`).
    pub fn start_with(&self, n: u32, env: &[(&str, &str)]) -> Service {
        let stdout = self.tmp.path().join(format!("run-{n}.out"));
        let stderr = self.tmp.path().join(format!("run-{n}.err"));
        let child = Command::new(BIN)
            .args(["run", "--config", path_str(&self.config)])
            .env_remove("RUST_LOG")
            .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start aldebaran run");
        Service {
            child: Some(child),
            stdout,
            stderr,
        }
    }
}

/// A running `aldebaran run`; killed (SIGKILL) if dropped while running.
pub struct Service {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Service {
    /// The log so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Waits at most `d` for it to exit by itself; `None` if it did not (it
    /// is killed then).
    pub fn wait_exit(&mut self, d: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take().expect("service handle");
        wait_timeout(&mut child, d)
    }

    /// The last lines of the log, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let log = self.stderr();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "service log (tail):\n{}",
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }

    /// Panics if the service has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("service handle");
        if let Some(st) = child.try_wait().expect("try_wait") {
            panic!(
                "the service exited early: {st}\nstdout: {}\n{}",
                fs::read_to_string(&self.stdout).unwrap_or_default(),
                self.stderr_tail()
            );
        }
    }

    /// Waits until the log says it is consuming (signal handlers are in
    /// place by then).
    #[track_caller]
    pub fn wait_consuming(&mut self) {
        self.wait_log("consuming", 1);
    }

    /// Waits until `needle` appears `times` times in the log.
    #[track_caller]
    pub fn wait_log(&mut self, needle: &str, times: usize) {
        self.wait_log_for(needle, times, PATIENCE);
    }

    /// [`Service::wait_log`] with a patience of its own.
    #[track_caller]
    pub fn wait_log_for(&mut self, needle: &str, times: usize, patience: Duration) {
        let deadline = Instant::now() + patience;
        while self.stderr().matches(needle).count() < times {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the service never logged {needle:?} {times} times\n{}",
                self.stderr_tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// The address of its metrics endpoint, from its log.
    #[track_caller]
    pub fn metrics_addr(&mut self) -> String {
        self.wait_log("metrics at /metrics", 1);
        let log = self.stderr();
        let line = log
            .lines()
            .find(|l| l.contains("metrics at /metrics"))
            .expect("the metrics line");
        let at = line.find("addr=").expect("addr= in the metrics line") + 5;
        line[at..]
            .split_whitespace()
            .next()
            .expect("an address")
            .to_owned()
    }

    /// The value of the unlabelled sample `name` at `/metrics`, if the
    /// endpoint answers and has it.
    pub fn metric(&mut self, name: &str) -> Option<f64> {
        use std::io::{Read, Write};
        let addr = self.metrics_addr();
        let mut s = std::net::TcpStream::connect(&addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        body.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// `GET path` on its metrics endpoint: (status, body), or `None` if it
    /// does not answer.
    pub fn get(&mut self, path: &str) -> Option<(u16, String)> {
        use std::io::{Read, Write};
        let addr = self.metrics_addr();
        let mut s = std::net::TcpStream::connect(&addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok()?;
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    /// Polls `holds` every 50 ms until it is true, for at most `within`.
    #[track_caller]
    pub fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        mut holds: impl FnMut(&mut Self) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !holds(self) {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "never within {within:?}: {what}\n{}",
                self.stderr_tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the metric `name` reaches `at_least`.
    #[track_caller]
    pub fn wait_metric(&mut self, name: &str, at_least: f64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.assert_running();
            if self.metric(name).is_some_and(|v| v >= at_least) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached {at_least}: {:?}\n{}",
                self.metric(name),
                self.stderr_tail()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits for the exit; panics unless it exits 0.
    /// Returns the printed summary.
    #[track_caller]
    pub fn terminate(mut self) -> Summary {
        let mut child = self.child.take().expect("service handle");
        let pid = child.id().to_string();
        let st = Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM {pid} failed");
        let status = wait_timeout(&mut child, PATIENCE);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "the service did not exit 0 after SIGTERM ({status:?})\nstdout: {}\n{}",
            self.stdout(),
            self.stderr_tail()
        );
        // `run` prints its summary on stderr, after its log.
        Summary::parse(&self.stderr())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits for `child` at most `d`; kills it past that (returns `None`).
fn wait_timeout(child: &mut Child, d: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + d;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// Publisher in the background, connection loss
// ---------------------------------------------------------------------------

/// `aldebaran publish FILE --queue Q --batch B --rate N` in the background.
pub struct Publisher {
    child: Child,
}

impl Publisher {
    /// Starts publishing `file` paced at `rate` events/s.
    pub fn start(file: &Path, queue: &TestQueue, batch: u64, rate: u64) -> Self {
        let child = Command::new(BIN)
            .args([
                "publish",
                path_str(file),
                "--queue",
                &queue.name,
                "--batch",
                &batch.to_string(),
                "--rate",
                &rate.to_string(),
            ])
            .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aldebaran publish");
        Publisher { child }
    }

    /// Whether it is still publishing.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for it to finish; panics unless it exits 0.
    #[track_caller]
    pub fn finish(mut self) {
        let st = wait_timeout(&mut self.child, PATIENCE);
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut err);
        }
        assert!(
            st.is_some_and(|s| s.success()),
            "publish failed: {st:?}: {err}"
        );
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The rows of `rabbitmqctl -q list_<what> <cols>` (the header row dropped).
fn list(what: &str, cols: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-q".to_owned(), format!("list_{what}")];
    args.extend(cols.iter().map(|c| (*c).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rabbitmqctl(&args).unwrap_or_default();
    out.lines()
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .filter(|r| r.len() == cols.len() && r[0] != cols[0])
        .collect()
}

/// The connections (their pids) consuming `queue` — the service's.
pub fn consumer_connections(queue: &TestQueue) -> Vec<String> {
    let channels: Vec<String> = list("consumers", &["queue_name", "channel_pid"])
        .into_iter()
        .filter(|r| r[0] == queue.name)
        .map(|r| r[1].clone())
        .collect();
    list("channels", &["pid", "connection"])
        .into_iter()
        .filter(|r| channels.contains(&r[0]))
        .map(|r| r[1].clone())
        .collect()
}

/// `rabbitmqctl close_connection PID test`; whether it succeeded.
///
/// The tests close only the service's own connection (found with
/// [`consumer_connections`]): that is what `rabbitmqctl close_all_connections`
/// does to it, without breaking the publishers and services of the other
/// tests that share the broker.
pub fn close_connection(pid: &str) -> bool {
    rabbitmqctl(&["-q", "close_connection", pid, "test"]).is_some()
}
