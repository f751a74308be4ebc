//! The settings of the AMQP source, and what it does when its link goes.
//!
//! The defaults of the lease settings ([`AmqpSourceOptions::exclusive`]
//! false, [`OnLost::Reconnect`], no heartbeat override) are the single
//! node's behaviour; an active-standby pair's active sets `exclusive` and
//! [`OnLost::End`] (see [the module doc](super) on the lease and fencing).

use std::time::Duration;

use broker::Tls;

use super::topology::Topology;
use crate::cutter::CutPolicy;

/// How often the source asks the broker for a reply on its connection by
/// default, to know it is still heard ([`AmqpSourceOptions::probe_interval`]).
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Settings of the AMQP source.
#[derive(Debug, Clone)]
pub struct AmqpSourceOptions {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// TLS for an `amqps://` URL: the roots to trust, the client
    /// certificate (refused with an `amqp://` URL if any file is set).
    pub tls: Tls,
    /// Exchanges, queue and bindings (declared at start, idempotently).
    pub topology: Topology,
    /// Unacknowledged deliveries the broker may send ahead (≤ 65535).
    pub prefetch: u16,
    /// The consumer tag.
    pub consumer_tag: String,
    /// Micro-batch cut.
    pub cut: CutPolicy,
    /// Ingest ring bytes.
    pub ring_bytes: usize,
    /// Pin the source thread to this core.
    pub pin_core: Option<usize>,
    /// First reconnect delay; doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Digests of the last messages the restored state holds: one of them
    /// that comes back redelivered is not processed again.
    pub processed: Vec<u64>,
    /// Consume the queue exclusively: the broker then lets no other consumer
    /// on it (a second exclusive consume is refused, which
    /// [`super::start_amqp`] reports as [`crate::IngestError::LeaseHeld`])
    /// until this one's channel or connection goes. The lease of a pair.
    /// A stopped exclusive source keeps its consumer (no longer read) until
    /// [`super::AmqpSourceHandle::join`] closes the link, so the lease is
    /// not given away while the node still acknowledges, and may still
    /// ship, what it drained.
    pub exclusive: bool,
    /// What to do when the link to the broker is lost after it worked.
    pub on_lost: OnLost,
    /// How often to ask the broker for a reply on the consumer's connection
    /// (a `basic.qos` on a channel of its own), so that
    /// [`super::AmqpCounters::silent_for`] says how long the broker may have
    /// gone without hearing from this source. Zero: never (the only stamp is
    /// then the consume's own reply).
    pub probe_interval: Duration,
    /// The AMQP heartbeat to ask for, in whole seconds (the protocol's
    /// unit). `None`: the URL's `?heartbeat=` if any, else the broker's
    /// proposal (RabbitMQ: 60 s). lapin takes the smaller of this and the
    /// broker's proposal, and follows the broker's when this is 0 (it cannot
    /// turn heartbeats off that the broker wants). The negotiated value is in
    /// [`super::AmqpCounters::heartbeat_secs`].
    pub heartbeat_secs: Option<u16>,
    /// The `connection_name` client property the broker shows for the
    /// source's connection (`rabbitmqctl list_connections client_properties`,
    /// the management UI). `None`: `aldebaran-source <consumer_tag>`.
    pub connection_name: Option<String>,
}

impl AmqpSourceOptions {
    /// The connection name the broker is told.
    pub(crate) fn connection_name(&self) -> String {
        self.connection_name
            .clone()
            .unwrap_or_else(|| format!("aldebaran-source {}", self.consumer_tag))
    }
}

/// What the source does when its connection or channel is lost after it
/// had worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLost {
    /// Reconnect with backoff and consume again (a single node: the broker
    /// redelivers what was not acknowledged, the jobs absorb the repeats).
    /// With `exclusive`, a consume refused because another consumer took the
    /// queue in the meantime is retried like any other failure.
    #[default]
    Reconnect,
    /// Stop delivering: the cutter ends ([`crate::Cut::End`]) after what was
    /// already read, and [`super::AmqpSourceHandle::ended`] says
    /// [`super::EndReason::LeaseLost`]. For a pair's active, whose lease went
    /// with the link: reconnecting on its own would race the standby that
    /// is taking over. Such a source also makes no attempt in the
    /// background at start: [`super::start_amqp`] returns the first
    /// attempt's failure, whatever its class, and its `Ok` means consuming.
    /// What the broker had delivered unacknowledged goes to the next
    /// consumer.
    End,
}
