//! `aldebaran run` against a real RabbitMQ on 127.0.0.1:5672 (SPEC §2, §3,
//! §5): the service consumes a trade queue and journals exactly the alerts
//! that `aldebaran replay --no-drain` gives for the same file — whatever the
//! message batching, across lost connections and across SIGTERM restarts
//! (its checkpoint restored) — and dead-letters malformed lines while
//! acknowledging their messages.
//!
//! Every test has a queue of its own (`aldebaran-svc-<pid>-<test>`, deleted
//! at the end), its own temporary journal, state and log files, and waits by
//! polling the broker and the service's log, never on wall-clock speed.

mod amqp_support;

use std::{
    fs,
    path::Path,
    thread::sleep,
    time::{Duration, Instant},
};

use amqp_support::*;
use serde_json::Value;

/// The summary note that names the checkpoint written at shutdown.
#[track_caller]
fn assert_state_saved(summary: &Summary, dirs: &ServiceDirs) {
    let snapshot = dirs.state.join("checkpoint");
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("state") && n.contains(snapshot.to_str().expect("utf-8"))),
        "no note about the state file {}: {summary:?}",
        snapshot.display()
    );
    assert!(snapshot.is_file(), "{} missing", snapshot.display());
}

/// SPEC §5: a published file (duplicates, late requests, malformed lines,
/// 10 events per message) gives the journal exactly replay's alerts, and the
/// summary replay's counts; SIGTERM ends the service with exit 0 after it
/// acknowledged everything and saved its state.
#[test]
fn consumes_a_published_file_like_replay() {
    let q = TestQueue::new("drain");
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = gen_file(scratch.path(), 3_000, 7);
    let want = expected(&file, scratch.path());
    assert!(want.summary.rejected > 0, "the file has malformed lines");

    publish(&file, &q, 10);
    let dirs = ServiceDirs::new(&q, 1_000, 1, false);
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    q.wait_empty(&mut svc);
    let summary = svc.terminate();

    assert_same_alerts(&journal_alerts(&dirs.journal), &want.alerts);
    assert_eq!(summary.rejected, want.summary.rejected, "rejected");
    assert_eq!(summary.events, want.summary.events, "events");
    assert_eq!(summary.accepted, want.summary.accepted, "accepted");
    assert_eq!(summary.alerts, want.alerts.len() as u64, "alerts");
    assert_state_saved(&summary, &dirs);
    assert_eq!(q.counts(), Some((0, 0)), "everything acknowledged");
}

/// SPEC §5: the broker closes the service's connection twice while it works
/// through a backlog (prefetch 50, so deliveries are always in flight); it
/// reconnects, the broker redelivers what was not acknowledged, and the
/// journal still holds exactly replay's alerts: none lost, none twice.
///
/// Only the service's own connection is closed (found through the queue's
/// consumer): that is what `rabbitmqctl close_all_connections` does to it,
/// without breaking the other tests' services and publishers on the broker.
#[test]
fn survives_lost_connections_without_loss_or_repeats() {
    let q = TestQueue::new("reconnect");
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = gen_file(scratch.path(), 3_000, 11);
    let want = expected(&file, scratch.path());
    // ~15k lines in ~7.7k messages, consumed 50 per 100 ms cut at most: a
    // backlog that lasts 15 s or more, with deliveries always in flight.
    publish(&file, &q, 2);
    let (backlog, _) = q.counts().expect("the queue exists");

    let dirs = ServiceDirs::new(&q, 50, 100, false);
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    let mut mid_stream = 0;
    for round in 1..=2usize {
        // Let it consume a part of what is left first.
        let (ready, _) = q.counts().expect("the queue exists");
        q.wait_ready_below(ready.saturating_sub(backlog / 10), &mut svc);
        let names = consumer_connections(&q);
        assert_eq!(
            names.len(),
            1,
            "one connection consumes {}: {names:?}",
            q.name
        );
        assert!(close_connection(&names[0]), "close_connection {}", names[0]);
        if q.counts().is_some_and(|(ready, _)| ready > 0) {
            mid_stream += 1;
        }
        svc.wait_log("AMQP connection lost", round);
        svc.wait_log("consuming", round + 1);
    }
    assert!(
        mid_stream > 0,
        "the backlog was gone before a connection was closed: make it larger"
    );

    q.wait_empty(&mut svc);
    let redelivered = svc.metric("aldebaran_source_redelivered_total");
    let summary = svc.terminate();

    assert_same_alerts(&journal_alerts(&dirs.journal), &want.alerts);
    assert_eq!(summary.alerts, want.alerts.len() as u64, "alerts");
    // Redelivered lines are read again; none is missing.
    assert!(
        summary.events >= want.summary.events,
        "events lost: {summary:?} vs {:?}",
        want.summary
    );
    assert!(
        redelivered.is_some_and(|r| r > 0.0),
        "a connection closed mid-backlog must bring redeliveries: {redelivered:?}"
    );
    assert_eq!(q.counts(), Some((0, 0)), "everything acknowledged");
}

