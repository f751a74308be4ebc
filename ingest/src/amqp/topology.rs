//! The SPEC §5 AMQP topology and its idempotent declaration.
//!
//! Trades: exchange `Aldebaran.Trade_Data` (direct, durable) → queue
//! `Aldebaran.Trade_Data` (durable), routing key `Aldebaran.Trade_Data`.
//! Alerts: exchange `Aldebaran.Alert` (direct, durable) → queue
//! `Aldebaran.Alert` (durable), routing key `Alert`.

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};

use broker::Tls;

use super::connect::{amqp_err, close, close_channel, connect, runtime};
use crate::Result;

pub use broker::names::{
    ALERT_EXCHANGE, ALERT_QUEUE, ALERT_ROUTING_KEY, TRADE_EXCHANGE, TRADE_QUEUE, TRADE_ROUTING_KEY,
};

/// Names of the exchanges, queues and routing keys in use.
///
/// [`Default`] gives the SPEC §5 names. [`Topology::with_trade_queue`] swaps
/// in another trade queue (tests use one per test) bound to the same trade
/// exchange under its own name as routing key, so what is published for it
/// reaches that queue only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Exchange the trades are published to.
    pub trade_exchange: String,
    /// Queue the trades are consumed from.
    pub trade_queue: String,
    /// Routing key of the trade publishes and of the trade queue's binding.
    pub trade_routing_key: String,
    /// Exchange the alerts are published to.
    pub alert_exchange: String,
    /// Queue the alerts land in.
    pub alert_queue: String,
    /// Routing key of the alert publishes and of the alert queue's binding.
    pub alert_routing_key: String,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            trade_exchange: TRADE_EXCHANGE.to_owned(),
            trade_queue: TRADE_QUEUE.to_owned(),
            trade_routing_key: TRADE_ROUTING_KEY.to_owned(),
            alert_exchange: ALERT_EXCHANGE.to_owned(),
            alert_queue: ALERT_QUEUE.to_owned(),
            alert_routing_key: ALERT_ROUTING_KEY.to_owned(),
        }
    }
}

impl Topology {
    /// The SPEC topology with `name` as the trade queue. Unless `name` is the
    /// SPEC queue, its routing key is `name` too, so publishes for it do not
    /// reach the SPEC queue (nor another test's queue).
    pub fn with_trade_queue(name: impl Into<String>) -> Self {
        let name = name.into();
        let trade_routing_key = if name == TRADE_QUEUE {
            TRADE_ROUTING_KEY.to_owned()
        } else {
            name.clone()
        };
        Topology {
            trade_queue: name,
            trade_routing_key,
            ..Topology::default()
        }
    }
}

/// Declares both exchanges (direct, durable), both queues (durable) and
/// their bindings. Idempotent: declaring what exists with the same
/// properties is a no-op for the broker.
///
/// On error the broker closes `channel`.
pub async fn declare(channel: &Channel, t: &Topology) -> Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let routes = [
        (&t.trade_exchange, &t.trade_queue, &t.trade_routing_key),
        (&t.alert_exchange, &t.alert_queue, &t.alert_routing_key),
    ];
    for (exchange, queue, key) in routes {
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Direct,
                durable_exchange,
                FieldTable::default(),
            )
            .await
            .map_err(|e| amqp_err(format!("declaring exchange {exchange}"), &e))?;
        channel
            .queue_declare(queue.as_str().into(), durable_queue, FieldTable::default())
            .await
            .map_err(|e| amqp_err(format!("declaring queue {queue}"), &e))?;
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                amqp_err(
                    format!("binding queue {queue} to {exchange} with key {key}"),
                    &e,
                )
            })?;
    }
    Ok(())
}

/// [`declare`] from synchronous code: builds a current-thread tokio runtime,
/// connects to `url` (with `tls` for `amqps://`), declares `t` and closes
/// the connection.
pub fn declare_blocking(url: &str, tls: &Tls, t: &Topology) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let conn = connect(url, tls).await?;
        let result = async {
            let channel = conn
                .create_channel()
                .await
                .map_err(|e| amqp_err("opening a channel", &e))?;
            let declared = declare(&channel, t).await;
            close_channel(&channel).await;
            declared
        }
        .await;
        close(&conn).await;
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_spec_topology() {
        let t = Topology::default();
        assert_eq!(t.trade_exchange, "Aldebaran.Trade_Data");
        assert_eq!(t.trade_queue, "Aldebaran.Trade_Data");
        assert_eq!(t.trade_routing_key, "Aldebaran.Trade_Data");
        assert_eq!(t.alert_exchange, "Aldebaran.Alert");
        assert_eq!(t.alert_queue, "Aldebaran.Alert");
        assert_eq!(t.alert_routing_key, "Alert");
        assert_eq!(Topology::with_trade_queue(TRADE_QUEUE), t);
    }

    #[test]
    fn a_test_queue_gets_its_own_routing_key() {
        let t = Topology::with_trade_queue("q-1");
        assert_eq!(t.trade_queue, "q-1");
        assert_eq!(t.trade_routing_key, "q-1");
        assert_eq!(t.trade_exchange, TRADE_EXCHANGE);
        assert_eq!(t.alert_queue, ALERT_QUEUE);
    }
}
