//! Harness for the scale-out tests (SPEC §8) on the three-node loopback
//! cluster of `scripts/rabbitmq-cluster.sh`: the cluster and what a test
//! does to its nodes, the processes of a sharded deployment (routers, shard
//! engines, a shard's pair) with their log files, and the queues read back
//! over AMQP.
//!
//! The shard topology has fixed names (`Aldebaran.Shards`,
//! `Aldebaran.Trade_Data.K`), so the tests of one binary hold [`exclusive`]
//! while they use the cluster and reset it first ([`Cluster::reset`]).
//! Every wait polls with a deadline and fails naming what it waited for.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, MutexGuard, OnceLock},
    thread::sleep,
    time::{Duration, Instant},
};

use crate::amqp_support::BIN;

/// The cluster's nodes, numbered 1 to 3 as the script numbers them.
pub const NODES: [u8; 3] = [1, 2, 3];

/// Holds the cluster's fixed shard names for one test: a mutex within this
/// binary, and the file lock `route_support::shard_lock` takes too, across
/// test binaries and `cargo test` runs.
pub struct Exclusive {
    _guard: MutexGuard<'static, ()>,
    _file: fs::File,
}

/// Takes [`Exclusive`], waiting for the test that holds it.
pub fn exclusive() -> Exclusive {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let port = std::env::var("RABBITMQ_CLUSTER_PORT").unwrap_or_else(|_| "5701".to_owned());
    let path = std::env::temp_dir().join(format!("aldebaran-cluster-{port}-shards.lock"));
    let file = fs::File::create(&path).expect("create the shard lock file");
    file.lock().expect("lock the shard lock file");
    Exclusive {
        _guard: guard,
        _file: file,
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-cluster.sh")
}

/// Runs the cluster script with `args`; its stdout, or the failure.
pub fn cluster_script(args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the cluster script: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "rabbitmq-cluster.sh {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The running cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `amqp://…:5701/%2f,…:5702/%2f,…:5703/%2f`.
    pub urls: String,
    /// Each node's URL, node 1 first.
    pub url: Vec<String>,
}

impl Cluster {
    /// Starts the cluster (once per test binary) and waits for it.
    pub fn get() -> Cluster {
        static UP: OnceLock<Result<Cluster, String>> = OnceLock::new();
        UP.get_or_init(|| {
            let out = cluster_script(&["start"])?;
            let kv: HashMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
            let urls = kv.get("urls").ok_or("no urls= line")?.to_string();
            let url = urls.split(',').map(str::to_owned).collect();
            Ok(Cluster { urls, url })
        })
        .clone()
        .unwrap_or_else(|e| panic!("the test cluster did not start: {e}"))
    }

    /// The list starting at node `first` (so that clients spread over the
    /// nodes), as a TOML array.
    pub fn urls_from(&self, first: usize) -> String {
        let n = self.url.len();
        let list: Vec<String> = (0..n)
            .map(|i| format!("\"{}\"", self.url[(first + i) % n]))
            .collect();
        format!("[{}]", list.join(", "))
    }

    /// The same list, comma-separated, for `--url`.
    pub fn flag_from(&self, first: usize) -> String {
        let n = self.url.len();
        (0..n)
            .map(|i| self.url[(first + i) % n].clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `rabbitmqctl` on node `n`.
    pub fn ctl(&self, n: u8, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["ctl".to_owned(), n.to_string()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        cluster_script(&refs)
    }

    /// `rabbitmqctl` on the first node that answers.
    pub fn ctl_any(&self, args: &[&str]) -> String {
        let mut errors = Vec::new();
        for n in NODES {
            match self.ctl(n, args) {
                Ok(out) => return out,
                Err(e) => errors.push(e),
            }
        }
        panic!("no node answered rabbitmqctl {args:?}: {errors:?}")
    }

    /// Stops node `n` as an operator would (`rabbitmqctl stop`).
    #[track_caller]
    pub fn stop_node(&self, n: u8) {
        cluster_script(&["stop-node", &n.to_string()]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts node `n` again and waits until it runs in the cluster.
    #[track_caller]
    pub fn start_node(&self, n: u8) {
        cluster_script(&["start-node", &n.to_string()]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The node (1 to 3) that leads quorum queue `queue`.
    #[track_caller]
    pub fn leader(&self, queue: &str) -> u8 {
        let out = cluster_script(&["leader", queue]).unwrap_or_else(|e| panic!("{e}"));
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("leader of {queue}: {out:?}"))
    }

    /// Deletes every `Aldebaran.*` queue, so a test starts from nothing
    /// (the exchanges stay: declaring them again is a no-op).
    pub fn reset(&self) {
        let out = self.ctl_any(&["-q", "list_queues", "name"]);
        for q in out
            .lines()
            .map(str::trim)
            .filter(|q| q.starts_with("Aldebaran."))
        {
            self.ctl_any(&["-q", "delete_queue", q]);
        }
    }

    /// Ready and unacknowledged messages of every `Aldebaran.*` queue.
    pub fn counts(&self) -> HashMap<String, (u64, u64)> {
        let out = self.ctl_any(&[
            "-q",
            "list_queues",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ]);
        out.lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let name = f.next()?.trim();
                let ready = f.next()?.trim().parse().ok()?;
                let unacked = f.next()?.trim().parse().ok()?;
                name.starts_with("Aldebaran.")
                    .then(|| (name.to_owned(), (ready, unacked)))
            })
            .collect()
    }
}

/// A child process of the deployment with its log files (`<name>-<run>.err`).
pub struct Proc {
    pub name: String,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    pub runs: u32,
}

impl Proc {
    /// A process `aldebaran ARGS`, logging into `dir`; not started.
    pub fn new(name: &str, dir: &Path, args: &[&str]) -> Proc {
        fs::create_dir_all(dir).expect("a process's directory");
        Proc {
            name: name.to_owned(),
            dir: dir.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
            runs: 0,
        }
    }

    /// Starts a new run.
    #[track_caller]
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} runs already", self.name);
        self.runs += 1;
        let file = |ext: &str| {
            fs::File::create(self.dir.join(format!("{}-{}.{ext}", self.name, self.runs)))
                .expect("a log file")
        };
        let child = Command::new(BIN)
            .args(&self.args)
            .env_remove("RUST_LOG")
            .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
            .stdin(Stdio::null())
            .stdout(file("out"))
            .stderr(file("err"))
            .spawn()
            .expect("start aldebaran");
        self.child = Some(child);
    }

    /// Whether it runs; a process that exited is forgotten (and can be
    /// started again).
    pub fn running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// SIGKILL, waiting for it to be gone.
    #[track_caller]
    pub fn kill(&mut self) {
        let mut c = self
            .child
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        let _ = c.kill();
        let _ = c.wait();
    }

    /// SIGTERM; the exit code within `within` (`None`: killed after it).
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-s", "TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// Waits for it to exit by itself; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        let c = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// The current run's stderr.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join(format!("{}-{}.err", self.name, self.runs)))
            .unwrap_or_default()
    }

    /// Whether the current run's log says it is a pair's active now.
    pub fn is_active(&self) -> bool {
        let log = self.log();
        match (
            log.rfind("ha: this node is the active"),
            log.rfind("ha: this node is no longer the active"),
        ) {
            (Some(on), Some(off)) => on > off,
            (on, _) => on.is_some(),
        }
    }

    /// Every run's stderr, oldest first.
    pub fn logs(&self) -> String {
        (1..=self.runs)
            .map(|n| {
                fs::read_to_string(self.dir.join(format!("{}-{n}.err", self.name)))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last lines of every run's stderr, for failure messages.
    pub fn tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        format!(
            "--- {} ({} runs), log tail:\n{}",
            self.name,
            self.runs,
            lines[lines.len().saturating_sub(25)..].join("\n")
        )
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

/// Reads every message of `queue` (basic.get, acknowledged) through the
/// first node that answers: the bodies and message ids.
pub fn drain(cluster: &Cluster, queue: &str) -> Vec<(Vec<u8>, Option<String>)> {
    use lapin::{
        Connection, ConnectionProperties,
        options::{BasicAckOptions, BasicGetOptions},
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut last = None;
        for url in &cluster.url {
            let conn = match Connection::connect(url, ConnectionProperties::default()).await {
                Ok(c) => c,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let ch = conn.create_channel().await.expect("channel");
            let mut got = Vec::new();
            while let Some(m) = ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: false })
                .await
                .expect("basic.get")
            {
                let id = m
                    .delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string());
                got.push((m.delivery.data.clone(), id));
                m.delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .expect("ack");
            }
            let _ = conn.close(200, "OK".into()).await;
            return got;
        }
        panic!("no node of the cluster answered: {last:?}")
    })
}

/// Polls `done` every 200 ms until it holds; panics after `within` with
/// `what` and `context()`.
#[track_caller]
pub fn wait_until(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "never within {within:?}: {what}\n{}",
            context()
        );
        sleep(Duration::from_millis(200));
    }
}
