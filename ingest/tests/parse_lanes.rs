//! A file parsed by several lanes reaches the cutter exactly as one lane
//! delivers it: the same events and dead letters at the same positions, in
//! the same order, from any start offset, with the end of input once; and a
//! stop ends every lane.

use std::time::Duration;

use ingest::synth::{SynthConfig, generate};
use ingest::{Cut, Input, ReplayOptions, start_replay};

/// What the cutter delivered: (position, shares or u64::MAX for a dead
/// letter), in order, and the lines the source counted.
fn stream(path: &std::path::Path, lanes: usize, start: u64) -> (Vec<(u64, u64)>, u64) {
    let opts = ReplayOptions {
        parse_threads: lanes,
        start_offset: start,
        ..ReplayOptions::default()
    };
    let (handle, mut cutter) = start_replay(Input::File(path.to_path_buf()), &opts).expect("start");
    let mut out = Vec::new();
    loop {
        match cutter.next_event(Duration::from_secs(5)).expect("cut") {
            Cut::Batch(b) => {
                let mut rows: Vec<(u64, u64)> = (0..b.len())
                    .map(|r| (b.pos()[r], b.shares()[r]))
                    .chain(b.dead_letters().iter().map(|d| (d.pos, u64::MAX)))
                    .collect();
                // A batch holds events and dead letters apart: merge by position.
                rows.sort_unstable();
                out.extend(rows);
            }
            Cut::Idle => panic!("a file replay went idle"),
            Cut::End => break,
        }
    }
    let stats = handle.join().expect("join");
    (out, stats.lines)
}

#[test]
fn lanes_deliver_the_file_in_order_from_any_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let cfg = SynthConfig {
        orders: 60_000,
        malformed_fraction: 0.01,
        ..SynthConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &mut bytes).expect("generate");
    assert!(
        bytes.len() > 4 << 20,
        "{} bytes: several segments",
        bytes.len()
    );
    std::fs::write(&path, &bytes).expect("write");

    let (one, lines) = stream(&path, 1, 0);
    assert!(one.iter().any(|&(_, s)| s == u64::MAX), "some dead letters");
    assert!(one.windows(2).all(|w| w[0].0 < w[1].0), "positions rise");
    for lanes in [2, 3, 5] {
        let (got, got_lines) = stream(&path, lanes, 0);
        assert_eq!(got.len(), one.len(), "{lanes} lanes: as many records");
        assert!(
            got == one,
            "{lanes} lanes: the same records in the same order"
        );
        assert_eq!(got_lines, lines, "{lanes} lanes: every line counted once");
    }
    // From the start of a line in the middle of the second segment.
    let mid = one[one.len() / 3].0;
    let (from_one, _) = stream(&path, 1, mid);
    let (from_two, _) = stream(&path, 2, mid);
    assert!(from_one.first().is_some_and(|&(p, _)| p == mid));
    assert!(from_two == from_one, "2 lanes from byte {mid}");
    // From the end: nothing, and the end once.
    let (none, _) = stream(&path, 3, bytes.len() as u64);
    assert!(none.is_empty());
}

#[test]
fn a_stop_ends_every_lane() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let mut bytes = Vec::new();
    let cfg = SynthConfig {
        orders: 200_000,
        ..SynthConfig::default()
    };
    let made = generate(&cfg, &mut bytes).expect("generate");
    std::fs::write(&path, &bytes).expect("write");
    let opts = ReplayOptions {
        parse_threads: 2,
        ..ReplayOptions::default()
    };
    let (handle, mut cutter) = start_replay(Input::File(path.clone()), &opts).expect("start");
    let mut last = None;
    let mut seen = 0usize;
    loop {
        match cutter.next_event(Duration::from_secs(5)).expect("cut") {
            Cut::Batch(b) => {
                seen += b.len();
                if seen > 0 {
                    handle.stop();
                }
                // Still in order up to the stop.
                for &p in b.pos() {
                    assert!(last.is_none_or(|l| l < p));
                    last = Some(p);
                }
            }
            Cut::Idle => panic!("idle"),
            Cut::End => break,
        }
    }
    drop(cutter);
    handle.join().expect("every lane ends after a stop");
    assert!(
        seen > 0 && (seen as u64) < made.events / 2,
        "{seen} of {} events before the stop took",
        made.events
    );
}
