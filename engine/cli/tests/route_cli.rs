//! `aldebaran route` and `aldebaran publish --shards` (SPEC §8), running the
//! built binary against the three-node test cluster of
//! `scripts/rabbitmq-cluster.sh` (the consistent-hash exchange needs its
//! plugin, which the default node lacks), and against the default node for
//! the refusals at start.
//!
//! On the cluster, every queue is a quorum queue (the SPEC §8 deployment):
//! the shards `Aldebaran.Trade_Data.0..2`, each test's own input queue and
//! its dead-letter queue. The shard names are fixed, so the tests that use
//! them run one at a time ([`route_support::shard_lock`]) and purge the
//! shards first. The input is filled by the harness (the default
//! exchange, one channel, confirmed), the outputs drained from the shards
//! after the router stopped.
//!
//! - every valid event on exactly one shard, an order's events on one shard
//!   and in input order, the rejected lines dead-lettered with the parser's
//!   reason, the input empty and fully acknowledged;
//! - `publish --shards` places each order where the router does;
//! - a start without the shards, or with a bad URL, exits 2 in one line;
//! - a router killed with SIGKILL and started again loses nothing;
//! - an operator's `close_connection`, and a stopped node, are failed over
//!   without loss, by the router and by `publish --shards`.

mod amqp_support;
mod route_support;

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    process::Command,
};

use broker::names::shard_queue;
use ingest::{amqp::order_key, parse::ParseScratch};
use route_support::{Amqp, BIN, Cluster, Got, Proc, cluster, figure, shard_lock};
use tempfile::TempDir;

const SHARDS: u32 = 3;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

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
        .env_remove("RUST_LOG")
        .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
        .output()
        .expect("run aldebaran");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn aldebaran_ok(args: &[&str]) -> Out {
    let out = aldebaran(args);
    assert_eq!(out.code, Some(0), "aldebaran {args:?}: {out:#?}");
    out
}

fn shard_queues() -> Vec<String> {
    (0..SHARDS).map(shard_queue).collect()
}

/// One test's slice of the cluster: the shard lock, the shards declared
/// (quorum) and purged, an input queue of its own (quorum, deleted with
/// its dead-letter queue at the end), the harness's connection.
struct Setup {
    cluster: &'static Cluster,
    amqp: Amqp,
    queue: String,
    dead: String,
    _lock: route_support::ShardLock,
}

impl Setup {
    fn new(test: &str) -> Self {
        let cluster = cluster();
        let lock = shard_lock();
        let queue = format!("aldebaran-route-{}-{test}", std::process::id());
        let amqp = Amqp::connect(&cluster.urls[0]);
        let declare = [
            "declare",
            "--url",
            &cluster.urls[0],
            "--queue",
            &queue,
            "--queue-type",
            "quorum",
            "--shards",
            "3",
        ];
        if aldebaran(&declare).code != Some(0) {
            // Left by other runs with another type or shard count: the
            // fixed names are the tests' own on the test cluster.
            for q in ["Aldebaran.Alert", "Aldebaran.Trade_Data"] {
                amqp.delete(q);
            }
            for k in 0..16 {
                amqp.delete(&shard_queue(k));
            }
            aldebaran_ok(&declare);
        }
        for q in shard_queues() {
            amqp.purge(&q);
        }
        let dead = format!("{queue}.dead");
        amqp.delete(&dead);
        Setup {
            cluster,
            amqp,
            queue,
            dead,
            _lock: lock,
        }
    }

    /// `aldebaran route` on this test's queue, with the nodes in `order`.
    fn router(&self, order: &[usize], extra: &[&str]) -> Proc {
        let urls = self.cluster.list(order);
        let mut args = vec![
            "route",
            "--url",
            &urls,
            "--queue",
            &self.queue,
            "--queue-type",
            "quorum",
            "--shards",
            "3",
        ];
        args.extend_from_slice(extra);
        Proc::start(&args)
    }

