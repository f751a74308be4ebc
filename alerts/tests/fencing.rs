//! Fencing (SPEC §6): a shipper behind a closed ship gate begins no send,
//! one whose gate closes while it marks a send in flight does not make that
//! send, and every send carries the gate's epoch to the sink.

mod common;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerts::delivery::{
    CursorMirror, DeliveryMode, InDoubtAction, Install, Outgoing, SendFailure, ShipGate,
    ShipperExit, Sink, install_cursor_file, read_cursors, spawn_shipper,
};
use common::{LogSink, Sent, copy_segments, seqs, spec, wait_until, write_journal};

/// (delivered, in_flight_to) of the one cursor of `journal`.
fn cursor_at(journal: &std::path::Path) -> (u64, u64) {
    let cursors = read_cursors(journal).expect("cursors");
    (cursors[0].delivered, cursors[0].in_flight_to)
}

/// Tells the test it entered each send and holds it there until released,
/// so the test can act while a send is under way.
struct HeldSink {
    entered: mpsc::Sender<Sent>,
    release: mpsc::Receiver<()>,
}

impl Sink for HeldSink {
    fn max_batch(&self) -> usize {
        2
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        let sent = Sent {
            seqs: batch.iter().map(|o| o.seq).collect(),
            epochs: batch.iter().map(|o| o.epoch).collect(),
        };
        self.entered.send(sent).expect("test gone");
        self.release.recv().expect("test gone");
        Ok(())
    }
}

#[test]
fn a_closed_gate_holds_every_send_until_it_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 6);
    let gate = Arc::new(ShipGate::closed());
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let sink = HeldSink {
        entered: entered_tx,
        release: release_rx,
    };
    let mut spec = spec(&journal, "pager", DeliveryMode::AtLeastOnce, 6);
    spec.gate = Some(Arc::clone(&gate));
    let handle = spawn_shipper(spec, Box::new(sink)).expect("spawn");
    let stats = handle.stats();

    // Closed from the start: fenced, nothing sent, nothing marked in flight.
    wait_until("fenced", || stats.fenced.load(Ordering::Relaxed));
    assert!(entered.recv_timeout(Duration::from_millis(50)).is_err());
    assert_eq!(cursor_at(&journal), (0, 0), "no range marked in flight");

    // Open: the sends flow, under the gate's epoch.
    gate.open(3).expect("open");
    let first = entered.recv_timeout(Duration::from_secs(30)).expect("send");
    assert_eq!(first.seqs, [1, 2]);
    assert_eq!(first.epochs, [3, 3]);
    assert!(!stats.fenced.load(Ordering::Relaxed));

    // Closed during a send: that send completes, the next never starts,
    // and what was delivered is on disk for a successor to start after.
    gate.close();
    release.send(()).expect("release");
    wait_until("fenced again with the delivery recorded", || {
        stats.fenced.load(Ordering::Relaxed) && cursor_at(&journal) == (2, 2)
    });
    assert!(
        entered.recv_timeout(Duration::from_millis(50)).is_err(),
        "no send while the gate is closed"
    );

    // Open under a new epoch: the rest goes, carrying it.
    gate.open(4).expect("open");
    handle.finish(Instant::now() + Duration::from_secs(60));
    let mut rest = Vec::new();
    for _ in 0..2 {
        rest.push(entered.recv_timeout(Duration::from_secs(30)).expect("send"));
        release.send(()).expect("release");
    }
    let report = handle.join().expect("join");
    assert_eq!((report.exit, report.cursor), (ShipperExit::Finished, 6));
    assert_eq!(
        rest,
        [
            Sent {
                seqs: vec![3, 4],
                epochs: vec![4, 4]
            },
            Sent {
                seqs: vec![5, 6],
                epochs: vec![4, 4]
            },
        ]
    );
    assert!(!stats.fenced.load(Ordering::Relaxed));
}

/// Logs each mirrored cursor write as `mark D..F` (read back from a copy
/// installed in `standby`), closes the gate at the first in-flight mark
/// when asked to: the gate closing while the shipper marks a send.
struct ClosingMirror {
    standby: std::path::PathBuf,
    gate: Arc<ShipGate>,
    close_at_mark: Mutex<bool>,
    log: Arc<Mutex<Vec<String>>>,
}

impl CursorMirror for ClosingMirror {
    fn written(&self, rel_path: &str, bytes: &[u8]) {
        install_cursor_file(&self.standby, rel_path, bytes, Install::Deferred).expect("install");
        if !rel_path.ends_with(".cursor") {
            return;
        }
        let (delivered, in_flight_to) = cursor_at(&self.standby);
        self.log
            .lock()
            .expect("log")
            .push(format!("mark {delivered}..{in_flight_to}"));
        let mut close = self.close_at_mark.lock().expect("flag");
        if *close && in_flight_to > delivered {
            *close = false;
            self.gate.close();
        }
    }
}

/// A sink writing `send <seqs> @<epochs>` into the shared log.
struct LoggingSink(Arc<Mutex<Vec<String>>>);

impl Sink for LoggingSink {
    fn max_batch(&self) -> usize {
        4
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        let seqs: Vec<u64> = batch.iter().map(|o| o.seq).collect();
        let epochs: Vec<u64> = batch.iter().map(|o| o.epoch).collect();
        self.0
            .lock()
            .expect("log")
            .push(format!("send {seqs:?} @{epochs:?}"));
        Ok(())
    }
}

