//! How a node joins an active as its standby: a pure decision from the
//! joining node's [`Hello`] and what the active finds at the same seqs.
//!
//! - Its sinks may have shipped records up to `shipped_seq`: those must be
//!   the active's records too (same `alert_id` at the same seq), or the two
//!   journals diverged where it matters — delivered alerts — and the node is
//!   refused, saying so (the operator decides; nothing is overwritten).
//! - If its input log is a prefix of the active's (its last frame is the
//!   active's frame at that seq, which the active still keeps), its journal
//!   ends where the active's has the same record byte for byte (a former
//!   active's unreplicated record may carry the same `alert_id` with
//!   another `detected_at`), and the active still keeps what follows both,
//!   the records and frames simply follow.
//! - Otherwise (a former active with frames the new active never received, a
//!   node that fell behind the active's retention, an empty one) it resyncs:
//!   it sets its journal and state aside and takes the active's records from
//!   the oldest the active keeps, a snapshot and the frames after it. What
//!   it sets aside beyond the active's journal was never shipped by it (the
//!   first rule).

use crate::wire::{Hello, JoinMode};

/// What the active finds, for the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveView {
    /// The active's `alert_id` at the joiner's `shipped_seq` (`None` when the
    /// active's journal does not reach it, or no longer keeps it).
    pub at_shipped: Option<String>,
    /// The digest of the active's record at the joiner's last journal seq.
    pub at_journal_last: Option<u64>,
    /// The digest of the active's input frame at the joiner's last frame seq
    /// (`None` when not kept, or beyond the active's log).
    pub at_input_last: Option<u64>,
    /// The oldest input frame the active keeps.
    pub input_oldest: u64,
    /// The seq the active's input log appends next.
    pub input_next_seq: u64,
    /// The oldest journal seq the active keeps.
    pub journal_oldest: u64,
    /// The seq the active's journal appends next.
    pub journal_next_seq: u64,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// Refused, and why (for both nodes' logs).
    Refuse(String),
    /// Accepted, joining this way.
    Accept(JoinMode),
}

