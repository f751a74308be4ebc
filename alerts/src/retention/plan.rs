//! The retention decision for the alert journal, pure: from what was
//! observed (each segment's first seq, size and age), the *floor* (the
//! lowest seq anyone still needs: a sink, the newest checkpoint, a standby)
//! and the configured [`RetentionPolicy`], which segments go.
//!
//! Only a prefix of the segments can go (the journal keeps a contiguous run
//! of seqs), and a segment goes only if every rule lets it:
//! - it is not the newest (the writer appends to it);
//! - all its seqs are below the floor;
//! - the segments newer than it still make `keep_segments` besides the
//!   newest, and `keep_bytes`;
//! - it is at least `keep_age` old.
//!
//! So the policy's numbers are "keep at least": they can only keep more
//! than what is needed, never remove something that is.

use std::time::Duration;

/// How much of the journal to keep beyond what is still needed: each a
/// lower bound (`[journal.retention]`). What a sink or the newest checkpoint
/// still needs is kept whatever these say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// At least this many bytes of the newest segments are kept (a segment
    /// goes only once the newer ones hold this much).
    pub keep_bytes: u64,
    /// At least this many segments are kept besides the newest.
    pub keep_segments: u64,
    /// A segment last written less than this long ago is kept.
    pub keep_age: Option<Duration>,
}

impl Default for RetentionPolicy {
    /// Everything still needed, and at least 1 GiB.
    fn default() -> Self {
        RetentionPolicy {
            keep_bytes: 1 << 30,
            keep_segments: 0,
            keep_age: None,
        }
    }
}

/// One segment as observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentFact {
    /// Its first seq (its name).
    pub first_seq: u64,
    /// Its length in bytes.
    pub bytes: u64,
    /// Time since it was last written.
    pub age: Duration,
}

/// Why the oldest segment kept was kept (for the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// It is the newest segment (or the journal has none).
    Newest,
    /// It holds a seq at or past the floor: someone still needs it.
    Needed,
    /// Without it fewer than `keep_segments` would be left besides the newest.
    KeepSegments,
    /// The newer segments hold fewer than `keep_bytes`.
    KeepBytes,
    /// It was written less than `keep_age` ago.
    KeepAge,
}

impl Hold {
    /// How the log says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Newest => "the newest segment",
            Hold::Needed => "still needed",
            Hold::KeepSegments => "keep_segments",
            Hold::KeepBytes => "keep_bytes",
            Hold::KeepAge => "keep_age",
        }
    }
}

/// What goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetentionPlan {
    /// The first seqs of the segments to remove, oldest first: a prefix of
    /// the segments observed.
    pub remove: Vec<u64>,
    /// The first seq of the oldest segment kept, which becomes the oldest
    /// seq kept; `None` for a journal without segments.
    pub oldest: Option<u64>,
    /// Why that segment stays.
    pub held_by: Hold,
}

/// The plan for `segments` (sorted by first seq, as listed), given that
/// every seq from `floor` on is still needed.
pub(crate) fn plan(
    segments: &[SegmentFact],
    floor: u64,
    policy: &RetentionPolicy,
) -> RetentionPlan {
    // newer[i]: the bytes of the segments after segment i.
    let mut newer = vec![0u64; segments.len()];
    for i in (0..segments.len().saturating_sub(1)).rev() {
        newer[i] = newer[i + 1].saturating_add(segments[i + 1].bytes);
    }
    let hold = |i: usize| -> Option<Hold> {
        let Some(next) = segments.get(i + 1) else {
            return Some(Hold::Newest);
        };
        // Segment i holds seqs first(i) ..= first(i + 1) - 1.
        if next.first_seq > floor {
            return Some(Hold::Needed);
        }
        let left_besides_newest = (segments.len() - i - 2) as u64;
        if left_besides_newest < policy.keep_segments {
            return Some(Hold::KeepSegments);
        }
        if newer[i] < policy.keep_bytes {
            return Some(Hold::KeepBytes);
        }
        if policy.keep_age.is_some_and(|age| segments[i].age < age) {
            return Some(Hold::KeepAge);
        }
        None
    };
    let mut count = 0;
    let held_by = loop {
        match hold(count) {
            Some(h) => break h,
            None => count += 1,
        }
    };
    RetentionPlan {
        remove: segments[..count].iter().map(|s| s.first_seq).collect(),
        oldest: segments.get(count).map(|s| s.first_seq),
        held_by,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
