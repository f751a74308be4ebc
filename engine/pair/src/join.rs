//! How a node joins an active as its standby: a pure decision from the
//! joining node's [`Hello`] and what the active finds at the same seqs.
//!
//! - Its sinks may have shipped records up to `shipped_seq`: those must be
//!   the active's records too (same `alert_id` at the same seq), or the two
//!   journals diverged where it matters — delivered alerts — and the node is
//!   refused, saying so (the operator decides; nothing is overwritten).
//! - If its input log is a prefix of the active's (its last frame is the
//!   active's frame at that seq, which the active still keeps) and its
//!   journal ends where the active's has the same record, the frames simply
//!   follow.
//! - Otherwise (a former active with frames the new active never received, a
//!   node that fell behind the active's retention, an empty one) it resyncs:
//!   it keeps its journal through what it shipped, takes the active's records
//!   after it, a snapshot and the frames after the snapshot. What it drops
//!   was never shipped by it.

use crate::wire::{Hello, JoinMode};

/// What the active finds, for the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveView {
    /// The active's `alert_id` at the joiner's `shipped_seq` (`None` when the
    /// active's journal does not reach it).
    pub at_shipped: Option<String>,
    /// The active's `alert_id` at the joiner's last journal seq.
    pub at_journal_last: Option<String>,
    /// The digest of the active's input frame at the joiner's last frame seq
    /// (`None` when not kept, or beyond the active's log).
    pub at_input_last: Option<u64>,
    /// The oldest input frame the active keeps.
    pub input_oldest: u64,
    /// The seq the active's input log appends next.
    pub input_next_seq: u64,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// Refused, and why (for both nodes' logs).
    Refuse(String),
    /// Accepted this way.
    Accept(JoinMode),
}

/// How the node of `hello` joins the active that sees `view`.
pub fn decide_join(hello: &Hello, view: &ActiveView) -> Join {
    if hello.shipped_seq > 0 && view.at_shipped.as_deref() != Some(hello.shipped_id.as_str()) {
        let active = view.at_shipped.as_deref().unwrap_or("nothing");
        return Join::Refuse(format!(
            "node {} shipped seq {} as {:?}, where the active's journal holds {active}: the journals \
             diverged in what was delivered (move that node's journal and state away to rejoin \
             it from scratch, after checking what its sinks received)",
            hello.node, hello.shipped_seq, hello.shipped_id
        ));
    }
    let input_prefix = match hello.input_next_seq {
        // An empty log continues anywhere the active still keeps.
        1 => view.input_oldest <= 1,
        next => {
            next > view.input_oldest
                && next <= view.input_next_seq
                && view.at_input_last == Some(hello.input_last_digest)
        }
    };
    let journal_prefix = hello.journal_next_seq <= 1
        || view.at_journal_last.as_deref() == Some(hello.journal_last_id.as_str());
    if input_prefix && journal_prefix {
        Join::Accept(JoinMode::Stream {
            from: hello.input_next_seq,
        })
    } else {
        Join::Accept(JoinMode::Resync {
            keep_journal_through: hello.shipped_seq,
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
            journal_last_id: format!("id{}", journal_next.saturating_sub(1)),
            shipped_seq: shipped,
            shipped_id: format!("id{shipped}"),
            input_next_seq: input_next,
            input_last_digest: digest,
        }
    }

    /// The active's view when its journal and input log hold seqs 1..=n,
    /// record k named `idk` and frame k of digest `k`, keeping frames from
    /// `oldest` on.
    fn view(h: &Hello, n: u64, oldest: u64) -> ActiveView {
        let id = |s: u64| (s >= 1 && s <= n).then(|| format!("id{s}"));
        let last = h.input_next_seq.saturating_sub(1);
        ActiveView {
            at_shipped: id(h.shipped_seq),
            at_journal_last: id(h.journal_next_seq.saturating_sub(1)),
            at_input_last: (last >= oldest && last <= n).then_some(last),
            input_oldest: oldest,
            input_next_seq: n + 1,
        }
    }

    #[test]
    fn a_prefix_streams_a_former_active_resyncs_a_diverged_shipper_is_refused() {
        let h = hello(3, 5, 5, 4);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Stream { from: 5 })
        );
        // Its last frame is not the active's: a former active.
        let h = hello(3, 5, 5, 77);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Resync {
                keep_journal_through: 3
            })
        );
        // Behind the active's retention.
        let h = hello(3, 5, 5, 4);
        assert!(matches!(
            decide_join(&h, &view(&h, 10, 6)),
            Join::Accept(JoinMode::Resync { .. })
        ));
        // Shipped something the active does not hold.
        let mut h = hello(3, 5, 5, 4);
        h.shipped_id = "other".into();
        assert!(
            matches!(decide_join(&h, &view(&h, 10, 1)), Join::Refuse(r) if r.contains("diverged"))
        );
        let h = hello(12, 13, 13, 12);
        assert!(
            matches!(decide_join(&h, &view(&h, 10, 1)), Join::Refuse(_)),
            "ahead of the active"
        );
        // A new node.
        let h = hello(0, 1, 1, 0);
        assert_eq!(
            decide_join(&h, &view(&h, 10, 1)),
            Join::Accept(JoinMode::Stream { from: 1 })
        );
    }

    proptest! {
        /// Whatever the facts: a node is streamed only when its frames and
        /// journal are the active's; resynced, it keeps only what it shipped
        /// (never more than the active holds); never accepted when what it
        /// shipped differs.
        #[test]
        fn joins_never_keep_what_differs(
            shipped in 0u64..15, journal_next in 1u64..15, input_next in 1u64..15,
            digest_off in 0u64..2, n in 0u64..12, oldest in 1u64..6,
        ) {
            let h = hello(shipped.min(journal_next.saturating_sub(1)), journal_next, input_next,
                input_next.saturating_sub(1) + digest_off);
            let v = view(&h, n, oldest);
            match decide_join(&h, &v) {
                Join::Refuse(_) => prop_assert!(h.shipped_seq > n),
                Join::Accept(JoinMode::Stream { from }) => {
                    prop_assert_eq!(from, h.input_next_seq);
                    prop_assert!(h.input_next_seq == 1 || v.at_input_last == Some(h.input_last_digest));
                    prop_assert!(h.journal_next_seq <= 1 || h.journal_next_seq - 1 <= n);
                }
                Join::Accept(JoinMode::Resync { keep_journal_through }) => {
                    prop_assert_eq!(keep_journal_through, h.shipped_seq);
                    prop_assert!(keep_journal_through <= n);
                }
            }
        }
    }
}