/// A pair's active whose gate closes while it marks seq 1..=4 in flight.
struct Closing {
    _dir: tempfile::TempDir,
    journal: std::path::PathBuf,
    standby: std::path::PathBuf,
    gate: Arc<ShipGate>,
    log: Arc<Mutex<Vec<String>>>,
    handle: alerts::ShipperHandle,
}

fn closing_during_the_mark(mode: DeliveryMode) -> Closing {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, standby) = (dir.path().join("j"), dir.path().join("standby"));
    write_journal(&journal, 1, 4);
    let gate = Arc::new(ShipGate::opened(1).expect("gate"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let mirror = ClosingMirror {
        standby: standby.clone(),
        gate: Arc::clone(&gate),
        close_at_mark: Mutex::new(true),
        log: Arc::clone(&log),
    };
    let mut spec = spec(&journal, "sms", mode, 4);
    spec.gate = Some(Arc::clone(&gate));
    spec.mirror = Some(Arc::new(mirror));
    let sink = LoggingSink(Arc::clone(&log));
    let handle = spawn_shipper(spec, Box::new(sink)).expect("spawn");
    let stats = handle.stats();
    wait_until("fenced", || stats.fenced.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        *log.lock().expect("log"),
        ["mark 0..0", "mark 0..4"],
        "the new cursor, the mark, and no send"
    );
    assert_eq!(cursor_at(&journal), (0, 4), "the range stays in flight");
    Closing {
        _dir: dir,
        journal,
        standby,
        gate,
        log,
        handle,
    }
}

#[test]
fn a_gate_closed_during_the_mark_stops_that_send_until_it_opens() {
    let c = closing_during_the_mark(DeliveryMode::AtLeastOnce);
    c.gate.open(2).expect("open");
    c.handle.finish(Instant::now() + Duration::from_secs(60));
    let report = c.handle.join().expect("join");
    assert_eq!((report.exit, report.cursor), (ShipperExit::Finished, 4));
    // Reopened, the mark goes to the mirror again before the send, which
    // carries the new epoch.
    assert_eq!(
        *c.log.lock().expect("log"),
        [
            "mark 0..0",
            "mark 0..4",
            "mark 0..4",
            "send [1, 2, 3, 4] @[2, 2, 2, 2]",
            "mark 4..4",
        ]
    );
    assert_eq!(cursor_at(&c.journal), (4, 4));
}

/// The fenced active is stopped with its mark in flight; the standby, with
/// the mirrored cursor and the journal's segments, takes over and reports
/// the range as in doubt, resending or skipping it per the mode.
#[test]
fn a_send_the_gate_stopped_is_in_doubt_for_the_successor() {
    for (mode, action, got) in [
        (
            DeliveryMode::AtLeastOnce,
            InDoubtAction::Resent,
            vec![1, 2, 3, 4],
        ),
        (DeliveryMode::AtMostOnce, InDoubtAction::Skipped, vec![]),
    ] {
        let c = closing_during_the_mark(mode);
        let started = Instant::now();
        c.handle.stop();
        let report = c.handle.join().expect("join");
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "a fenced shipper stops at once"
        );
        assert_eq!((report.exit, report.cursor), (ShipperExit::Stopped, 0));
        assert!(
            !c.log
                .lock()
                .expect("log")
                .iter()
                .any(|l| l.starts_with("send"))
        );

        copy_segments(&c.journal, &c.standby);
        let (sink, sends) = LogSink::new(4);
        let successor = spec(&c.standby, "sms", mode, 4);
        let handle = spawn_shipper(successor, Box::new(sink)).expect("spawn");
        handle.finish(Instant::now() + Duration::from_secs(60));
        let report = handle.join().expect("join");
        let d = report.in_doubt.expect("in doubt");
        assert_eq!((d.from, d.to, d.action), (1, 4, action), "{mode:?}");
        assert_eq!(seqs(&sends), got, "{mode:?}");
        assert_eq!(report.cursor, 4);
    }
}

#[test]
fn a_fenced_shipper_answers_finish_and_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j");
    write_journal(&journal, 1, 3);
    let gated = || {
        let mut s = spec(&journal, "pager", DeliveryMode::AtLeastOnce, 3);
        s.gate = Some(Arc::new(ShipGate::closed()));
        s
    };
    let (sink, sends) = LogSink::new(4);
    let handle = spawn_shipper(gated(), Box::new(sink)).expect("spawn");
    let started = Instant::now();
    handle.finish(Instant::now() + Duration::from_millis(40));
    let report = handle.join().expect("join");
    assert_eq!(report.exit, ShipperExit::Deadline { behind: 3 });
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "gave up at the deadline"
    );
    assert!(seqs(&sends).is_empty());

    let (sink, _) = LogSink::new(4);
    let handle = spawn_shipper(gated(), Box::new(sink)).expect("spawn");
    let stats = handle.stats();
    wait_until("fenced", || stats.fenced.load(Ordering::Relaxed));
    let started = Instant::now();
    handle.stop();
    assert_eq!(handle.join().expect("join").exit, ShipperExit::Stopped);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "stopped at once"
    );
    assert_eq!(cursor_at(&journal), (0, 0), "nothing ever marked in flight");
}
