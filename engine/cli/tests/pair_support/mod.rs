//! Harness for the failover tests (SPEC §6): an active-standby pair of
//! `aldebaran run` processes on loopback against the real broker, the
//! sinks they share, and what the tests do to them.
//!
//! A [`Pair`] is one test's world: a generated trade file and what
//! `replay --no-drain` gives for it, an input queue, two [`Node`]s (each its
//! own journal, state, dead letters, metrics port and replication address,
//! the other's as its peer) and the sinks both ship to — one file (the file
//! sink reads its own tail), one HTTP receiver in this process (recording
//! the `Idempotency-Key`, the `Aldebaran-Epoch` and the arrival order) and
//! one AMQP queue (`message_id`, `x-aldebaran-epoch`). Node names carry the
//! test's name and the process id, so a node's broker connection
//! (`aldebaran-pair <node>`) is told apart from every other on the broker.
//!
//! A test binary using it declares `mod amqp_support; mod sink_endpoints;`
//! beside `mod pair_support;`. Every wait polls with a deadline and fails
//! naming what it waited for, with the nodes' log tails.

#![allow(dead_code)]

mod checks;
mod feed;
mod proxy;

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU16, Ordering},
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;
use tempfile::TempDir;

pub use checks::{check_sinks, journals_agree};
pub use feed::Feed;
pub use proxy::Proxy;

use crate::{
    amqp_support::{
        BIN, BOOK_TTL_MS, Expected, Summary, TOMBSTONE_TTL_MS, TestQueue, aldebaran_ok, broker,
        expected, gen_file, rabbitmqctl,
    },
    sink_endpoints::{HttpEndpoint, amqp_ready},
};

/// How long a node may take to reach a role, a sync, a log line.
pub const WAIT: Duration = Duration::from_secs(60);

fn toml_path(p: &Path) -> String {
    Value::from(p.to_str().expect("utf-8 temp path")).to_string()
}

/// A port for a replication address: below the ephemeral range (so no
/// outgoing connection holds it), free when tried, spread by process id.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    for _ in 0..2_000 {
        let n = NEXT.fetch_add(1, Ordering::AcqRel);
        let port = 20_000 + (base - 20_000 + n) % 12_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// `aldebaran journal dump DIR`.
#[track_caller]
pub fn dump(journal: &Path) -> String {
    aldebaran_ok(&["journal", "dump", journal.to_str().expect("utf-8 path")])
}

/// One node of the pair: its files, its config and its process.
pub struct Node {
    /// `[ha] node` (`<test>-<pid>-a` or `…-b`).
    pub name: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub journal: PathBuf,
    pub state: PathBuf,
    /// `[ha] listen`.
    pub listen: String,
    /// `[ha] peer`.
    pub peer: String,
    /// The config without its `[ha]` section.
    base: String,
    child: Option<Child>,
    /// Runs started so far (run `n` logs to `run-<n>.err`).
    pub runs: u32,
}

impl Node {
    fn write_config(&self) {
        let text = format!(
            "{}[ha]\nnode = \"{}\"\nlisten = \"{}\"\npeer = \"{}\"\n",
            self.base, self.name, self.listen, self.peer
        );
        fs::write(&self.config, text).expect("write a node's config");
    }

    /// Points this node's `peer` at `addr` (a proxy), before it starts.
    pub fn set_peer(&mut self, addr: &str) {
        self.peer = addr.to_owned();
        self.write_config();
    }

