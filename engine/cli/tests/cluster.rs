//! Scale-out (SPEC §8) on the three-node loopback cluster of
//! `scripts/rabbitmq-cluster.sh`: quorum queues, three shards behind the
//! consistent-hash exchange, two routers, and clients that move between
//! the nodes. A generated stream (duplicates, late requests, malformed
//! lines) goes through `publish` → `Aldebaran.Trade_Data` → `route` ×2 →
//! `Aldebaran.Shards` → `run --shard K` ×3 → file sinks and the one AMQP
//! alert queue; then:
//!
//! - the union of the shards' journals holds, order by order, the alert
//!   `replay` of the whole file gives (same kind, order, client, stock and
//!   request: two routers may swap two events of one order, and then the
//!   purchase that crossed the limit, and the count at that moment, may be
//!   another one — SPEC §2 still alerts the order once), and no alert id is
//!   in two shards;
//! - every shard's file sink holds its journal's alerts once each; the
//!   alert queue holds every alert of every shard, by `message_id`;
//! - the lines the parser rejects are in the routers' dead-letter queue.
//!
//! The second test does the same while it stops the node that leads the
//! input queue, kills a router, stops another node and kills the active of
//! shard 0's pair, restarting each. Both run one at a time (the shard
//! names are fixed) and are bounded in time.

mod amqp_support;
mod cluster_support;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fs,
    path::{Path, PathBuf},
    thread::sleep,
    time::Duration,
};

use serde_json::Value;

use amqp_support::{aldebaran_ok, gen_file, journal_alerts};
use cluster_support::{Cluster, Proc, drain, exclusive, wait_until};

/// Shards of the deployment.
const SHARDS: u32 = 3;
/// No book expires and no order is forgotten within a test's stream: what
/// a shard decides then depends on its orders' own events only, whatever
/// the other shards' clocks (expiry within a stream is covered by the
/// single-queue tests).
const BOOK_TTL_MS: u64 = 1_000_000_000;
const TOMBSTONE_TTL_MS: u64 = 2_000_000_000;
/// How long a whole stream may take to come through.
const DRAIN: Duration = Duration::from_secs(240);

fn toml_str(p: &Path) -> String {
    Value::from(p.to_str().expect("utf-8 temp path")).to_string()
}

/// One engine process of a shard: its config, journal and file sink.
struct Engine {
    proc: Proc,
    journal: PathBuf,
    archive: PathBuf,
}

/// A sharded deployment for one test: what replay gives, the engines (a
/// pair for shard 0 when asked), the routers.
struct Deployment {
    cluster: Cluster,
    /// Per shard, its engine or its pair's two nodes.
    shards: Vec<Vec<Engine>>,
    routers: Vec<Proc>,
    file: PathBuf,
    /// `replay --no-drain` of the whole file, by order id.
    want: BTreeMap<String, Value>,
    /// The distinct lines `replay` rejected, as bytes.
    rejected: BTreeSet<Vec<u8>>,
    tmp: tempfile::TempDir,
}

