//! A memory-mapped input file, split into lines in place.

use std::{
    fs::File,
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use memmap2::Mmap;

use crate::{
    IngestError, Result,
    line_ingestor::{LineIngestor, SourceStats},
    pace::{self, Pacer},
};

/// Progress is published every this many bytes.
const PROGRESS_EVERY: usize = 1 << 20;

/// Input bytes per segment when several lanes parse one file: big enough
/// that a lane switch (one publish, one ring change in the cutter) is rare,
/// small enough that the lanes stay busy together and a stop is prompt.
pub(crate) const SEGMENT_BYTES: usize = 1 << 20;

/// Where the segment that starts at `from` ends: the start of the first line
/// that begins at or after `from + size`, or the end of `data`.
pub(crate) fn segment_end(data: &[u8], from: usize, size: usize) -> usize {
    let probe = from.saturating_add(size.max(1)).saturating_sub(1);
    match data.get(probe..) {
        Some(rest) => memchr::memchr(b'\n', rest).map_or(data.len(), |i| probe + i + 1),
        None => data.len(),
    }
}

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
            pace::line(pacer.as_mut(), ing, at as u64, &data[at..end]);
            at = end + 1;
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

    /// Lane `lane` of `lanes`: parses every `lanes`-th segment of the file
    /// from byte `start` on, each ended by a segment record, and writes the
    /// end record when the input (or a stop) ends on its turn; see
    /// `ring::lanes`. Returns its counters (`bytes`: where its last segment
    /// ended).
    pub(crate) fn replay_lane(
        &self,
        start: u64,
        (lane, lanes): (usize, usize),
        mut ing: LineIngestor,
        progress: &AtomicU64,
        stop: &dyn Fn() -> bool,
    ) -> SourceStats {
        let data = self.bytes();
        let lanes = lanes.max(1);
        let mut from = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
        let mut k = 0usize;
        loop {
            let mine = k % lanes == lane;
            if mine && (from >= data.len() || stop()) {
                return ing.end();
            }
            if from >= data.len() || ing.reader_gone() {
                return ing.leave();
            }
            let end = segment_end(data, from, SEGMENT_BYTES);
            if mine {
                let mut at = from;
                while at < end {
                    let nl = memchr::memchr(b'\n', &data[at..end]).map_or(end, |i| at + i);
                    ing.line(at as u64, &data[at..nl]);
                    at = nl + 1;
                }
                ing.segment_end();
                ing.stats.bytes = end as u64;
                progress.fetch_max(end as u64, Ordering::Relaxed);
            }
            from = end;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::segment_end;

    proptest! {
        /// Segments tile the input, each a whole number of lines of at least
        /// `size` bytes (the last aside).
        #[test]
        fn segments_tile_the_input_at_line_starts(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..300),
            size in 1usize..40,
        ) {
            let mut from = 0;
            while from < data.len() {
                let end = segment_end(&data, from, size);
                prop_assert!(end > from && end <= data.len());
                prop_assert!(end == data.len() || data[end - 1] == b'\n');
                prop_assert!(end == data.len() || end - from >= size);
                // No line start inside that is past the size: the cut is the
                // first line start at or after from + size.
                let first = (from + size..end).find(|&i| data[i - 1] == b'\n');
                prop_assert!(first.is_none() || first == Some(end), "{from}..{end}");
                from = end;
            }
        }
    }
}
