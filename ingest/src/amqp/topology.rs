//! The SPEC §5 AMQP topology and its idempotent declaration.
//!
//! Trades: exchange `Aldebaran.Trade_Data` (direct, durable) → queue
//! `Aldebaran.Trade_Data` (durable), routing key `Aldebaran.Trade_Data`.
//! Alerts: exchange `Aldebaran.Alert` (direct, durable) → queue
//! `Aldebaran.Alert` (durable), routing key `Alert`.

use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};

use crate::{IngestError, Result};

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
            .map_err(|e| amqp_err(format!("declaring exchange {exchange}"), e))?;
        channel
            .queue_declare(queue.as_str().into(), durable_queue, FieldTable::default())
            .await
            .map_err(|e| amqp_err(format!("declaring queue {queue}"), e))?;
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
                    e,
                )
            })?;
    }
    Ok(())
}

/// [`declare`] from synchronous code: builds a current-thread tokio runtime,
/// connects to `url`, declares `t` and closes the connection.
pub fn declare_blocking(url: &str, t: &Topology) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let conn = connect(url).await?;
        let result = async {
            let channel = conn
                .create_channel()
                .await
                .map_err(|e| amqp_err("opening a channel", e))?;
            let declared = declare(&channel, t).await;
            close_channel(&channel).await;
            declared
        }
        .await;
        close(&conn).await;
        result
    })
}

/// A current-thread tokio runtime for lapin (LAPIN-NOTES: one per process
/// part was enough; lapin runs its socket I/O on a thread of its own).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| IngestError::Amqp(format!("cannot start the tokio runtime: {e}")))
}

/// How long [`connect`] waits for the broker's handshake.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects to `url` within [`CONNECT_TIMEOUT`]; the error names the broker
/// without its password.
pub(crate) async fn connect(url: &str) -> Result<Connection> {
    let connecting = Connection::connect(url, ConnectionProperties::default());
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(amqp_err(
            format!("cannot connect to {}", broker::redact(url)),
            e,
        )),
        Err(_) => Err(IngestError::Amqp(format!(
            "cannot connect to {}: no answer within {} s",
            broker::redact(url),
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Closes `conn` politely; a failure to close is not worth an error.
pub(crate) async fn close(conn: &Connection) {
    if let Err(e) = conn.close(200, "OK".into()).await {
        tracing::debug!(error = %e, "closing the AMQP connection failed");
    }
}

/// Closes `channel` before its connection: left to `Drop`, lapin closes it
/// asynchronously, races the connection close and logs a spurious ERROR.
pub(crate) async fn close_channel(channel: &Channel) {
    if channel.status().connected()
        && let Err(e) = channel.close(200, "OK".into()).await
    {
        tracing::debug!(error = %e, "closing the AMQP channel failed");
    }
}

/// An [`IngestError::Amqp`] with what was being done and lapin's reason.
pub(crate) fn amqp_err(what: impl std::fmt::Display, e: lapin::Error) -> IngestError {
    IngestError::Amqp(format!("{what}: {e}"))
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
