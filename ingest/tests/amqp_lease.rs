//! The lease of an active-standby pair, against the real broker: an
//! exclusive source holds its queue; another exclusive start is refused at
//! once with `LeaseHeld` (not with the backoff of a broker that is down,
//! not as a permission problem) until the holder's connection goes; then
//! an `OnLost::End` holder ends (its cutter reaches `End`, its handle says
//! why) and the next one obtains the lease, skipping what the first had
//! processed, while an `OnLost::Reconnect` source reconnects as before.

mod amqp_support;

use std::{
    thread::sleep,
    time::{Duration, Instant},
};

use amqp_support::*;
use broker::Classified;
use ingest::{
    IngestError,
    amqp::{EndReason, OnLost, start_amqp},
};

#[test]
fn the_lease_is_refused_fast_while_held_and_handed_over_when_the_holder_goes() {
    let q = TestQueue::new("handover");
    let (a, mut a_cut) = start_amqp(q.source("a")).expect("a takes the lease");
    assert_eq!(a.ended(), None);
    q.publish(&events("e", 30), 1);
    let processed = read_events(&mut a_cut, 30);
    assert_eq!(processed.len(), 30, "one digest per message");

    // While a holds it: refused, fast (the reconnect delay is 5 s), and
    // said to be the lease, transient.
    let b = q.source("b");
    for _ in 0..3 {
        let t = Instant::now();
        match start_amqp(b.clone()) {
            Err(e @ IngestError::LeaseHeld { .. }) => {
                assert_eq!(e.class(), Classified::Transient);
                assert!(e.to_string().contains(&q.name), "{e}");
            }
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("two exclusive consumers on one queue"),
        }
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        sleep(Duration::from_millis(100));
    }

    // a's connection goes: a ends after what it had read, saying why,
    // and does not come back.
    close_connection_named(&q.connection_name("a"));
    assert_eq!(
        drain_to_end(&mut a_cut, PATIENCE),
        0,
        "nothing after the 30"
    );
    match a.ended() {
        Some(EndReason::LeaseLost { reason }) => {
            assert!(!reason.is_empty());
        }
        other => panic!("a ended with {other:?}"),
    }
    let a_counters = a.counters();
    assert_eq!(
        a_counters
            .connected
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    a.join().expect("a joins");
    assert_eq!(
        a_counters
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "an ending source never reconnects"
    );

    // b obtains it; what a processed and never acknowledged comes back
    // redelivered and is skipped (the state b restored would hold it),
    // what is new is processed.
    let mut b = b;
    b.processed = processed;
    let (b, mut b_cut) = obtain(&b);
    q.publish(&events("f", 5), 1);
    read_events(&mut b_cut, 5);
    let c = b.counters();
    wait_until("the 30 redelivered are skipped", PATIENCE, || {
        c.skipped.load(std::sync::atomic::Ordering::Relaxed) == 30
    });
    assert_eq!(c.redelivered.load(std::sync::atomic::Ordering::Relaxed), 30);
    assert_eq!(c.messages.load(std::sync::atomic::Ordering::Relaxed), 35);
    b.stop();
    assert_eq!(drain_to_end(&mut b_cut, PATIENCE), 0);
    assert_eq!(b.ended(), Some(EndReason::Stopped));
    // Stopped but not joined, b may still ship what it drained: it keeps
    // the lease until its link closes.
    let c = q.source("c");
    assert!(
        matches!(start_amqp(c.clone()), Err(IngestError::LeaseHeld { .. })),
        "the lease went before the stopped holder was joined"
    );
    b.join().expect("b joins");
    let (c, mut c_cut) = obtain(&c);
    c.stop();
    drain_to_end(&mut c_cut, PATIENCE);
    c.join().expect("c joins");
}

#[test]
fn a_reconnecting_source_comes_back_after_its_connection_is_closed() {
    let q = TestQueue::new("reconnect");
    let mut opts = q.source("a");
    opts.on_lost = OnLost::Reconnect;
    opts.reconnect_min = Duration::from_millis(100);
    opts.reconnect_max = Duration::from_millis(500);
    let (a, mut a_cut) = start_amqp(opts).expect("start");
    let c = a.counters();
    close_connection_named(&q.connection_name("a"));
    wait_until("a second connection", PATIENCE, || {
        c.connections.load(std::sync::atomic::Ordering::Relaxed) == 2
            && c.connected.load(std::sync::atomic::Ordering::Relaxed) == 1
    });
    assert_eq!(a.ended(), None, "a reconnecting source does not end");
    q.publish(&events("e", 3), 1);
    read_events(&mut a_cut, 3);
    a.stop();
    drain_to_end(&mut a_cut, PATIENCE);
    assert_eq!(a.ended(), Some(EndReason::Stopped));
    a.join().expect("join");
}

/// A broker user whose read permission does not cover the test queue:
/// it may declare and bind it (configure, write, read on the exchanges)
/// but not consume it. Deleted when dropped.
struct ReadlessUser(String);

impl ReadlessUser {
    fn new(test: &str) -> Self {
        let name = format!("aldebaran-lease-{}-{test}", std::process::id());
        let _ = rabbitmqctl(&["delete_user", &name]);
        assert!(
            rabbitmqctl(&["add_user", &name, "pw"]).is_some(),
            "add_user"
        );
        assert!(
            rabbitmqctl(&[
                "set_permissions",
                "-p",
                "/",
                &name,
                ".*",
                ".*",
                "^Aldebaran\\."
            ])
            .is_some(),
            "set_permissions"
        );
        ReadlessUser(name)
    }
}

impl Drop for ReadlessUser {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_user", &self.0]);
    }
}

