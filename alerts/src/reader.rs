//! [`JournalReader`]: reads records from a seq onwards, never modifying files.
//! Safe to run while the writer appends (in this or another process).

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{AlertsError, Result, io_at};
use crate::formats::SEGMENT;
use crate::frame::{FRAME_HEADER_LEN, FrameReader, HEADER_LEN, Next, read_full};
use crate::recovery::{Verdict, classify, describe};
use crate::retention::oldest_kept;
use crate::segment::{HeaderFact, list_segments, read_header};

/// Bytes read from a segment at a time. Polling the live tail re-reads one
/// buffer of the writer's preallocated zeros, so this is kept moderate.
const READ_BUFFER: usize = 64 * 1024;

/// Yields `(seq, payload)` in seq order from `from_seq` on.
///
/// Returns `None` at the current end of the journal, including at a torn tail or
/// a record the writer is still writing; the reader is not fused, so calling
/// `next` again later continues with whatever has been appended since (a sink
/// shipper can poll it). Corruption or a seq gap yields one `Err`, then `None`.
pub struct JournalReader {
    dir: PathBuf,
    from_seq: u64,
    state: State,
}

enum State {
    /// No segment opened yet (the journal may still be empty).
    Start,
    In(Cursor),
    Failed,
}

struct Cursor {
    name_seq: u64,
    path: PathBuf,
    frames: FrameReader<BufReader<File>>,
    header_ok: bool,
    /// The seq the next frame must carry.
    expected: u64,
    /// At the end of this segment a newer one was seen and we re-read once, so
    /// bytes written just before the roll are not mistaken for a gap.
    rechecked: bool,
    /// The last read stopped at the live tail's preallocated zeros.
    at_zeros: bool,
}

impl JournalReader {
    /// Opens a reader over `dir` (which must exist) starting at `from_seq`.
    pub fn open(dir: &Path, from_seq: u64) -> Result<Self> {
        std::fs::metadata(dir).map_err(io_at(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            from_seq,
            state: State::Start,
        })
    }

    /// The segment the last record came from (`None` before the first),
    /// so a caller refusing a payload can name the file holding it.
    pub fn segment(&self) -> Option<&Path> {
        match &self.state {
            State::In(cursor) => Some(&cursor.path),
            State::Start | State::Failed => None,
        }
    }

