//! The engine: runs jobs over micro-batches on a worker pool.

use columnar::TradeBatch;
use rayon::prelude::*;

use super::{
    Alert, BatchContext, DrainContext, EngineClock, Job, Shard, SnapshotError, SnapshotReader,
    SnapshotWriter, partition::Partitioner,
};
use crate::{CoreError, Result};

/// A hook run on each worker thread as it starts, with the worker's index
/// (the pipeline pins workers to cores with it; the core itself does no
/// thread placement).
pub type WorkerStart = std::sync::Arc<dyn Fn(usize) + Send + Sync>;

/// How the engine runs its jobs.
#[derive(Clone, Default)]
pub struct EngineOptions {
    /// Worker threads; 0 or 1 runs every shard on the calling thread.
    pub threads: usize,
    /// Shards per job (rounded up to a power of two); 0 picks one from `threads`.
    pub partitions: usize,
    /// Run on each worker thread as it starts (e.g. to pin it to a core).
    pub on_worker_start: Option<WorkerStart>,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("threads", &self.threads)
            .field("partitions", &self.partitions)
            .field("on_worker_start", &self.on_worker_start.is_some())
            .finish()
    }
}

/// A job with its shards and reusable scratch, behind an object-safe face so
/// the engine can run several jobs of different types.
trait ErasedJob: Send {
    fn process(
        &mut self,
        ctx: &BatchContext<'_>,
        pool: Option<&rayon::ThreadPool>,
        job: u8,
        out: &mut Vec<Alert>,
    );
    fn drain(&mut self, ctx: &DrainContext, job: u8, out: &mut Vec<Alert>);
    fn live_keys(&self) -> usize;
    fn name(&self) -> &'static str;
    fn counters(&self) -> Vec<(&'static str, u64)>;
    fn snapshot(&self, w: &mut SnapshotWriter<'_>);
    fn restore(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), SnapshotError>;
}

struct ShardSlot<S> {
    shard: S,
    out: Vec<Alert>,
    counters: Vec<u64>,
}

struct JobRunner<J: Job> {
    job: J,
    shards: Vec<ShardSlot<J::Shard>>,
    partitioner: Partitioner,
    hashes: Vec<u64>,
}

impl<J: Job> JobRunner<J> {
    fn new(job: J, partitions: usize) -> Self {
        let n = job.counter_names().len();
        let shards = (0..partitions)
            .map(|_| ShardSlot {
                shard: job.new_shard(),
                out: Vec::new(),
                counters: vec![0; n],
            })
            .collect();
        JobRunner {
            job,
            shards,
            partitioner: Partitioner::default(),
            hashes: Vec::new(),
        }
    }
}

fn collect<S>(slots: &mut [ShardSlot<S>], job: u8, out: &mut Vec<Alert>) {
    for slot in slots {
        for mut a in slot.out.drain(..) {
            a.order.job = job;
            out.push(a);
        }
    }
}

impl<J: Job> ErasedJob for JobRunner<J> {
    fn process(
        &mut self,
        ctx: &BatchContext<'_>,
        pool: Option<&rayon::ThreadPool>,
        job: u8,
        out: &mut Vec<Alert>,
    ) {
        let parts = self.shards.len();
        if parts == 1 {
            // One shard sees every row: skip hashing and partitioning.
            let rows = self.partitioner.identity(ctx.batch().len());
            let slot = &mut self.shards[0];
            slot.shard
                .process(ctx, rows, &mut slot.out, &mut slot.counters);
        } else {
            self.job.partition_hashes(ctx.batch(), &mut self.hashes);
            self.partitioner.split(&self.hashes, parts);
            let partitioner = &self.partitioner;
            let run = |(i, slot): (usize, &mut ShardSlot<J::Shard>)| {
                slot.shard
                    .process(ctx, partitioner.part(i), &mut slot.out, &mut slot.counters);
            };
            match pool {
                Some(pool) => pool.install(|| self.shards.par_iter_mut().enumerate().for_each(run)),
                None => self.shards.iter_mut().enumerate().for_each(run),
            }
        }
        collect(&mut self.shards, job, out);
        for slot in &mut self.shards {
            slot.shard.maintain();
        }
    }

    fn drain(&mut self, ctx: &DrainContext, job: u8, out: &mut Vec<Alert>) {
        for slot in &mut self.shards {
            slot.shard.drain(ctx, &mut slot.out, &mut slot.counters);
        }
        collect(&mut self.shards, job, out);
    }

    fn live_keys(&self) -> usize {
        self.shards.iter().map(|s| s.shard.live_keys()).sum()
    }

    fn name(&self) -> &'static str {
        self.job.name()
    }

    fn snapshot(&self, w: &mut SnapshotWriter<'_>) {
        w.u32(self.shards.len() as u32);
        let mut buf = Vec::new();
        for slot in &self.shards {
            buf.clear();
            slot.shard.snapshot(&mut SnapshotWriter::new(&mut buf));
            w.bytes(&buf);
        }
    }

    fn restore(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), SnapshotError> {
        // Keys were placed by `hash & (shards - 1)`: keep the snapshot's
        // shard count so every key stays in the shard that holds its state.
        let n = r.u32()? as usize;
        if !n.is_power_of_two() {
            return Err(SnapshotError(format!(
                "snapshot has {n} shards, not a power of two"
            )));
        }
        let counters = self.job.counter_names().len();
        let mut shards = Vec::with_capacity(n);
        for _ in 0..n {
            let mut shard = self.job.new_shard();
            let bytes = r.bytes()?;
            let mut sr = SnapshotReader::new(bytes);
            shard.restore(&mut sr)?;
            if !sr.is_done() {
                return Err(SnapshotError("shard snapshot has trailing bytes".into()));
            }
            shards.push(ShardSlot {
                shard,
                out: Vec::new(),
                counters: vec![0; counters],
            });
        }
        self.shards = shards;
        Ok(())
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let names = self.job.counter_names();
        names
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, self.shards.iter().map(|s| s.counters[i]).sum()))
            .collect()
    }
}