    /// Messages on the shards and in the dead-letter queue.
    fn outputs(&self) -> u64 {
        self.amqp.total(&shard_queues()) + u64::from(self.amqp.count(&self.dead).unwrap_or(0))
    }

    /// Every message of each shard, in order.
    fn drain_shards(&self) -> Vec<Vec<Got>> {
        shard_queues().iter().map(|q| self.amqp.drain(q)).collect()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.amqp.delete(&self.queue);
        self.amqp.delete(&self.dead);
    }
}

/// Starts node `n` again when dropped, so a failed test leaves the cluster
/// whole for the next.
struct NodeBack<'a>(&'a Cluster, usize);

impl Drop for NodeBack<'_> {
    fn drop(&mut self) {
        self.0.start_node(self.1);
    }
}

/// A generated trade file's lines, told apart as the parser does.
struct Lines {
    path: PathBuf,
    /// Every non-blank line, in file order.
    all: Vec<Vec<u8>>,
    /// The valid ones with their order id.
    valid: Vec<(String, Vec<u8>)>,
    /// The rejected ones with their reason.
    rejected: Vec<(String, Vec<u8>)>,
}

fn gen_lines(dir: &Path, orders: u64, seed: u64) -> Lines {
    let path = dir.join("trades.jsonl");
    aldebaran_ok(&[
        "gen",
        "--orders",
        &orders.to_string(),
        "--malformed",
        "0.02",
        "--duplicates",
        "0.01",
        "--late",
        "0.1",
        "--seed",
        &seed.to_string(),
        "-o",
        path.to_str().expect("utf-8 temp path"),
    ]);
    let data = std::fs::read(&path).expect("read the trade file");
    let all: Vec<Vec<u8>> = data
        .split(|&b| b == b'\n')
        .filter(|l| !ingest::parse::is_blank(l))
        .map(<[u8]>::to_vec)
        .collect();
    let mut s = ParseScratch::default();
    let (mut valid, mut rejected) = (Vec::new(), Vec::new());
    for l in &all {
        match order_key(l, &mut s) {
            Ok(order) => valid.push((order.to_owned(), l.clone())),
            Err(reason) => rejected.push((reason.as_str().to_owned(), l.clone())),
        }
    }
    assert!(
        !rejected.is_empty() && valid.len() > 1000,
        "a poor test file"
    );
    Lines {
        path,
        all,
        valid,
        rejected,
    }
}

/// One message per line, without message ids.
fn one_per_message(lines: &[Vec<u8>]) -> Vec<(Option<String>, Vec<u8>)> {
    lines.iter().map(|l| (None, l.clone())).collect()
}

fn multiset<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> HashMap<&'a [u8], usize> {
    let mut m = HashMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// Each order's shard, from the shards' contents; panics if an order is on
/// two.
#[track_caller]
fn placement(shards: &[Vec<Got>]) -> HashMap<String, usize> {
    let mut s = ParseScratch::default();
    let mut at = HashMap::new();
    for (k, msgs) in shards.iter().enumerate() {
        for m in msgs {
            let Ok(order) = order_key(&m.body, &mut s) else {
                continue;
            };
            let was = at.insert(order.to_owned(), k);
            assert!(
                was.is_none_or(|w| w == k),
                "order {order} on shards {was:?} and {k}"
            );
        }
    }
    at
}

/// Every valid line reaches the shards at least as often as the input
/// holds it, every rejected line the dead-letter queue, with its reason.
#[track_caller]
fn assert_nothing_lost(lines: &Lines, shards: &[Vec<Got>], dead: &[Got]) {
    let got = multiset(shards.iter().flatten().map(|m| m.body.as_slice()));
    for (line, n) in multiset(lines.valid.iter().map(|(_, l)| l.as_slice())) {
        let have = got.get(line).copied().unwrap_or(0);
        assert!(
            have >= n,
            "event lost ({have} of {n}): {}",
            String::from_utf8_lossy(line)
        );
    }
    let got_dead = multiset(dead.iter().map(|m| m.body.as_slice()));
    for (line, n) in multiset(lines.rejected.iter().map(|(_, l)| l.as_slice())) {
        assert!(
            got_dead.get(line).copied().unwrap_or(0) >= n,
            "dead letter lost: {}",
            String::from_utf8_lossy(line)
        );
    }
    assert_reasons(dead);
    placement(shards);
}

