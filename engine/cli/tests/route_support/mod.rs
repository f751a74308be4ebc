//! Harness for tests on the three-node test cluster of
//! `scripts/rabbitmq-cluster.sh` (the consistent-hash exchange plugin
//! enabled; the default node on 5672 has none): the cluster started once
//! per test binary, its nodes stopped and started, `rabbitmqctl` against a
//! node, a lock that runs the tests using the fixed shard names one at a
//! time, and AMQP helpers (fill, count, purge, drain) on a connection of
//! the harness's own.
//!
//! The script's environment passes through: with another checkout's
//! cluster on the default ports, run the tests with e.g.
//! `RABBITMQ_CLUSTER_PORT=5711 RABBITMQ_CLUSTER_DIST_PORT=25711
//! RABBITMQ_CLUSTER_CTL_PORT=35741 RABBITMQ_CLUSTER_NAME=aldebaran-r`.
//!
//! Every wait is bounded; a missing or failing script fails the test with
//! its reason.

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, MutexGuard, OnceLock, PoisonError},
    thread::sleep,
    time::{Duration, Instant},
};

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{
        BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
        QueuePurgeOptions,
    },
    types::{AMQPValue, FieldTable},
};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");

/// How long any one wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(90);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-cluster.sh")
}

/// Runs the cluster script with `args`; stdout, or the reason it failed.
pub fn cluster_script(args: &[&str]) -> Result<String, String> {
    let script = script();
    if !script.exists() {
        return Err(format!("{} is missing", script.display()));
    }
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {}: {}",
            script.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The running cluster: its three URLs.
pub struct Cluster {
    /// `amqp://` URLs of nodes 1, 2 and 3.
    pub urls: [String; 3],
}

impl Cluster {
    /// The URLs of the nodes `order` (1-based), comma-separated: a client's
    /// list, tried in that order.
    pub fn list(&self, order: &[usize]) -> String {
        order
            .iter()
            .map(|&n| self.urls[n - 1].as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `rabbitmqctl ARGS` against node `n`; stdout, or `None` if it failed.
    pub fn ctl(&self, n: usize, args: &[&str]) -> Option<String> {
        let n = n.to_string();
        let mut all = vec!["ctl", n.as_str()];
        all.extend_from_slice(args);
        cluster_script(&all).ok()
    }

    /// Stops node `n` (`rabbitmqctl stop`); panics if it fails.
    #[track_caller]
    pub fn stop_node(&self, n: usize) {
        if let Err(e) = cluster_script(&["stop-node", &n.to_string()]) {
            panic!("stopping node {n}: {e}");
        }
    }

    /// Starts node `n` again and waits until it runs in the cluster.
    #[track_caller]
    pub fn start_node(&self, n: usize) {
        if let Err(e) = cluster_script(&["start-node", &n.to_string()]) {
            panic!("starting node {n}: {e}");
        }
    }
}

/// Starts the cluster (once per test binary; the first time it may take a
/// minute or two) and returns it; panics with the script's reason if it
/// cannot. Also makes sure all three nodes run, in case a test that stopped
/// one failed before starting it again.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let c = CLUSTER.get_or_init(|| {
        let out = cluster_script(&["start"])?;
        let url = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_owned)
                .ok_or_else(|| format!("no {k}= in the script's output: {out}"))
        };
        Ok(Cluster {
            urls: [url("url1")?, url("url2")?, url("url3")?],
        })
    });
    match c {
        Ok(c) => c,
        Err(e) => panic!("no test cluster: {e}"),
    }
}

/// Holds the cluster's fixed shard names (`Aldebaran.Shards`,
/// `Aldebaran.Trade_Data.K`) for one test: a mutex within this binary, a
/// file lock across processes (two `cargo test` runs at once).
pub struct ShardLock {
    _guard: MutexGuard<'static, ()>,
    _file: File,
}

/// Takes the [`ShardLock`], waiting for the test that holds it.
pub fn shard_lock() -> ShardLock {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let port = std::env::var("RABBITMQ_CLUSTER_PORT").unwrap_or_else(|_| "5701".to_owned());
    let path = std::env::temp_dir().join(format!("aldebaran-cluster-{port}-shards.lock"));
    let file = File::create(&path).expect("create the shard lock file");
    file.lock().expect("lock the shard lock file");
    ShardLock {
        _guard: guard,
        _file: file,
    }
}

/// A message as a queue gave it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub body: Vec<u8>,
    pub message_id: Option<String>,
    /// String and integer headers, as text.
    pub headers: HashMap<String, String>,
}

/// The harness's own connection to one node, on a runtime of its own.
pub struct Amqp {
    rt: tokio::runtime::Runtime,
    conn: Connection,
}

impl Amqp {
    /// Connects to `url`.
    pub fn connect(url: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let conn = rt
            .block_on(Connection::connect(url, ConnectionProperties::default()))
            .expect("the harness connects to the cluster");
        Amqp { rt, conn }
    }

    fn channel(&self) -> Channel {
        self.rt
            .block_on(self.conn.create_channel())
            .expect("a channel")
    }

    /// Messages ready in `queue`, or `None` if it does not exist.
    pub fn count(&self, queue: &str) -> Option<u32> {
        let ch = self.channel();
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let r = self
            .rt
            .block_on(ch.queue_declare(queue.into(), passive, FieldTable::default()));
        let n = r.ok().map(|q| q.message_count());
        if n.is_some() {
            let _ = self.rt.block_on(ch.close(200, "OK".into()));
        }
        n
    }

