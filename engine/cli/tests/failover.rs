//! SPEC §6 on loopback with the real broker: two `aldebaran run` processes
//! form an active-standby pair over one input queue, both shipping to the
//! same three exactly-once sinks (a file, an HTTP receiver deduplicating on
//! `Idempotency-Key`, an AMQP queue deduplicating on `message_id`), while a
//! paced publisher streams a generated file with duplicates, late requests
//! and malformed lines. The tests kill the active, kill the standby, flip
//! the pair ten times under load, cut the replication link and the active's
//! broker connection with both nodes alive, and start both at once. At the
//! end of each:
//! - the final active's journal holds exactly the alerts `replay --no-drain`
//!   gives for the file, in order, each once;
//! - the file sink is that journal byte for byte; the HTTP keys and the AMQP
//!   message ids are exactly its alert ids, a raw repeat only inside a send
//!   a new active reported in doubt;
//! - in arrival order (HTTP) and queue order (AMQP) the epoch never goes
//!   down: never two nodes shipping at once;
//! - the two nodes' journals hold the same alert at every seq they share
//!   (identical, once the standby is in sync and both stop).
//!
//! Each test has its own queues, ports, node names and directories, and
//! waits by polling with deadlines; `FAILOVER_KEEP=1` keeps a failed test's
//! files (logs, journals, sinks), `FAILOVER_KEEP=all` every test's.

mod amqp_support;
mod pair_support;
mod sink_endpoints;

use std::{
    thread::sleep,
    time::{Duration, Instant},
};

use amqp_support::{close_connection, publish};
use pair_support::{Feed, Pair, Proxy, WAIT, check_sinks, dump, journals_agree};

/// Kills of the active in the flip test: one flip, then ten in a row.
const FLIPS: usize = 11;

/// Asserts two journal dumps are the same, naming the first difference
/// and how many records differ only in `detected_at`.
#[track_caller]
fn assert_same_journal(a: &str, b: &str) {
    if a == b {
        return;
    }
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let differ: Vec<usize> = (0..la.len().min(lb.len()))
        .filter(|&i| la[i] != lb[i])
        .collect();
    let without_clock = |l: &str| {
        let mut v: serde_json::Value = serde_json::from_str(l).expect("a journal line is JSON");
        if let Some(o) = v.as_object_mut() {
            o.remove("detected_at");
        }
        v
    };
    let clock_only = differ
        .iter()
        .filter(|&&i| without_clock(la[i]) == without_clock(lb[i]))
        .count();
    let i = differ.first().copied().unwrap_or(la.len().min(lb.len()));
    panic!(
        "the journals differ at record #{i} ({} and {} records; {} records differ, {clock_only} of \
         them only in detected_at):\n a {:?}\n b {:?}",
        la.len(),
        lb.len(),
        differ.len(),
        la.get(i),
        lb.get(i)
    );
}