impl Deployment {
    fn new(orders: u64, seed: u64, pair_for_shard_0: bool) -> Deployment {
        let cluster = Cluster::get();
        cluster.reset();
        let tmp = tempfile::tempdir().expect("temp dir");
        aldebaran_ok(&[
            "declare",
            "--url",
            &cluster.urls,
            "--queue-type",
            "quorum",
            "--shards",
            &SHARDS.to_string(),
        ]);
        let file = gen_file(tmp.path(), orders, seed);
        let (want, rejected) = expected(&file, tmp.path());
        let mut shards = Vec::new();
        for k in 0..SHARDS {
            let letters: &[&str] = if k == 0 && pair_for_shard_0 {
                &["a", "b"]
            } else {
                &["a"]
            };
            let ports: Vec<u16> = letters.iter().map(|_| free_port()).collect();
            let archive = tmp.path().join(format!("shard-{k}-alerts.jsonl"));
            let mut nodes = Vec::new();
            for (i, letter) in letters.iter().enumerate() {
                let dir = tmp.path().join(format!("shard-{k}{letter}"));
                fs::create_dir_all(&dir).expect("dir");
                let journal = dir.join("journal");
                let ha = if letters.len() == 2 {
                    format!(
                        "[ha]\nnode = \"shard-{k}{letter}-{pid}\"\nlisten = \"127.0.0.1:{}\"\npeer = \"127.0.0.1:{}\"\n",
                        ports[i],
                        ports[1 - i],
                        pid = std::process::id()
                    )
                } else {
                    String::new()
                };
                // Each engine starts its list at another node.
                let first = (k as usize + i) % cluster.url.len();
                let config = format!(
                    "[engine]\nbatch_ms = 2\nthreads = 1\n\
                     [overfill]\nbook_ttl_ms = {BOOK_TTL_MS}\ntombstone_ttl_ms = {TOMBSTONE_TTL_MS}\n\
                     [source]\nkind = \"amqp\"\n\
                     [source.amqp]\nurls = {urls}\nqueue_type = \"quorum\"\nshard = {k}\n\
                     prefetch = 500\nconsumer_tag = \"shard-{k}{letter}\"\n\
                     reconnect_min_ms = 100\nreconnect_max_ms = 1000\n\
                     [journal]\ndir = {journal}\n\
                     [state]\ndir = {state}\n\
                     [replay]\ndead_letter = {dead}\n\
                     [metrics]\nlisten = \"127.0.0.1:0\"\n\
                     [delivery]\nshutdown_grace_ms = 2000\n\
                     [sinks.archive]\nkind = \"file\"\npath = {archive}\n\
                     [sinks.bus]\nkind = \"amqp\"\nurls = {urls}\nqueue_type = \"quorum\"\n\
                     confirm_timeout_ms = 5000\n{ha}",
                    urls = cluster.urls_from(first),
                    journal = toml_str(&journal),
                    state = toml_str(&dir.join("state")),
                    dead = toml_str(&dir.join("dead.jsonl")),
                    archive = toml_str(&archive),
                );
                let path = dir.join("aldebaran.toml");
                fs::write(&path, config).expect("write a config");
                let name = format!("shard-{k}{letter}");
                let proc = Proc::new(
                    &name,
                    &dir,
                    &["run", "--config", path.to_str().expect("utf-8")],
                );
                nodes.push(Engine {
                    proc,
                    journal,
                    archive: archive.clone(),
                });
            }
            shards.push(nodes);
        }
        let routers = (0..2)
            .map(|i| {
                Proc::new(
                    &format!("router-{i}"),
                    &tmp.path().join("routers"),
                    &[
                        "route",
                        "--url",
                        &cluster.flag_from(i + 1),
                        "--shards",
                        &SHARDS.to_string(),
                        "--queue-type",
                        "quorum",
                        "--prefetch",
                        "200",
                    ],
                )
            })
            .collect();
        Deployment {
            cluster,
            shards,
            routers,
            file,
            want,
            rejected,
            tmp,
        }
    }

    fn start_all(&mut self) {
        for e in self.shards.iter_mut().flatten() {
            e.proc.start();
        }
        for r in &mut self.routers {
            r.start();
        }
    }