/// SPEC §2 determinism across restarts: SIGTERM three times while the stream
/// is still arriving, restarting with the same config (the checkpoint restored
/// each time), then let it finish: exactly replay's alerts, every line
/// processed exactly once over the four runs.
#[test]
fn restarts_from_its_checkpoint_like_an_uninterrupted_run() {
    let q = TestQueue::new("restart");
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = gen_file(scratch.path(), 3_000, 13);
    let want = expected(&file, scratch.path());
    let snapshot = |dirs: &ServiceDirs| dirs.state.join("checkpoint");

    let dirs = ServiceDirs::new(&q, 50, 1, false);
    // ~15k lines at 1500 events/s: ~10 s or more of stream.
    let mut publisher = Some(Publisher::start(&file, &q, 10, 1_500));
    let mut runs: Vec<Summary> = Vec::new();
    for n in 1..=4u32 {
        let mut svc = dirs.start(n);
        svc.wait_consuming();
        if n > 1 {
            let log = svc.stderr();
            let path = snapshot(&dirs);
            assert!(
                log.contains("restored the checkpoint")
                    && log.contains(path.to_str().expect("utf-8")),
                "run {n} did not restore {}\n{log}",
                path.display()
            );
            let open: u64 = log
                .lines()
                .find(|l| l.contains("restored the checkpoint"))
                .and_then(|l| l.split("open=").nth(1))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("open=N in the restore line\n{log}"));
            assert!(
                open > 0,
                "run {n} restored no open books: the test needs some"
            );
        }
        if n < 4 {
            // Work a while (~1/8 of the file) on a stream still arriving.
            svc.wait_metric(
                "aldebaran_events_in_total",
                (want.summary.events / 8) as f64,
            );
            if n == 1 {
                let p = publisher.as_mut().expect("publisher");
                assert!(
                    p.running(),
                    "the stream ended before the first SIGTERM: pace the publisher slower"
                );
            }
        } else {
            publisher.take().expect("publisher").finish();
            q.wait_empty(&mut svc);
        }
        let summary = svc.terminate();
        assert_state_saved(&summary, &dirs);
        runs.push(summary);
    }

    // Every line was processed by exactly one of the runs.
    let sum = |f: fn(&Summary) -> u64| runs.iter().map(f).sum::<u64>();
    assert_eq!(sum(|s| s.events), want.summary.events, "events: {runs:?}");
    assert_eq!(
        sum(|s| s.rejected),
        want.summary.rejected,
        "rejected: {runs:?}"
    );
    assert_eq!(q.counts(), Some((0, 0)), "everything acknowledged");
    assert_same_alerts(&journal_alerts(&dirs.journal), &want.alerts);
    assert_eq!(
        sum(|s| s.alerts),
        want.alerts.len() as u64,
        "alerts: {runs:?}"
    );
}

