//! The job API: what a use case implements to run on the engine.

use columnar::TradeBatch;

use super::{Alert, BatchContext, DrainContext, SnapshotError, SnapshotReader, SnapshotWriter};

/// A use case: keyed state over micro-batches.
///
/// The engine partitions each batch by [`Job::partition_hashes`] and gives each
/// partition's rows, in input order, to that partition's [`Shard`]. Shards run
/// in parallel on the engine's worker pool and never share state, so a job's
/// per-key logic is single-threaded. The engine merges the alerts of all shards
/// by [`crate::AlertOrder`], which makes the output independent of batch size,
/// partition count and thread count as long as every decision a shard makes
/// depends only on its own rows and the clock of the batch context.
pub trait Job: Send + Sync + 'static {
    /// The keyed state of one partition.
    type Shard: Shard;

    /// The job's name, as chosen on the command line (`--job NAME`).
    fn name(&self) -> &'static str;

    /// Names of the job's counters; shards add to a slice of this length.
    fn counter_names(&self) -> &'static [&'static str];

    /// A new, empty shard.
    fn new_shard(&self) -> Self::Shard;

    /// Writes one hash per row of `batch` to `out` (cleared first): rows whose
    /// state must be seen by the same shard must hash equal.
    fn partition_hashes(&self, batch: &TradeBatch, out: &mut Vec<u64>);
}

/// The state of one partition of a [`Job`].
pub trait Shard: Send {
    /// Processes `rows` (indices into the batch, in input order), then brings
    /// time-driven state up to `ctx.end_clock()`. Alerts go to `out` in any
    /// order; counters are added to `counters`.
    fn process(
        &mut self,
        ctx: &BatchContext<'_>,
        rows: &[u32],
        out: &mut Vec<Alert>,
        counters: &mut [u64],
    );

    /// Closes all state at the end of a finite input.
    fn drain(&mut self, ctx: &DrainContext, out: &mut Vec<Alert>, counters: &mut [u64]);

    /// Number of live keys (e.g. open books), for metrics.
    fn live_keys(&self) -> usize;

    /// Called between batches so the shard may compact its storage.
    fn maintain(&mut self) {}

    /// Writes the shard's whole state (for a restart). What is written must
    /// make [`Shard::restore`] on a new shard give the same future output.
    fn snapshot(&self, w: &mut SnapshotWriter<'_>);

    /// Replaces a new, empty shard's state with a snapshot's.
    fn restore(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), SnapshotError>;
}
