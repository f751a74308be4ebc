//! AMQP (RabbitMQ, via lapin): the SPEC §5 topology, a confirming publisher
//! for trade files, and the consumer source of `aldebaran run`.
//!
//! lapin runs on a tokio runtime of its own (one current-thread runtime per
//! process part that needs it), never on the engine's or rayon's threads.

mod connect;
mod consumer;
mod open;
mod publisher;
mod redelivery;
mod topology;

pub use consumer::{AckRequest, AmqpCounters, AmqpSourceHandle, AmqpSourceOptions, start_amqp};
pub use publisher::{PublishOptions, PublishReport, publish_file};
pub use topology::{
    ALERT_EXCHANGE, ALERT_QUEUE, ALERT_ROUTING_KEY, TRADE_EXCHANGE, TRADE_QUEUE, TRADE_ROUTING_KEY,
    Topology, declare, declare_blocking,
};
