//! A memory-mapped input file, split into lines in place.

use std::{
    fs::File,
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use memmap2::Mmap;

use crate::{IngestError, Result, line_ingestor::LineIngestor, pace::Pacer};

/// Progress is published every this many bytes.
const PROGRESS_EVERY: usize = 1 << 20;

pub(crate) struct MappedFile {
    map: Option<Mmap>,
}

impl MappedFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let err = |source| IngestError::Input {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        if meta.is_dir() {
            return Err(err(std::io::Error::other("is a directory")));
        }
        if meta.len() == 0 {
            // mmap of an empty file fails on Linux; an empty input is valid.
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and private to this process. Another
        // process truncating the file while we read it would fault (SIGBUS);
        // replayed and published inputs are captured files that are not
        // written meanwhile, which the README states.
        let map = unsafe { Mmap::map(&file) }.map_err(err)?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile { map: Some(map) })
    }

    /// The whole file.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    pub(crate) fn len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    /// Feeds every line from byte `start` on to `ing`; the position of a
    /// line is its byte offset.
    pub(crate) fn replay(
        &self,
        start: u64,
        ing: &mut LineIngestor,
        mut pacer: Option<Pacer>,
        progress: &AtomicU64,
        stop: &dyn Fn() -> bool,
    ) {
        let Some(data) = self.map.as_deref() else {
            return;
        };
        let mut at = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
        let mut next_progress = at + PROGRESS_EVERY;
        while at < data.len() {
            let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
            ing.line(at as u64, &data[at..end]);
            at = end + 1;
            if let Some(p) = pacer.as_mut() {
                p.after_event(ing);
            }
            if at >= next_progress {
                next_progress = at + PROGRESS_EVERY;
                ing.stats.bytes = at as u64;
                progress.store(at as u64, Ordering::Relaxed);
                if stop() {
                    break;
                }
            }
        }
        let done = at.min(data.len()) as u64;
        ing.stats.bytes = done;
        progress.store(done, Ordering::Relaxed);
    }
}