/// SPEC §6 takeover: the active is SIGKILLed mid-stream; its standby takes
/// over under a higher epoch and ships from the replicated cursors. Every
/// sink holds replay's alerts once; both epochs reached the sinks, the old
/// before the new; the dead node's journal agrees with the new active's on
/// every seq it holds.
#[test]
fn sigkill_of_the_active_mid_stream_loses_and_repeats_nothing() {
    let began = Instant::now();
    let mut p = Pair::new("kill", 2_000, 61);
    let want = p.want.alerts.len();
    p.nodes[0].start();
    let e1 = p.nodes[0].wait_active(WAIT);
    p.nodes[1].start();
    assert_eq!(
        p.wait_in_sync(0, WAIT),
        e1,
        "the standby follows epoch {e1}"
    );

    let feed = Feed::start(&p.file, &p.input, 500, 5, 1_500);
    p.wait_shipped(want / 4, WAIT);
    assert!(
        feed.running(),
        "the stream ended before the kill: make it longer"
    );
    let shipped = p.archived();
    let killed = Instant::now();
    p.nodes[0].kill();
    let e2 = p.nodes[1].wait_active(WAIT);
    let takeover = killed.elapsed();
    assert!(e2 > e1, "the takeover raised the epoch: {e1} -> {e2}");
    feed.finish();
    p.settle(WAIT * 2);
    p.nodes[1].terminate();

    // The dead active's journal holds at least what it shipped, and the
    // same alerts at the same seqs as its successor's.
    let shared = journals_agree(&dump(&p.nodes[0].journal), &dump(&p.nodes[1].journal));
    assert!(
        shared >= shipped,
        "the journals share {shared} seqs, fewer than the {shipped} shipped before the kill"
    );
    let r = check_sinks(&p, &p.nodes[1].journal, &p.nodes[1].logs());
    for (sink, epochs) in [("HTTP", &r.http_epochs), ("AMQP", &r.amqp_epochs)] {
        assert_eq!(
            epochs,
            &vec![e1, e2],
            "{sink}: the old active shipped, then the new one"
        );
    }
    eprintln!(
        "kill: {} alerts in {:?}; takeover seen in status after {takeover:?}, HTTP handover gap \
         {:?}; {} in-doubt reports, raw repeats http {} amqp {}",
        r.alerts,
        began.elapsed(),
        r.http_handovers,
        r.in_doubt,
        r.http_dups,
        r.amqp_dups
    );
}

/// SPEC §6 alone and rejoin, then flips: the standby is SIGKILLed (the
/// active goes on alone and says so: `peer_up` false, "NO STANDBY", and it
/// keeps shipping), restarted (it catches up to in sync); then the active is
/// SIGKILLed and restarted eleven times in a row under load, each time the
/// other node taking over under a higher epoch and the restarted one
/// following in sync. At the end both journals are identical and every sink
/// holds replay's alerts once.
#[test]
fn the_pair_survives_a_lost_standby_and_ten_flips_under_load() {
    let began = Instant::now();
    // 1,000-line chunks (about 48), let out just before their faults: at
    // 2,000 events/s a chunk takes at least 0.5 s to publish, longer than
    // any kill delay below, so every fault falls mid-stream however slowly
    // this machine brings the nodes up. Two chunks to start, one as the
    // standby dies, two while alone, two per flip, the rest at the end.
    let mut p = Pair::new("flips", 12_000, 62);
    let want = p.want.alerts.len();
    p.nodes[0].start();
    let mut epoch = p.nodes[0].wait_active(WAIT);
    p.nodes[1].start();
    p.wait_in_sync(0, WAIT);
    let feed = Feed::gated(&p.file, &p.input, 1_000, 5, 2_000);
    feed.allow(2);
    p.wait_shipped(want / 100, WAIT);

    // The standby dies: the active goes on alone, loudly, and ships.
    feed.allow(1);
    assert!(feed.publishing(), "the standby is killed mid-stream");
    p.nodes[1].kill();
    p.nodes[0].wait_own("the active says it has no standby", WAIT, |v| {
        v["role"] == "active" && v["peer_up"] == false
    });
    p.nodes[0].wait_log("NO STANDBY", 1, WAIT);
    let alone = p.archived();
    feed.allow(2);
    p.wait_shipped(alone + 1, WAIT);
    // It comes back and catches up.
    p.nodes[1].start();
    assert_eq!(
        p.wait_in_sync(0, WAIT),
        epoch,
        "the rejoined standby follows"
    );

    let mut active = 0;
    let (mut takeovers, mut rejoins) = (Vec::new(), Vec::new());
    for flip in 1..=FLIPS {
        feed.allow(2);
        // Kill moments vary: as the chunk starts, or a little later.
        sleep(Duration::from_millis(100 * (flip as u64 % 4)));
        assert!(
            feed.publishing(),
            "flip {flip}: the chunk was published before the kill"
        );
        let killed = Instant::now();
        p.nodes[active].kill();
        let next = 1 - active;
        let e = p.nodes[next].wait_active(WAIT);
        takeovers.push(killed.elapsed());
        assert!(e > epoch, "flip {flip}: the epoch rose: {epoch} -> {e}");
        epoch = e;
        let restarted = Instant::now();
        p.nodes[active].start();
        assert_eq!(
            p.wait_in_sync(next, WAIT),
            epoch,
            "flip {flip}: the restarted node follows the new active"
        );
        rejoins.push(restarted.elapsed());
        active = next;
    }
    feed.finish();
    p.settle(WAIT * 2);
    assert_eq!(p.wait_in_sync(active, WAIT), epoch);
    p.nodes[1 - active].terminate();
    p.nodes[active].terminate();

    let r = check_sinks(&p, &p.nodes[active].journal, &p.logs());
    assert_same_journal(&dump(&p.nodes[0].journal), &dump(&p.nodes[1].journal));
    let max = |d: &[Duration]| d.iter().max().copied().unwrap_or_default();
    eprintln!(
        "flips: {} alerts over {FLIPS} flips in {:?} (epochs shipped http {:?}, amqp {:?}); \
         slowest takeover seen in status {:?}, slowest restart to in sync {:?}, slowest HTTP \
         handover gap {:?}; {} in-doubt reports, raw repeats http {} amqp {}",
        r.alerts,
        began.elapsed(),
        r.http_epochs,
        r.amqp_epochs,
        max(&takeovers),
        max(&rejoins),
        max(&r.http_handovers),
        r.in_doubt,
        r.http_dups,
        r.amqp_dups
    );
}

