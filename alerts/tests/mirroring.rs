//! Cursor mirroring (SPEC §6): the in-flight mark reaches the mirror before
//! the send it covers, and a standby holding the mirrored files (installed
//! with `install_cursor_file`) and the journal's segments resumes exactly
//! where the active left off, reporting the send a crash interrupted as in
//! doubt.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerts::AlertsError;
use alerts::delivery::{
    CursorMirror, DeliveryMode, InDoubtAction, Install, Outgoing, SendFailure, ShipperExit, Sink,
    cursor_files, install_cursor_file, read_cursors, registered_sinks, spawn_shipper,
};
use common::{LogSink, copy_segments, seqs, spec, write_journal};

/// The standby end: installs every mirrored file into `standby` and logs
/// the cursor it then holds as `mark D..F` (the registry as `registry`).
struct Standby {
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl CursorMirror for Standby {
    fn written(&self, rel_path: &str, bytes: &[u8]) {
        install_cursor_file(&self.dir, rel_path, bytes, Install::Deferred).expect("install");
        let entry = if rel_path == "cursors/registry" {
            "registry".to_owned()
        } else {
            let c = &read_cursors(&self.dir).expect("cursors")[0];
            format!("mark {}..{}", c.delivered, c.in_flight_to)
        };
        self.log.lock().expect("log").push(entry);
    }
}

/// Logs `send F..=L` into the same log as the mirror; panics (a crash in
/// the middle of the send, after the mark) on the send holding `crash_at`.
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
    crash_at: Option<u64>,
}

impl Sink for Recorder {
    fn max_batch(&self) -> usize {
        3
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        if batch.iter().any(|o| Some(o.seq) == self.crash_at) {
            panic!("simulated crash during send");
        }
        let (first, last) = (batch[0].seq, batch[batch.len() - 1].seq);
        self.log
            .lock()
            .expect("log")
            .push(format!("send {first}..={last}"));
        Ok(())
    }
}

/// An active shipping `journal` (records up to `last`) through a
/// [`Recorder`], mirrored into `standby`; returns how its thread ended and
/// the shared log.
fn ship_mirrored(
    (journal, last): (&Path, u64),
    standby: &Path,
    mode: DeliveryMode,
    crash_at: Option<u64>,
) -> (alerts::Result<alerts::ShipperReport>, Vec<String>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut spec = spec(journal, "sms", mode, last);
    spec.mirror = Some(Arc::new(Standby {
        dir: standby.to_path_buf(),
        log: Arc::clone(&log),
    }));
    let sink = Recorder {
        log: Arc::clone(&log),
        crash_at,
    };
    let handle = spawn_shipper(spec, Box::new(sink)).expect("spawn");
    handle.finish(Instant::now() + Duration::from_secs(60));
    let result = handle.join();
    let log = log.lock().expect("log").clone();
    (result, log)
}

#[test]
fn the_in_flight_mark_reaches_the_mirror_before_its_send() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, standby) = (dir.path().join("j"), dir.path().join("standby"));
    write_journal(&journal, 1, 10);
    let (result, log) = ship_mirrored((&journal, 10), &standby, DeliveryMode::AtLeastOnce, None);
    assert_eq!(result.expect("join").exit, ShipperExit::Finished);
    // The new cursor before the registry (the order they are written in),
    // then each batch's mark (recording the previous delivery too) right
    // before its send, and the last delivery at the end.
    assert_eq!(
        log,
        [
            "mark 0..0",
            "registry",
            "mark 0..3",
            "send 1..=3",
            "mark 3..6",
            "send 4..=6",
            "mark 6..9",
            "send 7..=9",
            "mark 9..10",
            "send 10..=10",
            "mark 10..10",
        ]
    );
    // The standby holds the active's files byte for byte.
    assert_eq!(
        cursor_files(&standby).expect("standby"),
        cursor_files(&journal).expect("active")
    );
}