const SNAPSHOT_MAGIC: &[u8] = b"aldebaran-snapshot-v3";

/// The reusable core: runs one or more [`Job`]s over micro-batches.
///
/// For each batch it computes the clock column, partitions the rows per job,
/// runs the shards (in parallel when there are several threads), and returns
/// the alerts of all jobs in their deterministic order.
pub struct Engine {
    jobs: Vec<Box<dyn ErasedJob>>,
    clock: EngineClock,
    clock_col: Vec<u64>,
    pool: Option<rayon::ThreadPool>,
    partitions: usize,
    /// Added to source positions (see [`BatchContext::pos`]).
    pos_base: u64,
    /// One past the largest position seen: the base after a restore.
    pos_next: u64,
}

impl Engine {
    /// An engine with no job yet.
    pub fn new(opts: EngineOptions) -> Result<Self> {
        let threads = opts.threads.max(1);
        let pool = if threads > 1 {
            let mut builder = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("aldebaran-worker-{i}"));
            if let Some(hook) = opts.on_worker_start.clone() {
                builder = builder.start_handler(move |i| hook(i));
            }
            let pool = builder
                .build()
                .map_err(|e| CoreError::Pool(e.to_string()))?;
            Some(pool)
        } else {
            None
        };
        let partitions = match opts.partitions {
            0 if threads == 1 => 1,
            // A few shards per thread evens out skewed keys.
            0 => (threads * 4).next_power_of_two(),
            n => n.next_power_of_two(),
        };
        Ok(Engine {
            jobs: Vec::new(),
            clock: EngineClock::default(),
            clock_col: Vec::new(),
            pool,
            partitions,
            pos_base: 0,
            pos_next: 0,
        })
    }

    /// Adds a job; when two jobs alert on the same event, the one added
    /// first comes first.
    pub fn add_job<J: Job>(&mut self, job: J) -> Result<()> {
        if self.jobs.len() >= u8::MAX as usize {
            return Err(CoreError::TooManyJobs);
        }
        self.jobs
            .push(Box::new(JobRunner::new(job, self.partitions)));
        Ok(())
    }

    /// Processes one batch; appends its alerts to `out` in output order.
    pub fn process(&mut self, batch: &TradeBatch, detected_at_ns: u64, out: &mut Vec<Alert>) {
        self.process_at(batch, self.pos_base, detected_at_ns, out);
    }

    /// The base the engine adds to source positions now (see
    /// [`BatchContext::pos`]): what an input log records with each batch, so
    /// that [`Engine::process_at`] can replay it exactly.
    pub fn pos_base(&self) -> u64 {
        self.pos_base
    }

    /// Processes a batch as it was processed before under position base
    /// `pos_base` (a batch replayed from an input log or from the active of
    /// a pair): the same engine-wide positions, so the same state and alerts.
    pub fn process_at(
        &mut self,
        batch: &TradeBatch,
        pos_base: u64,
        detected_at_ns: u64,
        out: &mut Vec<Alert>,
    ) {
        let start = out.len();
        let event_time_from = self.clock.advance(batch, &mut self.clock_col);
        let ctx = BatchContext::new(
            batch,
            &self.clock_col,
            self.clock.now(),
            event_time_from,
            detected_at_ns,
            pos_base,
        );
        for (i, job) in self.jobs.iter_mut().enumerate() {
            job.process(&ctx, self.pool.as_ref(), i as u8, out);
        }
        out[start..].sort_unstable_by_key(|a| a.order);
        if let Some(&last) = batch.pos().last() {
            self.pos_next = self.pos_next.max(pos_base + last + 1);
        }
    }

    /// A new source counts its positions from its own start again (after a
    /// restore and a replay): shift them past everything seen so far, so
    /// engine-wide positions only grow.
    pub fn rebase(&mut self) {
        self.pos_base = self.pos_next;
    }

    /// Closes all state at the end of a finite input; appends the alerts.
    pub fn drain(&mut self, detected_at_ns: u64, out: &mut Vec<Alert>) {
        let start = out.len();
        let ctx = DrainContext {
            clock: self.clock.now(),
            event_time: self.clock.is_event_time(),
            detected_at_ns,
        };
        for (i, job) in self.jobs.iter_mut().enumerate() {
            job.drain(&ctx, i as u8, out);
        }
        out[start..].sort_unstable_by_key(|a| a.order);
    }

    /// Live keys (e.g. open books) over all jobs.
    pub fn live_keys(&self) -> usize {
        self.jobs.iter().map(|j| j.live_keys()).sum()
    }

    /// Each job's name and counters.
    pub fn counters(&self) -> Vec<(&'static str, Vec<(&'static str, u64)>)> {
        self.jobs.iter().map(|j| (j.name(), j.counters())).collect()
    }

    /// The current clock (epoch ms).
    pub fn clock(&self) -> u64 {
        self.clock.now()
    }

    /// The whole state of every job, for a restart: the clock, then each
    /// job's name and shards, then a CRC32.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = SnapshotWriter::new(&mut buf);
        w.bytes(SNAPSHOT_MAGIC);
        w.u64(self.clock.now());
        w.u8(self.clock.is_event_time() as u8);
        w.u64(self.pos_next);
        w.u32(self.jobs.len() as u32);
        for job in &self.jobs {
            w.str(job.name());
            job.snapshot(&mut w);
        }
        let crc = crc32fast::hash(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf
    }

    /// Restores a [`Engine::snapshot`] into an engine with the same jobs, in
    /// the same order, that has processed nothing yet.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let (body, crc) = bytes
            .split_last_chunk::<4>()
            .ok_or_else(|| SnapshotError("snapshot too short".into()))?;
        if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
            return Err(SnapshotError("snapshot CRC mismatch (corrupt file)".into()));
        }
        let mut r = SnapshotReader::new(body);
        if r.bytes()? != SNAPSHOT_MAGIC {
            return Err(SnapshotError(
                "not an Aldebaran snapshot (or another version)".into(),
            ));
        }
        let clock = EngineClock::at(r.u64()?, r.u8()? != 0);
        let pos_next = r.u64()?;
        let n = r.u32()? as usize;
        if n != self.jobs.len() {
            let names: Vec<&str> = self.jobs.iter().map(|j| j.name()).collect();
            return Err(SnapshotError(format!(
                "snapshot holds {n} jobs, the engine runs {} ({})",
                self.jobs.len(),
                names.join(",")
            )));
        }
        for job in &mut self.jobs {
            let name = r.str()?;
            if name != job.name() {
                return Err(SnapshotError(format!(
                    "snapshot holds job `{name}` where the engine runs `{}`",
                    job.name()
                )));
            }
            job.restore(&mut r)?;
        }
        if !r.is_done() {
            return Err(SnapshotError("snapshot has trailing bytes".into()));
        }
        self.clock = clock;
        // The restarted source counts positions from zero again: shift them
        // past everything the snapshot has seen.
        self.pos_base = pos_next;
        self.pos_next = pos_next;
        Ok(())
    }
}
