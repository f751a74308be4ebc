//! The broker's liveness as the source measures it
//! (`AmqpCounters::silent_for`), against the real broker behind a TCP
//! proxy that can go silent: small while the broker answers (even while
//! the consume loop is blocked on a full ring), growing while nothing gets
//! through; and the broker hands a silent holder's lease over only after
//! its silence has passed the fence a pair would use.

mod amqp_support;

use std::{
    net::SocketAddr,
    sync::atomic::Ordering,
    thread::sleep,
    time::{Duration, Instant},
};

use amqp_support::{proxy::Proxy, *};
use ingest::amqp::{AmqpCounters, EndReason, fence_after, start_amqp};

fn broker_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5672))
}

/// The longest silence seen over `d`, sampled every 10 ms.
fn longest_silence(c: &AmqpCounters, d: Duration) -> Duration {
    let end = Instant::now() + d;
    let mut longest = Duration::ZERO;
    while Instant::now() < end {
        longest = longest.max(c.silent_for(Instant::now()));
        sleep(Duration::from_millis(10));
    }
    longest
}

/// Fails on a loaded machine only if probes stall for this long.
const HEALTHY: Duration = Duration::from_millis(600);

#[test]
fn silence_is_small_while_the_broker_answers_and_grows_while_it_cannot() {
    broker();
    let q = TestQueue::new("silence");
    let proxy = Proxy::start(broker_addr());
    let mut opts = q.source_at(&proxy.url(), "a");
    // Long enough that nobody closes anything while the proxy is quiet.
    opts.heartbeat_secs = Some(30);
    let (a, mut cut) = start_amqp(opts).expect("start");
    let c = a.counters();
    assert_eq!(c.heartbeat_secs.load(Ordering::Relaxed), 30);
    let healthy = longest_silence(&c, Duration::from_secs(1));
    assert!(
        healthy < HEALTHY,
        "silent for {healthy:?} with a broker that answers"
    );

    proxy.pause();
    sleep(Duration::from_millis(1500));
    let silent = c.silent_for(Instant::now());
    assert!(
        silent >= Duration::from_millis(1400),
        "{silent:?} after 1.5 s of nothing"
    );

    proxy.resume();
    wait_until(
        "the silence ends once the broker answers",
        Duration::from_secs(10),
        || c.silent_for(Instant::now()) < HEALTHY,
    );
    assert_eq!(
        a.ended(),
        None,
        "a pause shorter than the heartbeat loses nothing"
    );
    a.stop();
    drain_to_end(&mut cut, PATIENCE);
    a.join().expect("join");
}

#[test]
fn a_consume_loop_blocked_on_a_full_ring_does_not_silence_the_source() {
    let q = TestQueue::new("fullring");
    let mut opts = q.source("a");
    opts.ring_bytes = 0; // the smallest ring
    opts.prefetch = 1000;
    let (a, mut cut) = start_amqp(opts).expect("start");
    let c = a.counters();
    // Far more than the ring holds, and the cutter is never read.
    q.publish(&events("e", 20_000), 100);
    wait_until(
        "the ring fills and the consume loop blocks",
        PATIENCE,
        || {
            let before = c.messages.load(Ordering::Relaxed);
            sleep(Duration::from_millis(300));
            before > 0 && c.messages.load(Ordering::Relaxed) == before
        },
    );
    assert!(
        c.messages.load(Ordering::Relaxed) < 200,
        "the ring was never full"
    );
    let blocked = longest_silence(&c, Duration::from_millis(1500));
    assert!(blocked < HEALTHY, "silent for {blocked:?} while only busy");
    a.stop();
    drain_to_end(&mut cut, PATIENCE);
    a.join().expect("join");
}

#[test]
fn the_broker_releases_a_silent_holders_lease_only_after_the_fence() {
    let q = TestQueue::new("fence");
    let proxy = Proxy::start(broker_addr());
    let mut opts = q.source_at(&proxy.url(), "a");
    opts.heartbeat_secs = Some(1);
    let probe = opts.probe_interval;
    let (a, mut a_cut) = start_amqp(opts).expect("a takes the lease");
    let c = a.counters();
    assert_eq!(c.heartbeat_secs.load(Ordering::Relaxed), 1, "negotiated");
    let fence = fence_after(1, probe, Duration::from_millis(400)).expect("a margin");
    assert_eq!(fence, Duration::from_millis(1500));

    // The link goes silent; the standby asks every 100 ms.
    let paused = Instant::now();
    proxy.pause();
    let b = q.source("b");
    let (granted_after, silent_at_ask, silent_at_grant, b_started) = loop {
        let asked = Instant::now();
        let silent_at_ask = c.silent_for(asked);
        match start_amqp(b.clone()) {
            Ok(started) => {
                break (
                    paused.elapsed(),
                    silent_at_ask,
                    c.silent_for(Instant::now()),
                    started,
                );
            }
            Err(ingest::IngestError::LeaseHeld { .. }) => {}
            Err(e) => panic!("start: {e}"),
        }
        assert!(
            paused.elapsed() < PATIENCE,
            "the broker never released the lease"
        );
        sleep(Duration::from_millis(100));
    };
    eprintln!(
        "lease granted {granted_after:?} after the pause; the holder had been silent for \
         {silent_at_ask:?} when the granted attempt began, {silent_at_grant:?} when it returned"
    );
    // The broker waits for two of its checks (one per heartbeat) without
    // a byte: at least 2 s of silence, beyond the 1.5 s fence.
    assert!(
        silent_at_grant >= Duration::from_secs(2),
        "{silent_at_grant:?}"
    );
    assert!(
        silent_at_ask >= fence,
        "{silent_at_ask:?} < fence {fence:?}"
    );

    // The holder's own side gives up too (missed heartbeats) and ends.
    assert_eq!(drain_to_end(&mut a_cut, PATIENCE), 0);
    assert!(
        matches!(a.ended(), Some(EndReason::LeaseLost { .. })),
        "{:?}",
        a.ended()
    );
    a.join().expect("a joins");
    drop(proxy);
    let (b, mut b_cut) = b_started;
    b.stop();
    drain_to_end(&mut b_cut, PATIENCE);
    b.join().expect("b joins");
}
