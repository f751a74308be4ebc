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
    ring::{self, Lanes},
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
    /// Pin the ingest thread to this core (an index into the machine's
    /// cores); parse lane `i` goes to core `pin_core + i`.
    pub pin_core: Option<usize>,
    /// Threads that parse a file, each taking 1 MiB segments in turn; the
    /// cutter reads them back in file order (`ring::lanes`). Stdin, a
    /// followed file and a paced replay always use one.
    pub parse_threads: usize,
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
            parse_threads: 1,
            rate: None,
            start_offset: 0,
        }
    }
}

/// The running ingest thread of a replay.
pub struct IngestHandle {
    /// One per parse lane; the first is the only one for a stream.
    threads: Vec<JoinHandle<Result<SourceStats>>>,
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

    /// Waits for the ingest threads and returns their counters (lines
    /// summed, bytes: the furthest any got) or the first error.
    pub fn join(self) -> Result<SourceStats> {
        let mut all = SourceStats::default();
        let mut first_err = None;
        for t in self.threads {
            match t.join().map_err(|_| IngestError::Panicked).and_then(|r| r) {
                Ok(s) => {
                    all.lines += s.lines;
                    all.bytes = all.bytes.max(s.bytes);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(all), Err)
    }
}

/// Starts replaying `input` on a new ingest thread; returns its handle and the
/// cutter that yields its micro-batches. Opening errors are returned here.
pub fn start_replay(input: Input, opts: &ReplayOptions) -> Result<(IngestHandle, Cutter)> {
    let file = match &input {
        Input::File(p) => Some(MappedFile::open(p)?),
        Input::Stdin | Input::Follow(_) => None,
    };
    let file = match (file, opts.parse_threads > 1 && opts.rate.is_none()) {
        (Some(f), true) => return start_lanes(f, opts),
        (file, _) => file,
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
        threads: vec![thread],
        progress,
        stop,
        total,
    };
    Ok((handle, Cutter::new(reader, opts.cut)))
}

/// A file parsed by `opts.parse_threads` lanes, each with its own ring.
fn start_lanes(file: MappedFile, opts: &ReplayOptions) -> Result<(IngestHandle, Cutter)> {
    let file = Arc::new(file);
    let n = opts.parse_threads;
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (first, reader) = ring::ring(opts.ring_bytes);
    let mut lanes = Lanes::one(reader);
    let mut writers = vec![first];
    for _ in 1..n {
        let (w, r) = ring::ring(opts.ring_bytes);
        lanes.push(r);
        writers.push(w);
    }
    let mut threads = Vec::with_capacity(n);
    for (lane, writer) in writers.into_iter().enumerate() {
        let (f, p, s) = (Arc::clone(&file), Arc::clone(&progress), Arc::clone(&stop));
        let (pin, start) = (opts.pin_core.map(|c| c + lane), opts.start_offset);
        let thread = std::thread::Builder::new()
            .name(format!("aldebaran-ingest-{lane}"))
            .spawn(move || {
                pin_current(pin);
                let stop = || s.load(Ordering::Relaxed);
                Ok(f.replay_lane(start, (lane, n), LineIngestor::new(writer), &p, &stop))
            })
            .map_err(IngestError::Spawn)?;
        threads.push(thread);
    }
    let handle = IngestHandle {
        threads,
        progress,
        stop,
        total: Some(file.len()),
    };
    Ok((handle, Cutter::of_lanes(lanes, opts.cut)))
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
