//! One frame of the input log: a micro-batch as the engine processed it (its
//! Arrow columns in the IPC stream format, its dead letters and blank count)
//! and what a restart needs to continue after it.
//!
//! ```text
//! frame = version:u8
//!         pos_base:u64 detected_at_ns:u64 journal_next_seq:u64 journal_end:u64
//!         dead_letter_bytes:u64
//!         resume_tag:u8 resume_at:u64
//!         mark_present:u8 [generation:u64 tag:u64]
//!         messages:u64 [digest:u64]*
//!         skipped_blank:u64
//!         dead_letters:u64 [pos:u64 reason:u8 truncated:u8 raw:bytes
//!                           message_id:bytes]*
//!         ipc:bytes                  (an Arrow IPC stream: schema, one batch)
//! ```
//! Version 1, which this binary still reads, has no `message_id` (an empty
//! one is none).
//! (bytes = u64 length, then the bytes; little-endian throughout; the frame
//! is a payload of the segment log, which adds length, CRC and seq.)

use std::io::Cursor;

use arrow_ipc::{reader::StreamReader, writer::StreamWriter};
use columnar::{DeadLetters, RejectReason, SourceMark, TradeBatch};
use engine_core::{SnapshotReader, SnapshotWriter};

use crate::{checkpoint::Resume, formats::INPUT_FRAME};

/// The frame format this binary writes (2: dead letters carry the AMQP
/// message's id, [`crate::formats::INPUT_FRAME`]); it reads this and
/// [`VERSION_1`], so that an input log written before an upgrade still
/// replays.
const VERSION: u8 = INPUT_FRAME.current as u8;
const VERSION_1: u8 = INPUT_FRAME.oldest as u8;

/// What a restart needs to continue after a logged batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameMeta {
    /// The engine's position base when it processed the batch.
    pub(crate) pos_base: u64,
    /// The wall clock the engine stamped on the batch's alerts: a peer that
    /// processes the frame again writes the same records.
    pub(crate) detected_at_ns: u64,
    /// Where the source continues after the batch.
    pub(crate) resume: Resume,
    /// A restart after this frame may produce again the journal's alerts
    /// from this seq on: the journal's next seq once the batch's alerts were
    /// appended, or earlier while a restarted engine was still re-producing
    /// alerts the journal held.
    pub(crate) journal_next_seq: u64,
    /// The journal's next seq once the batch's alerts were appended, exactly
    /// (a standby checks its own journal against it).
    pub(crate) journal_end: u64,
    /// The dead-letter file's length once the batch's were written.
    pub(crate) dead_letter_bytes: u64,
    /// The last delivery of an acknowledging source the batch completes.
    pub(crate) mark: Option<SourceMark>,
}

/// A frame read back.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) meta: FrameMeta,
    pub(crate) batch: TradeBatch,
}

/// Why a frame cannot be written: a bug.
pub(crate) type EncodeError = String;

/// Why a frame cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A format version this binary does not read (a newer release's).
    Version(u8),
    /// Damaged, or not a frame: a bug or a file from elsewhere.
    Damaged(String),
}

impl From<String> for FrameError {
    fn from(why: String) -> Self {
        FrameError::Damaged(why)
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Version(v) => write!(
                f,
                "format version {v}, but this aldebaran reads {}",
                INPUT_FRAME.reads_text()
            ),
            FrameError::Damaged(why) => f.write_str(why),
        }
    }
}

fn resume_parts(r: Resume) -> (u8, u64) {
    match r {
        Resume::Start => (0, 0),
        Resume::AfterLineAt(at) => (1, at),
        Resume::Done => (2, 0),
    }
}

