//! What the active may release — acknowledgements to the broker and alerts
//! to the shippers — given what its standby holds: a pure state machine over
//! observed facts, property-tested below; the pipeline applies its answers.
//!
//! LMAX's rule: output is never ahead of what the standby holds. While a
//! standby is **in sync** the active ships an alert only once the standby
//! has acknowledged the journal record, and (in `sync` mode) acknowledges
//! input to the broker only once the standby has acknowledged the frame
//! that holds it. A standby that connects first **catches up** ungated (the
//! active keeps serving) and is in sync once it holds everything released
//! without it. When an in-sync standby is lost, the active **holds** its
//! releases for `alone_after` — the standby may take over within a shorter
//! window, so a standby that took over never misses anything the active
//! released — then goes on **alone**, loudly.
//!
//! Shipping is gated in both modes (so a new active never reuses a seq a
//! sink has seen); `async` only stops acknowledgements from waiting, and a
//! takeover then loses the events acknowledged but not yet replicated.

use std::time::Duration;

/// How acknowledgements wait for the standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Input is acknowledged to the broker once the standby holds it.
    Sync,
    /// Input is acknowledged once it is durable here.
    Async,
}

/// Where the active stands with its standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No standby (never one, or it was lost and the hold is over).
    Alone,
    /// A standby is connected but does not yet hold what was released.
    CatchingUp,
    /// Releases wait for the standby.
    Synced,
    /// The in-sync standby was lost at `since_ns`: releases wait still.
    Hold { since_ns: u64 },
}

/// Input-log frame seq and journal seq, each "everything up to here".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heads {
    pub input: u64,
    pub journal: u64,
}

impl Heads {
    fn min(self, o: Heads) -> Heads {
        Heads {
            input: self.input.min(o.input),
            journal: self.journal.min(o.journal),
        }
    }

    fn max(self, o: Heads) -> Heads {
        Heads {
            input: self.input.max(o.input),
            journal: self.journal.max(o.journal),
        }
    }
}

/// The gate's whole state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    pub link: Link,
    /// Durable here.
    pub local: Heads,
    /// Acknowledged by the connected standby.
    pub replicated: Heads,
    /// The most ever released (acknowledged, made shippable).
    pub released: Heads,
}

/// Something observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The journal thread made this durable here.
    Local(Heads),
    /// The standby acknowledged this.
    Replicated(Heads),
    /// A standby completed the handshake; it holds `at` already.
    Joined { at: Heads },
    /// The standby's connection ended.
    Lost,
    /// Time passed.
    Tick,
}

/// The settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// How long releases wait for a lost in-sync standby.
    pub alone_after: Duration,
}

impl Gate {
    /// A gate with nothing released and no standby, after restoring `local`.
    pub fn new(local: Heads) -> Self {
        Gate {
            link: Link::Alone,
            local,
            replicated: Heads::default(),
            released: local,
        }
    }

    /// Whether releases wait for the standby now.
    pub fn gated(&self) -> bool {
        matches!(self.link, Link::Synced | Link::Hold { .. })
    }

    /// Applies `event` seen at `now_ns`, then releases what may go; returns
    /// the new released heads (never lower than before).
    pub fn step(&mut self, event: Event, now_ns: u64, p: Policy) -> Heads {
        match event {
            Event::Local(h) => self.local = self.local.max(h),
            Event::Replicated(h) => self.replicated = self.replicated.max(h),
            Event::Joined { at } => {
                self.replicated = at;
                self.link = Link::CatchingUp;
            }
            Event::Lost => {
                self.replicated = Heads::default();
                self.link = match self.link {
                    Link::Synced => Link::Hold { since_ns: now_ns },
                    Link::Hold { since_ns } => Link::Hold { since_ns },
                    Link::CatchingUp | Link::Alone => Link::Alone,
                };
            }
            Event::Tick => {}
        }
        if let Link::Hold { since_ns } = self.link
            && now_ns.saturating_sub(since_ns) >= p.alone_after.as_nanos() as u64
        {
            self.link = Link::Alone;
        }
        if self.link == Link::CatchingUp && self.holds_released(p.mode) {
            self.link = Link::Synced;
        }
        let may = self.releasable(p.mode);
        self.released = self.released.max(may);
        self.released
    }

    /// What may be released now.
    fn releasable(&self, mode: Mode) -> Heads {
        if !self.gated() {
            return self.local;
        }
        let both = self.local.min(self.replicated);
        Heads {
            input: match mode {
                Mode::Sync => both.input,
                Mode::Async => self.local.input,
            },
            journal: both.journal,
        }
    }

