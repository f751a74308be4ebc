//! The role decision of a node of the pair: a pure function from what the
//! node observes to what it must do, executed by the I/O code.
//!
//! The broker is the arbiter: the lease is the exclusive consumer on the
//! input queue, which the broker grants to one connection at a time. A node
//! ships only while it holds the lease; it fences itself (stops shipping)
//! once it has not heard from the broker for `fence_after` — shorter than
//! the broker's own timeout for a silent connection, so it has stopped before
//! the broker can grant the lease to the other node — and every takeover
//! raises the epoch, so a node that sees a higher one knows it was replaced.

use std::time::Duration;

/// What a node is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Holds the lease, consumes and ships.
    Active,
    /// Follows the active; tries for the lease.
    Standby,
}

/// What the configuration asks of a node (`[ha] role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// Only ever active: wait for the lease, never follow.
    Active,
    /// Start as a standby; take over when the lease comes free.
    Standby,
    /// Take the lease if it is free, else follow (the default).
    Auto,
}

/// The state of the lease as the node last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// This node's exclusive consumer is registered.
    Held,
    /// The broker refused it: another connection holds the lease.
    Refused,
    /// Not tried yet, or the broker cannot be reached.
    Unknown,
}

/// Everything the decision looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub wanted: Wanted,
    pub role: Role,
    pub lease: Lease,
    /// Since the broker last answered this node (a delivery, a probe's reply).
    pub broker_silent_for: Duration,
    /// The node's own epoch (persisted).
    pub epoch: u64,
    /// The highest epoch the node has seen from its peer, if any.
    pub peer_epoch: Option<u64>,
}

/// What the node must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stay as it is.
    Stay,
    /// Take over: persist `epoch` first, then consume and ship under it.
    Promote { epoch: u64 },
    /// Stop shipping at once and hand the lease back: another node took over
    /// under `epoch`, or the broker may already have given it away.
    Demote { epoch: u64 },
    /// A standby that may follow the peer, which leads under a higher epoch:
    /// adopt it.
    Adopt { epoch: u64 },
}

/// The decision for `f`, where `fence_after` is how long an active may go
/// without hearing from the broker.
pub fn decide(f: &Facts, fence_after: Duration) -> Decision {
    let peer = f.peer_epoch.unwrap_or(0);
    match f.role {
        Role::Active => {
            if peer > f.epoch {
                // Replaced: whatever the lease says, another node took over.
                Decision::Demote { epoch: peer }
            } else if f.lease != Lease::Held || f.broker_silent_for >= fence_after {
                // The broker may give (or has given) the lease to the peer:
                // stop shipping before it can.
                Decision::Demote { epoch: f.epoch }
            } else {
                Decision::Stay
            }
        }
        Role::Standby => {
            if f.lease == Lease::Held {
                Decision::Promote {
                    epoch: f.epoch.max(peer) + 1,
                }
            } else if peer > f.epoch {
                Decision::Adopt { epoch: peer }
            } else {
                Decision::Stay
            }
        }
    }
}

/// Whether a node in `role` may try for the lease (a standby that only
/// follows never does while its peer is up).
pub fn may_try_lease(wanted: Wanted, role: Role, peer_up: bool) -> bool {
    match (role, wanted) {
        (Role::Active, _) => false,
        (Role::Standby, Wanted::Active | Wanted::Auto) => true,
        // A standby takes over only when the active is gone.
        (Role::Standby, Wanted::Standby) => !peer_up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FENCE: Duration = Duration::from_millis(1_000);

    fn facts() -> impl Strategy<Value = Facts> {
        (
            prop::sample::select(vec![Wanted::Active, Wanted::Standby, Wanted::Auto]),
            prop::sample::select(vec![Role::Active, Role::Standby]),
            prop::sample::select(vec![Lease::Held, Lease::Refused, Lease::Unknown]),
            0u64..3_000,
            0u64..5,
            prop::option::of(0u64..5),
        )
            .prop_map(|(wanted, role, lease, silent, epoch, peer_epoch)| Facts {
                wanted,
                role,
                lease,
                broker_silent_for: Duration::from_millis(silent),
                epoch,
                peer_epoch,
            })
    }

    proptest! {
        /// The rules, against every combination.
        #[test]
        fn decisions_keep_the_pair_safe(f in facts()) {
            let d = decide(&f, FENCE);
            let peer = f.peer_epoch.unwrap_or(0);
            match d {
                Decision::Promote { epoch } => {
                    // Only with the lease, only from standby, always above
                    // every epoch seen.
                    prop_assert_eq!(f.role, Role::Standby);
                    prop_assert_eq!(f.lease, Lease::Held);
                    prop_assert!(epoch > f.epoch && epoch > peer);
                }
                Decision::Demote { epoch } => {
                    prop_assert_eq!(f.role, Role::Active);
                    prop_assert!(epoch >= f.epoch);
                }
                Decision::Adopt { epoch } => {
                    prop_assert_eq!(f.role, Role::Standby);
                    prop_assert!(epoch > f.epoch);
                }
                Decision::Stay => {}
            }
            // An active never stays active once it may have lost the lease
            // or seen a higher epoch.
            if f.role == Role::Active
                && (f.lease != Lease::Held || f.broker_silent_for >= FENCE || peer > f.epoch)
            {
                let demoted = matches!(d, Decision::Demote { .. });
                prop_assert!(demoted, "{:?} -> {:?}", f, d);
            }
            // A standby without the lease never promotes.
            if f.role == Role::Standby && f.lease != Lease::Held {
                let promoted = matches!(d, Decision::Promote { .. });
                prop_assert!(!promoted, "{:?} -> {:?}", f, d);
            }
        }

        /// Two nodes deciding from the facts the broker lets them see — at
        /// most one of them holds the lease — never both end up active.
        #[test]
        fn never_two_actives(a in facts(), b in facts(), holder in 0u8..3) {
            let lease = |me: u8| match holder {
                h if h == me => Lease::Held,
                2 => Lease::Unknown,
                _ => Lease::Refused,
            };
            let a = Facts { lease: lease(0), ..a };
            let b = Facts { lease: lease(1), ..b };
            let active_after = |f: &Facts| match decide(f, FENCE) {
                Decision::Promote { .. } => true,
                Decision::Stay => f.role == Role::Active,
                Decision::Demote { .. } | Decision::Adopt { .. } => false,
            };
            prop_assert!(!(active_after(&a) && active_after(&b)), "{:?} / {:?}", a, b);
        }
    }

    #[test]
    fn a_standby_that_only_follows_waits_for_the_active_to_go() {
        assert!(!may_try_lease(Wanted::Standby, Role::Standby, true));
        assert!(may_try_lease(Wanted::Standby, Role::Standby, false));
        assert!(may_try_lease(Wanted::Auto, Role::Standby, true));
        assert!(!may_try_lease(Wanted::Auto, Role::Active, true));
    }
}