/// SPEC §1, §5: a message with malformed lines — and one with nothing but —
/// has those lines dead-lettered (reason and raw bytes as replay reports
/// them, position = message number << 24 | line in the body) and is
/// acknowledged: the queue ends empty and nothing is processed twice.
#[test]
fn dead_letters_malformed_lines_and_acknowledges_their_messages() {
    let q = TestQueue::new("dead-letter");
    let scratch = tempfile::tempdir().expect("temp dir");
    let long = format!(r#"{{"id":"x-5","pad":"{}"}}"#, "a".repeat(70_000));
    let lines: Vec<Vec<u8>> = vec![
        // message 1
        br##"{"id":"o-1","#shares":100,"client":"c-1","stock":"ACME","ts":1000}"##.to_vec(),
        br##"{"id":"x-1","#shares":"##.to_vec(),
        br##"{"id":"p-1","#shares":60,"client":"c-1","stock":"ACME","initial_order_id":"o-1","ts":1001}"##.to_vec(),
        // message 2
        br##"{"id":"p-2","#shares":60,"client":"c-1","stock":"ACME","initial_order_id":"o-1","ts":1002}"##.to_vec(),
        br##"{"id":"x-2","#shares":5,"client":"c","stock":"s","#shares":6}"##.to_vec(),
        br##"{"id":"x-3","#shares":-1,"client":"c","stock":"s"}"##.to_vec(),
        // message 3: nothing valid
        b"[1,2,3]".to_vec(),
        long.into_bytes(),
        b"{\"id\":\"x-\xff\",\"#shares\":1,\"client\":\"c\",\"stock\":\"s\"}".to_vec(),
        // message 4
        br##"{"id":"o-2","#shares":10,"client":"c-1","stock":"ACME","ts":1003}"##.to_vec(),
    ];
    let bad = [1usize, 4, 5, 6, 7, 8];
    let file = scratch.path().join("trades.jsonl");
    fs::write(&file, lines.join(&b'\n')).expect("write trade file");

    // Replay's view: its dead letters, in line order.
    let replay_dead = scratch.path().join("replay-dead.jsonl");
    aldebaran_ok(&[
        "replay",
        file.to_str().expect("utf-8"),
        "--no-drain",
        "-q",
        "--journal",
        scratch
            .path()
            .join("replay-journal")
            .to_str()
            .expect("utf-8"),
        "--dead-letter",
        replay_dead.to_str().expect("utf-8"),
    ]);
    let want_dead = read_dead(&replay_dead);
    assert_eq!(want_dead.len(), bad.len(), "{want_dead:?}");

    publish(&file, &q, 3);
    let dirs = ServiceDirs::new(&q, 100, 1, true);
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    q.wait_empty(&mut svc);
    // Still empty a moment later: nothing came back for another round.
    sleep(Duration::from_secs(1));
    assert_eq!(q.counts(), Some((0, 0)), "a message came back");
    let log = svc.stderr();
    let summary = svc.terminate();

    assert_eq!(
        summary.events,
        lines.len() as u64,
        "each line once: {summary:?}"
    );
    assert_eq!(summary.rejected, bad.len() as u64, "{summary:?}");
    assert!(!log.contains("connection lost"), "{log}");
    let alerts = journal_alerts(&dirs.journal);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["alert_id"], "overfill:o-1:p-2");
    assert_eq!(alerts[0]["trigger_id"], "p-2");

    let dead = read_dead(dirs.dead_letter.as_deref().expect("dead-letter path"));
    assert_eq!(dead.len(), bad.len(), "{dead:?}");
    for ((got, want), &line) in dead.iter().zip(&want_dead).zip(&bad) {
        let mut g = got.clone();
        let mut w = want.clone();
        let pos = g.as_object_mut().expect("object").remove("pos");
        w.as_object_mut().expect("object").remove("pos");
        assert_eq!(g, w, "dead letter of line {line}");
        let pos = pos.and_then(|p| p.as_u64()).expect("a numeric pos");
        assert_eq!(
            (pos >> 24, pos & 0xff_ffff),
            (line as u64 / 3 + 1, line as u64 % 3),
            "position of line {line}: {got}"
        );
    }
}

