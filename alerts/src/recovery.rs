//! The recovery decision: a pure function from segment scans to what to do.
//!
//! Storage code scans the segments ([`crate::segment`]), passes the facts to
//! [`decide`], and executes the returned [`Recovery`]: `Journal::open` truncates,
//! `verify` only reports. Rules, in the LAST segment only, a torn tail is:
//! an incomplete final frame, a bad frame followed by nothing but zero bytes
//! (a CRC failure extending to EOF, or preallocated blocks after a crash), an
//! all-zero remainder, or a short or zeroed segment header. Any other damage, any
//! damage in an earlier segment, and any seq gap is corruption.

use std::path::PathBuf;

use crate::error::{AlertsError, Result};
use crate::formats::SEGMENT;
use crate::frame::{BadFrame, BadKind, HEADER_LEN, MAX_PAYLOAD};
use crate::segment::{HeaderFact, SegmentScan, StopFact};

/// A torn tail that was (by `open`) or would be (by `verify`) truncated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncatedTail {
    pub segment: PathBuf,
    /// The segment is cut to this length.
    pub offset: u64,
    pub bytes_dropped: u64,
    pub reason: String,
    /// Every byte cut is zero: what a crash leaves of the writer's
    /// preallocated space, with no record in it.
    pub zeros: bool,
}

/// What survives recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    /// The first seq the journal keeps (1, or later once retention deleted
    /// older segments): the next seq of a journal that holds no record.
    pub base: u64,
    pub segments: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Bytes of all segments up to their valid end (headers included).
    pub bytes: u64,
}

impl Default for Kept {
    fn default() -> Self {
        Kept {
            base: 1,
            segments: 0,
            records: 0,
            first_seq: None,
            last_seq: None,
            bytes: 0,
        }
    }
}