/// Appends the frame of `batch` with `meta` to `out` (cleared first).
pub(crate) fn encode(
    meta: &FrameMeta,
    batch: &TradeBatch,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.clear();
    let mut w = SnapshotWriter::new(out);
    w.u8(VERSION);
    w.u64(meta.pos_base);
    w.u64(meta.detected_at_ns);
    w.u64(meta.journal_next_seq);
    w.u64(meta.journal_end);
    w.u64(meta.dead_letter_bytes);
    let (tag, at) = resume_parts(meta.resume);
    w.u8(tag);
    w.u64(at);
    match meta.mark {
        Some(m) => {
            w.u8(1);
            w.u64(m.generation);
            w.u64(m.tag);
        }
        None => w.u8(0),
    }
    // The digests of the deliveries the batch completes: a redelivered
    // message with one of them was processed already.
    w.u64(batch.messages().len() as u64);
    for &d in batch.messages() {
        w.u64(d);
    }
    w.u64(batch.skipped_blank());
    let dead = batch.dead_letters();
    w.u64(dead.len() as u64);
    for d in dead.iter() {
        w.u64(d.pos);
        w.u8(d.reason.index() as u8);
        w.u8(d.truncated as u8);
        w.bytes(d.raw);
        w.bytes(d.message_id.unwrap_or("").as_bytes());
    }
    let mut ipc = Vec::with_capacity(batch.record().get_array_memory_size() + 1024);
    {
        let record = batch.record();
        let mut sw = StreamWriter::try_new(&mut ipc, &record.schema())
            .map_err(|e| format!("arrow ipc: {e}"))?;
        sw.write(record).map_err(|e| format!("arrow ipc: {e}"))?;
        sw.finish().map_err(|e| format!("arrow ipc: {e}"))?;
    }
    w.bytes(&ipc);
    Ok(())
}

/// Where the fixed header fields sit: after version, `pos_base`,
/// `detected_at_ns` and `journal_next_seq`.
const JOURNAL_END_AT: usize = 1 + 3 * 8;
const DEAD_LETTER_BYTES_AT: usize = JOURNAL_END_AT + 8;

/// A frame's `journal_end`, read without decoding it (`None`: not a frame).
pub(crate) fn journal_end(frame: &[u8]) -> Option<u64> {
    let b = frame.get(JOURNAL_END_AT..JOURNAL_END_AT + 8)?;
    matches!(frame.first(), Some(&VERSION | &VERSION_1))
        .then(|| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
}

/// Rewrites a frame's `dead_letter_bytes` in place: a standby logs the
/// active's frames with the length of its own dead-letter file. Returns
/// false if `frame` is too short to be one.
pub(crate) fn set_dead_letter_bytes(frame: &mut [u8], len: u64) -> bool {
    match frame.get_mut(DEAD_LETTER_BYTES_AT..DEAD_LETTER_BYTES_AT + 8) {
        Some(b) => {
            b.copy_from_slice(&len.to_le_bytes());
            true
        }
        None => false,
    }
}

/// A digest of a frame as the active logged it: everything but the
/// dead-letter length, which each node of a pair writes for its own file.
/// Equal digests at the same seq mean the same batch at the same place.
pub(crate) fn digest(frame: &[u8]) -> u64 {
    let mut h = crc32fast::Hasher::new();
    let at = DEAD_LETTER_BYTES_AT.min(frame.len());
    h.update(&frame[..at]);
    h.update(frame.get(at + 8..).unwrap_or(&[]));
    u64::from(h.finalize()) | ((frame.len() as u64) << 32)
}

/// Reads a frame written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
    let mut r = SnapshotReader::new(bytes);
    let e = |e: engine_core::SnapshotError| e.0;
    let version = r.u8().map_err(e)?;
    if !INPUT_FRAME.reads(u64::from(version)) {
        return Err(FrameError::Version(version));
    }
    let pos_base = r.u64().map_err(e)?;
    let detected_at_ns = r.u64().map_err(e)?;
    let journal_next_seq = r.u64().map_err(e)?;
    let journal_end = r.u64().map_err(e)?;
    let dead_letter_bytes = r.u64().map_err(e)?;
    let resume = match (r.u8().map_err(e)?, r.u64().map_err(e)?) {
        (0, _) => Resume::Start,
        (1, at) => Resume::AfterLineAt(at),
        (2, _) => Resume::Done,
        (t, _) => return Err(format!("unknown resume tag {t}").into()),
    };
    let mark = match r.u8().map_err(e)? {
        0 => None,
        1 => Some(SourceMark {
            generation: r.u64().map_err(e)?,
            tag: r.u64().map_err(e)?,
        }),
        t => return Err(format!("unknown mark tag {t}").into()),
    };
    let n = r.count(8).map_err(e)?;
    let mut messages = Vec::with_capacity(n);
    for _ in 0..n {
        messages.push(r.u64().map_err(e)?);
    }
    let skipped_blank = r.u64().map_err(e)?;
    let mut dead = DeadLetters::default();
    for _ in 0..r.count(18).map_err(e)? {
        let pos = r.u64().map_err(e)?;
        let reason = RejectReason::from_index(r.u8().map_err(e)? as usize)
            .ok_or_else(|| "unknown reject reason".to_string())?;
        let truncated = r.u8().map_err(e)? != 0;
        let raw = r.bytes().map_err(e)?;
        let id = match version {
            VERSION_1 => "",
            _ => std::str::from_utf8(r.bytes().map_err(e)?)
                .map_err(|_| "a dead letter's message id is not UTF-8".to_string())?,
        };
        dead.push_with_id(pos, reason, raw, truncated, Some(id));
    }
    let ipc = r.bytes().map_err(e)?;
    if !r.is_done() {
        return Err("trailing bytes after the frame".to_string().into());
    }
    let record = read_ipc(ipc)?;
    let batch = TradeBatch::from_parts(record, dead, skipped_blank, mark)
        .map_err(|e| FrameError::Damaged(e.to_string()))?
        .with_messages(messages);
    Ok(Frame {
        meta: FrameMeta {
            pos_base,
            detected_at_ns,
            resume,
            journal_next_seq,
            journal_end,
            dead_letter_bytes,
            mark,
        },
        batch,
    })
}