/// Decides how the node that said `hello` joins.
pub fn decide_join(hello: &Hello, view: &ActiveView) -> Join {
    let shipped_kept = hello.shipped_seq >= view.journal_oldest;
    if hello.shipped_seq > 0 {
        let matches = view.at_shipped.as_deref() == Some(hello.shipped_id.as_str());
        let beyond = hello.shipped_seq >= view.journal_next_seq;
        // A shipped record the active no longer keeps cannot be compared:
        // its sinks' cursors are then behind the active's, which resync
        // replaces; only a record the active holds differently, or one it
        // never had, is a divergence.
        if beyond || (shipped_kept && !matches) {
            let active = view.at_shipped.as_deref().unwrap_or("nothing");
            return Join::Refuse(format!(
                "node {} shipped seq {} as {:?}, where the active's journal holds {active}: the \
                 journals diverged in what was delivered (move that node's journal and state \
                 away to rejoin it from scratch, after checking what its sinks received)",
                hello.node, hello.shipped_seq, hello.shipped_id
            ));
        }
    }
    let input_prefix = match hello.input_next_seq {
        0 | 1 => view.input_oldest <= 1,
        next => {
            next > view.input_oldest
                && next <= view.input_next_seq
                && view.at_input_last == Some(hello.input_last_digest)
        }
    };
    let journal_prefix = hello.journal_next_seq >= view.journal_oldest
        && hello.journal_next_seq <= view.journal_next_seq
        && (hello.journal_next_seq <= view.journal_oldest
            || view.at_journal_last == Some(hello.journal_last_digest));
    if input_prefix && journal_prefix {
        Join::Accept(JoinMode::Stream {
            input_from: hello.input_next_seq.max(1),
            journal_from: hello.journal_next_seq.max(1),
        })
    } else {
        Join::Accept(JoinMode::Resync {
            journal_from: view.journal_oldest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hello(shipped: u64, journal_next: u64, input_next: u64, digest: u64) -> Hello {
        Hello {
            version: crate::wire::VERSION,
            node: "b".into(),
            epoch: 1,
            journal_next_seq: journal_next,
            journal_last_digest: journal_next.saturating_sub(1),
            shipped_seq: shipped,
            shipped_id: format!("id{shipped}"),
            input_next_seq: input_next,
            input_last_digest: digest,
        }
    }

    /// An active whose journal and input log hold seqs 1..=n (frame `s`'s
    /// digest is `s`, record `s`'s id `id<s>`), keeping them from `oldest`.
    fn view(h: &Hello, n: u64, oldest: u64) -> ActiveView {
        let id = |s: u64| (s >= oldest && s <= n).then(|| format!("id{s}"));
        let last = h.input_next_seq.saturating_sub(1);
        ActiveView {
            at_shipped: id(h.shipped_seq),
            at_journal_last: {
                let last = h.journal_next_seq.saturating_sub(1);
                (last >= oldest && last <= n).then_some(last)
            },
            at_input_last: (last >= oldest && last <= n).then_some(last),
            input_oldest: oldest,
            input_next_seq: n + 1,
            journal_oldest: oldest,
            journal_next_seq: n + 1,
        }
    }

    #[test]
    fn a_prefix_streams_a_former_active_resyncs_a_diverged_shipper_is_refused() {
        let h = hello(3, 5, 5, 4);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Stream {
                input_from: 5,
                journal_from: 5
            })
        );
        // Its last frame is not the active's: a former active.
        let h = hello(3, 5, 5, 77);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Resync { journal_from: 1 })
        );
        // Its last record is not the active's (same alert, another
        // detected_at: a former active's unreplicated tail).
        let mut h = hello(3, 5, 5, 4);
        h.journal_last_digest = 999;
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Resync { journal_from: 1 })
        );
        // Behind the active's retention.
        let h = hello(3, 5, 5, 4);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 6)),
            Join::Accept(JoinMode::Resync { journal_from: 6 })
        );
        // Shipped something the active holds differently.
        let mut h = hello(3, 5, 5, 4);
        h.shipped_id = "other".into();
        assert!(
            matches!(decide_join(&h, &view(&h, 10, 1)), Join::Refuse(r) if r.contains("diverged"))
        );
        let h = hello(12, 13, 13, 12);
        assert!(
            matches!(decide_join(&h, &view(&h, 10, 1)), Join::Refuse(_)),
            "shipped beyond the active's journal"
        );
        // A new node.
        let h = hello(0, 1, 1, 0);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Stream {
                input_from: 1,
                journal_from: 1
            })
        );
        let h = hello(0, 1, 1, 0);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 4)),
            Join::Accept(JoinMode::Resync { journal_from: 4 })
        );
    }

    proptest! {
        /// Whatever the facts: a node is streamed only when its frames and
        /// journal are prefixes of the active's and what follows is still
        /// kept; resynced, it restarts from the oldest kept; it is refused
        /// only when what it shipped is not the active's.
        #[test]
        fn joins_never_keep_what_differs(
            shipped in 0u64..15, journal_next in 1u64..15, input_next in 1u64..15,
            digest_off in 0u64..2, id_off in 0u64..2, n in 0u64..12, oldest in 1u64..6,
        ) {
            let mut h = hello(shipped.min(journal_next.saturating_sub(1)), journal_next, input_next,
                input_next.saturating_sub(1) + digest_off);
            if id_off == 1 {
                h.journal_last_digest += 1000;
            }
            let v = view(&h, n, oldest);
            match decide_join(&h, &v) {
                Join::Refuse(_) => prop_assert!(
                    h.shipped_seq > n
                        || (h.shipped_seq >= oldest && v.at_shipped.as_deref() != Some(h.shipped_id.as_str()))
                ),
                Join::Accept(JoinMode::Stream { input_from, journal_from }) => {
                    prop_assert_eq!(input_from, h.input_next_seq);
                    prop_assert_eq!(journal_from, h.journal_next_seq);
                    prop_assert!(input_from == 1 && oldest <= 1
                        || (input_from > oldest && v.at_input_last == Some(h.input_last_digest)));
                    prop_assert!(journal_from >= oldest && journal_from <= n + 1);
                    prop_assert!(journal_from == oldest
                        || v.at_journal_last == Some(h.journal_last_digest));
                }
                Join::Accept(JoinMode::Resync { journal_from }) => {
                    prop_assert_eq!(journal_from, oldest);
                    prop_assert!(h.shipped_seq <= n);
                }
            }
        }
    }
}
