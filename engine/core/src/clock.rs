//! The engine clock (SPEC §2 step 1), computed once per batch as a column.
//!
//! Event time when the stream carries `ts`: the clock is the running maximum
//! of `ts`, and events without `ts` leave it unchanged. Until the first `ts`
//! is seen the clock follows ingest time (the source's wall clock), so a
//! stream without any `ts` expires books in wall-clock time. All clock values
//! are epoch milliseconds.

/// Running clock state, carried across batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineClock {
    now: u64,
    event_time: bool,
}

impl EngineClock {
    /// The clock after the last event seen.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// A clock at `now`, in event time or not (for restoring state).
    pub fn at(now: u64, event_time: bool) -> Self {
        EngineClock { now, event_time }
    }

    /// Whether the clock is event time (some event carried `ts`).
    pub fn is_event_time(&self) -> bool {
        self.event_time
    }

    /// Fills `out` with the clock value at each row of `batch` and advances.
    /// Returns the first row from which the clock is event time, if any.
    pub fn advance(&mut self, batch: &columnar::TradeBatch, out: &mut Vec<u64>) -> Option<usize> {
        out.clear();
        out.reserve(batch.len());
        let ingest = batch.ingest_ns();
        let mut now = self.now;
        let mut event_time = self.event_time;
        let mut from = event_time.then_some(0);
        for (row, &ingest_ns) in ingest.iter().enumerate() {
            match batch.ts(row) {
                Some(ts) => {
                    event_time = true;
                    from.get_or_insert(row);
                    now = now.max(ts);
                }
                None if !event_time => now = now.max(ingest_ns / 1_000_000),
                None => {}
            }
            out.push(now);
        }
        self.now = now;
        self.event_time = event_time;
        from
    }
}