/// Each dead letter carries the parser's reason for its bytes and names
/// its input and line.
#[track_caller]
fn assert_reasons(dead: &[Got]) {
    let mut s = ParseScratch::default();
    for d in dead {
        let want = order_key(&d.body, &mut s).expect_err("a dead letter is rejected");
        assert_eq!(
            d.headers.get("x-aldebaran-reason").map(String::as_str),
            Some(want.as_str()),
            "{d:?}"
        );
        assert!(
            d.headers.contains_key("x-aldebaran-source-message-id"),
            "{d:?}"
        );
        assert!(d.headers.contains_key("x-aldebaran-line"), "{d:?}");
    }
}

/// The router's summary line (its last line of stderr).
fn summary(p: &Proc) -> String {
    let err = p.stderr();
    let line = err.lines().last().unwrap_or_default().to_owned();
    assert!(line.starts_with("routed "), "no summary:\n{err}");
    line
}

#[track_caller]
fn stop_router(mut p: Proc) -> String {
    let code = p.signal_and_wait("TERM");
    assert_eq!(code, Some(0), "the router did not exit 0:\n{}", p.stderr());
    summary(&p)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// (a) and (b): placement, order, dead letters and acks of one router; then
/// `publish --shards` of the same file places each order on the same shard.
#[test]
fn route_places_each_order_on_one_shard_as_publish_does() {
    let t = Setup::new("place");
    let dir = TempDir::new().expect("temp dir");
    let lines = gen_lines(dir.path(), 1500, 7);

    // Mostly one event per message; every 5th message carries three lines
    // around a blank one; every other message has a message id.
    let mut messages = Vec::new();
    let mut ids = HashSet::new();
    let mut rest = lines.all.as_slice();
    while !rest.is_empty() {
        let k = messages.len();
        let take = if k % 5 == 4 { 3.min(rest.len()) } else { 1 };
        let (now, later) = rest.split_at(take);
        rest = later;
        let body = if take == 3 {
            [now[0].as_slice(), b"", now[1].as_slice(), now[2].as_slice()].join(&b'\n')
        } else {
            now.join(&b'\n')
        };
        let id = (k % 2 == 0).then(|| format!("m-{k}"));
        if let Some(id) = &id {
            let line_idx: &[usize] = if take == 3 { &[0, 2, 3] } else { &[0] };
            ids.extend(line_idx.iter().map(|i| format!("{id}#{i}")));
        }
        messages.push((id, body));
    }
    t.amqp.fill(&t.queue, &messages);

    let mut r = t.router(&[1, 2, 3], &[]);
    let want = lines.all.len() as u64;
    r.wait_until("every line routed and the input drained", || {
        t.outputs() >= want && t.amqp.count(&t.queue) == Some(0)
    });
    let s = stop_router(r);
    assert_eq!(figure(&s, "events"), Some(lines.valid.len() as u64), "{s}");
    assert_eq!(figure(&s, "dead"), Some(lines.rejected.len() as u64), "{s}");
    assert_eq!(figure(&s, "messages"), Some(messages.len() as u64), "{s}");
    assert_eq!(figure(&s, "reconnects"), Some(0), "{s}");
    // Stopped with nothing unacknowledged: nothing came back to the queue.
    assert_eq!(
        t.amqp.count(&t.queue),
        Some(0),
        "input not fully acknowledged"
    );

    let shards = t.drain_shards();
    let dead = t.amqp.drain(&t.dead);
    // Exactly once each, on one shard.
    let got = multiset(shards.iter().flatten().map(|m| m.body.as_slice()));
    assert_eq!(
        got,
        multiset(lines.valid.iter().map(|(_, l)| l.as_slice())),
        "the shards do not hold the valid lines exactly once"
    );
    assert!(shards.iter().all(|s| !s.is_empty()), "a shard got nothing");
    let routed = placement(&shards);
    // An order's events in input order on its shard.
    for (k, msgs) in shards.iter().enumerate() {
        let mut s = ParseScratch::default();
        let mut on_shard: HashMap<String, Vec<&[u8]>> = HashMap::new();
        for m in msgs {
            if let Ok(o) = order_key(&m.body, &mut s) {
                on_shard.entry(o.to_owned()).or_default().push(&m.body);
            }
        }
        for (order, events) in on_shard {
            let input: Vec<&[u8]> = lines
                .valid
                .iter()
                .filter(|(o, _)| *o == order)
                .map(|(_, l)| l.as_slice())
                .collect();
            assert_eq!(events, input, "order {order} out of order on shard {k}");
        }
    }
    // Output ids: the input's id (or its tag) and the line.
    let out_ids: Vec<&str> = shards
        .iter()
        .flatten()
        .chain(&dead)
        .map(|m| {
            m.message_id
                .as_deref()
                .expect("every output has a message id")
        })
        .collect();
    assert!(
        out_ids
            .iter()
            .all(|id| id.starts_with("m-") || id.starts_with("tag:"))
    );
    let from_ids: HashSet<String> = out_ids
        .iter()
        .filter(|id| id.starts_with("m-"))
        .map(|id| (*id).to_owned())
        .collect();
    assert_eq!(from_ids, ids, "output ids of the inputs with an id");
    assert_eq!(
        multiset(dead.iter().map(|m| m.body.as_slice())),
        multiset(lines.rejected.iter().map(|(_, l)| l.as_slice())),
        "the dead letters are not the rejected lines"
    );
    assert_reasons(&dead);

    // (b) The publisher keys exactly as the router does.
    let refused = aldebaran(&[
        "publish",
        lines.path.to_str().expect("utf-8"),
        "--url",
        &t.cluster.urls[0],
        "--shards",
        "3",
        "--batch",
        "2",
    ]);
    assert_eq!(refused.code, Some(2), "{refused:#?}");
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:#?}");
    assert!(
        refused.stderr.contains("--batch 2 with --shards"),
        "{refused:#?}"
    );

    let out = aldebaran_ok(&[
        "publish",
        lines.path.to_str().expect("utf-8"),
        "--url",
        &t.cluster.list(&[2, 3, 1]),
        "--shards",
        "3",
    ]);
    assert_eq!(figure(&out.stdout, "events"), Some(want), "{out:#?}");
    assert!(
        out.stdout
            .contains("to exchange Aldebaran.Shards (3 shards)"),
        "{out:#?}"
    );
    let published = t.drain_shards();
    let total: usize = published.iter().map(Vec::len).sum();
    assert_eq!(
        total as u64, want,
        "publish --shards sends every line, rejected ones too"
    );
    assert_eq!(
        placement(&published),
        routed,
        "publish and route place orders apart"
    );
}

/// (c) Refusals at start, on the default node (no shards there) and on
/// the cluster (another shard count): exit 2, one line.
#[test]
fn a_start_without_the_shards_or_with_a_bad_url_exits_2_in_one_line() {
    amqp_support::broker();
    let queue = format!("aldebaran-route-{}-noshards", std::process::id());
    let default = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, "{}\n").expect("write");
    let runs = [
        (
            aldebaran(&[
                "route", "--url", default, "--queue", &queue, "--shards", "3",
            ]),
            "shard queue Aldebaran.Trade_Data.0 does not exist: declare the shards first",
        ),
        (
            aldebaran(&[
                "publish",
                file.to_str().expect("utf-8"),
                "--url",
                default,
                "--shards",
                "3",
            ]),
            "shard queue Aldebaran.Trade_Data.0 does not exist: declare the shards first",
        ),
        (
            aldebaran(&[
                "route",
                "--url",
                "amqp://guest:s3cret@127.0.0.1:5672/%2f,",
                "--shards",
                "3",
            ]),
            "URL 2 of the list is empty",
        ),
        (
            aldebaran(&[
                "route",
                "--url",
                "amqp:guest:s3cret@127.0.0.1",
                "--shards",
                "3",
            ]),
            "invalid broker URL",
        ),
    ];
    for (out, says) in &runs {
        assert_eq!(out.code, Some(2), "{out:#?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
        assert!(out.stderr.starts_with("aldebaran: error: "), "{out:#?}");
        assert!(out.stderr.contains(says), "{says}: {out:#?}");
        assert!(!out.stderr.contains("s3cret"), "{out:#?}");
    }

    let t = Setup::new("counts");
    for (n, says) in [
        (
            "4",
            "shard queue Aldebaran.Trade_Data.3 does not exist: declare the shards first",
        ),
        (
            "2",
            "queue Aldebaran.Trade_Data.2 exists: the deployment has more than 2 shards",
        ),
    ] {
        let out = aldebaran(&[
            "route",
            "--url",
            &t.cluster.list(&[1, 2, 3]),
            "--queue",
            &t.queue,
            "--shards",
            n,
        ]);
        assert_eq!(out.code, Some(2), "{out:#?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
        assert!(out.stderr.contains(says), "{says}: {out:#?}");
    }
}

/// (d) A router killed with SIGKILL mid-stream, then started again: its
/// unacknowledged input is redelivered and routed; nothing is lost.
#[test]
fn a_router_killed_mid_stream_and_restarted_loses_nothing() {
    let t = Setup::new("kill");
    let dir = TempDir::new().expect("temp dir");
    let lines = gen_lines(dir.path(), 3000, 11);
    t.amqp.fill(&t.queue, &one_per_message(&lines.all));

    let mut first = t.router(&[1, 2, 3], &[]);
    first.wait_until("a first part routed", || t.outputs() >= 1000);
    assert_eq!(first.signal_and_wait("KILL"), None, "killed by the signal");
    let killed_at = t.outputs();
    assert!(
        killed_at < lines.all.len() as u64,
        "killed after the end: {killed_at}"
    );

    let mut second = t.router(&[1, 2, 3], &[]);
    let want = lines.all.len() as u64;
    second.wait_until("the rest routed", || {
        t.amqp.count(&t.queue) == Some(0) && t.outputs() >= want
    });
    let s = stop_router(second);
    assert!(figure(&s, "redelivered").is_some_and(|n| n > 0), "{s}");
    assert_eq!(
        t.amqp.count(&t.queue),
        Some(0),
        "input not fully acknowledged"
    );
    let shards = t.drain_shards();
    let dead = t.amqp.drain(&t.dead);
    assert_nothing_lost(&lines, &shards, &dead);
}

/// (e) An operator closes the router's connection mid-stream: it reconnects
/// (to the next node) and routes on; nothing is lost.
#[test]
fn a_closed_connection_is_failed_over_without_loss() {
    let t = Setup::new("close");
    let dir = TempDir::new().expect("temp dir");
    let lines = gen_lines(dir.path(), 3000, 13);
    let (before, after) = lines.all.split_at(lines.all.len() / 2);
    t.amqp.fill(&t.queue, &one_per_message(before));

    let mut r = t.router(&[1, 2, 3], &[]);
    r.wait_until("a first part routed", || t.outputs() >= 1000);
    let conns = t
        .cluster
        .ctl(1, &["-q", "list_connections", "pid", "client_properties"])
        .unwrap_or_default();
    let pid = conns
        .lines()
        .find(|l| l.contains("aldebaran-route"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no router connection in:\n{conns}"))
        .to_owned();
    assert!(
        t.cluster
            .ctl(1, &["-q", "close_connection", &pid, "test"])
            .is_some(),
        "close_connection {pid} failed"
    );
    // The second half comes after the close: routed on the new link.
    t.amqp.fill(&t.queue, &one_per_message(after));
    let want = lines.all.len() as u64;
    r.wait_until("everything routed after the close", || {
        t.amqp.count(&t.queue) == Some(0) && t.outputs() >= want
    });
    let s = stop_router(r);
    assert!(figure(&s, "reconnects").is_some_and(|n| n >= 1), "{s}");
    let shards = t.drain_shards();
    let dead = t.amqp.drain(&t.dead);
    assert_nothing_lost(&lines, &shards, &dead);
}

/// (e) The node the router is connected to stops mid-stream: it fails over
/// to the next node of its list and routes on; nothing is lost.
#[test]
fn a_stopped_node_is_failed_over_without_loss() {
    let t = Setup::new("node");
    let dir = TempDir::new().expect("temp dir");
    let lines = gen_lines(dir.path(), 3000, 17);
    let (before, after) = lines.all.split_at(lines.all.len() / 2);
    t.amqp.fill(&t.queue, &one_per_message(before));

    // Node 2 first: the harness's own connection is on node 1.
    let mut r = t.router(&[2, 3, 1], &[]);
    r.wait_until("a first part routed", || t.outputs() >= 1000);
    let back = NodeBack(t.cluster, 2);
    t.cluster.stop_node(2);
    t.amqp.fill(&t.queue, &one_per_message(after));
    let want = lines.all.len() as u64;
    r.wait_until("everything routed through the other nodes", || {
        t.amqp.count(&t.queue) == Some(0) && t.outputs() >= want
    });
    let s = stop_router(r);
    assert!(figure(&s, "reconnects").is_some_and(|n| n >= 1), "{s}");
    let shards = t.drain_shards();
    let dead = t.amqp.drain(&t.dead);
    assert_nothing_lost(&lines, &shards, &dead);
    drop(back);
}

/// `publish --shards` whose node stops mid-file resumes on the next node
/// from the first unconfirmed message; every line reaches the shards. Paced
/// so the file outlasts the node's stop (its connections go some seconds
/// into `rabbitmqctl stop`).
#[test]
fn publish_to_the_shards_fails_over_mid_file() {
    let t = Setup::new("publish");
    let dir = TempDir::new().expect("temp dir");
    let lines = gen_lines(dir.path(), 3000, 19);
    let file = lines.path.to_str().expect("utf-8").to_owned();
    let urls = t.cluster.list(&[2, 3, 1]);
    let mut p = Proc::start(&[
        "publish", &file, "--url", &urls, "--shards", "3", "--rate", "600",
    ]);
    p.wait_until("a first part published", || {
        t.amqp.total(&shard_queues()) >= 1000
    });
    let back = NodeBack(t.cluster, 2);
    t.cluster.stop_node(2);
    assert_eq!(p.wait(), Some(0), "publish failed:\n{}", p.stderr());
    let out = p.stdout();
    assert!(out.contains("links lost"), "no failover reported: {out}");
    assert!(figure(&out, "republished").is_some_and(|n| n > 0), "{out}");
    assert!(
        figure(&out, "messages").is_some_and(|n| n == lines.all.len() as u64),
        "{out}"
    );
    let shards = t.drain_shards();
    let got = multiset(shards.iter().flatten().map(|m| m.body.as_slice()));
    for (line, n) in multiset(lines.all.iter().map(Vec::as_slice)) {
        assert!(
            got.get(line).copied().unwrap_or(0) >= n,
            "line lost: {}",
            String::from_utf8_lossy(line)
        );
    }
    placement(&shards);
    drop(back);
}
