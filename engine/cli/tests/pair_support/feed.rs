//! [`Feed`]: a trade file published in chunks, one `aldebaran publish` after
//! the other (so the queue gets exactly the file, in order), paced until the
//! test says [`Feed::hurry`]: a test keeps the stream flowing while it kills
//! nodes, then lets the rest go as fast as the broker takes it.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::{JoinHandle, sleep},
    time::{Duration, Instant},
};

use crate::amqp_support::{BIN, PATIENCE, TestQueue};

/// The publisher of one test's stream, in the background.
pub struct Feed {
    thread: Option<JoinHandle<Result<(), String>>>,
    hurry: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    /// Chunks the thread may publish; `usize::MAX` for a free-running feed.
    granted: Arc<AtomicUsize>,
    /// How many chunks the file was cut into.
    pub chunks: usize,
}

impl Feed {
    /// Cuts `file` into chunks of `chunk_lines` lines and publishes them to
    /// `queue` one after the other, `batch` events per message, at `rate`
    /// events per second until [`Feed::hurry`].
    pub fn start(
        file: &Path,
        queue: &TestQueue,
        chunk_lines: usize,
        batch: u64,
        rate: u64,
    ) -> Self {
        Self::spawn(file, queue, chunk_lines, batch, rate, usize::MAX)
    }

    /// As [`Feed::start`], but no chunk goes out until [`Feed::allow`] grants
    /// it: a test that kills nodes for as long as the machine makes it take
    /// puts each chunk right where its fault falls, instead of guessing how
    /// long a paced stream must be to outlast them all.
    pub fn gated(
        file: &Path,
        queue: &TestQueue,
        chunk_lines: usize,
        batch: u64,
        rate: u64,
    ) -> Self {
        Self::spawn(file, queue, chunk_lines, batch, rate, 0)
    }

    fn spawn(
        file: &Path,
        queue: &TestQueue,
        chunk_lines: usize,
        batch: u64,
        rate: u64,
        granted: usize,
    ) -> Self {
        // Bytes, not text: the malformed lines include invalid UTF-8.
        let bytes = fs::read(file).expect("read the trade file");
        let lines: Vec<&[u8]> = bytes
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let dir = file.parent().expect("the trade file's directory");
        let paths: Vec<PathBuf> = lines
            .chunks(chunk_lines.max(1))
            .enumerate()
            .map(|(i, part)| {
                let p = dir.join(format!("feed-{i:04}.jsonl"));
                let mut body = part.concat();
                if body.last() != Some(&b'\n') {
                    body.push(b'\n');
                }
                fs::write(&p, body).expect("write a feed chunk");
                p
            })
            .collect();
        let hurry = Arc::new(AtomicBool::new(false));
        let abort = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let granted = Arc::new(AtomicUsize::new(granted));
        let (h, a, s) = (Arc::clone(&hurry), Arc::clone(&abort), Arc::clone(&sent));
        let g = Arc::clone(&granted);
        let queue = queue.name.clone();
        let chunks = paths.len();
        let thread = std::thread::spawn(move || {
            for (i, p) in paths.iter().enumerate() {
                while g.load(Ordering::Acquire) <= i {
                    if a.load(Ordering::Acquire) {
                        return Err("aborted".into());
                    }
                    sleep(Duration::from_millis(10));
                }
                let paced = !h.load(Ordering::Acquire);
                publish_chunk(p, &queue, batch, paced.then_some(rate), &a)?;
                s.fetch_add(1, Ordering::AcqRel);
            }
            Ok(())
        });
        Feed {
            thread: Some(thread),
            hurry,
            abort,
            sent,
            granted,
            chunks,
        }
    }

    /// Lets `n` more chunks of a [`Feed::gated`] feed go out.
    pub fn allow(&self, n: usize) {
        let more = |g: usize| Some(g.saturating_add(n));
        let _ = self
            .granted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, more);
    }

    /// Whether a granted chunk is still being published.
    pub fn publishing(&self) -> bool {
        self.sent() < self.granted.load(Ordering::Acquire).min(self.chunks) && self.running()
    }

    /// The chunks after the current one go unpaced.
    pub fn hurry(&self) {
        self.hurry.store(true, Ordering::Release);
    }

    /// Whether it is still publishing.
    pub fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Chunks fully published (confirmed by the broker) so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Acquire)
    }

    /// Hurries, waits for the last chunk; panics if a publish failed or it
    /// takes longer than [`PATIENCE`].
    #[track_caller]
    pub fn finish(mut self) {
        self.hurry();
        self.granted.store(usize::MAX, Ordering::Release);
        let deadline = Instant::now() + PATIENCE;
        let t = self.thread.take().expect("feed thread");
        while !t.is_finished() {
            if Instant::now() > deadline {
                self.abort.store(true, Ordering::Release);
                panic!(
                    "the feed did not finish within {PATIENCE:?} ({} of {} chunks sent)",
                    self.sent(),
                    self.chunks
                );
            }
            sleep(Duration::from_millis(50));
        }
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the feed failed: {e}"),
            Err(_) => panic!("the feed thread panicked"),
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.abort.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `aldebaran publish CHUNK --queue Q --batch B [--rate R]`, killed if
/// `abort` is set.
fn publish_chunk(
    path: &Path,
    queue: &str,
    batch: u64,
    rate: Option<u64>,
    abort: &AtomicBool,
) -> Result<(), String> {
    let mut cmd = Command::new(BIN);
    cmd.arg("publish")
        .arg(path)
        .args(["--queue", queue, "--batch", &batch.to_string()]);
    if let Some(r) = rate {
        cmd.args(["--rate", &r.to_string()]);
    }
    let mut child = cmd
        .env_remove("RUST_LOG")
        .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start aldebaran publish: {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => {
                let mut err = String::new();
                if let Some(e) = child.stderr.as_mut() {
                    let _ = std::io::Read::read_to_string(e, &mut err);
                }
                return Err(format!("publish {}: {st}: {}", path.display(), err.trim()));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("publish {}: {e}", path.display())),
        }
        if abort.load(Ordering::Acquire) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("aborted".into());
        }
        sleep(Duration::from_millis(20));
    }
}