    /// Starts `aldebaran run --config` (a new run, with its own log files).
    #[track_caller]
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is running already", self.name);
        self.runs += 1;
        let out = self.dir.join(format!("run-{}.out", self.runs));
        let err = self.dir.join(format!("run-{}.err", self.runs));
        let child = Command::new(BIN)
            .args(["run", "--config", self.config.to_str().expect("utf-8 path")])
            .env_remove("RUST_LOG")
            .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
            .stdin(Stdio::null())
            .stdout(fs::File::create(out).expect("a run's stdout file"))
            .stderr(fs::File::create(err).expect("a run's stderr file"))
            .spawn()
            .expect("start aldebaran run");
        self.child = Some(child);
    }

    /// Whether the process runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Panics, with the log, if the node exited by itself.
    #[track_caller]
    pub fn assert_running(&mut self) {
        let Some(c) = self.child.as_mut() else {
            panic!("{} is not started", self.name);
        };
        if let Ok(Some(st)) = c.try_wait() {
            panic!(
                "{} exited by itself: {st}\nstdout: {}\n{}",
                self.name,
                self.stdout(),
                self.tail()
            );
        }
    }

    /// SIGKILL, and waits for the process to be gone.
    #[track_caller]
    pub fn kill(&mut self) {
        self.assert_running();
        let mut c = self.child.take().expect("a running node");
        c.kill().expect("SIGKILL");
        let _ = c.wait();
    }

    /// SIGTERM; panics unless it exits 0 within [`WAIT`]. Returns the
    /// summary it printed.
    #[track_caller]
    pub fn terminate(&mut self) -> Summary {
        self.assert_running();
        let mut c = self.child.take().expect("a running node");
        let pid = c.id().to_string();
        let st = Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(st) = c.try_wait().expect("try_wait") {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            sleep(Duration::from_millis(50));
        };
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{} did not exit 0 after SIGTERM ({status:?})\nstdout: {}\n{}",
            self.name,
            self.stdout(),
            self.tail()
        );
        // `run` prints its summary on stderr, after its log.
        Summary::parse(&self.log())
    }

    /// The current run's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join(format!("run-{}.err", self.runs))).unwrap_or_default()
    }

    /// The current run's stdout.
    pub fn stdout(&self) -> String {
        fs::read_to_string(self.dir.join(format!("run-{}.out", self.runs))).unwrap_or_default()
    }

    /// Every run's log, oldest first.
    pub fn logs(&self) -> String {
        (1..=self.runs)
            .map(|n| fs::read_to_string(self.dir.join(format!("run-{n}.err"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The current run's last log lines, for failure messages.
    pub fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "{} run {} log (tail):\n{}",
            self.name,
            self.runs,
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    /// `aldebaran status --config <this node's> --json`: this node first,
    /// then its peer (empty if the command printed nothing readable).
    pub fn status(&self) -> Vec<Value> {
        let out = Command::new(BIN)
            .args(["status", "--json", "--config"])
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        out.ok()
            .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
            .and_then(|v| v["nodes"].as_array().cloned())
            .unwrap_or_default()
    }

    /// This node's own report, if it answers.
    pub fn own(&self) -> Option<Value> {
        self.status()
            .into_iter()
            .next()
            .filter(|v| v["reachable"] == Value::Bool(true))
    }

    /// Polls this node's report until `holds`; returns it.
    #[track_caller]
    pub fn wait_own(
        &mut self,
        what: &str,
        within: Duration,
        holds: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        let mut last = None;
        loop {
            self.assert_running();
            if let Some(v) = self.own() {
                if holds(&v) {
                    return v;
                }
                last = Some(v);
            }
            assert!(
                Instant::now() < deadline,
                "{}: never within {within:?}: {what}\nlast status: {last:?}\n{}",
                self.name,
                self.tail()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Waits until this node reports `role = "active"`; returns its epoch.
    #[track_caller]
    pub fn wait_active(&mut self, within: Duration) -> u64 {
        let v = self.wait_own("it is the active", within, |v| v["role"] == "active");
        v["epoch"].as_u64().expect("an epoch in the status")
    }

    /// Waits until the current run's log holds `needle` `times` times.
    #[track_caller]
    pub fn wait_log(&mut self, needle: &str, times: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.log().matches(needle).count() < times {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} never logged {needle:?} {times} times within {within:?}\n{}",
                self.name,
                self.tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// The broker's pids of this node's lease connections (client property
    /// `connection_name` = `aldebaran-pair <node>`).
    pub fn source_connections(&self) -> Vec<String> {
        let needle = format!("{{\"connection_name\",\"aldebaran-pair {}\"}}", self.name);
        rabbitmqctl(&["-q", "list_connections", "pid", "client_properties"])
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| l.split('\t').next().map(str::to_owned))
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One test's pair and everything around it.
pub struct Pair {
    /// Node `a` (index 0) and node `b` (index 1). Declared first: they are
    /// killed before their directories and queues go.
    pub nodes: [Node; 2],
    /// The HTTP receiver both nodes ship to.
    pub http: HttpEndpoint,
    /// The AMQP sink's queue.
    pub alerts: TestQueue,
    /// The input queue.
    pub input: TestQueue,
    /// The file sink's path (both nodes').
    pub archive: PathBuf,
    /// The generated trade file.
    pub file: PathBuf,
    /// What `replay --no-drain` gives for it.
    pub want: Expected,
    pub tmp: TempDir,
}

impl Pair {
    /// A pair for test `test` over a generated file of `orders` orders
    /// (duplicates, late requests, malformed lines), nothing started.
    pub fn new(test: &str, orders: u64, seed: u64) -> Self {
        broker();
        let tmp = tempfile::tempdir().expect("temp dir");
        let file = gen_file(tmp.path(), orders, seed);
        let want = expected(&file, tmp.path());
        let input = TestQueue::new(test);
        let alerts = TestQueue::new(&format!("{test}-alerts"));
        let http = HttpEndpoint::start(41);
        let archive = tmp.path().join("alerts.jsonl");
        let ports = [free_port(), free_port()];
        let node = |i: usize| {
            let letter = ["a", "b"][i];
            let dir = tmp.path().join(letter);
            fs::create_dir_all(&dir).expect("a node's directory");
            let journal = dir.join("journal");
            let state = dir.join("state");
            let base = format!(
                "[engine]\n\
                 batch_ms = 2\n\
                 threads = 1\n\
                 [overfill]\n\
                 book_ttl_ms = {BOOK_TTL_MS}\n\
                 tombstone_ttl_ms = {TOMBSTONE_TTL_MS}\n\
                 [source]\n\
                 kind = \"amqp\"\n\
                 [source.amqp]\n\
                 queue = \"{q}\"\n\
                 prefetch = 1000\n\
                 consumer_tag = \"{q}-{letter}\"\n\
                 reconnect_min_ms = 100\n\
                 reconnect_max_ms = 1000\n\
                 [journal]\n\
                 dir = {journal}\n\
                 [state]\n\
                 dir = {state}\n\
                 [replay]\n\
                 dead_letter = {dead}\n\
                 [metrics]\n\
                 listen = \"127.0.0.1:0\"\n\
                 [delivery]\n\
                 shutdown_grace_ms = 2000\n\
                 [sinks.archive]\n\
                 kind = \"file\"\n\
                 path = {archive}\n\
                 [sinks.hook]\n\
                 kind = \"http\"\n\
                 url = \"{url}\"\n\
                 [sinks.bus]\n\
                 kind = \"amqp\"\n\
                 exchange = \"{sq}\"\n\
                 queue = \"{sq}\"\n\
                 routing_key = \"{sq}\"\n",
                q = input.name,
                sq = alerts.name,
                url = http.url,
                journal = toml_path(&journal),
                state = toml_path(&state),
                dead = toml_path(&dir.join("dead.jsonl")),
                archive = toml_path(&archive),
            );
            let n = Node {
                name: format!("{test}-{}-{letter}", std::process::id()),
                config: dir.join("aldebaran.toml"),
                dir,
                journal,
                state,
                listen: format!("127.0.0.1:{}", ports[i]),
                peer: format!("127.0.0.1:{}", ports[1 - i]),
                base,
                child: None,
                runs: 0,
            };
            n.write_config();
            n
        };
        let nodes = [node(0), node(1)];
        Pair {
            nodes,
            http,
            alerts,
            input,
            archive,
            file,
            want,
            tmp,
        }
    }

    /// Both nodes' logs, every run.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.nodes[0].logs(), self.nodes[1].logs())
    }

    /// The `ha:` lines of both nodes' logs (every run), in time order.
    pub fn ha_log(&self) -> String {
        let logs = self.logs();
        let mut lines: Vec<&str> = logs.lines().filter(|l| l.contains(" ha: ")).collect();
        lines.sort_unstable();
        lines.join("\n")
    }

    /// Both nodes' current log tails.
    pub fn tails(&self) -> String {
        format!("{}\n{}", self.nodes[0].tail(), self.nodes[1].tail())
    }

    /// Alerts the file sink holds (lines).
    pub fn archived(&self) -> usize {
        fs::read_to_string(&self.archive)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// Distinct keys the HTTP receiver got.
    pub fn http_keys(&self) -> usize {
        self.http
            .hits()
            .iter()
            .map(|h| h.idempotency_key.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    /// Waits until the file sink and the HTTP receiver hold `n` alerts or
    /// more each.
    #[track_caller]
    pub fn wait_shipped(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.archived() < n || self.http_keys() < n {
            assert!(
                Instant::now() < deadline,
                "the sinks never reached {n} alerts within {within:?} (file {}, http {})\n{}",
                self.archived(),
                self.http_keys(),
                self.tails()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `active` reports itself active with an in-sync standby
    /// and the other node reports following it in sync under the same
    /// epoch, holding the same journal head; returns that epoch.
    #[track_caller]
    pub fn wait_in_sync(&mut self, active: usize, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        let standby = 1 - active;
        let (an, sn) = (
            self.nodes[active].name.clone(),
            self.nodes[standby].name.clone(),
        );
        loop {
            self.nodes[active].assert_running();
            self.nodes[standby].assert_running();
            let st = self.nodes[active].status();
            let (a, s) = (st.first(), st.get(1));
            if let (Some(a), Some(s)) = (a, s) {
                let ok = a["node"] == an.as_str()
                    && a["role"] == "active"
                    && a["peer_up"] == true
                    && a["synced"] == true
                    && s["node"] == sn.as_str()
                    && s["role"] == "standby"
                    && s["peer_up"] == true
                    && s["synced"] == true
                    && s["lease_holder"] == an.as_str()
                    && a["epoch"].as_u64().is_some()
                    && s["epoch"] == a["epoch"]
                    && a["journal_head"].as_u64().is_some()
                    && s["journal_head"] == a["journal_head"];
                if ok {
                    return a["epoch"].as_u64().expect("epoch");
                }
            }
            assert!(
                Instant::now() < deadline,
                "{an} never active with {sn} following in sync within {within:?}\nlast status: \
                 {st:?}\n{}",
                self.tails()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Waits until a node reports itself active under an epoch above
    /// `above`; returns which node and its epoch.
    #[track_caller]
    pub fn wait_new_active(&mut self, above: u64, within: Duration) -> (usize, u64) {
        let deadline = Instant::now() + within;
        loop {
            for i in 0..2 {
                self.nodes[i].assert_running();
                if let Some(v) = self.nodes[i].own()
                    && v["role"] == "active"
                    && let Some(e) = v["epoch"].as_u64().filter(|&e| e > above)
                {
                    return (i, e);
                }
            }
            assert!(
                Instant::now() < deadline,
                "no node became active above epoch {above} within {within:?}\n{}",
                self.tails()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every sink holds all of replay's alerts (the file sink
    /// its lines, the HTTP receiver its distinct keys, the AMQP queue its
    /// messages) and the input queue is empty, acknowledged.
    #[track_caller]
    pub fn settle(&self, within: Duration) {
        let want = self.want.alerts.len();
        let deadline = Instant::now() + within;
        let mut amqp = None;
        loop {
            let (file, http) = (self.archived(), self.http_keys());
            if file >= want && http >= want {
                amqp = amqp_ready(&self.alerts.name);
                if amqp.is_some_and(|n| n as usize >= want) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the sinks never held the {want} alerts within {within:?}: file {file}, http {http}, \
                 amqp {amqp:?}\n{}",
                self.tails()
            );
            sleep(Duration::from_millis(250));
        }
        loop {
            let counts = self.input.counts();
            if counts == Some((0, 0)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the input queue is not drained and acknowledged: {counts:?}\n{}",
                self.tails()
            );
            sleep(Duration::from_secs(1));
        }
    }
}

impl Drop for Pair {
    /// A failed test keeps its files (logs, journals, sinks) when
    /// `FAILOVER_KEEP` is set; every test does with `FAILOVER_KEEP=all`.
    fn drop(&mut self) {
        let keep = std::env::var("FAILOVER_KEEP").ok();
        if keep.as_deref() == Some("all") || (keep.is_some() && std::thread::panicking()) {
            self.tmp.disable_cleanup(true);
            eprintln!("kept {}", self.tmp.path().display());
        }
    }
}
