//! The floor of the alert journal's retention: the lowest seq anything
//! still needs, and who. Three kinds of holders:
//! - the sinks (every one the journal has shipped to: `alerts::delivery::sinks_need`);
//! - the newest checkpoint: a restart reads the journal from its
//!   `journal_next_seq` on, to keep re-produced alerts out (`crate::recovery`);
//! - whatever else sets the [`ExtraFloor`] (the active-standby pair: what
//!   its standby has not copied yet).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use alerts::delivery::SinksNeed;

/// A floor another part of the process holds the journal to; none until
/// set. Clones share it.
#[derive(Debug)]
pub(crate) struct ExtraFloor(Arc<AtomicU64>);

impl ExtraFloor {
    /// No extra floor.
    pub(crate) fn unset() -> Self {
        ExtraFloor(Arc::new(AtomicU64::new(u64::MAX)))
    }

    /// Keeps every seq from `seq` on (until set again or cleared).
    pub(crate) fn set(&self, seq: u64) {
        self.0.store(seq, Ordering::Release);
    }

    /// Holds nothing any more.
    pub(crate) fn clear(&self) {
        self.0.store(u64::MAX, Ordering::Release);
    }

    /// The seq held from, if any.
    pub(crate) fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Acquire)).filter(|&s| s != u64::MAX)
    }
}

impl Clone for ExtraFloor {
    fn clone(&self) -> Self {
        ExtraFloor(Arc::clone(&self.0))
    }
}

/// The lowest seq still needed, and who needs it (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Floor {
    pub(crate) seq: u64,
    pub(crate) by: String,
}

/// The floor from its holders: the newest checkpoint's `journal_next_seq`,
/// what the sinks need, and the extra floor. A sink whose need is unknown
/// holds everything (floor 0).
pub(crate) fn lowest(checkpoint_next_seq: u64, sinks: &SinksNeed, extra: Option<u64>) -> Floor {
    if let SinksNeed::Unknown { why } = sinks {
        return Floor {
            seq: 0,
            by: why.clone(),
        };
    }
    let mut floor = Floor {
        seq: checkpoint_next_seq,
        by: format!("the newest checkpoint (a restart reads from seq {checkpoint_next_seq})"),
    };
    if let SinksNeed::From { seq, sink } = sinks
        && *seq < floor.seq
    {
        floor = Floor {
            seq: *seq,
            by: format!("sink {sink:?} (delivered up to seq {})", seq - 1),
        };
    }
    if let Some(seq) = extra
        && seq < floor.seq
    {
        floor = Floor {
            seq,
            by: format!("another holder (a standby still needs seq {seq} on)"),
        };
    }
    floor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(seq: u64) -> SinksNeed {
        SinksNeed::From {
            seq,
            sink: "hook".into(),
        }
    }

    #[test]
    fn the_lowest_holder_wins() {
        let f = lowest(50, &SinksNeed::Nothing, None);
        assert_eq!(f.seq, 50);
        assert!(f.by.contains("checkpoint"), "{f:?}");
        let f = lowest(50, &sink(30), None);
        assert_eq!(f.seq, 30);
        assert!(f.by.contains("\"hook\"") && f.by.contains("29"), "{f:?}");
        assert_eq!(lowest(50, &sink(70), None).seq, 50);
        let f = lowest(50, &sink(30), Some(10));
        assert_eq!(f.seq, 10);
        assert!(f.by.contains("standby"), "{f:?}");
        assert_eq!(lowest(50, &sink(30), Some(40)).seq, 30);
    }

    #[test]
    fn an_unknown_sink_holds_everything() {
        let why = SinksNeed::Unknown {
            why: "sink \"gone\" lost its cursor".into(),
        };
        assert_eq!(
            lowest(50, &why, Some(40)),
            Floor {
                seq: 0,
                by: "sink \"gone\" lost its cursor".into()
            }
        );
    }

    #[test]
    fn the_extra_floor_is_shared_and_starts_unset() {
        let a = ExtraFloor::unset();
        let b = a.clone();
        assert_eq!(b.get(), None);
        a.set(17);
        assert_eq!(b.get(), Some(17));
        a.clear();
        assert_eq!(b.get(), None);
    }
}
