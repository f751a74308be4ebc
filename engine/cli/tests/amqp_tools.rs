//! `aldebaran declare` and `aldebaran publish` (and the library calls under
//! them) against a real RabbitMQ on 127.0.0.1:5672, started through
//! `scripts/rabbitmq.sh` when it does not answer.
//!
//! SPEC §5: the topology is declared idempotently; a published file comes
//! back from its queue line for line, in order, whatever the batch; `--rate`
//! paces; a broker that cannot be reached is a one-line error. Every test
//! uses a queue of its own (`aldebaran-test-<pid>-<n>`, bound with its own
//! routing key) and deletes it at the end, even when it fails.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use ingest::amqp::{PublishOptions, Tls, Topology, declare_blocking, publish_file};
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeleteOptions},
};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");
const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// Runs `scripts/rabbitmq.sh` once per test binary; panics if no broker.
fn broker() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    });
    if let Err(e) = ready {
        panic!("no RabbitMQ broker: {e}");
    }
}

/// A test queue, deleted (with its messages) when dropped.
struct TestQueue {
    name: String,
}

impl TestQueue {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        broker();
        let n = N.fetch_add(1, Ordering::Relaxed);
        TestQueue {
            name: format!("aldebaran-test-{}-{n}", std::process::id()),
        }
    }

    fn topology(&self) -> Topology {
        Topology::with_trade_queue(self.name.as_str())
    }

    /// Takes every message now in the queue, oldest first.
    fn drain(&self) -> Vec<Vec<u8>> {
        block_on(async {
            let conn = Connection::connect(URL, ConnectionProperties::default())
                .await
                .expect("connect");
            let channel = conn.create_channel().await.expect("channel");
            let mut bodies = Vec::new();
            while let Some(m) = channel
                .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
            {
                bodies.push(m.delivery.data);
            }
            let _ = conn.close(200, "OK".into()).await;
            bodies
        })
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        let name = self.name.clone();
        let deleted = block_on(async move {
            let conn = Connection::connect(URL, ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            channel
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await?;
            conn.close(200, "OK".into()).await
        });
        if let Err(e) = deleted {
            eprintln!("could not delete test queue {}: {e}", self.name);
        }
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// What one run of the binary did.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn aldebaran(args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
        .output()
        .expect("run aldebaran");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Out {
    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self
    }
}

/// A synthetic trade file from `aldebaran gen` (malformed lines included).
fn gen_file(dir: &TempDir, orders: u64) -> PathBuf {
    let path = dir.path().join("trades.jsonl");
    let p = path.to_str().expect("utf-8 temp path");
    aldebaran(&[
        "gen",
        "--orders",
        &orders.to_string(),
        "--malformed",
        "0.02",
        "-o",
        p,
    ])
    .assert_ok();
    path
}

/// The file's events as a publisher must send them: its non-blank lines.
fn events_of(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("read trade file");
    data.split(|&b| b == b'\n')
        .filter(|l| !ingest::parse::is_blank(l))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The lines of message bodies, in order.
fn lines_of(bodies: &[Vec<u8>]) -> Vec<Vec<u8>> {
    bodies
        .iter()
        .flat_map(|b| b.split(|&c| c == b'\n').map(<[u8]>::to_vec))
        .collect()
}

/// The `published N events in M messages ...` figures.
fn published(stdout: &str) -> (u64, u64) {
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let at = |w: &str| {
        let i = words.iter().position(|x| *x == w).expect(w);
        words[i - 1].parse::<u64>().expect("a count")
    };
    (at("events"), at("messages"))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn declare_twice_is_fine() {
    let q = TestQueue::new();
    for _ in 0..2 {
        let out = aldebaran(&["declare", "--queue", &q.name]);
        out.assert_ok();
        assert!(out.stdout.contains(&q.name), "{out:#?}");
        declare_blocking(URL, &Tls::default(), &q.topology(), None)
            .expect("declare from the library");
    }
    // The SPEC topology too: declaring what exists is a no-op.
    declare_blocking(URL, &Tls::default(), &Topology::default(), None)
        .expect("declare the SPEC topology");
    assert!(q.drain().is_empty());
}

fn round_trip(batch: usize) {
    let q = TestQueue::new();
    let dir = TempDir::new().expect("temp dir");
    let file = gen_file(&dir, 150);
    let expected = events_of(&file);
    assert!(expected.len() > 500, "{} events", expected.len());

    let out = aldebaran(&[
        "publish",
        file.to_str().expect("utf-8 path"),
        "--queue",
        &q.name,
        "--batch",
        &batch.to_string(),
    ]);
    out.assert_ok();
    assert_eq!(out.stdout.lines().count(), 1, "{out:#?}");
    let (events, messages) = published(&out.stdout);
    assert_eq!(events, expected.len() as u64);
    assert_eq!(messages, expected.len().div_ceil(batch) as u64);

    let bodies = q.drain();
    assert_eq!(bodies.len() as u64, messages);
    for b in &bodies[..bodies.len() - 1] {
        assert_eq!(b.split(|&c| c == b'\n').count(), batch);
    }
    let got = lines_of(&bodies);
    assert!(got == expected, "bodies differ from the file's lines");
}

#[test]
fn publish_batch_1_round_trips_in_order() {
    round_trip(1);
}

#[test]
fn publish_batch_7_round_trips_in_order() {
    round_trip(7);
}

#[test]
fn publish_file_with_a_small_window_skips_blank_lines() {
    let q = TestQueue::new();
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, "a\n\n  \r\nb\r\nc\nd\ne").expect("write");
    let opts = PublishOptions {
        url: URL.to_owned(),
        topology: q.topology(),
        rate: None,
        batch: 2,
        in_flight: 1,
        tls: Tls::default(),
        shards: None,
    };
    let r = publish_file(&file, &opts).expect("publish");
    assert_eq!((r.events, r.messages, r.bytes), (5, 3, 4 + 3 + 1));
    assert_eq!(q.drain(), [&b"a\nb\r"[..], b"c\nd", b"e"]);

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let r = publish_file(&empty, &opts).expect("publish an empty file");
    assert_eq!((r.events, r.messages), (0, 0));
    assert!(q.drain().is_empty());
}

#[test]
fn publish_with_rate_is_paced() {
    let q = TestQueue::new();
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("t.jsonl");
    let lines: Vec<String> = (0..300).map(|i| format!("{{\"n\":{i}}}")).collect();
    std::fs::write(&file, lines.join("\n")).expect("write");

    // 300 events at 1000/s: the last message may leave at 299/1000 s.
    let t0 = Instant::now();
    let out = aldebaran(&[
        "publish",
        file.to_str().expect("utf-8 path"),
        "--queue",
        &q.name,
        "--rate",
        "1000",
    ]);
    let wall = t0.elapsed();
    out.assert_ok();
    assert_eq!(published(&out.stdout), (300, 300));
    assert!(wall >= Duration::from_millis(299), "{wall:?}");
    let reported: f64 = out
        .stdout
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "s:")
        .and_then(|w| w[0].parse().ok())
        .expect("elapsed seconds in the report");
    assert!(reported >= 0.299, "{}", out.stdout);
    assert!(reported < 5.0, "{}", out.stdout);
    assert_eq!(q.drain().len(), 300);
}

#[test]
fn an_unreachable_broker_is_a_one_line_error() {
    broker();
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, "{}\n").expect("write");
    let bad = "amqp://guest:s3cret@127.0.0.1:1/%2f";
    let runs = [
        aldebaran(&["publish", file.to_str().expect("utf-8"), "--url", bad]),
        aldebaran(&["declare", "--url", bad]),
        aldebaran(&[
            "publish",
            file.to_str().expect("utf-8"),
            "--url",
            "not a url",
        ]),
    ];
    for out in &runs {
        assert_ne!(out.code, Some(0), "{out:#?}");
        assert!(out.code.is_some(), "killed by a signal: {out:#?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
        assert!(out.stderr.starts_with("aldebaran: error: "), "{out:#?}");
        assert!(!out.stderr.contains("panicked"), "{out:#?}");
        assert!(!out.stderr.contains("s3cret"), "{out:#?}");
    }
    assert!(runs[0].stderr.contains("127.0.0.1:1"), "{:#?}", runs[0]);
    assert!(runs[1].stderr.contains("cannot connect"), "{:#?}", runs[1]);

    let missing = aldebaran(&["publish", "/nonexistent/t.jsonl"]);
    assert_ne!(missing.code, Some(0));
    assert_eq!(missing.stderr.lines().count(), 1, "{missing:#?}");
    assert!(
        missing.stderr.contains("/nonexistent/t.jsonl"),
        "{missing:#?}"
    );
}
