//! The sources a pipeline can run: a replayed file/stdin or the AMQP consumer.

use std::sync::{Arc, atomic::AtomicBool};

use ingest::{
    IngestHandle,
    amqp::{AckRequest, AmqpCounters, AmqpSourceHandle},
};
use tokio::sync::mpsc::UnboundedSender;

use crate::Result;

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

    /// Input bytes consumed (files only).
    pub(crate) fn bytes_read(&self) -> u64 {
        match self {
            Source::Replay(h) => h.bytes_read(),
            Source::Amqp(_) => 0,
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
