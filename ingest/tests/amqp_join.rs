//! A source whose owner joins it without a stop: joining drops the last
//! acker, and the source must take that as the end (nothing will be
//! acknowledged any more) rather than poll its closed ack channel forever.
//! Found in CI: a consume loop spinning at 100% of a core, never reaching
//! its stop check, so `join` never returned.

mod amqp_support;

use std::{sync::mpsc, thread, time::Duration};

use amqp_support::*;
use ingest::amqp::start_amqp;

#[test]
fn a_source_joined_without_a_stop_ends_instead_of_spinning() {
    let q = TestQueue::new("join");
    let (a, mut cut) = start_amqp(q.source("a")).expect("a starts");
    q.publish(&events("e", 5), 1);
    assert_eq!(read_events(&mut cut, 5).len(), 5);
    let (done, joined) = mpsc::channel();
    let joiner = thread::spawn(move || {
        let stats = a.join();
        let _ = done.send(());
        stats
    });
    let within = Duration::from_secs(20);
    if joined.recv_timeout(within).is_err() {
        panic!(
            "join did not return within {within:?}: the source kept consuming with no acker left"
        );
    }
    joiner.join().expect("the joiner").expect("a joins");
    assert_eq!(
        drain_to_end(&mut cut, within),
        0,
        "the cutter ends, with nothing more"
    );
}
