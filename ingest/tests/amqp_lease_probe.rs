//! Asking for a held lease is cheap and leaves nothing behind: each refused
//! start closes its connection (the broker lists none of them afterwards)
//! and its threads (lapin's I/O thread, the runtime's worker) end. Alone in
//! its test binary, so the process's thread count is this test's.

mod amqp_support;

use std::{
    thread::sleep,
    time::{Duration, Instant},
};

use amqp_support::*;
use ingest::{IngestError, amqp::start_amqp};

#[test]
fn probing_a_held_lease_every_100_ms_leaks_no_connection_and_no_thread() {
    let q = TestQueue::new("probe");
    let (holder, mut cut) = start_amqp(q.source("holder")).expect("holder");
    let before = threads();
    let standby = q.source("standby");
    let mut took = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        match start_amqp(standby.clone()) {
            Err(IngestError::LeaseHeld { .. }) => took.push(t.elapsed()),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("two exclusive consumers"),
        }
        sleep(Duration::from_millis(100));
    }
    took.sort();
    let (median, max) = (took[took.len() / 2], took[took.len() - 1]);
    eprintln!("a refused start took {median:?} (median), {max:?} (max)");
    assert!(median < Duration::from_millis(500), "{median:?}");
    assert!(max < Duration::from_secs(3), "{max:?}");
    wait_until("the refused starts' threads end", PATIENCE, || {
        threads() <= before
    });
    assert!(
        connections_named(&q.connection_name("standby")).is_empty(),
        "a refused start left its connection open"
    );
    holder.stop();
    drain_to_end(&mut cut, PATIENCE);
    holder.join().expect("join");
}
