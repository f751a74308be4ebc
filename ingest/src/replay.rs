//! Starting a replay: a file or stdin read by one (optionally pinned) ingest thread.

use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
};

use crate::{
    Cutter, IngestError, Result,
    cutter::CutPolicy,
    line_ingestor::{LineIngestor, SourceStats},
    pace::Pacer,
    ring,
    source::{self, MappedFile},
};

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A captured trade file, memory-mapped.
    File(PathBuf),
    /// Standard input, read as a stream.
    Stdin,
    /// A file read as a stream that keeps growing: at its end, wait for more
    /// until stopped (`tail -f`).
    Follow(PathBuf),
}

/// How to run the ingest side of a replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// When to cut micro-batches.
    pub cut: CutPolicy,
    /// Bytes in the ingest ring.
    pub ring_bytes: usize,
    /// Pin the ingest thread to this core (an index into the machine's cores).
    pub pin_core: Option<usize>,
    /// Pace the replay to this many events per second.
    pub rate: Option<u64>,
    /// Byte offset of a file (or followed file) to start at: the start of a
    /// line, e.g. where a checkpoint says the previous run stopped. Positions
    /// stay byte offsets of the whole file. Stdin ignores it.
    pub start_offset: u64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            cut: CutPolicy::default(),
            ring_bytes: 16 << 20,
            pin_core: None,
            rate: None,
            start_offset: 0,
        }
    }
}

/// The running ingest thread of a replay.
pub struct IngestHandle {
    thread: JoinHandle<Result<SourceStats>>,
    progress: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    total: Option<u64>,
}

impl IngestHandle {
    /// Bytes of input consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// The input's size, when known (a file).
    pub fn total_bytes(&self) -> Option<u64> {
        self.total
    }

    /// Asks the source to stop reading; the cutter then ends normally.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The flag behind [`IngestHandle::stop`], for a signal handler.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Waits for the ingest thread and returns its counters or its error.
    pub fn join(self) -> Result<SourceStats> {
        self.thread.join().map_err(|_| IngestError::Panicked)?
    }
}

/// Starts replaying `input` on a new ingest thread; returns its handle and the
/// cutter that yields its micro-batches. Opening errors are returned here.
pub fn start_replay(input: Input, opts: &ReplayOptions) -> Result<(IngestHandle, Cutter)> {
    let file = match &input {
        Input::File(p) => Some(MappedFile::open(p)?),
        Input::Stdin | Input::Follow(_) => None,
    };
    let followed = match &input {
        Input::Follow(p) => Some((
            p.clone(),
            std::fs::File::open(p).map_err(|source| IngestError::Input {
                path: p.clone(),
                source,
            })?,
        )),
        _ => None,
    };
    let total = file.as_ref().map(MappedFile::len);
    let (writer, reader) = ring::ring(opts.ring_bytes);
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (Arc::clone(&progress), Arc::clone(&stop));
    let (pin, rate, start) = (opts.pin_core, opts.rate, opts.start_offset);
    let thread = std::thread::Builder::new()
        .name("aldebaran-ingest".into())
        .spawn(move || {
            pin_current(pin);
            let mut ing = LineIngestor::new(writer);
            let pacer = Pacer::new(rate);
            let stop = || s.load(Ordering::Relaxed);
            match (file, followed) {
                (Some(f), _) => f.replay(start, &mut ing, pacer, &p, &stop),
                (None, Some((path, mut f))) => {
                    let err = |source| IngestError::Input {
                        path: path.clone(),
                        source,
                    };
                    f.seek(SeekFrom::Start(start)).map_err(err)?;
                    source::read_stream(
                        &mut f as &mut dyn Read,
                        start,
                        true,
                        &mut ing,
                        pacer,
                        &p,
                        &stop,
                    )
                    .map_err(err)?;
                }
                (None, None) => {
                    let mut stdin = std::io::stdin().lock();
                    source::read_stream(
                        &mut stdin as &mut dyn Read,
                        0,
                        false,
                        &mut ing,
                        pacer,
                        &p,
                        &stop,
                    )
                    .map_err(|source| IngestError::Input {
                        path: Path::new("-").to_path_buf(),
                        source,
                    })?;
                }
            }
            Ok(ing.end())
        })
        .map_err(IngestError::Spawn)?;
    let handle = IngestHandle {
        thread,
        progress,
        stop,
        total,
    };
    Ok((handle, Cutter::new(reader, opts.cut)))
}

/// Pins the calling thread to the `index`-th core, if given and present.
pub fn pin_current(index: Option<usize>) -> bool {
    let Some(i) = index else { return false };
    let Some(cores) = core_affinity::get_core_ids() else {
        return false;
    };
    match cores.get(i % cores.len().max(1)) {
        Some(&id) => core_affinity::set_for_current(id),
        None => false,
    }
}