#[test]
fn a_standby_resumes_where_the_active_left_off() {
    for (mode, action, resent) in [
        (
            DeliveryMode::AtLeastOnce,
            InDoubtAction::Resent,
            vec![4, 5, 6],
        ),
        (DeliveryMode::AtMostOnce, InDoubtAction::Skipped, vec![]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (journal, standby) = (dir.path().join("j"), dir.path().join("standby"));
        write_journal(&journal, 1, 10);
        // The active delivers 1..=3, marks 4..=6 in flight (mirrored), and
        // dies during that send.
        let (result, log) = ship_mirrored((&journal, 10), &standby, mode, Some(5));
        assert!(
            matches!(result, Err(AlertsError::ShipperPanicked { .. })),
            "{result:?}"
        );
        assert_eq!(log.last().map(String::as_str), Some("mark 3..6"), "{log:?}");
        assert_eq!(
            cursor_files(&standby).expect("standby"),
            cursor_files(&journal).expect("active")
        );

        // The standby: the same journal, the mirrored cursors.
        copy_segments(&journal, &standby);
        let names: Vec<_> = registered_sinks(&standby)
            .expect("registry")
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["sms"], "the registry came along");
        let (sink, sends) = LogSink::new(3);
        let handle = spawn_shipper(spec(&standby, "sms", mode, 10), Box::new(sink)).expect("spawn");
        handle.finish(Instant::now() + Duration::from_secs(60));
        let report = handle.join().expect("join");
        let d = report.in_doubt.expect("in doubt");
        assert_eq!((d.from, d.to, d.action), (4, 6, action), "{mode:?}");
        assert_eq!(
            (d.first_alert_id.as_deref(), d.last_alert_id.as_deref()),
            (Some("overfill:o4"), Some("overfill:o6"))
        );
        // Nothing the active delivered is sent again; everything after the
        // in-doubt range is.
        let mut want = resent;
        want.extend(7..=10);
        assert_eq!(seqs(&sends), want, "{mode:?}");
        assert_eq!(report.cursor, 10);
    }
}

#[test]
fn installing_under_a_running_shipper_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, standby) = (dir.path().join("j"), dir.path().join("standby"));
    write_journal(&journal, 1, 3);
    let (result, _) = ship_mirrored((&journal, 3), &standby, DeliveryMode::AtLeastOnce, None);
    assert_eq!(result.expect("join").exit, ShipperExit::Finished);
    copy_segments(&journal, &standby);
    let files = cursor_files(&journal).expect("files");
    let (rel_path, bytes) = files
        .iter()
        .find(|(p, _)| p.ends_with(".cursor"))
        .expect("a cursor");

    // A shipper running on the standby's copy holds its cursor.
    let (sink, _) = LogSink::new(3);
    let handle = spawn_shipper(
        spec(&standby, "sms", DeliveryMode::AtLeastOnce, 3),
        Box::new(sink),
    )
    .expect("spawn");
    let err =
        install_cursor_file(&standby, rel_path, bytes, Install::Durable).expect_err("refused");
    assert!(
        matches!(&err, AlertsError::CursorInstall { reason, .. } if reason.contains("held by a running shipper")),
        "{err}"
    );
    handle.stop();
    handle.join().expect("join");
    install_cursor_file(&standby, rel_path, bytes, Install::Durable)
        .expect("installed once it stopped");

    // And whatever runs: no path out of cursors/, no payload that is not a
    // cursor file.
    for bad in ["../x", "cursors/../x.cursor", "cursors/sms.sink"] {
        let err = install_cursor_file(&standby, bad, bytes, Install::Durable).expect_err(bad);
        assert!(
            matches!(err, AlertsError::CursorInstall { .. }),
            "{bad}: {err}"
        );
    }
    assert!(!dir.path().join("x").exists());
    let err = install_cursor_file(&standby, rel_path, b"not a cursor", Install::Durable)
        .expect_err("payload");
    assert!(err.to_string().contains("not a cursor file"), "{err}");
}
