//! AMQP (RabbitMQ, via lapin): the SPEC §5 topology, a confirming publisher
//! for trade files, and the consumer source of `aldebaran run`.
//!
//! lapin runs on a tokio runtime of its own (one current-thread runtime per
//! process part that needs it), never on the engine's or rayon's threads.
//!
//! # The lease (an active-standby pair)
//!
//! The broker arbitrates which node of a pair is active, because it cannot
//! split from itself: the active consumes the input queue with an
//! **exclusive** consumer ([`AmqpSourceOptions::exclusive`]), the *lease*;
//! the broker refuses any other consume on the queue until that consumer's
//! channel or connection goes. A standby asks for it by calling
//! [`start_amqp`] every ~100 ms: while it is held, the call fails fast with
//! [`crate::IngestError::LeaseHeld`] (transient, one attempt, its connection
//! closed). The active runs with [`OnLost::End`]: when its link goes, so
//! does its lease, and its source ends ([`EndReason::LeaseLost`]) instead of
//! reconnecting; what it had not acknowledged is redelivered to the next
//! consumer.

mod connect;
mod consumer;
mod counters;
mod lease;
mod open;
mod options;
mod publisher;
mod redelivery;
mod topology;

pub use consumer::{AckRequest, AmqpSourceHandle, start_amqp};
pub use counters::AmqpCounters;
pub use lease::EndReason;
pub use options::{AmqpSourceOptions, OnLost};
pub use publisher::{PublishOptions, PublishReport, publish_file};
pub use topology::{
    ALERT_EXCHANGE, ALERT_QUEUE, ALERT_ROUTING_KEY, TRADE_EXCHANGE, TRADE_QUEUE, TRADE_ROUTING_KEY,
    Topology, declare, declare_blocking,
};