    fn step(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        loop {
            let cursor = match &mut self.state {
                State::Failed => return Ok(None),
                State::Start => {
                    let segments = list_segments(&self.dir)?;
                    let Some((first, first_path)) = segments.first() else {
                        return Ok(None);
                    };
                    let oldest = oldest_kept(&self.dir)?;
                    if *first > oldest {
                        return Err(corrupt(
                            first_path,
                            0,
                            format!(
                                "first segment starts at seq {first}, expected {oldest}: the segments before it are missing"
                            ),
                        ));
                    }
                    // Never start past what was asked: seqs retention deleted
                    // are an error, not a silent skip to the oldest kept.
                    if self.from_seq.max(1) < *first {
                        return Err(AlertsError::NotKept {
                            dir: self.dir.clone(),
                            from: self.from_seq,
                            oldest: *first,
                        });
                    }
                    let (name, path) = segments
                        .iter()
                        .rev()
                        .find(|(seq, _)| *seq <= self.from_seq)
                        .unwrap_or(&segments[0]);
                    self.state = State::In(Cursor::open(*name, path.clone())?);
                    continue;
                }
                State::In(cursor) => cursor,
            };
            if cursor.at_zeros {
                if cursor.still_zeros().map_err(io_at(&cursor.path))? {
                    return Ok(None);
                }
                cursor.at_zeros = false;
            }
            if !cursor.header_ok {
                let file = cursor.frames.get_mut();
                let header = file
                    .seek(SeekFrom::Start(0))
                    .and_then(|_| read_header(file));
                let header = header.map_err(io_at(&cursor.path))?;
                match header {
                    HeaderFact::Ok => cursor.header_ok = true,
                    HeaderFact::Version(found) => {
                        return Err(SEGMENT.refuse(&cursor.path, u64::from(found)));
                    }
                    HeaderFact::Bad(reason) => return Err(corrupt(&cursor.path, 0, reason)),
                    // Being created by the writer, or a crash during a roll.
                    HeaderFact::Missing | HeaderFact::Short | HeaderFact::Zeroed => {
                        if newer_segment(&self.dir, cursor.name_seq)?.is_some() {
                            let reason = "empty or headerless segment is not the last".into();
                            return Err(corrupt(&cursor.path, 0, reason));
                        }
                        return Ok(None);
                    }
                }
            }
            let mut payload = Vec::new();
            match cursor
                .frames
                .next_frame(&mut payload)
                .map_err(io_at(&cursor.path))?
            {
                Next::Frame { offset, seq } => {
                    if seq != cursor.expected {
                        let reason = if offset == HEADER_LEN {
                            format!(
                                "segment name says seq {}, first record has seq {seq}",
                                cursor.name_seq
                            )
                        } else {
                            format!("seq gap: expected seq {}, found {seq}", cursor.expected)
                        };
                        return Err(corrupt(&cursor.path, offset, reason));
                    }
                    cursor.expected = seq.saturating_add(1);
                    cursor.rechecked = false;
                    if seq >= self.from_seq {
                        return Ok(Some((seq, payload)));
                    }
                }
                Next::End => {
                    let Some((next, next_path)) = newer_segment(&self.dir, cursor.name_seq)? else {
                        return Ok(None);
                    };
                    if !cursor.rechecked {
                        cursor.rechecked = true;
                        continue;
                    }
                    if next != cursor.expected {
                        let reason = format!(
                            "seq gap: segment starts at seq {next}, expected {}",
                            cursor.expected
                        );
                        return Err(corrupt(&next_path, 0, reason));
                    }
                    self.state = State::In(Cursor::open(next, next_path)?);
                }
                // Nothing written here yet: the live tail's preallocated
                // zeros (the rest is not read: a follower polls here often).
                Next::Zeros { offset } => {
                    cursor.frames.rewind().map_err(io_at(&cursor.path))?;
                    if newer_segment(&self.dir, cursor.name_seq)?.is_some() {
                        // A sealed segment is cut to its last frame, so
                        // zeros there are damage (after one re-read).
                        if !cursor.rechecked {
                            cursor.rechecked = true;
                            continue;
                        }
                        let reason =
                            "zero bytes where a frame should be, in a segment that is not the last";
                        return Err(corrupt(&cursor.path, offset, reason.into()));
                    }
                    cursor.at_zeros = true;
                    return Ok(None);
                }
                Next::Bad(bad) => {
                    cursor.frames.rewind().map_err(io_at(&cursor.path))?;
                    if newer_segment(&self.dir, cursor.name_seq)?.is_some() {
                        if !cursor.rechecked {
                            cursor.rechecked = true;
                            continue;
                        }
                        return Err(corrupt(&cursor.path, bad.offset, describe(&bad)));
                    }
                    return match classify(&bad) {
                        Verdict::Torn(_) => Ok(None),
                        Verdict::Corrupt(reason) => Err(corrupt(&cursor.path, bad.offset, reason)),
                    };
                }
            }
        }
    }
}

impl Iterator for JournalReader {
    type Item = Result<(u64, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(record) => record.map(Ok),
            Err(e) => {
                self.state = State::Failed;
                Some(Err(e))
            }
        }
    }
}

impl Cursor {
    fn open(name_seq: u64, path: PathBuf) -> Result<Self> {
        let file = File::open(&path).map_err(io_at(&path))?;
        Ok(Self {
            name_seq,
            frames: FrameReader::new(BufReader::with_capacity(READ_BUFFER, file), HEADER_LEN),
            path,
            header_ok: false,
            expected: name_seq,
            rechecked: false,
            at_zeros: false,
        })
    }

    /// Whether the frame header at the position is still zero: the writer
    /// has not reached it. One 16-byte read, so a follower polling the live
    /// tail neither refills its buffer with zeros nor lists the directory
    /// (a segment with zeros is the live one: a sealed one is cut first).
    fn still_zeros(&mut self) -> std::io::Result<bool> {
        let mut head = [0u8; FRAME_HEADER_LEN];
        let offset = self.frames.offset();
        let file = self.frames.get_mut().get_ref();
        let n = read_full(&mut ReadAt(file, offset), &mut head)?;
        Ok(n == head.len() && head.iter().all(|&b| b == 0))
    }
}

/// Reads `file` from `offset` on with positioned reads, leaving its seek
/// position (the buffered reader's) alone.
struct ReadAt<'a>(&'a File, u64);

impl std::io::Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read_at(buf, self.1)?;
        self.1 += n as u64;
        Ok(n)
    }
}

/// The first segment after `name_seq`, if any.
fn newer_segment(dir: &Path, name_seq: u64) -> Result<Option<(u64, PathBuf)>> {
    Ok(list_segments(dir)?
        .into_iter()
        .find(|(seq, _)| *seq > name_seq))
}

fn corrupt(segment: &Path, offset: u64, reason: String) -> AlertsError {
    AlertsError::Corrupt {
        segment: segment.to_path_buf(),
        offset,
        reason,
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
