//! Harness for the AMQP source's tests against the real RabbitMQ on
//! 127.0.0.1:5672 (made to answer through `scripts/rabbitmq.sh`): per-test
//! queues deleted with `rabbitmqctl`, connections found by their
//! `connection_name` and closed by it, sources started with the lease
//! settings, a file published to a queue, and a TCP proxy that can stop
//! forwarding ([`proxy`]).
//!
//! Everything waits by polling with generous deadlines: the tests run on a
//! loaded 2-core machine, several at once.

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

pub mod proxy;

use std::{
    path::Path,
    process::Command,
    sync::OnceLock,
    thread::sleep,
    time::{Duration, Instant},
};

use ingest::{
    Cut, Cutter,
    amqp::{
        AmqpSourceHandle, AmqpSourceOptions, DEFAULT_PROBE_INTERVAL, OnLost, PublishOptions,
        Topology, publish_file, start_amqp,
    },
};

/// The broker of the tests.
pub const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// How long any one wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Makes sure the broker answers (once per test binary); panics if not.
pub fn broker() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rabbitmq.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
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

/// Runs `rabbitmqctl -q` with `args`; stdout, or `None` if it failed.
pub fn rabbitmqctl(args: &[&str]) -> Option<String> {
    let out = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A queue of one test (`aldebaran-lease-<pid>-<test>`), deleted when dropped.
pub struct TestQueue {
    /// The queue name (also the prefix of the test's connection names).
    pub name: String,
}

impl TestQueue {
    /// The queue of test `test` (the broker is made to answer first).
    pub fn new(test: &str) -> Self {
        broker();
        let q = TestQueue {
            name: format!("aldebaran-lease-{}-{test}", std::process::id()),
        };
        let _ = rabbitmqctl(&["delete_queue", &q.name]);
        q
    }

    /// The options of a source of this queue called `who` (its consumer
    /// tag and connection name end with it): exclusive, ending when lost,
    /// with a reconnect delay long enough that a fast answer proves none
    /// was waited for.
    pub fn source(&self, who: &str) -> AmqpSourceOptions {
        self.source_at(URL, who)
    }

    /// [`TestQueue::source`] through the broker at `url`.
    pub fn source_at(&self, url: &str, who: &str) -> AmqpSourceOptions {
        AmqpSourceOptions {
            url: url.to_owned(),
            tls: ingest::amqp::Tls::default(),
            topology: Topology::with_trade_queue(&self.name),
            prefetch: 100,
            consumer_tag: format!("{}-{who}", self.name),
            cut: ingest::CutPolicy::default(),
            ring_bytes: 1 << 20,
            pin_core: None,
            reconnect_min: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(5),
            processed: Vec::new(),
            exclusive: true,
            on_lost: OnLost::End,
            probe_interval: DEFAULT_PROBE_INTERVAL,
            heartbeat_secs: None,
            connection_name: Some(self.connection_name(who)),
        }
    }

    /// The connection name of source `who`.
    pub fn connection_name(&self, who: &str) -> String {
        format!("{}-{who}", self.name)
    }

    /// Publishes `lines`, `per_message` lines per message (confirmed).
    pub fn publish(&self, lines: &[String], per_message: usize) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("trades.jsonl");
        std::fs::write(&file, lines.join("\n")).expect("write trades");
        publish_file(
            &file,
            &PublishOptions {
                url: URL.to_owned(),
                topology: Topology::with_trade_queue(&self.name),
                batch: per_message,
                ..PublishOptions::default()
            },
        )
        .expect("publish");
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_queue", &self.name]);
    }
}

/// `n` valid trade events with ids `<prefix>-0`, `<prefix>-1`, ….
pub fn events(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r##"{{"id":"{prefix}-{i}","#shares":10,"client":"c","stock":"S"}}"##))
        .collect()
}

/// The broker's pids of the connections named `name` (now).
pub fn connections_named(name: &str) -> Vec<String> {
    // `client_properties` prints the name as `{"connection_name",longstr,"NAME"}`;
    // the quotes keep one test's name from matching a longer one.
    let quoted = format!("\"{name}\"");
    rabbitmqctl(&["list_connections", "pid", "client_properties"])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&quoted))
        .filter_map(|l| l.split('\t').next().map(str::to_owned))
        .collect()
}

/// Closes the broker's connection named `name`, waiting for it to show.
#[track_caller]
pub fn close_connection_named(name: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let pids = connections_named(name);
        if !pids.is_empty() {
            for pid in pids {
                assert!(
                    rabbitmqctl(&["close_connection", &pid, "test closes it"]).is_some(),
                    "rabbitmqctl close_connection {pid}"
                );
            }
            return;
        }
        assert!(Instant::now() < deadline, "no connection named {name}");
        sleep(Duration::from_millis(200));
    }
}

/// Reads the cutter until it ends; returns the events it gave. Panics if it
/// has not ended within `within`.
#[track_caller]
pub fn drain_to_end(cutter: &mut Cutter, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut events = 0;
    loop {
        match cutter.next_event(Duration::from_millis(50)).expect("cut") {
            Cut::Batch(b) => events += b.len(),
            Cut::End => return events,
            Cut::Idle => assert!(
                Instant::now() < deadline,
                "the cutter did not end within {within:?}"
            ),
        }
    }
}

/// Reads the cutter until it has given `n` events (acknowledging nothing);
/// returns the batches' message digests.
#[track_caller]
pub fn read_events(cutter: &mut Cutter, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + PATIENCE;
    let (mut got, mut digests) = (0, Vec::new());
    while got < n {
        match cutter.next_event(Duration::from_millis(50)).expect("cut") {
            Cut::Batch(b) => {
                got += b.len();
                digests.extend_from_slice(b.messages());
            }
            Cut::End => panic!("the source ended after {got} of {n} events"),
            Cut::Idle => assert!(Instant::now() < deadline, "only {got} of {n} events"),
        }
    }
    digests
}

/// Asks for the lease every 100 ms until it is obtained.
#[track_caller]
pub fn obtain(opts: &AmqpSourceOptions) -> (AmqpSourceHandle, Cutter) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match start_amqp(opts.clone()) {
            Ok(started) => return started,
            Err(ingest::IngestError::LeaseHeld { .. }) => {}
            Err(e) => panic!("start: {e}"),
        }
        assert!(Instant::now() < deadline, "the lease never came");
        sleep(Duration::from_millis(100));
    }
}

/// Waits until `holds` is true, polling every 50 ms.
#[track_caller]
pub fn wait_until(what: &str, within: Duration, mut holds: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !holds() {
        assert!(Instant::now() < deadline, "never within {within:?}: {what}");
        sleep(Duration::from_millis(50));
    }
}

/// The threads of this process now.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}