    /// Publishes the file to the input queue (`rate` events/s at most) in
    /// the background; the process to wait for.
    fn publish(&self, rate: Option<u64>) -> Proc {
        let mut args = vec![
            "publish".to_owned(),
            self.file.to_str().expect("utf-8").to_owned(),
            "--url".to_owned(),
            self.cluster.urls.clone(),
            "--queue-type".to_owned(),
            "quorum".to_owned(),
        ];
        if let Some(r) = rate {
            args.extend(["--rate".to_owned(), r.to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut p = Proc::new("publish", &self.tmp.path().join("routers"), &refs);
        p.start();
        p
    }

    /// Every process's log tail and the queues, for failure messages.
    fn context(&self) -> String {
        let mut out = format!("queues: {:?}\n", self.cluster.counts());
        for e in self.shards.iter().flatten() {
            out.push_str(&e.proc.tail());
            out.push('\n');
        }
        for r in &self.routers {
            out.push_str(&r.tail());
            out.push('\n');
        }
        out
    }

    /// Each shard's alerts: the journal of its engine, or the longer of
    /// its pair's two (checked to agree on what they share).
    fn shard_alerts(&self) -> Vec<Vec<Value>> {
        self.shards
            .iter()
            .map(|nodes| {
                let mut journals: Vec<Vec<Value>> =
                    nodes.iter().map(|e| journal_alerts(&e.journal)).collect();
                journals.sort_by_key(|j| std::cmp::Reverse(j.len()));
                let longest = journals.remove(0);
                for other in &journals {
                    assert_eq!(
                        &longest[..other.len()],
                        &other[..],
                        "the pair's journals differ"
                    );
                }
                longest
            })
            .collect()
    }

    /// Waits until every alert replay gives is journaled by some shard and
    /// shipped to every shard's file sink, and the queues are empty.
    fn wait_done(&mut self) {
        let want = self.want.len();
        let ctx = || self.context();
        wait_until(
            &format!("{want} alerts journaled, shipped, and every queue empty"),
            DRAIN,
            || {
                let journaled: usize = self.shard_alerts().iter().map(Vec::len).sum();
                let shipped: usize = self.shards.iter().map(|n| lines(&n[0].archive).len()).sum();
                let counts = self.cluster.counts();
                let queues_empty = (0..SHARDS)
                    .map(broker::names::shard_queue)
                    .chain(["Aldebaran.Trade_Data".to_owned()])
                    .all(|q| counts.get(&q).is_some_and(|&(r, u)| r == 0 && u == 0));
                journaled >= want && shipped >= journaled && queues_empty
            },
            ctx,
        );
    }

    /// The checks of the module doc; returns how many orders were alerted
    /// with another trigger than replay's.
    fn verify(&self) -> usize {
        let shards = self.shard_alerts();
        let mut got: BTreeMap<String, Value> = BTreeMap::new();
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (k, alerts) in shards.iter().enumerate() {
            for a in alerts {
                let id = a["alert_id"].as_str().expect("alert_id").to_owned();
                if let Some(other) = owner.insert(id.clone(), k) {
                    panic!("alert {id} is in shards {other} and {k}");
                }
                let order = a["order_id"].as_str().expect("order_id").to_owned();
                assert!(
                    got.insert(order.clone(), a.clone()).is_none(),
                    "order {order} alerted twice"
                );
            }
        }
        let (w, g): (BTreeSet<_>, BTreeSet<_>) = (self.want.keys().collect(), got.keys().collect());
        assert_eq!(
            g.symmetric_difference(&w).collect::<Vec<_>>(),
            Vec::<&&String>::new(),
            "orders alerted by the shards and by replay differ"
        );
        let mut other_trigger = 0;
        for (order, want) in &self.want {
            let got = &got[order];
            for field in ["kind", "order_id", "client", "stock", "requested"] {
                assert_eq!(got[field], want[field], "{field} of order {order}");
            }
            if got["trigger_id"] != want["trigger_id"] {
                other_trigger += 1;
            }
        }
        // Each shard's file sink: its journal's alerts, each once.
        for (k, alerts) in shards.iter().enumerate() {
            let archived = lines(&self.shards[k][0].archive);
            let ids: Vec<String> = archived
                .iter()
                .map(|l| {
                    let v: Value = serde_json::from_str(l).expect("a sink line is JSON");
                    v["alert_id"].as_str().expect("alert_id").to_owned()
                })
                .collect();
            let distinct: BTreeSet<&String> = ids.iter().collect();
            assert_eq!(
                distinct.len(),
                ids.len(),
                "shard {k}'s file sink repeats an alert"
            );
            let journaled: BTreeSet<&str> = alerts
                .iter()
                .map(|a| a["alert_id"].as_str().expect("id"))
                .collect();
            let distinct: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            assert_eq!(distinct, journaled, "shard {k}'s file sink");
        }
        // The one alert queue: every shard's alerts, by message_id.
        let bus = drain(&self.cluster, "Aldebaran.Alert");
        let ids: BTreeSet<String> = bus.iter().filter_map(|(_, id)| id.clone()).collect();
        let all: BTreeSet<String> = owner.keys().cloned().collect();
        assert_eq!(ids, all, "the AMQP alert queue's message ids");
        // The routers' dead letters: every line replay rejected.
        let dead: BTreeSet<Vec<u8>> = drain(&self.cluster, "Aldebaran.Trade_Data.dead")
            .into_iter()
            .map(|(body, _)| body)
            .collect();
        assert_eq!(dead, self.rejected, "the routers' dead letters");
        other_trigger
    }

    /// Alerts journaled so far, over every shard.
    fn journaled(&self) -> usize {
        self.shard_alerts().iter().map(Vec::len).sum()
    }

    /// Waits until more than `before` alerts are journaled: the stream
    /// still flows after `fault`.
    #[track_caller]
    fn keeps_alerting(&self, fault: &str, before: usize) {
        wait_until(
            &format!("alerts after {fault}"),
            DRAIN,
            || self.journaled() > before,
            || self.context(),
        );
    }

    fn stop_all(&mut self) {
        for r in &mut self.routers {
            r.terminate(Duration::from_secs(30));
        }
        for e in self.shards.iter_mut().flatten() {
            e.proc.terminate(Duration::from_secs(30));
        }
    }
}

/// Waits for `publisher` to end, which it must do with 0.
#[track_caller]
fn published(publisher: &mut Proc) {
    if publisher.running() {
        assert_eq!(
            publisher.wait_exit(DRAIN),
            Some(0),
            "publish failed:\n{}",
            publisher.tail()
        );
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// `replay --no-drain` of `file` with the tests' TTLs: its alerts by order
/// id, and the distinct lines it rejected.
fn expected(file: &Path, dir: &Path) -> (BTreeMap<String, Value>, BTreeSet<Vec<u8>>) {
    let journal = dir.join("replay-journal");
    let dead = dir.join("replay-dead.jsonl");
    aldebaran_ok(&[
        "replay",
        file.to_str().expect("utf-8"),
        "--no-drain",
        "-q",
        "--journal",
        journal.to_str().expect("utf-8"),
        "--dead-letter",
        dead.to_str().expect("utf-8"),
        "--book-ttl-ms",
        &BOOK_TTL_MS.to_string(),
        "--tombstone-ttl-ms",
        &TOMBSTONE_TTL_MS.to_string(),
    ]);
    let mut by_order = BTreeMap::new();
    for a in journal_alerts(&journal) {
        let order = a["order_id"].as_str().expect("order_id").to_owned();
        assert!(
            by_order.insert(order, a).is_none(),
            "replay alerted an order twice"
        );
    }
    assert!(
        by_order.len() > 20,
        "the stream should alert: {}",
        by_order.len()
    );
    let rejected: BTreeSet<Vec<u8>> = lines(&dead)
        .iter()
        .map(|l| {
            use base64::Engine as _;
            let v: Value = serde_json::from_str(l).expect("a dead letter is JSON");
            match (v["raw"].as_str(), v["raw_base64"].as_str()) {
                (Some(raw), _) => raw.as_bytes().to_vec(),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("raw_base64 is base64"),
                _ => panic!("a dead letter without its line: {l}"),
            }
        })
        .collect();
    assert!(
        !rejected.is_empty(),
        "the stream should hold malformed lines"
    );
    (by_order, rejected)
}

/// A port for a replication address, free when tried.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn three_shards_and_two_routers_alert_what_replay_does() {
    let _one = exclusive();
    let mut d = Deployment::new(1_500, 81, false);
    d.start_all();
    let mut publisher = d.publish(None);
    published(&mut publisher);
    d.wait_done();
    let other = d.verify();
    println!(
        "{} orders alerted as replay does; {other} with another trigger (two routers swapped their events)",
        d.want.len()
    );
    d.stop_all();
}

#[test]
fn nodes_routers_and_an_active_fail_and_nothing_is_lost_or_doubled() {
    let _one = exclusive();
    let mut d = Deployment::new(1_500, 82, true);
    d.start_all();
    // Shard 0's pair: one of them takes the lease.
    sleep(Duration::from_secs(3));
    // ~8k lines at 80/s: the stream lasts ~100 s, through every fault (a
    // node's restart takes 20-30 s here); each fault is checked to fall
    // while the stream still flows.
    let mut publisher = d.publish(Some(80));
    d.keeps_alerting("the start", 0);

    // 1. The node that leads the input queue stops, and comes back.
    assert!(publisher.running(), "the stream ended before the faults");
    let leader = d.cluster.leader("Aldebaran.Trade_Data");
    let before = d.journaled();
    d.cluster.stop_node(leader);
    d.keeps_alerting("the input queue's leader stopped", before);
    d.cluster.start_node(leader);

    // 2. A router is killed; the other carries on; it comes back.
    assert!(
        publisher.running(),
        "the stream ended before the router's kill"
    );
    d.routers[0].kill();
    sleep(Duration::from_secs(2));
    d.routers[0].start();

    // 3. Another node stops (the one leading shard 0's queue, unless that
    //    was the first one), and comes back.
    let shard0 = d.cluster.leader(&broker::names::shard_queue(0));
    let second = if shard0 != leader {
        shard0
    } else {
        leader % 3 + 1
    };
    let before = d.journaled();
    d.cluster.stop_node(second);
    d.keeps_alerting("a second node stopped", before);
    d.cluster.start_node(second);

    // 4. Shard 0's active is killed; its standby takes over; it comes
    //    back as the standby.
    let active = d.shards[0]
        .iter()
        .position(|e| e.proc.is_active())
        .unwrap_or_else(|| panic!("no active in shard 0's pair\n{}", d.context()));
    assert!(
        publisher.running(),
        "the stream ended before the active's kill"
    );
    let before = d.journaled();
    d.shards[0][active].proc.kill();
    d.keeps_alerting("shard 0's active died", before);
    d.shards[0][active].proc.start();

    // Whatever exited on its own (an active that lost its lease with its
    // node) runs again.
    for e in d.shards.iter_mut().flatten() {
        if !e.proc.running() {
            e.proc.start();
        }
    }
    published(&mut publisher);
    d.wait_done();
    let other = d.verify();
    println!(
        "{} orders alerted as replay does through the faults; {other} with another trigger",
        d.want.len()
    );
    d.stop_all();
}