    /// Ready messages over `queues` (a missing queue counts 0).
    pub fn total(&self, queues: &[String]) -> u64 {
        queues
            .iter()
            .map(|q| u64::from(self.count(q).unwrap_or(0)))
            .sum()
    }

    /// Empties `queue` if it exists.
    pub fn purge(&self, queue: &str) {
        if self.count(queue).is_none() {
            return;
        }
        let ch = self.channel();
        self.rt
            .block_on(ch.queue_purge(queue.into(), QueuePurgeOptions::default()))
            .expect("purge");
        let _ = self.rt.block_on(ch.close(200, "OK".into()));
    }

    /// Deletes `queue` (with its messages) if it exists.
    pub fn delete(&self, queue: &str) {
        let ch = self.channel();
        let _ = self
            .rt
            .block_on(ch.queue_delete(queue.into(), Default::default()));
        let _ = self.rt.block_on(ch.close(200, "OK".into()));
    }

    /// Publishes each `(message_id, body)` persistent to `queue` through the
    /// default exchange, in order on one channel, and waits for every
    /// confirm.
    pub fn fill(&self, queue: &str, messages: &[(Option<String>, Vec<u8>)]) {
        let ch = self.channel();
        self.rt.block_on(async {
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .expect("confirm.select");
            let mut confirms = Vec::with_capacity(messages.len());
            for (id, body) in messages {
                let mut props = BasicProperties::default().with_delivery_mode(2);
                if let Some(id) = id {
                    props = props.with_message_id(id.as_str().into());
                }
                let c = ch
                    .basic_publish(
                        "".into(),
                        queue.into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..BasicPublishOptions::default()
                        },
                        body,
                        props,
                    )
                    .await
                    .expect("publish");
                confirms.push(c);
            }
            for c in confirms {
                let confirmed = c.await.expect("confirm");
                assert_eq!(confirmed, lapin::Confirmation::Ack(None), "fill refused");
            }
            let _ = ch.close(200, "OK".into()).await;
        });
    }

    /// Takes every message of `queue` (it must not grow meanwhile), oldest
    /// first.
    #[track_caller]
    pub fn drain(&self, queue: &str) -> Vec<Got> {
        let Some(n) = self.count(queue) else {
            return Vec::new();
        };
        let ch = self.channel();
        self.rt.block_on(async {
            use futures_lite::StreamExt;
            let mut consumer = ch
                .basic_consume(
                    queue.into(),
                    "harness-drain".into(),
                    BasicConsumeOptions {
                        no_ack: true,
                        ..BasicConsumeOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("consume");
            let mut got = Vec::with_capacity(n as usize);
            let deadline = tokio::time::Instant::now() + PATIENCE;
            while got.len() < n as usize {
                let d = tokio::time::timeout_at(deadline, consumer.next())
                    .await
                    .unwrap_or_else(|_| panic!("{queue}: {} of {n} messages drained", got.len()))
                    .expect("the consumer ended")
                    .expect("a delivery");
                got.push(Got {
                    message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
                    headers: headers(d.properties.headers().as_ref()),
                    body: d.data,
                });
            }
            let _ = ch.close(200, "OK".into()).await;
            got
        })
    }
}

fn headers(table: Option<&FieldTable>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in table.map(|t| t.inner().iter()).into_iter().flatten() {
        let text = match v {
            AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            AMQPValue::ShortString(s) => s.to_string(),
            AMQPValue::LongLongInt(n) => n.to_string(),
            AMQPValue::LongInt(n) => n.to_string(),
            other => format!("{other:?}"),
        };
        out.insert(k.to_string(), text);
    }
    out
}

/// A child `aldebaran` process (a router, a publisher), its stderr in a
/// file; killed when dropped.
pub struct Proc {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proc {
    /// Starts `aldebaran ARGS`.
    pub fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let out = dir.path().join("stdout.log");
        let child = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(&log).expect("stderr file"))
            .spawn()
            .expect("start aldebaran");
        Proc {
            child: Some(child),
            log,
            _dir: dir,
        }
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.log.with_file_name("stdout.log")).unwrap_or_default()
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Panics (with its log) if it has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(st)) = c.try_wait()
        {
            panic!("aldebaran exited early ({st}):\n{}", self.stderr());
        }
    }

    /// Waits until `holds` is true, polling every 100 ms for at most
    /// [`PATIENCE`]; panics (with the process's log) past that or if the
    /// process exits meanwhile.
    #[track_caller]
    pub fn wait_until(&mut self, what: &str, mut holds: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !holds() {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "never within {PATIENCE:?}: {what}\n{}",
                self.stderr()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal` (`TERM`, `KILL`) and waits for the exit; returns its
    /// code (`None`: killed by a signal).
    pub fn signal_and_wait(&mut self, signal: &str) -> Option<i32> {
        let st = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{signal} failed");
        self.wait()
    }

    /// Waits for the exit (killing it past [`PATIENCE`]); its code.
    pub fn wait(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "aldebaran did not exit within {PATIENCE:?}:\n{}",
                    self.stderr()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The number right before `word` in `text` (e.g. `figure(s, "events")`
/// of `routed 10 events …`), or `None`.
pub fn figure(text: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_matches(|c: char| !c.is_alphanumeric()) == word)
        .and_then(|w| w[0].trim_start_matches('(').parse().ok())
}
