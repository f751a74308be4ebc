//! The SPEC §5 topology, compatible with the original design: trades go
//! through exchange `Aldebaran.Trade_Data` (direct, durable) to queue
//! `Aldebaran.Trade_Data` (routing key `Aldebaran.Trade_Data`); alerts through
//! exchange `Aldebaran.Alert` (direct, durable) to queue `Aldebaran.Alert`
//! (routing key `Alert`).

/// The trade exchange (direct, durable).
pub const TRADE_EXCHANGE: &str = "Aldebaran.Trade_Data";
/// The trade queue (durable).
pub const TRADE_QUEUE: &str = "Aldebaran.Trade_Data";
/// The routing key binding the trade queue to the trade exchange.
pub const TRADE_ROUTING_KEY: &str = "Aldebaran.Trade_Data";
/// The alert exchange (direct, durable).
pub const ALERT_EXCHANGE: &str = "Aldebaran.Alert";
/// The alert queue (durable).
pub const ALERT_QUEUE: &str = "Aldebaran.Alert";
/// The routing key binding the alert queue to the alert exchange.
pub const ALERT_ROUTING_KEY: &str = "Alert";
/// A local broker with RabbitMQ's default account and vhost.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The exchange of the shards (SPEC §8): `x-consistent-hash`, durable; an
/// event's routing key is its order id.
pub const SHARD_EXCHANGE: &str = "Aldebaran.Shards";
/// The weight each shard queue is bound with: equal weights, equal shares
/// of the hash ring.
pub const SHARD_WEIGHT: &str = "100";

/// Shard `k`'s queue: `Aldebaran.Trade_Data.<k>`.
pub fn shard_queue(k: u32) -> String {
    format!("{TRADE_QUEUE}.{k}")
}