impl Kept {
    pub(crate) fn next_seq(&self) -> u64 {
        self.last_seq
            .map_or(self.base.max(1), |s| s.saturating_add(1))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Recovery {
    Clean(Kept),
    TruncateTail {
        tail: TruncatedTail,
        kept: Kept,
    },
    Corrupt {
        segment: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A segment of a format version this binary does not read: the
    /// journal is refused as it is, whichever segment it is.
    UnknownVersion {
        segment: PathBuf,
        found: u64,
    },
    /// Seqs `from..=to` were durable (a checkpoint or a cursor relied on
    /// them) but would not survive: torn off, or missing.
    Lost {
        segment: PathBuf,
        offset: u64,
        from: u64,
        to: u64,
        what: String,
    },
}

impl Recovery {
    /// What survives, and the torn tail to cut (if any); corruption is
    /// [`AlertsError::Corrupt`], naming the segment and offset.
    pub(crate) fn accept(self, claim: &str) -> Result<(Kept, Option<TruncatedTail>)> {
        match self {
            Recovery::Clean(kept) => Ok((kept, None)),
            Recovery::TruncateTail { tail, kept } => Ok((kept, Some(tail))),
            Recovery::Corrupt {
                segment,
                offset,
                reason,
            } => Err(AlertsError::Corrupt {
                segment,
                offset,
                reason,
            }),
            Recovery::UnknownVersion { segment, found } => Err(SEGMENT.refuse(&segment, found)),
            Recovery::Lost {
                segment,
                offset,
                from,
                to,
                what,
            } => Err(AlertsError::Lost {
                segment,
                offset,
                from,
                to,
                what,
                claim: claim.to_owned(),
            }),
        }
    }
}

/// Holds a decision to what the rest of the system already relied on: every
/// seq through `durable_through` was durable (a checkpoint's journal seq, the
/// highest seq a sink cursor recorded). A decision that keeps less — a torn
/// tail cut below it, or a journal that simply ends before it — becomes
/// [`Recovery::Lost`]; anything else stands. Pure: the caller passes what it
/// read (`last` is the last segment's path and valid length, if any).
pub(crate) fn require_durable(
    recovery: Recovery,
    durable_through: u64,
    last: Option<(&std::path::Path, u64)>,
) -> Recovery {
    let (kept, tail) = match &recovery {
        Recovery::Clean(kept) => (kept, None),
        Recovery::TruncateTail { tail, kept } => (kept, Some(tail)),
        Recovery::Corrupt { .. } | Recovery::UnknownVersion { .. } | Recovery::Lost { .. } => {
            return recovery;
        }
    };
    let from = kept.next_seq();
    if from > durable_through {
        return recovery;
    }
    let (segment, offset, what) = match (tail, last) {
        (Some(t), _) => (
            t.segment.clone(),
            t.offset,
            format!("are torn off ({})", t.reason),
        ),
        (None, Some((path, end))) => (
            path.to_path_buf(),
            end,
            "are missing: the journal ends before them".to_owned(),
        ),
        (None, None) => (
            PathBuf::new(),
            0,
            "are missing: the journal holds no segment".to_owned(),
        ),
    };
    Recovery::Lost {
        segment,
        offset,
        from,
        to: durable_through,
        what,
    }
}

/// Verdict on a bad frame found in the last segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Torn(&'static str),
    Corrupt(String),
}

pub(crate) fn classify(bad: &BadFrame) -> Verdict {
    if bad.zeros_from_start {
        return Verdict::Torn("zero-filled tail");
    }
    match bad.kind {
        BadKind::Incomplete => Verdict::Torn("incomplete final frame"),
        BadKind::BadCrc if bad.zeros_after => Verdict::Torn("checksum mismatch in the final frame"),
        BadKind::BadLength(_) if bad.zeros_after => Verdict::Torn("bad length in the final frame"),
        BadKind::BadCrc => Verdict::Corrupt("checksum mismatch, followed by more data".into()),
        BadKind::BadLength(len) => Verdict::Corrupt(format!(
            "frame length {len} exceeds the maximum {MAX_PAYLOAD}, followed by more data"
        )),
    }
}

/// Describes a bad frame found where no tail may be torn.
pub(crate) fn describe(bad: &BadFrame) -> String {
    let what = match bad.kind {
        BadKind::Incomplete => "frame runs past the end of the segment".to_string(),
        BadKind::BadLength(len) => format!("frame length {len} exceeds the maximum {MAX_PAYLOAD}"),
        BadKind::BadCrc => "checksum mismatch".to_string(),
    };
    format!("{what} in a segment that is not the last")
}

/// Decides recovery for `segments`, sorted by `name_seq`, of a journal that
/// keeps records from seq `oldest` on (1, unless retention deleted older
/// segments: see `retention`). A first segment that starts after `oldest`
/// lost its predecessors: corruption. One that starts before it is what an
/// interrupted retention left (the marker is written before the deletes).
pub(crate) fn decide(segments: &[SegmentScan], oldest: u64) -> Recovery {
    let oldest = oldest.max(1);
    let mut expected = segments.first().map_or(oldest, |s| s.name_seq.min(oldest));
    let mut kept = Kept {
        base: expected,
        segments: segments.len(),
        ..Kept::default()
    };
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let corrupt = |offset, reason: String| Recovery::Corrupt {
            segment: s.path.clone(),
            offset,
            reason,
        };
        let torn = |offset: u64, reason: &str, zeros: bool, kept: Kept| Recovery::TruncateTail {
            tail: TruncatedTail {
                segment: s.path.clone(),
                offset,
                bytes_dropped: s.len.saturating_sub(offset),
                reason: reason.to_string(),
                zeros,
            },
            kept,
        };
        if s.name_seq != expected {
            let reason = match kept.last_seq {
                None => format!(
                    "first segment starts at seq {}, expected {expected}: the segments before it are missing",
                    s.name_seq
                ),
                Some(prev) => format!(
                    "seq gap: segment starts at seq {} but the previous one ends at {prev}",
                    s.name_seq
                ),
            };
            return corrupt(0, reason);
        }
        match &s.header {
            HeaderFact::Ok => {}
            HeaderFact::Missing if last => return Recovery::Clean(kept),
            HeaderFact::Short if last => return torn(0, "incomplete segment header", false, kept),
            HeaderFact::Zeroed if last => return torn(0, "zero-filled segment", true, kept),
            HeaderFact::Missing | HeaderFact::Short | HeaderFact::Zeroed => {
                return corrupt(0, "empty or headerless segment is not the last".into());
            }
            HeaderFact::Version(found) => {
                return Recovery::UnknownVersion {
                    segment: s.path.clone(),
                    found: u64::from(*found),
                };
            }
            HeaderFact::Bad(reason) => return corrupt(0, reason.clone()),
        }
        if let Some(first) = s.first_seq {
            if first != s.name_seq {
                let reason = format!(
                    "segment name says seq {}, first record has seq {first}",
                    s.name_seq
                );
                return corrupt(HEADER_LEN, reason);
            }
        } else if !last && s.stop.is_none() {
            return corrupt(
                HEADER_LEN,
                "segment holds no records but is not the last".into(),
            );
        }
        kept.records += s.records;
        kept.bytes += s.valid_end;
        if kept.first_seq.is_none() {
            kept.first_seq = s.first_seq;
        }
        if let Some(l) = s.last_seq {
            kept.last_seq = Some(l);
            expected = l.saturating_add(1);
        }
        match &s.stop {
            None => {}
            Some(StopFact::SeqBreak {
                offset,
                expected,
                found,
            }) => {
                return corrupt(
                    *offset,
                    format!("seq gap: expected seq {expected}, found {found}"),
                );
            }
            Some(StopFact::Bad(bad)) if !last => return corrupt(bad.offset, describe(bad)),
            Some(StopFact::Bad(bad)) => {
                return match classify(bad) {
                    Verdict::Torn(reason) => torn(bad.offset, reason, bad.zeros_from_start, kept),
                    Verdict::Corrupt(reason) => corrupt(bad.offset, reason),
                };
            }
        }
    }
    Recovery::Clean(kept)
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;