/// SPEC §6 fencing, link cut: a proxy between the standby and the active's
/// replication address is stopped (connections closed, new ones refused)
/// with both nodes alive, twice. The standby never becomes active (the
/// active holds the lease). A short cut: the active holds its releases
/// (nothing new ships while no standby holds it) and takes the standby back
/// in sync. A long one: the active holds, then goes on alone and ships;
/// restored, the standby follows again in sync. Only one epoch ever reaches
/// the sinks, nothing is lost, the journals end identical.
#[test]
fn a_cut_replication_link_never_makes_two_shippers() {
    let began = Instant::now();
    let mut p = Pair::new("cut-link", 2_500, 63);
    let want = p.want.alerts.len();
    let mut proxy = Proxy::start(&p.nodes[0].listen.clone());
    let via = proxy.addr.clone();
    p.nodes[1].set_peer(&via);
    p.nodes[0].start();
    let e1 = p.nodes[0].wait_active(WAIT);
    p.nodes[1].start();
    assert_eq!(p.wait_in_sync(0, WAIT), e1);

    let feed = Feed::start(&p.file, &p.input, 500, 5, 1_000);
    p.wait_shipped(want / 10, WAIT);

    // A short cut, well within alone_after_ms (4 s): releases are held.
    proxy.cut();
    let cut = Instant::now();
    // What was released before the cut may still be on its way out.
    sleep(Duration::from_millis(500));
    let held = p.archived();
    while cut.elapsed() < Duration::from_millis(2_000) {
        if let Some(b) = p.nodes[1].own() {
            assert_ne!(
                b["role"], "active",
                "the cut-off standby became active: {b}"
            );
        }
        sleep(Duration::from_millis(200));
    }
    assert_eq!(
        p.archived(),
        held,
        "the active shipped while its in-sync standby was cut off and the hold lasted"
    );
    assert!(
        !p.nodes[0].log().contains("NO STANDBY"),
        "the active went on alone before alone_after_ms\n{}",
        p.nodes[0].tail()
    );
    proxy.restore();
    assert_eq!(p.wait_in_sync(0, WAIT), e1, "the standby follows again");
    assert!(
        feed.running(),
        "the stream ended before the second cut: make it longer"
    );

    // A long cut: the active goes on alone.
    proxy.cut();
    // Until the active goes alone (and a second past it), the standby stays
    // one and the active stays active.
    let deadline = Instant::now() + WAIT;
    let mut alone_seen: Option<Instant> = None;
    while alone_seen.is_none_or(|t| t.elapsed() < Duration::from_secs(1)) {
        let (a, b) = (p.nodes[0].own(), p.nodes[1].own());
        p.nodes[0].assert_running();
        p.nodes[1].assert_running();
        if let Some(b) = &b {
            assert_ne!(
                b["role"], "active",
                "the cut-off standby became active: {b}"
            );
        }
        if let Some(a) = &a {
            assert_eq!(a["role"], "active", "the active lost its role: {a}");
        }
        if alone_seen.is_none() && p.nodes[0].log().contains("NO STANDBY") {
            alone_seen = Some(Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "the active never went on alone\n{}",
            p.tails()
        );
        sleep(Duration::from_millis(200));
    }
    let alone = p.archived();
    p.wait_shipped(alone + 1, WAIT);
    assert!(
        feed.running(),
        "the stream ended during the cut: make it longer"
    );

    let accepted = proxy.accepted();
    proxy.restore();
    assert_eq!(p.wait_in_sync(0, WAIT), e1, "the standby follows again");
    assert!(
        proxy.accepted() > accepted,
        "the standby came back through the proxy"
    );
    feed.finish();
    p.settle(WAIT * 2);
    assert_eq!(p.wait_in_sync(0, WAIT), e1);
    p.nodes[1].terminate();
    p.nodes[0].terminate();

    assert!(
        !p.nodes[1].logs().contains("ha: this node is the active"),
        "the standby promoted itself"
    );
    assert!(
        p.nodes[1]
            .logs()
            .matches("ha: following the active")
            .count()
            >= 3,
        "the standby followed, then followed again after each cut"
    );
    let r = check_sinks(&p, &p.nodes[0].journal, &p.logs());
    assert_same_journal(&dump(&p.nodes[0].journal), &dump(&p.nodes[1].journal));
    assert_eq!(r.http_epochs, vec![e1], "HTTP: one shipper, one epoch");
    assert_eq!(r.amqp_epochs, vec![e1], "AMQP: one shipper, one epoch");
    eprintln!(
        "cut-link: {} alerts in {:?}, raw repeats http {} amqp {}",
        r.alerts,
        began.elapsed(),
        r.http_dups,
        r.amqp_dups
    );
}

/// SPEC §6 fencing, broker cut: the active's broker connection (its lease)
/// is closed with both nodes alive. The active fences and demotes itself,
/// the standby takes over under a higher epoch, the old active rejoins as
/// its standby; the epochs never go down at the sinks, nothing is lost, the
/// journals end identical.
#[test]
fn a_lost_broker_connection_fences_the_active_and_the_standby_takes_over() {
    let began = Instant::now();
    let mut p = Pair::new("cut-broker", 2_500, 64);
    let want = p.want.alerts.len();
    p.nodes[0].start();
    let e1 = p.nodes[0].wait_active(WAIT);
    p.nodes[1].start();
    assert_eq!(p.wait_in_sync(0, WAIT), e1);

    let feed = Feed::start(&p.file, &p.input, 500, 5, 1_000);
    p.wait_shipped(want / 10, WAIT);
    let conns = p.nodes[0].source_connections();
    assert_eq!(
        conns.len(),
        1,
        "one lease connection of {}: {conns:?}",
        p.nodes[0].name
    );
    assert!(close_connection(&conns[0]), "close_connection {}", conns[0]);
    p.nodes[0].wait_log("ha: FENCED", 1, WAIT);
    // Whoever took the lease, the pair must stay safe: that is checked
    // first; that it was the standby, last.
    let (next, e2) = p.wait_new_active(e1, WAIT);
    assert_eq!(
        p.wait_in_sync(next, WAIT),
        e2,
        "the other node follows the new active"
    );
    assert!(
        feed.running(),
        "the stream ended during the takeover: make it longer"
    );
    feed.finish();
    p.settle(WAIT * 2);
    assert_eq!(p.wait_in_sync(next, WAIT), e2);
    p.nodes[1 - next].terminate();
    p.nodes[next].terminate();

    let r = check_sinks(&p, &p.nodes[next].journal, &p.logs());
    for (sink, epochs) in [("HTTP", &r.http_epochs), ("AMQP", &r.amqp_epochs)] {
        assert_eq!(
            epochs,
            &vec![e1, e2],
            "{sink}: the fenced active shipped, then the new one"
        );
    }
    assert_same_journal(&dump(&p.nodes[0].journal), &dump(&p.nodes[1].journal));
    assert_eq!(
        next,
        1,
        "the fenced active {} took the lease back under epoch {e2} before its in-sync standby \
         {} took over (the pair stayed safe: sinks and journals checked)\n{}",
        p.nodes[0].name,
        p.nodes[1].name,
        p.ha_log()
    );
    eprintln!(
        "cut-broker: {} alerts in {:?}, HTTP handover gap {:?}; {} in-doubt reports, raw \
         repeats http {} amqp {}",
        r.alerts,
        began.elapsed(),
        r.http_handovers,
        r.in_doubt,
        r.http_dups,
        r.amqp_dups
    );
}

/// SPEC §6 election: both nodes start at once with empty state; exactly one
/// becomes active (never two in any status sample), the other follows it in
/// sync, and the pair then consumes a file like a single node would.
#[test]
fn two_nodes_started_at_once_elect_exactly_one_active() {
    let began = Instant::now();
    let mut p = Pair::new("together", 800, 65);
    p.nodes[0].start();
    p.nodes[1].start();
    let deadline = Instant::now() + WAIT;
    let mut elected: Option<(Instant, usize)> = None;
    while elected.is_none_or(|(t, _)| t.elapsed() < Duration::from_secs(3)) {
        p.nodes[0].assert_running();
        p.nodes[1].assert_running();
        let st = p.nodes[0].status();
        let actives: Vec<usize> = (0..2)
            .filter(|&i| st.get(i).is_some_and(|n| n["role"] == "active"))
            .collect();
        assert!(actives.len() <= 1, "two actives at once: {st:?}");
        match (elected, actives.first()) {
            (None, Some(&i)) => elected = Some((Instant::now(), i)),
            (Some((_, was)), Some(&i)) => assert_eq!(i, was, "the active changed: {st:?}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no node became active\n{}",
            p.tails()
        );
        sleep(Duration::from_millis(100));
    }
    let active = elected.map(|(_, i)| i).expect("an active");
    let epoch = p.wait_in_sync(active, WAIT);

    publish(&p.file, &p.input, 5);
    p.settle(WAIT * 2);
    assert_eq!(p.wait_in_sync(active, WAIT), epoch);
    p.nodes[1 - active].terminate();
    p.nodes[active].terminate();

    let promoted: Vec<usize> = (0..2)
        .filter(|&i| p.nodes[i].logs().contains("ha: this node is the active"))
        .collect();
    assert_eq!(promoted, vec![active], "exactly one node was ever active");
    let r = check_sinks(&p, &p.nodes[active].journal, &p.logs());
    assert_same_journal(&dump(&p.nodes[0].journal), &dump(&p.nodes[1].journal));
    assert_eq!(r.http_epochs, vec![epoch], "HTTP: one shipper");
    assert_eq!(r.amqp_epochs, vec![epoch], "AMQP: one shipper");
    eprintln!(
        "together: node {} elected, {} alerts in {:?}",
        p.nodes[active].name,
        r.alerts,
        began.elapsed()
    );
}
