//! [`CursorQueue`]: the sinks' cursor files on their way to the standby.
//!
//! A shipper records a send in flight (fsync) before making it; on the
//! active of a pair the same bytes must reach the standby first, so that a
//! standby that takes over knows that send may have happened and reports it
//! (SPEC §4's in-doubt window). The shipper hands the file to this queue and
//! waits — bounded — for the standby's acknowledgement; the replicator sends
//! what is queued. Without an in-sync standby nothing waits.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use super::wake::Wake;

/// One cursor file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CursorFile {
    pub(crate) id: u64,
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    next_id: u64,
    pending: VecDeque<CursorFile>,
    /// The standby has installed every file through this id.
    acked: u64,
    /// A standby is connected: files are queued for it.
    connected: bool,
}

/// The queue between the shippers and the replicator.
pub(crate) struct CursorQueue {
    q: Mutex<Queue>,
    acked: Condvar,
    wake: Arc<Wake>,
}

impl CursorQueue {
    pub(crate) fn new(wake: Arc<Wake>) -> Self {
        CursorQueue {
            q: Mutex::new(Queue::default()),
            acked: Condvar::new(),
            wake,
        }
    }

    /// A standby connected: what was queued for another is dropped (the
    /// replicator sends it every file as it is now); returns the ids for
    /// `files`, the files the new standby gets first.
    pub(crate) fn connect(&self, files: Vec<(String, Vec<u8>)>) -> Vec<CursorFile> {
        let Ok(mut q) = self.q.lock() else {
            return Vec::new();
        };
        q.pending.clear();
        q.connected = true;
        let mut out = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            q.next_id += 1;
            out.push(CursorFile {
                id: q.next_id,
                path,
                bytes,
            });
        }
        out
    }

    /// The standby is gone: nothing waits for it any more.
    pub(crate) fn disconnect(&self) {
        if let Ok(mut q) = self.q.lock() {
            q.connected = false;
            q.pending.clear();
        }
        self.acked.notify_all();
    }

    /// Queues a file the shipper just wrote; `None` when no standby is
    /// connected.
    pub(crate) fn push(&self, path: &str, bytes: &[u8]) -> Option<u64> {
        let id = {
            let mut q = self.q.lock().ok()?;
            if !q.connected {
                return None;
            }
            q.next_id += 1;
            let id = q.next_id;
            q.pending.push_back(CursorFile {
                id,
                path: path.to_owned(),
                bytes: bytes.to_vec(),
            });
            id
        };
        self.wake.poke();
        Some(id)
    }

    /// What waits to be sent, oldest first.
    pub(crate) fn take(&self) -> Vec<CursorFile> {
        self.q
            .lock()
            .map(|mut q| q.pending.drain(..).collect())
            .unwrap_or_default()
    }

    /// The standby installed every file through `id`.
    pub(crate) fn acked(&self, id: u64) {
        if let Ok(mut q) = self.q.lock()
            && id > q.acked
        {
            q.acked = id;
            self.acked.notify_all();
        }
    }

    /// Waits until file `id` is installed on the standby, the standby is
    /// gone, or `timeout` is over; returns whether it was installed.
    pub(crate) fn wait_acked(&self, id: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let Ok(mut q) = self.q.lock() else {
            return false;
        };
        loop {
            if q.acked >= id {
                return true;
            }
            let now = Instant::now();
            if !q.connected || now >= deadline {
                return false;
            }
            q = match self.acked.wait_timeout(q, deadline - now) {
                Ok((g, _)) => g,
                Err(_) => return false,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_waits_for_its_acknowledgement_and_not_for_a_lost_standby() {
        let q = Arc::new(CursorQueue::new(Arc::new(Wake::default())));
        assert_eq!(q.push("cursors/a.cursor", b"x"), None, "nobody to send to");
        let first = q.connect(vec![("cursors/a.cursor".into(), b"0".to_vec())]);
        assert_eq!(first.len(), 1);
        let id = q.push("cursors/a.cursor", b"1").expect("queued");
        assert!(id > first[0].id);
        assert_eq!(q.take().len(), 1);
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || q2.wait_acked(id, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        q.acked(id);
        assert!(t.join().expect("waiter"));
        let id = q.push("cursors/a.cursor", b"2").expect("queued");
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || q2.wait_acked(id, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        q.disconnect();
        assert!(!t.join().expect("waiter"), "gone: not installed");
        assert!(!q.wait_acked(id + 5, Duration::from_millis(5)));
    }
}
