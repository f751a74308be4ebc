//! The sources a pipeline can run: a replayed file/stdin or the AMQP consumer,
//! and starting `run`'s configured one where its checkpoint left it.

use std::sync::{Arc, atomic::AtomicBool};

use columnar::TradeBatch;

use ingest::{
    IngestHandle, Input, ReplayOptions,
    amqp::{
        AckRequest, AmqpCounters, AmqpSourceHandle, AmqpSourceOptions, DEFAULT_PROBE_INTERVAL,
        OnLost, start_amqp,
    },
    start_replay,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::{
    PipelineError, Result,
    checkpoint::Resume,
    options::{AmqpSetup, SourceSetup},
};

/// A running source.
pub(crate) enum Source {
    /// A file, stdin or a followed file.
    Replay(IngestHandle),
    /// RabbitMQ.
    Amqp(AmqpSourceHandle),
}

impl Source {
    /// Stops reading; the cutter then ends after what was already read.
    pub(crate) fn stop(&self) {
        match self {
            Source::Replay(h) => h.stop(),
            Source::Amqp(h) => h.stop(),
        }
    }

    /// The stop flag, for a signal handler.
    pub(crate) fn stop_flag(&self) -> Arc<AtomicBool> {
        match self {
            Source::Replay(h) => h.stop_flag(),
            Source::Amqp(h) => h.stop_flag(),
        }
    }

    /// How far the input is processed once `batch` is: the byte offset of
    /// its last line (of a file, stdin or a followed file), `None` for AMQP,
    /// whose positions are message numbers. Not the ingest thread's read
    /// position, which runs up to a ring ahead of the engine.
    pub(crate) fn processed_to(&self, batch: &TradeBatch) -> Option<u64> {
        match self {
            Source::Replay(_) => {
                let accepted = batch.pos().last().copied();
                let rejected = batch.dead_letters().iter().last().map(|d| d.pos);
                accepted.max(rejected)
            }
            Source::Amqp(_) => None,
        }
    }

    /// Input size, when known.
    pub(crate) fn total_bytes(&self) -> Option<u64> {
        match self {
            Source::Replay(h) => h.total_bytes(),
            Source::Amqp(_) => None,
        }
    }

    /// Where durable batches are acknowledged, for acknowledging sources.
    pub(crate) fn acker(&self) -> Option<UnboundedSender<AckRequest>> {
        match self {
            Source::Replay(_) => None,
            Source::Amqp(h) => Some(h.acker()),
        }
    }

    /// The AMQP source's live counters.
    pub(crate) fn amqp_counters(&self) -> Option<Arc<AmqpCounters>> {
        match self {
            Source::Replay(_) => None,
            Source::Amqp(h) => Some(h.counters()),
        }
    }

    /// Waits for the source's thread; reports its error, if any.
    pub(crate) fn join(self) -> Result<()> {
        match self {
            Source::Replay(h) => h.join().map(|_| ())?,
            Source::Amqp(h) => h.join().map(|_| ())?,
        }
        Ok(())
    }
}

/// Starts `run`'s source where `resume` says; `processed` are the digests of
/// the last messages the restored state holds (an AMQP source does not
/// process them again when they come back redelivered).
pub(crate) fn start(
    setup: &SourceSetup,
    ingest: &ReplayOptions,
    resume: Resume,
    processed: &[u64],
) -> Result<(Source, ingest::Cutter)> {
    match setup {
        SourceSetup::Amqp(a) => {
            let (h, c) = start_amqp(amqp_options(a, ingest, processed))?;
            Ok((Source::Amqp(h), c))
        }
        SourceSetup::File { path, follow } => {
            let path = std::path::PathBuf::from(path);
            let mut opts = ingest.clone();
            opts.start_offset = match resume {
                Resume::AfterLineAt(at) => line_after(&path, at)?,
                Resume::Start | Resume::Done => 0,
            };
            let input = if *follow {
                Input::Follow(path)
            } else {
                Input::File(path)
            };
            let (h, c) = start_replay(input, &opts)?;
            Ok((Source::Replay(h), c))
        }
    }
}

/// The AMQP source of a single node: shared consumer, reconnecting.
fn amqp_options(a: &AmqpSetup, ingest: &ReplayOptions, processed: &[u64]) -> AmqpSourceOptions {
    AmqpSourceOptions {
        url: a.url.clone(),
        tls: a.tls.clone(),
        topology: a.topology(),
        prefetch: a.prefetch,
        consumer_tag: a.consumer_tag.clone(),
        cut: ingest.cut,
        ring_bytes: ingest.ring_bytes,
        pin_core: ingest.pin_core,
        reconnect_min: a.reconnect_min,
        reconnect_max: a.reconnect_max,
        processed: processed.to_vec(),
        exclusive: false,
        on_lost: OnLost::Reconnect,
        probe_interval: DEFAULT_PROBE_INTERVAL,
        heartbeat_secs: None,
        connection_name: None,
    }
}

/// How a pair's node holds the lease with its source.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    /// The AMQP heartbeat of the connection, in seconds.
    pub(crate) heartbeat_secs: u16,
    /// How often the source probes the broker (its liveness for fencing).
    pub(crate) probe: std::time::Duration,
    /// Names the connection on the broker (`rabbitmqctl list_connections`).
    pub(crate) connection_name: String,
}

/// Starts the AMQP source of a pair's node as the lease: an exclusive
/// consumer that ends, rather than reconnects, when its connection is lost.
pub(crate) fn start_leased(
    setup: &SourceSetup,
    ingest: &ReplayOptions,
    processed: &[u64],
    lease: Lease,
) -> Result<(Source, ingest::Cutter)> {
    let SourceSetup::Amqp(a) = setup else {
        return Err(PipelineError::Config(
            "a pair needs source.kind = \"amqp\"".into(),
        ));
    };
    let mut opts = amqp_options(a, ingest, processed);
    opts.exclusive = true;
    opts.on_lost = OnLost::End;
    opts.heartbeat_secs = Some(lease.heartbeat_secs);
    opts.probe_interval = lease.probe;
    opts.connection_name = Some(lease.connection_name);
    let (h, c) = start_amqp(opts)?;
    Ok((Source::Amqp(h), c))
}

/// The offset of the line after the one starting at `at`.
fn line_after(path: &std::path::Path, at: u64) -> Result<u64> {
    use std::io::{BufRead, Seek, SeekFrom};
    let err = |e: std::io::Error| {
        PipelineError::Config(format!(
            "source.file.path {}: cannot resume at byte {at}: {e}",
            path.display()
        ))
    };
    let mut f = std::fs::File::open(path).map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    if at >= len {
        return Err(err(std::io::Error::other(format!(
            "the file has only {len} bytes: it is not the file the checkpoint was taken on"
        ))));
    }
    f.seek(SeekFrom::Start(at)).map_err(err)?;
    let mut line = Vec::new();
    let n = std::io::BufReader::new(f)
        .read_until(b'\n', &mut line)
        .map_err(err)?;
    Ok(at + n as u64)
}
