//! What a job's shard sees while it processes its rows of a batch.

use columnar::TradeBatch;

/// A batch with its clock column, shared read-only by all shards.
#[derive(Debug, Clone, Copy)]
pub struct BatchContext<'a> {
    batch: &'a TradeBatch,
    clock: &'a [u64],
    end_clock: u64,
    event_time_from: Option<usize>,
    detected_at_ns: u64,
    pos_base: u64,
}

impl<'a> BatchContext<'a> {
    pub(crate) fn new(
        batch: &'a TradeBatch,
        clock: &'a [u64],
        end_clock: u64,
        event_time_from: Option<usize>,
        detected_at_ns: u64,
        pos_base: u64,
    ) -> Self {
        BatchContext {
            batch,
            clock,
            end_clock,
            event_time_from,
            detected_at_ns,
            pos_base,
        }
    }

    /// The engine-wide input position of `row`: the source's position plus
    /// the base the engine carries across restarts, so positions only grow
    /// even when a restarted source counts from zero again. Jobs order and
    /// compare positions with this, never with `batch().pos()`.
    pub fn pos(&self, row: usize) -> u64 {
        self.pos_base + self.batch.pos()[row]
    }

    /// The batch.
    pub fn batch(&self) -> &'a TradeBatch {
        self.batch
    }

    /// The clock at `row` (epoch ms), after that row's own `ts` was applied.
    pub fn clock(&self, row: usize) -> u64 {
        self.clock[row]
    }

    /// The clock after the whole batch.
    pub fn end_clock(&self) -> u64 {
        self.end_clock
    }

    /// Whether the clock is event time (else ingest time) at `row`.
    pub fn is_event_time_at(&self, row: usize) -> bool {
        self.event_time_from.is_some_and(|from| row >= from)
    }

    /// The first row at which the clock reached `deadline`: the event that
    /// caused everything due at `deadline`. `None` if the batch never reaches it.
    pub fn cause_row(&self, deadline: u64) -> Option<usize> {
        let i = self.clock.partition_point(|&c| c < deadline);
        (i < self.clock.len()).then_some(i)
    }

    /// Like [`BatchContext::cause_row`], but only among events after input
    /// position `after` (state is never due at the event that created it).
    pub fn cause_row_after(&self, deadline: u64, after: u64) -> Option<usize> {
        self.cause_row_after_from(deadline, after, 0)
    }

    /// Like [`BatchContext::cause_row_after`], searching from row `from`:
    /// every row before it must come before the cause, as it does when
    /// `from` is the cause this batch gave an earlier `deadline` and `after`
    /// (a queue of deadlines in order asks a run of these). The search
    /// gallops from `from`, so a cause close to it costs a few rows, not a
    /// binary search of the whole batch.
    pub fn cause_row_after_from(&self, deadline: u64, after: u64, from: usize) -> Option<usize> {
        let (pos, base) = (self.batch.pos(), self.pos_base);
        let n = self.clock.len();
        // Both conditions flip from true to false once along the rows, so
        // their disjunction does too and a search for the flip applies.
        let before = |i: usize| self.clock[i] < deadline || base + pos[i] <= after;
        // Rows below `lo` come before the cause; the cause is below `hi`.
        let (mut lo, mut hi) = (from.min(n), n);
        let mut step = 1;
        while lo < n {
            let probe = (lo + step).min(n) - 1;
            if !before(probe) {
                hi = probe + 1;
                break;
            }
            lo = probe + 1;
            step *= 2;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < n).then_some(lo)
    }

    /// Wall-clock nanoseconds to stamp on alerts detected in this batch.
    pub fn detected_at_ns(&self) -> u64 {
        self.detected_at_ns
    }
}

/// What a shard sees when the input has ended and it must close everything.
#[derive(Debug, Clone, Copy)]
pub struct DrainContext {
    /// The final clock.
    pub clock: u64,
    /// Whether the clock is event time.
    pub event_time: bool,
    /// Wall-clock nanoseconds to stamp on drained alerts.
    pub detected_at_ns: u64,
}

#[cfg(test)]
mod tests {
    use columnar::{TradeBatch, TradeBatchBuilder, TradeEventRef};
    use proptest::prelude::*;

    use super::*;

    /// A batch of `n` requests at positions `0, step, 2 * step, ...`.
    fn batch(n: usize, step: u64) -> TradeBatch {
        let mut b = TradeBatchBuilder::new(n);
        for i in 0..n {
            let ev = TradeEventRef {
                id: "o",
                shares: 1,
                client: "c",
                stock: "s",
                initial_order_id: None,
                ts: None,
            };
            b.append(i as u64 * step, 0, &ev);
        }
        b.finish().expect("a batch")
    }

    proptest! {
        /// From any row known to come before the cause, the galloping search
        /// finds what a search of the whole batch finds.
        #[test]
        fn a_search_from_a_row_before_the_cause_finds_the_cause(
            gaps in proptest::collection::vec(0u64..4, 1..300),
            // Where the deadline and the opening position fall, as parts of
            // the batch's clock and positions (past its end included).
            deadline_at in 0.0f64..1.1,
            after_at in 0.0f64..1.1,
            step in 1u64..4,
            base in 0u64..100,
            from_frac in 0.0f64..=1.0,
        ) {
            let clock: Vec<u64> = gaps
                .iter()
                .scan(0u64, |c, g| {
                    *c += g;
                    Some(*c)
                })
                .collect();
            let b = batch(clock.len(), step);
            let end = *clock.last().expect("a row");
            let deadline = (end as f64 * deadline_at) as u64;
            let after = ((base + clock.len() as u64 * step) as f64 * after_at) as u64;
            let ctx = BatchContext::new(&b, &clock, end, None, 0, base);
            let full = ctx.cause_row_after(deadline, after);
            // A linear scan is the reference.
            let want = (0..clock.len()).find(|&i| clock[i] >= deadline && base + b.pos()[i] > after);
            prop_assert_eq!(full, want);
            let limit = want.unwrap_or(clock.len());
            let from = (limit as f64 * from_frac) as usize;
            prop_assert_eq!(ctx.cause_row_after_from(deadline, after, from), want);
        }
    }
}
