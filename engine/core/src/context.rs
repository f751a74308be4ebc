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
        let (pos, base) = (self.batch.pos(), self.pos_base);
        // Both conditions flip from true to false once along the rows, so
        // their disjunction does too and a binary search applies.
        let (mut lo, mut hi) = (0, self.clock.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.clock[mid] < deadline || base + pos[mid] <= after {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < self.clock.len()).then_some(lo)
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
