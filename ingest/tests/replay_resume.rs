//! A replay resumed at a byte offset (what a checkpoint records) reads the
//! rest of the file with the file's own positions, whether the file is mapped
//! or followed; and a quiet source lets the cutter report idleness.

use std::{io::Write, time::Duration};

use ingest::{Cut, Input, ReplayOptions, start_replay};

const LINES: [&str; 4] = [
    r##"{"id":"a","#shares":10,"client":"c","stock":"S"}"##,
    r##"{"id":"b","#shares":20,"client":"c","stock":"S"}"##,
    "not json",
    r##"{"id":"d","#shares":40,"client":"c","stock":"S"}"##,
];

/// (accepted positions, rejected positions) of a whole replay.
fn positions(input: Input, start: u64) -> (Vec<u64>, Vec<u64>) {
    let opts = ReplayOptions {
        start_offset: start,
        ..ReplayOptions::default()
    };
    let (handle, mut cutter) = start_replay(input, &opts).expect("start");
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    let mut ends = 0;
    while ends == 0 {
        match cutter.next_event(Duration::from_millis(200)).expect("cut") {
            Cut::Batch(b) => {
                ok.extend_from_slice(b.pos());
                bad.extend(b.dead_letters().iter().map(|d| d.pos));
            }
            Cut::Idle => {
                // A followed file never ends: idle means everything was read.
                handle.stop();
                ends += 1;
            }
            Cut::End => ends += 1,
        }
    }
    handle.join().expect("join");
    (ok, bad)
}

#[test]
fn resumes_at_an_offset_with_the_files_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let mut f = std::fs::File::create(&path).expect("create");
    let mut offsets = Vec::new();
    let mut at = 0u64;
    for l in LINES {
        offsets.push(at);
        writeln!(f, "{l}").expect("write");
        at += l.len() as u64 + 1;
    }
    drop(f);
    let (o, a) = (offsets.clone(), offsets[1]);
    for input in [Input::File(path.clone()), Input::Follow(path.clone())] {
        let (ok, bad) = positions(input, 0);
        assert_eq!((ok, bad), (vec![o[0], o[1], o[3]], vec![o[2]]));
    }
    for input in [Input::File(path.clone()), Input::Follow(path.clone())] {
        let (ok, bad) = positions(input, a);
        assert_eq!((ok, bad), (vec![o[1], o[3]], vec![o[2]]), "from byte {a}");
    }
    let (ok, bad) = positions(Input::File(path.clone()), at);
    assert!(ok.is_empty() && bad.is_empty(), "from the end: nothing");
}
