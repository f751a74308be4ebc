//! AMQP (RabbitMQ, via lapin): the SPEC §5 topology, a confirming publisher
//! for trade files (to the trade queue, or to the shards by order id), and
//! the consumer source of `aldebaran run`; for the other clients of the
//! shards (`aldebaran route`), the order-id routing key ([`order_key`]) and
//! the connect helpers ([`connect_any`], [`close`], [`close_channel`],
//! [`amqp_err`], [`runtime`]).
//!
//! lapin runs on a tokio runtime of its own (one per process part that
//! needs it), never on the engine's or rayon's threads.
//!
//! # The lease and fencing (an active-standby pair)
//!
//! The broker arbitrates which node of a pair is active, because it cannot
//! split from itself: the active declares the exclusive, auto-deleted
//! classic queue `<input queue>.lease` on its connection and consumes the
//! input queue with an **exclusive** consumer
//! ([`AmqpSourceOptions::exclusive`]): the *lease*. The broker refuses the
//! lease queue to any other connection (on any node of a cluster: queue
//! names are the cluster's) until the holder's connection goes, and a
//! classic input queue refuses any other consume until the holder's
//! channel goes. (A quorum queue accepts a second exclusive consumer in
//! RabbitMQ 3.10; the lease queue is what holds the lease there.) A standby asks for it by calling
//! [`start_amqp`] every ~100 ms: while it is held, the call fails fast with
//! [`crate::IngestError::LeaseHeld`] (transient, one attempt, its connection
//! closed). The active runs with [`OnLost::End`]: when its link goes, so
//! does its lease, and its source ends ([`EndReason::LeaseLost`]) instead of
//! reconnecting; what it had not acknowledged is redelivered to the next
//! consumer.
//!
//! **Liveness.** A lease can also go while the active hears nothing about
//! it: on a silent loss (host or link gone, no FIN), the broker closes the
//! connection after missed heartbeats, releasing the lease, and the standby
//! obtains it. The active must have stopped shipping by then. The source
//! probes the broker every [`AmqpSourceOptions::probe_interval`] (default
//! 100 ms) on the consumer's own connection, and
//! [`AmqpCounters::silent_for`] is how long ago the broker certainly last
//! heard from it (the send time of the last probe it answered), lock-free.
//!
//! **The broker's side.** With a negotiated heartbeat timeout of `T`
//! seconds ([`AmqpSourceOptions::heartbeat_secs`], whole seconds;
//! [`AmqpCounters::heartbeat_secs`] is what was negotiated), RabbitMQ checks
//! every `T` whether it received any byte on the connection and closes it
//! after two checks without one: between `2T` and `3T` after the last byte
//! it received (`rabbit_heartbeat`; the test `amqp_liveness` measures it). Only
//! then is the exclusive consumer released. It closes sooner when told
//! (an operator's `close_connection`, the active's process dying: then the
//! active's side sees the close too, unless the network is cut at the same
//! moment), and later under a memory or disk alarm (its heartbeat check is
//! paused while it blocks publishers).
//!
//! **The margin.** Ship only while `silent_for(now) < fence_after` with
//! `fence_after = 2T − probe_interval − safety` ([`fence_after`]), `safety`
//! covering the time from the check to the end of the send it allowed.
//! For example `T = 1 s`, probes every 100 ms, 400 ms of safety: fence after
//! 1.5 s of silence, while the broker releases the lease after 2 s at the
//! soonest. The margin must stay well above the probe interval plus a round
//! trip, or a healthy active fences itself between two probes.
//!
//! The probe and lapin's heartbeats run on a worker thread of the source's
//! runtime, apart from the consume loop, which blocks while the ring is
//! full: a busy engine keeps its lease.

mod connect;
mod consumer;
mod counters;
mod lease;
mod line_batcher;
mod liveness;
mod open;
mod options;
mod publish_link;
mod publisher;
mod redelivery;
mod shard_key;
mod topology;

pub use broker::{Tls, TlsFiles};
pub use connect::{amqp_err, check_url, close, close_channel, connect_any, runtime};
pub use consumer::{AckRequest, AmqpSourceHandle, start_amqp};
pub use counters::AmqpCounters;
pub use lease::EndReason;
pub use liveness::fence_after;
pub use options::{AmqpSourceOptions, DEFAULT_PROBE_INTERVAL, OnLost};
pub use publish_link::{confirmed, publish_mandatory};
pub use publisher::{PublishOptions, PublishReport, publish_file};
pub use shard_key::{order_key, raw_key};
pub use topology::{
    ALERT_EXCHANGE, ALERT_QUEUE, ALERT_ROUTING_KEY, TRADE_EXCHANGE, TRADE_QUEUE, TRADE_ROUTING_KEY,
    Topology, check_shards, declare, declare_blocking, declare_shards,
};
