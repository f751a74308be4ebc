//! A paced replay stamps each event with the time it was due (its start
//! plus its index over the rate), not the time the source reached it, so
//! latency measured from the stamp includes any wait behind schedule
//! (coordinated omission corrected).

use std::time::Duration;

use ingest::synth::{SynthConfig, generate};
use ingest::{Cut, Input, ReplayOptions, start_replay};

#[test]
fn paced_events_are_stamped_with_their_due_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let cfg = SynthConfig {
        orders: 100,
        malformed_fraction: 0.0,
        duplicate_fraction: 0.0,
        ..SynthConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &mut bytes).expect("generate");
    std::fs::write(&path, &bytes).expect("write");

    // 2,000 events/s: one every 500 µs; the pacer checks after every event.
    let opts = ReplayOptions {
        rate: Some(2_000),
        ..ReplayOptions::default()
    };
    let (handle, mut cutter) = start_replay(Input::File(path.clone()), &opts).expect("start");
    let mut stamps = Vec::new();
    loop {
        match cutter.next_event(Duration::from_secs(5)).expect("cut") {
            Cut::Batch(b) => stamps.extend_from_slice(b.ingest_ns()),
            Cut::Idle => {}
            Cut::End => break,
        }
    }
    handle.join().expect("join");
    assert!(stamps.len() >= 200, "{} events", stamps.len());
    // Every line is an event here (no blanks, no rejects), so event i is
    // due at start + i × 500 µs; allow the float rounding of the schedule.
    for (i, w) in stamps.windows(2).enumerate() {
        let gap = w[1] - w[0];
        assert!(
            gap.abs_diff(500_000) <= 2,
            "events {i} and {}: stamped {gap} ns apart, not the 500 µs schedule",
            i + 1
        );
    }
}