/// A dead letter from AMQP carries the `message_id` of the message that
/// held the line when it has one, and its `pos` says which message (in
/// arrival order, from 1) and which line of it (from 0).
#[test]
fn a_dead_letter_carries_its_messages_id() {
    let q = TestQueue::new("dead-letter-id");
    let good = br##"{"id":"o-1","#shares":100,"client":"c-1","stock":"ACME","ts":1000}"##;
    publish_messages(
        &q,
        &[
            (Some("msg-a"), &b"{\"id\":\"x-1\"\n{oops"[..]),
            (None, b"[1]"),
            (Some("msg-c"), &[&good[..], b"\n", b"{\"id\":1}"].concat()),
        ],
    );
    let dirs = ServiceDirs::new(&q, 100, 1, true);
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    q.wait_empty(&mut svc);
    let summary = svc.terminate();
    assert_eq!(summary.rejected, 4, "{summary:?}");
    let dead = read_dead(dirs.dead_letter.as_deref().expect("dead-letter path"));
    let got: Vec<(u64, u64, Option<&str>)> = dead
        .iter()
        .map(|d| {
            let pos = d["pos"].as_u64().expect("a numeric pos");
            (pos >> 24, pos & 0xff_ffff, d["message_id"].as_str())
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, 0, Some("msg-a")),
            (1, 1, Some("msg-a")),
            (2, 0, None),
            (3, 1, Some("msg-c")),
        ],
        "{dead:?}"
    );
    assert!(dead[2].get("message_id").is_none(), "{:?}", dead[2]);
}