    /// The standby holds everything released so far (what waits for it).
    fn holds_released(&self, mode: Mode) -> bool {
        self.replicated.journal >= self.released.journal
            && (mode == Mode::Async || self.replicated.input >= self.released.input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: Policy = Policy {
        mode: Mode::Sync,
        alone_after: Duration::from_millis(100),
    };

    fn h(input: u64, journal: u64) -> Heads {
        Heads { input, journal }
    }

    #[test]
    fn a_standby_catches_up_then_gates_then_its_loss_holds_then_frees() {
        let mut g = Gate::new(h(5, 3));
        assert_eq!(g.step(Event::Local(h(8, 6)), 0, P), h(8, 6), "alone: free");
        g.step(Event::Joined { at: h(5, 3) }, 1, P);
        assert_eq!(g.link, Link::CatchingUp);
        assert_eq!(
            g.step(Event::Local(h(9, 7)), 2, P),
            h(9, 7),
            "catching up: free"
        );
        g.step(Event::Replicated(h(9, 7)), 3, P);
        assert_eq!(g.link, Link::Synced);
        assert_eq!(
            g.step(Event::Local(h(12, 10)), 4, P),
            h(9, 7),
            "synced: waits"
        );
        assert_eq!(g.step(Event::Replicated(h(11, 8)), 5, P), h(11, 8));
        g.step(Event::Lost, 1_000, P);
        assert!(matches!(g.link, Link::Hold { .. }));
        assert_eq!(g.step(Event::Tick, 50_000_000, P), h(11, 8), "held");
        assert_eq!(g.step(Event::Tick, 101_000_000, P), h(12, 10), "alone");
        assert_eq!(g.link, Link::Alone);
    }

    #[test]
    fn async_acknowledges_at_once_but_ships_only_what_the_standby_holds() {
        let p = Policy {
            mode: Mode::Async,
            ..P
        };
        let mut g = Gate::new(h(0, 0));
        g.step(Event::Joined { at: h(0, 0) }, 0, p);
        assert_eq!(g.link, Link::Synced);
        assert_eq!(g.step(Event::Local(h(4, 4)), 1, p), h(4, 0));
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (0u64..40, 0u64..40).prop_map(|(i, j)| Event::Local(h(i, j))),
            (0u64..40, 0u64..40).prop_map(|(i, j)| Event::Replicated(h(i, j))),
            (0u64..40, 0u64..40).prop_map(|(i, j)| Event::Joined { at: h(i, j) }),
            Just(Event::Lost),
            Just(Event::Tick),
        ]
    }

    proptest! {
        /// Against a model of what the standby holds: while the gate says
        /// the standby is in sync (or held for), nothing released is beyond
        /// what the standby acknowledged since it joined — so a standby that
        /// takes over from an in-sync active misses nothing released;
        /// releases never exceed what is durable here and never go back;
        /// alone, everything durable is released; the hold lasts its time.
        #[test]
        fn never_released_beyond_an_in_sync_standby(
            events in prop::collection::vec((event(), 0u64..60), 1..80),
            sync in any::<bool>(),
        ) {
            let p = Policy { mode: if sync { Mode::Sync } else { Mode::Async }, ..P };
            let mut g = Gate::new(h(0, 0));
            let mut now = 0u64;
            let mut prev = g.released;
            // The standby's holdings per the model: monotone per connection.
            let mut holds: Option<Heads> = None;
            let mut local = h(0, 0);
            for (e, dt) in events {
                now += dt * 10_000_000;
                match e {
                    Event::Local(x) => local = local.max(x),
                    Event::Replicated(x) => if let Some(hh) = holds.as_mut() { *hh = hh.max(x) },
                    Event::Joined { at } => holds = Some(at),
                    Event::Lost => {}
                    Event::Tick => {}
                }
                let e = match (e, holds) {
                    (Event::Replicated(_), None) => Event::Tick,
                    _ => e,
                };
                let r = g.step(e, now, p);
                prop_assert!(r.input >= prev.input && r.journal >= prev.journal);
                prop_assert!(r.input <= local.input && r.journal <= local.journal);
                if g.link == Link::Synced {
                    let s = holds.unwrap_or_default();
                    prop_assert!(r.journal <= s.journal, "{:?} {:?}", g, s);
                    if sync {
                        prop_assert!(r.input <= s.input, "{:?} {:?}", g, s);
                    }
                }
                if let Link::Hold { since_ns } = g.link {
                    prop_assert!(now - since_ns < p.alone_after.as_nanos() as u64);
                    prop_assert_eq!(r.journal, prev.journal, "nothing shipped while held");
                    if sync {
                        prop_assert_eq!(r.input, prev.input, "nothing acknowledged while held");
                    }
                }
                if g.link == Link::Alone {
                    prop_assert_eq!(r, local);
                }
                if e == Event::Lost {
                    holds = None;
                }
                prev = r;
            }
        }
    }
}