#[test]
fn a_consume_refused_for_want_of_permission_is_not_a_held_lease() {
    let q = TestQueue::new("perm");
    let user = ReadlessUser::new("perm");
    let mut opts = q.source("a");
    opts.url = format!("amqp://{}:pw@127.0.0.1:5672/%2f", user.0);
    // Also 403 on the consume, but permanent, and named as what it is.
    match start_amqp(opts) {
        Err(e @ IngestError::Amqp { .. }) => {
            assert_eq!(e.class(), Classified::Permanent, "{e}");
            let text = e.to_string();
            assert!(text.contains("ACCESS_REFUSED"), "{text}");
            assert!(text.contains("consuming queue"), "{text}");
            assert!(!text.contains("exclusive use"), "{text}");
        }
        Err(e) => panic!("refused as {e:?}"),
        Ok(_) => panic!("consumed without read permission"),
    }
    // The same queue held by another consumer is the lease.
    let (holder, mut cut) = start_amqp(q.source("holder")).expect("holder");
    let mut plain = q.source("plain");
    plain.exclusive = false;
    match start_amqp(plain) {
        Err(IngestError::LeaseHeld { queue }) => assert_eq!(queue, q.name),
        Err(e) => panic!("a plain consume of a held queue: {e}"),
        Ok(_) => panic!("a plain consumer beside an exclusive one"),
    }
    holder.stop();
    drain_to_end(&mut cut, PATIENCE);
    holder.join().expect("join");
}

/// A quorum queue (RabbitMQ 3.10) accepts a second exclusive consumer: the
/// lease must still be refused while held, which the lease queue
/// `<queue>.lease` does; it is freed with the holder's connection.
#[test]
fn the_lease_holds_on_a_quorum_queue_too() {
    let q = TestQueue::new("quorum");
    let quorum = |who: &str| {
        let mut o = q.source(who);
        o.topology = o.topology.with_queue_type(broker::QueueType::Quorum);
        // A quorum alert queue of its own (the SPEC one is classic here).
        o.topology.alert_queue = format!("{}-alerts", q.name);
        o.topology.alert_routing_key = o.topology.alert_queue.clone();
        o
    };
    let (a, _a_cut) = start_amqp(quorum("a")).expect("a takes the lease");
    match start_amqp(quorum("b")) {
        Err(e @ IngestError::LeaseHeld { .. }) => {
            assert!(e.to_string().contains(".lease"), "{e}");
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("two holders of the lease on a quorum queue"),
    }
    close_connection_named(&q.connection_name("a"));
    let deadline = Instant::now() + PATIENCE;
    let b = loop {
        match start_amqp(quorum("b")) {
            Ok((b, _)) => break b,
            Err(IngestError::LeaseHeld { .. }) if Instant::now() < deadline => {
                sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("b never obtained the lease: {e}"),
        }
    };
    b.stop();
    b.join().expect("b joins");
    a.join().expect("a joins");
    let _ = rabbitmqctl(&["delete_queue", &format!("{}-alerts", q.name)]);
}
