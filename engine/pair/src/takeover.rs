//! Whether a node that is not following an active may take the lease: a
//! pure decision from what it knows of its own state's freshness.
//!
//! The broker's lease says who may consume; it cannot say whether the node
//! asking holds everything the last active acknowledged. A node may take
//! over when its state is known to be the newest:
//! - it was the active itself and has followed no one since (it lost its
//!   broker connection, say: its own state is the newest there is, unless
//!   the standby took over — which the lease then refuses), once it has
//!   left its in-sync standby the `handover` time to take the lease first:
//!   the node whose broker connection just failed is the worse candidate;
//! - it followed an active that said it was in sync (waiting for it), and
//!   lost that link less than `window` ago: the active holds its releases
//!   for longer than that ([`crate::gate`]), so it released nothing the
//!   standby lacks;
//! - or it started, found no peer within the start wait, and is allowed to
//!   start alone (`role = "active"` or `"auto"`; the docs say what that
//!   risks when the peer was active after it).
//!
//! A standby that was not in sync when the link went, or lost it longer ago
//! than the window, waits for the active to come back and catches up first.

use std::time::Duration;

use crate::role::Wanted;

/// What the node knows of its own standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It was the active and has followed no one since, for `since`.
    WasActive { since: Duration },
    /// It followed an active until `lost_for` ago; `synced`: the active's
    /// last status said it waited for this node.
    Followed { synced: bool, lost_for: Duration },
    /// It has not followed anyone since it started; `waited`: how long it
    /// has looked for its peer without reaching it.
    Started { waited: Duration },
}

/// The settings of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// How long after losing an in-sync active a standby may take over.
    pub takeover: Duration,
    /// How long a starting `auto` node looks for its peer first.
    pub start_wait: Duration,
    /// How long a demoted active leaves its standby to take over first.
    pub handover: Duration,
}

/// Whether the node may try to take the lease now.
pub fn may_take_over(wanted: Wanted, standing: Standing, w: Windows) -> bool {
    match standing {
        Standing::WasActive { since } => since >= w.handover,
        Standing::Followed { synced, lost_for } => synced && lost_for < w.takeover,
        Standing::Started { waited } => match wanted {
            Wanted::Active => true,
            Wanted::Auto => waited >= w.start_wait,
            // A standby by choice becomes active only by taking over.
            Wanted::Standby => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const W: Windows = Windows {
        takeover: Duration::from_millis(1_500),
        start_wait: Duration::from_millis(2_000),
        handover: Duration::from_millis(500),
    };

    #[test]
    fn who_may_take_over() {
        let ms = Duration::from_millis;
        let was = |t| Standing::WasActive { since: ms(t) };
        assert!(
            !may_take_over(Wanted::Auto, was(100), W),
            "the standby first"
        );
        assert!(may_take_over(Wanted::Auto, was(500), W));
        let lost = |synced, t| Standing::Followed {
            synced,
            lost_for: ms(t),
        };
        assert!(may_take_over(Wanted::Standby, lost(true, 10), W));
        assert!(
            !may_take_over(Wanted::Auto, lost(false, 10), W),
            "catching up"
        );
        assert!(!may_take_over(Wanted::Auto, lost(true, 1_500), W), "stale");
        let started = |t| Standing::Started { waited: ms(t) };
        assert!(may_take_over(Wanted::Active, started(0), W));
        assert!(!may_take_over(Wanted::Auto, started(1_999), W));
        assert!(may_take_over(Wanted::Auto, started(2_000), W));
        assert!(!may_take_over(Wanted::Standby, started(60_000), W));
    }

    proptest! {
        /// A node that followed takes over only from an in-sync active and
        /// within the window, whatever it wants — the window is what the
        /// active's hold is measured against.
        #[test]
        fn a_follower_is_eligible_only_in_sync_and_in_time(
            wanted in prop::sample::select(vec![Wanted::Active, Wanted::Standby, Wanted::Auto]),
            synced in any::<bool>(),
            lost in 0u64..5_000,
        ) {
            let s = Standing::Followed { synced, lost_for: Duration::from_millis(lost) };
            let may = may_take_over(wanted, s, W);
            prop_assert_eq!(may, synced && Duration::from_millis(lost) < W.takeover);
        }
    }
}
