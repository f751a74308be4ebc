//! What the pair-facing shipper tests share: a journal of numbered overfill
//! records, a shipper spec over it, and a sink that logs each send.

#![allow(dead_code)] // each test file uses its own part of this

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerts::delivery::{
    DeliveryMode, DurableHead, Outgoing, SendFailure, ShipperSpec, Sink, StartFrom,
};
use alerts::{Journal, JournalOptions};

/// Appends records `from..=to` (alert ids `overfill:o<seq>`), durably.
pub fn write_journal(dir: &Path, from: u64, to: u64) {
    let (mut j, _) = Journal::open(
        dir,
        JournalOptions {
            segment_bytes: 512,
            ..JournalOptions::default()
        },
    )
    .expect("open");
    for i in from..=to {
        let payload = format!(r#"{{"alert_id":"overfill:o{i}","kind":"overfill","filled":{i}}}"#);
        assert_eq!(j.append(payload.as_bytes()).expect("append"), i);
    }
    j.sync().expect("sync");
}

/// Copies the journal's segments (not its lock, not its cursors) from
/// `from` to `to`: what a standby's replicated journal holds.
pub fn copy_segments(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("seg") {
            let name = path.file_name().expect("name");
            std::fs::copy(&path, to.join(name)).expect("copy");
        }
    }
}

/// A spec for sink `name` of kind `test` over `journal`, everything up to
/// `durable` shippable, fast retries and polls, no gate and no mirror.
pub fn spec(journal: &Path, name: &str, mode: DeliveryMode, durable: u64) -> ShipperSpec {
    ShipperSpec {
        name: name.into(),
        kind: "test".into(),
        mode,
        start: StartFrom::Oldest,
        journal_dir: journal.to_path_buf(),
        durable: Arc::new(DurableHead::new(durable)),
        retry_min: Duration::from_millis(1),
        retry_max: Duration::from_millis(10),
        dead_letter: journal.join("cursors").join(format!("{name}.dead.jsonl")),
        poll_interval: Duration::from_millis(2),
        gate: None,
        mirror: None,
    }
}

/// One send as a sink saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub seqs: Vec<u64>,
    pub epochs: Vec<u64>,
}

/// Logs every send (seqs and epochs) and takes up to `max_batch` records.
pub struct LogSink {
    pub sends: Arc<Mutex<Vec<Sent>>>,
    pub max_batch: usize,
}

impl LogSink {
    pub fn new(max_batch: usize) -> (Self, Arc<Mutex<Vec<Sent>>>) {
        let sends = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink {
            sends: Arc::clone(&sends),
            max_batch,
        };
        (sink, sends)
    }
}

impl Sink for LogSink {
    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        self.sends.lock().expect("lock").push(Sent {
            seqs: batch.iter().map(|o| o.seq).collect(),
            epochs: batch.iter().map(|o| o.epoch).collect(),
        });
        Ok(())
    }
}

/// Every seq the sends delivered, in order.
pub fn seqs(sends: &Mutex<Vec<Sent>>) -> Vec<u64> {
    sends
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|s| s.seqs.clone())
        .collect()
}

/// Waits up to 30 s for `what` to hold.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}