/// The one record batch of an IPC stream. The segment log's CRC keeps
/// damaged frames from reaching this, but Arrow's reader may panic on bytes
/// it did not write (a slice past a buffer's end): that is caught and
/// reported as the frame's error rather than taking the process down.
fn read_ipc(ipc: &[u8]) -> Result<arrow_array::RecordBatch, String> {
    let read = || -> Result<arrow_array::RecordBatch, String> {
        let mut reader =
            StreamReader::try_new(Cursor::new(ipc), None).map_err(|e| format!("arrow ipc: {e}"))?;
        reader
            .next()
            .ok_or_else(|| "arrow ipc stream holds no batch".to_string())?
            .map_err(|e| format!("arrow ipc: {e}"))
    };
    std::panic::catch_unwind(read)
        .unwrap_or_else(|_| Err("arrow ipc: the stream is damaged".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use columnar::{TradeBatchBuilder, TradeEventRef};

    fn batch() -> TradeBatch {
        let mut b = TradeBatchBuilder::new(4);
        for (i, (id, order)) in [("o1", None), ("p1", Some("o1"))].into_iter().enumerate() {
            b.append(
                i as u64 * 40,
                1_000 + i as u64,
                &TradeEventRef {
                    id,
                    shares: 7,
                    client: "c",
                    stock: "s",
                    initial_order_id: order,
                    ts: (i == 0).then_some(5),
                },
            );
        }
        b.reject(90, RejectReason::Malformed, b"{oops", false);
        b.reject_with_id(95, RejectReason::Malformed, b"{again", false, Some("m-9"));
        b.skip_blank();
        b.mark(
            SourceMark {
                generation: 2,
                tag: 9,
            },
            11,
        );
        b.finish().expect("batch")
    }

    #[test]
    fn a_frame_round_trips_every_column_and_fact() {
        let meta = FrameMeta {
            pos_base: 1 << 40,
            detected_at_ns: 123,
            resume: Resume::AfterLineAt(90),
            journal_next_seq: 17,
            journal_end: 18,
            dead_letter_bytes: 300,
            mark: Some(SourceMark {
                generation: 2,
                tag: 9,
            }),
        };
        let b = batch();
        let mut buf = Vec::new();
        encode(&meta, &b, &mut buf).expect("encode");
        // The version written, the first byte (1 and 2 are read).
        assert_eq!(buf[0], 2);
        let back = decode(&buf).expect("decode");
        assert_eq!(back.meta, meta);
        assert_eq!(back.batch.record(), b.record());
        assert_eq!(back.batch.skipped_blank(), 1);
        let dead: Vec<_> = back
            .batch
            .dead_letters()
            .iter()
            .map(|d| (d.pos, d.raw.to_vec(), d.message_id))
            .collect();
        assert_eq!(
            dead,
            vec![
                (90, b"{oops".to_vec(), None),
                (95, b"{again".to_vec(), Some("m-9"))
            ]
        );
        assert_eq!(back.batch.source_mark(), b.source_mark());
        assert_eq!(back.batch.messages(), &[11]);
        assert_eq!(journal_end(&buf), Some(18));
    }

    #[test]
    fn a_standby_rewrites_only_its_dead_letter_length_and_the_digest_ignores_it() {
        let meta = FrameMeta {
            pos_base: 7,
            detected_at_ns: 9,
            resume: Resume::Start,
            journal_next_seq: 3,
            journal_end: 4,
            dead_letter_bytes: 300,
            mark: None,
        };
        let mut buf = Vec::new();
        encode(&meta, &batch(), &mut buf).expect("encode");
        let before = digest(&buf);
        let mut mine = buf.clone();
        assert!(set_dead_letter_bytes(&mut mine, 12));
        let back = decode(&mine).expect("decode");
        assert_eq!(
            back.meta,
            FrameMeta {
                dead_letter_bytes: 12,
                ..meta
            }
        );
        assert_eq!(digest(&mine), before);
        let mut other = buf.clone();
        other[2] ^= 1;
        assert_ne!(digest(&other), before, "another position base");
        assert!(!set_dead_letter_bytes(&mut [1u8; 10], 1));
        assert_eq!(journal_end(&[1u8; 10]), None);
    }

    /// A frame of version 1 (no message ids), as an input log written
    /// before the upgrade holds it, still decodes.
    #[test]
    fn a_version_1_frame_still_decodes() {
        let mut b = TradeBatchBuilder::new(4);
        b.reject(90, RejectReason::Malformed, b"{oops", false);
        let batch = b.finish().expect("batch");
        let meta = FrameMeta {
            pos_base: 0,
            detected_at_ns: 0,
            resume: Resume::Start,
            journal_next_seq: 1,
            journal_end: 5,
            dead_letter_bytes: 0,
            mark: None,
        };
        let mut buf = Vec::new();
        encode(&meta, &batch, &mut buf).expect("encode");
        // Version 1: the same without the (empty) id after the raw line.
        let at = buf.windows(5).position(|w| w == b"{oops").expect("raw") + 5;
        assert_eq!(buf.drain(at..at + 8).collect::<Vec<_>>(), [0; 8]);
        buf[0] = VERSION_1;
        let back = decode(&buf).expect("a version 1 frame");
        let dead: Vec<_> = back.batch.dead_letters().iter().collect();
        assert_eq!(
            (dead[0].pos, dead[0].raw, dead[0].message_id),
            (90, &b"{oops"[..], None)
        );
        assert_eq!(journal_end(&buf), Some(5));
    }

    #[test]
    fn damaged_or_foreign_frames_are_errors_not_panics() {
        let mut buf = Vec::new();
        encode(
            &FrameMeta {
                pos_base: 0,
                detected_at_ns: 0,
                resume: Resume::Start,
                journal_next_seq: 1,
                journal_end: 1,
                dead_letter_bytes: 0,
                mark: None,
            },
            &batch(),
            &mut buf,
        )
        .expect("encode");
        for cut in [0, 1, 10, buf.len() / 2, buf.len() - 1] {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = buf.clone();
        other[0] = 99;
        assert_eq!(
            decode(&other).expect_err("version"),
            FrameError::Version(99)
        );
        // A flipped byte anywhere: an error or a frame, never a panic (the
        // segment log's CRC catches damage before this is reached).
        for i in (0..buf.len()).step_by(7) {
            let mut b = buf.clone();
            b[i] ^= 0x5a;
            let _ = decode(&b);
        }
    }
}
