//! What the router routes, from where to where, and how much at once.

use std::time::Duration;

use broker::{Brokers, QueueType, Tls};
use ingest::amqp::Topology;

/// The router's settings.
#[derive(Debug, Clone)]
pub struct RouteOptions {
    /// The brokers (the nodes of a cluster), failed over in turn.
    pub brokers: Brokers,
    /// TLS for `amqps://` URLs.
    pub tls: Tls,
    /// The input: its trade queue is consumed, the whole SPEC §5 topology
    /// (with that queue) declared idempotently, with its queue type.
    pub input: Topology,
    /// Where rejected lines go: a durable queue of the input's type,
    /// published to through the default exchange.
    pub dead_letter_queue: String,
    /// The shard queues there must be (checked, never declared).
    pub shards: u32,
    /// Input messages the broker may deliver ahead, unacknowledged.
    pub prefetch: u16,
    /// Outputs awaiting the broker's confirm at most.
    pub in_flight: usize,
    /// The first wait after a failed round of connection attempts; doubles.
    pub reconnect_min: Duration,
    /// The longest wait between rounds.
    pub reconnect_max: Duration,
    /// The `connection_name` the broker shows for the router's connection.
    pub connection_name: String,
}

impl RouteOptions {
    /// Routing `queue` (of type `queue_type`) on `brokers` to `shards`
    /// shards, with the defaults: dead letters to `<queue>.dead`, prefetch
    /// 1024, 512 outputs in flight, reconnect back-off from 100 ms to 5 s.
    pub fn new(brokers: Brokers, queue: &str, queue_type: QueueType, shards: u32) -> Self {
        RouteOptions {
            brokers,
            tls: Tls::default(),
            input: Topology::with_trade_queue(queue).with_queue_type(queue_type),
            dead_letter_queue: dead_letter_queue(queue),
            shards,
            prefetch: 1024,
            in_flight: 512,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            connection_name: "aldebaran-route".to_owned(),
        }
    }

    /// How many input messages are fully confirmed before they are
    /// acknowledged together (LAPIN-NOTES pitfall 7: well within the
    /// prefetch, or the broker stops delivering; acking each one costs the
    /// consumer five times the CPU).
    pub(crate) fn ack_every(&self) -> usize {
        usize::from(self.prefetch / 4).clamp(1, 512)
    }
}

/// The dead-letter queue of input queue `queue`: `<queue>.dead`
/// (`Aldebaran.Trade_Data.dead` for the SPEC queue).
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_come_well_within_the_prefetch() {
        let brokers = Brokers::parse("amqp://guest:guest@127.0.0.1:5672/%2f").expect("url");
        let mut o = RouteOptions::new(brokers, "Aldebaran.Trade_Data", QueueType::Classic, 3);
        assert_eq!(o.dead_letter_queue, "Aldebaran.Trade_Data.dead");
        assert_eq!(o.ack_every(), 256);
        for prefetch in [1, 2, 3, 4, 100, 65_535] {
            o.prefetch = prefetch;
            let every = o.ack_every();
            assert!(
                every >= 1 && every <= usize::from(prefetch),
                "{prefetch}: {every}"
            );
        }
    }
}