fn read_dead(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .expect("dead-letter file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("dead letter is JSON"))
        .collect()
}

/// SPEC §4/§5 under SIGKILL: the service consumes a backlog and is killed
/// (no chance to checkpoint or acknowledge) at 20 random moments, restarted
/// each time; the broker redelivers what was not acknowledged. At the end
/// the journal holds exactly replay's alerts, in order, none lost, none
/// twice, and a file sink holds exactly the journal.
#[test]
fn sigkill_restarts_lose_and_repeat_no_alert() {
    let q = TestQueue::new("sigkill");
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = gen_file(scratch.path(), 3_000, 17);
    let want = expected(&file, scratch.path());
    // ~15k lines in ~7.7k messages, consumed at most 20 per 200 ms cut
    // while the kills go on (a backlog of over a minute), then quickly.
    publish(&file, &q, 2);
    let dirs = ServiceDirs::new(&q, 20, 200, false);
    let archive = dirs.tmp.path().join("alerts.jsonl");
    let mut cfg = fs::read_to_string(&dirs.config).expect("config");
    cfg.push_str(&format!(
        "[sinks.archive]\nkind = \"file\"\npath = {}\n",
        Value::from(archive.to_str().expect("utf-8"))
    ));
    fs::write(&dirs.config, cfg).expect("config");

    let mut seed = 0x9e37_79b9_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut restored = 0;
    for n in 1..=20u32 {
        let mut svc = dirs.start(n);
        svc.wait_consuming();
        if svc.stderr().contains("restored the checkpoint") {
            restored += 1;
        }
        sleep(Duration::from_millis(100 + next() % 500));
        svc.assert_running();
        let (ready, _) = q.counts().expect("the queue exists");
        assert!(
            ready > 0,
            "the backlog ran out after {n} kills: publish more"
        );
        drop(svc); // SIGKILL
    }
    assert!(
        restored >= 15,
        "only {restored} restarts restored a checkpoint"
    );
    let cfg = fs::read_to_string(&dirs.config).expect("config");
    let cfg = cfg
        .replace("prefetch = 20\n", "prefetch = 2000\n")
        .replace("batch_ms = 200\n", "batch_ms = 2\n");
    fs::write(&dirs.config, cfg).expect("config");
    let mut svc = dirs.start(21);
    svc.wait_consuming();
    q.wait_empty(&mut svc);
    let summary = svc.terminate();

    let got = journal_alerts(&dirs.journal);
    assert_same_alerts(&got, &want.alerts);
    let dump = aldebaran_ok(&["journal", "dump", dirs.journal.to_str().expect("utf-8")]);
    assert_eq!(fs::read_to_string(&archive).expect("archive"), dump);
    assert!(
        summary.notes.iter().any(|n| n.contains("sink archive")),
        "{summary:?}"
    );
}

/// Redelivered input is counted once (issue: after a lost connection or a
/// SIGKILL the job counters, the reject counters and the dead-letter file
/// counted redelivered messages again). Two connections are closed mid-
/// backlog and the service is killed once; the messages that come back
/// redelivered and are already in the state are not processed again: the
/// last run's summary counts exactly replay's events (over the runs that
/// print one) and the dead-letter file holds each malformed line once.
#[test]
fn redelivered_input_is_counted_and_dead_lettered_once() {
    let q = TestQueue::new("redelivered-once");
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = gen_file(scratch.path(), 3_000, 23);
    let want = expected(&file, scratch.path());
    assert!(want.summary.rejected > 3, "the file should have bad lines");
    publish(&file, &q, 2);
    let (backlog, _) = q.counts().expect("the queue exists");
    let dirs = ServiceDirs::new(&q, 50, 100, true);
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    for round in 1..=2usize {
        let (ready, _) = q.counts().expect("the queue exists");
        q.wait_ready_below(ready.saturating_sub(backlog / 8), &mut svc);
        let names = consumer_connections(&q);
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(close_connection(&names[0]), "close_connection {}", names[0]);
        svc.wait_log("AMQP connection lost", round);
        svc.wait_log("consuming", round + 1);
    }
    // Every line so far went through this process once: its summary at the
    // end must say so, redeliveries and all. Stop it gracefully here...
    let (ready, _) = q.counts().expect("the queue exists");
    q.wait_ready_below(ready.saturating_sub(backlog / 8), &mut svc);
    let first = svc.terminate();
    assert!(
        first
            .notes
            .iter()
            .any(|n| n.contains("were not processed again")),
        "no redelivered message was recognised: {first:?}"
    );
    // ... then kill the next run mid-backlog.
    let mut svc = dirs.start(2);
    svc.wait_consuming();
    let (ready, _) = q.counts().expect("the queue exists");
    q.wait_ready_below(ready.saturating_sub(backlog / 8), &mut svc);
    drop(svc); // SIGKILL
    let cfg = fs::read_to_string(&dirs.config)
        .expect("config")
        .replace("prefetch = 50\n", "prefetch = 2000\n")
        .replace("batch_ms = 100\n", "batch_ms = 2\n");
    fs::write(&dirs.config, cfg).expect("config");
    let mut svc = dirs.start(3);
    svc.wait_consuming();
    q.wait_empty(&mut svc);
    let last = svc.terminate();

    assert_same_alerts(&journal_alerts(&dirs.journal), &want.alerts);
    // The dead-letter file: each malformed line once, whatever came back.
    let dead = read_dead(dirs.dead_letter.as_deref().expect("dead-letter path"));
    let mut seen = std::collections::HashMap::new();
    for d in &dead {
        let raw = d["raw"].to_string() + &d["raw_base64"].to_string();
        seen.entry(raw).or_insert_with(Vec::new).push(d.to_string());
    }
    let twice: Vec<_> = seen.values().filter(|v| v.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "dead letters written twice ({} of {}), with their positions: {twice:?}\nfirst run: {first:?}\nlast run: {last:?}",
        twice.len(),
        dead.len()
    );
    assert_eq!(dead.len() as u64, want.summary.rejected, "{last:?}");
    // The first run read its part once, redeliveries not counted again.
    assert!(
        first.events <= want.summary.events && first.rejected <= want.summary.rejected,
        "the first run counted more than the file holds: {first:?} vs {:?}",
        want.summary
    );
}

/// SPEC §7: the source's connection shows in the metrics and in `/healthz`
/// when it changes, not when a batch happens to flow: with no input at all,
/// `aldebaran_source_connected` is 1 while consuming, 0 (and `/healthz` 503
/// naming the source) once the broker closes the connection, and 1 (200)
/// again after the reconnect.
#[test]
fn a_lost_connection_shows_in_metrics_and_health_while_no_input_flows() {
    let q = TestQueue::new("idle-health");
    let dirs = ServiceDirs::new(&q, 10, 1, false);
    // A slow reconnect keeps the disconnected state up long enough to see.
    let cfg = fs::read_to_string(&dirs.config)
        .expect("config")
        .replace("reconnect_min_ms = 100\n", "reconnect_min_ms = 5000\n")
        .replace("reconnect_max_ms = 1000\n", "reconnect_max_ms = 5000\n");
    fs::write(&dirs.config, cfg).expect("config");
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    let connected = |svc: &mut Service| svc.metric("aldebaran_source_connected");
    let healthy = |svc: &mut Service| svc.get("/healthz").is_some_and(|(s, _)| s == 200);
    svc.wait_until(
        "connected 1 and healthy with no input",
        Duration::from_secs(60),
        |svc| connected(svc) == Some(1.0) && healthy(svc),
    );
    let (_, body) = svc.get("/healthz").expect("healthz");
    assert_eq!(body, r#"{"status":"ok"}"#);

    let names = consumer_connections(&q);
    assert_eq!(
        names.len(),
        1,
        "one connection consumes {}: {names:?}",
        q.name
    );
    assert!(close_connection(&names[0]), "close_connection {}", names[0]);
    svc.wait_log("AMQP connection lost", 1);
    svc.wait_until(
        "connected 0 and /healthz 503 naming the source",
        Duration::from_secs(4),
        |svc| {
            let down = svc.get("/healthz").is_some_and(|(s, b)| {
                s == 503 && b.contains("source") && b.contains("disconnected")
            });
            connected(svc) == Some(0.0) && down
        },
    );

    svc.wait_log("consuming", 2);
    svc.wait_until(
        "connected 1 and healthy after the reconnect",
        Duration::from_secs(60),
        |svc| connected(svc) == Some(1.0) && healthy(svc),
    );
    let summary = svc.terminate();
    assert_eq!(summary.events, 0, "no input flowed: {summary:?}");
}

/// A SIGTERM while `run` is still starting (here: right after its metrics
/// endpoint is up, while it starts its shippers and connects to the broker)
/// is a stop like any other: exit 0 with a summary, not death by the signal's
/// default action (systemd stopping a unit during its start, a test stopping
/// a run whose sinks had caught up before it finished starting).
#[test]
fn a_sigterm_during_the_start_stops_it_cleanly() {
    let q = TestQueue::new("early-stop");
    let dirs = ServiceDirs::new(&q, 100, 2, false);
    let mut svc = dirs.start_with(1, &[("RUST_LOG", "info")]);
    let deadline = Instant::now() + PATIENCE;
    while !svc.stderr().contains("metrics at") {
        svc.assert_running();
        assert!(Instant::now() < deadline, "{}", svc.stderr_tail());
        sleep(Duration::from_millis(1));
    }
    let log_before = svc.stderr();
    assert!(
        !log_before.contains("shutting down"),
        "the signal was not sent yet: {log_before}"
    );
    let summary = svc.terminate();
    assert_eq!(summary.events, 0, "nothing was published");
    let log = fs::read_to_string(dirs.tmp.path().join("run-1.err")).expect("the run's log");
    assert!(log.contains("shutting down"), "{log}");
}

/// SPEC §2 step 1: without `ts` the clock is ingest time, the moment the
/// source read the event. An order that opens after the queue was quiet
/// for longer than `book_ttl` lives its whole TTL: its purchases, arriving
/// right after it, are counted and overfill it. (A line once took the time
/// of the source's previous publish, before the quiet spell, so the order
/// opened "in the past" and the first purchase expired it: no alert.)
#[test]
fn an_order_opened_after_a_quiet_spell_lives_its_whole_ttl() {
    let q = TestQueue::new("quiet-clock");
    let dirs = ServiceDirs::new(&q, 100, 1, false);
    let mut svc = dirs.start(1);
    svc.wait_consuming();
    publish_messages(
        &q,
        &[(
            None,
            br##"{"id":"o-warm","#shares":1,"client":"c","stock":"S"}"##,
        )],
    );
    svc.wait_metric("aldebaran_events_in_total", 1.0);
    // Quiet for twice the book TTL.
    sleep(Duration::from_millis(2 * BOOK_TTL_MS));
    publish_messages(
        &q,
        &[
            (
                None,
                br##"{"id":"o-1","#shares":10,"client":"c","stock":"S"}"##,
            ),
            (
                None,
                br##"{"id":"p-1","#shares":6,"client":"c","stock":"S","initial_order_id":"o-1"}"##,
            ),
            (
                None,
                br##"{"id":"p-2","#shares":6,"client":"c","stock":"S","initial_order_id":"o-1"}"##,
            ),
        ],
    );
    svc.wait_metric("aldebaran_events_in_total", 4.0);
    q.wait_empty(&mut svc);
    let summary = svc.terminate();
    let alerts = journal_alerts(&dirs.journal);
    assert!(
        alerts
            .iter()
            .any(|a| a["kind"] == "overfill" && a["order_id"] == "o-1"),
        "o-1 overfilled (12 of 10 shares) within its TTL: {alerts:?}\n{summary:?}"
    );
}
