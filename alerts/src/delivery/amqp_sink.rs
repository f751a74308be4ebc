//! The AMQP sink: publishes each alert as one persistent message to a
//! RabbitMQ exchange (SPEC §4, §5) and returns only once the broker has
//! confirmed it.
//!
//! - **Topology** (declared idempotently on every connect unless `declare` is
//!   off): exchange `Aldebaran.Alert` (direct, durable) → queue
//!   `Aldebaran.Alert` (durable), routing key `Alert`. Only the alert part of
//!   the SPEC §5 topology: the trade side belongs to the ingest crate.
//! - **Message**: body = the SPEC §3 record (the journal dump line),
//!   `delivery_mode` 2, `content_type` `application/json`, `message_id` =
//!   `alert_id` (the consumer deduplicates on it: exactly-once), a `seq`
//!   header, published `mandatory` so an unroutable alert comes back instead
//!   of vanishing.
//! - **Pipelining** (LAPIN-NOTES pitfalls 3, 4): every record of a batch is
//!   queued for the socket first, then the confirms are awaited in order under
//!   one deadline; the leading run of acks is what was delivered.
//! - **Failures** are all [`SendError::Transient`] (broker down, nack,
//!   timeout, lost connection, unroutable): the connection is dropped and the
//!   next send reconnects and redeclares. The only permanent failure is an
//!   `alert_id` too long to be an AMQP `message_id` (255 bytes).
//!
//! **Threads**: the sink owns a current-thread tokio runtime and blocks on it
//! in [`Sink::send`], on the shipper's thread; lapin adds one I/O thread per
//! connection. [`AmqpSink::new`] does not connect: a broker that is down at
//! start is a transient error of the first send.

use std::time::Duration;

use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::FieldTable,
    uri::AMQPUri,
};
use tokio::time::{Instant, timeout_at};

use super::amqp_publish::publish;
use super::{DeliveryMode, Outgoing, SendError, SendFailure, Sink};
use crate::{AlertsError, Result};

/// The SPEC §5 alert exchange (direct, durable).
pub const DEFAULT_EXCHANGE: &str = "Aldebaran.Alert";
/// The SPEC §5 alert queue (durable).
pub const DEFAULT_QUEUE: &str = "Aldebaran.Alert";
/// The SPEC §5 routing key binding the alert queue to the alert exchange.
pub const DEFAULT_ROUTING_KEY: &str = "Alert";
/// The local broker with RabbitMQ's default account and vhost.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The delivery modes an AMQP sink accepts, the default first. Exactly-once
/// holds when the consumer deduplicates on `message_id` (= `alert_id`).
pub(crate) const MODES: &[DeliveryMode] = &[
    DeliveryMode::ExactlyOnce,
    DeliveryMode::AtLeastOnce,
    DeliveryMode::AtMostOnce,
];

/// Records per [`Sink::send`]: one batch of pipelined publishes.
const MAX_BATCH: usize = 1024;

/// The longest AMQP short string (exchange, routing key, queue, message id).
const MAX_SHORT_STRING: usize = 255;

/// How long closing a dropped connection may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Settings of an AMQP sink (its section of the engine config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpSinkConfig {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Exchange the alerts are published to; `""` is the default exchange
    /// (then `routing_key` names the queue and no exchange is declared).
    pub exchange: String,
    /// Routing key of every publish, and of the queue's binding.
    pub routing_key: String,
    /// Queue bound to the exchange with `routing_key`; `""` declares no queue
    /// (something else must bind one, or every publish comes back unroutable).
    pub queue: String,
    /// Declare the exchange, the queue and the binding on every connect
    /// (idempotent). Off: they must exist.
    pub declare: bool,
    /// How long the broker may take to confirm a batch, and to accept a
    /// connection and set up its channel. Must be > 0.
    pub confirm_timeout_ms: u64,
}

impl Default for AmqpSinkConfig {
    fn default() -> Self {
        AmqpSinkConfig {
            url: DEFAULT_URL.to_owned(),
            exchange: DEFAULT_EXCHANGE.to_owned(),
            routing_key: DEFAULT_ROUTING_KEY.to_owned(),
            queue: DEFAULT_QUEUE.to_owned(),
            declare: true,
            confirm_timeout_ms: 10_000,
        }
    }
}

impl AmqpSinkConfig {
    /// Checks what can be checked without a broker.
    fn validate(&self) -> Result<()> {
        if let Err(e) = self.url.parse::<AMQPUri>() {
            return Err(config_err(format!(
                "invalid url {}: {e}",
                redact(&self.url)
            )));
        }
        for (what, name) in [
            ("exchange", &self.exchange),
            ("routing_key", &self.routing_key),
            ("queue", &self.queue),
        ] {
            if name.len() > MAX_SHORT_STRING {
                return Err(config_err(format!(
                    "{what} is {} bytes long, AMQP allows {MAX_SHORT_STRING}",
                    name.len()
                )));
            }
        }
        if self.confirm_timeout_ms == 0 {
            return Err(config_err("confirm_timeout_ms must be > 0".to_owned()));
        }
        Ok(())
    }

    pub(super) fn confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.confirm_timeout_ms)
    }
}

/// A sink publishing alerts to RabbitMQ with publisher confirms.
pub struct AmqpSink {
    cfg: AmqpSinkConfig,
    /// Shown by the broker (`rabbitmqctl list_connections client_properties`).
    connection_name: String,
    rt: tokio::runtime::Runtime,
    /// The open connection, if any; dropped after any failure.
    link: Option<Link>,
}

impl std::fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSink")
            .field("url", &redact(&self.cfg.url))
            .field("exchange", &self.cfg.exchange)
            .field("routing_key", &self.cfg.routing_key)
            .field("connected", &self.link.is_some())
            .finish()
    }
}

/// A connection and its channel in confirm mode, topology declared.
struct Link {
    conn: Connection,
    channel: Channel,
}

impl Link {
    fn usable(&self) -> bool {
        self.conn.status().connected() && self.channel.status().connected()
    }

    /// Closes the channel, then the connection, politely and within
    /// [`CLOSE_TIMEOUT`]; failures (the usual case after a broker-side close)
    /// do not matter: the link is dropped either way.
    async fn close(self) {
        let closing = async {
            if self.channel.status().connected()
                && let Err(e) = self.channel.close(200, "OK".into()).await
            {
                tracing::debug!(error = %e, "closing the AMQP sink channel failed");
            }
            if self.conn.status().connected()
                && let Err(e) = self.conn.close(200, "OK".into()).await
            {
                tracing::debug!(error = %e, "closing the AMQP sink connection failed");
            }
        };
        if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
            tracing::debug!("closing the AMQP sink connection timed out; dropping it");
        }
    }
}

impl AmqpSink {
    /// A sink for `cfg`. Checks the config and starts the runtime; does not
    /// connect (the first [`Sink::send`] does).
    pub fn new(cfg: AmqpSinkConfig) -> Result<Self> {
        cfg.validate()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config_err(format!("cannot start the tokio runtime: {e}")))?;
        let connection_name = format!("aldebaran alerts sink -> {}", cfg.exchange);
        Ok(AmqpSink {
            cfg,
            connection_name,
            rt,
            link: None,
        })
    }
}

impl Sink for AmqpSink {
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        // An alert_id that cannot be a message_id never will be: publish the
        // records before it, then fail it permanently.
        let bad = batch
            .iter()
            .position(|r| r.alert_id.len() > MAX_SHORT_STRING);
        let sendable = &batch[..bad.unwrap_or(batch.len())];
        if !sendable.is_empty() {
            let AmqpSink {
                cfg,
                connection_name,
                rt,
                link,
            } = self;
            rt.block_on(send_on(cfg, connection_name, link, sendable))?;
        }
        match bad {
            None => Ok(()),
            Some(i) => Err(SendFailure {
                delivered: i,
                error: SendError::Permanent(format!(
                    "alert_id of seq {} is {} bytes long; an AMQP message_id holds {MAX_SHORT_STRING}",
                    batch[i].seq,
                    batch[i].alert_id.len()
                )),
            }),
        }
    }
}

impl Drop for AmqpSink {
    fn drop(&mut self) {
        // Close politely unless dropped inside some runtime (block_on would
        // panic there); the connection then just goes with the runtime.
        if let Some(link) = self.link.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            self.rt.block_on(link.close());
        }
    }
}

/// Connects if needed, publishes `batch`, and drops the link on failure.
async fn send_on(
    cfg: &AmqpSinkConfig,
    connection_name: &str,
    link: &mut Option<Link>,
    batch: &[Outgoing],
) -> Result<(), SendFailure> {
    // A connection lapin already knows is closed is not worth publishing
    // into. (Right after a broker-side close it often does not know yet: the
    // publishes then fail at once and the next send reconnects.)
    if let Some(stale) = link.take_if(|l| !l.usable()) {
        tracing::info!(exchange = %cfg.exchange, "AMQP sink connection lost; reconnecting");
        stale.close().await;
    }
    let current =
        match link {
            Some(l) => l,
            None => link.insert(open_link(cfg, connection_name).await.map_err(|reason| {
                SendFailure {
                    delivered: 0,
                    error: SendError::Transient(reason),
                }
            })?),
        };
    let outcome = publish(&current.channel, cfg, batch).await;
    if outcome.is_err()
        && let Some(failed) = link.take()
    {
        failed.close().await;
    }
    outcome
}

/// Connects, opens a channel in confirm mode and declares the topology, all
/// within the confirm timeout.
async fn open_link(cfg: &AmqpSinkConfig, connection_name: &str) -> Result<Link, String> {
    let deadline = Instant::now() + cfg.confirm_timeout();
    let props = ConnectionProperties::default().with_connection_name(connection_name.into());
    let conn = match timeout_at(deadline, Connection::connect(&cfg.url, props)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", redact(&cfg.url))),
        Err(_) => {
            return Err(format!(
                "cannot connect to {}: no answer within {} ms",
                redact(&cfg.url),
                cfg.confirm_timeout_ms
            ));
        }
    };
    let setup = async {
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| format!("opening a channel: {e}"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("enabling publisher confirms: {e}"))?;
        if cfg.declare {
            declare(&channel, cfg).await?;
        }
        Ok::<_, String>(channel)
    };
    let result = match timeout_at(deadline, setup).await {
        Ok(Ok(channel)) => {
            tracing::info!(url = %redact(&cfg.url), exchange = %cfg.exchange, "AMQP sink connected");
            return Ok(Link { conn, channel });
        }
        Ok(Err(e)) => Err(format!("{}: {e}", redact(&cfg.url))),
        Err(_) => Err(format!(
            "{}: channel setup got no answer within {} ms",
            redact(&cfg.url),
            cfg.confirm_timeout_ms
        )),
    };
    if let Err(e) = tokio::time::timeout(CLOSE_TIMEOUT, conn.close(200, "OK".into())).await {
        tracing::debug!(error = %e, "closing the AMQP sink connection timed out");
    }
    result
}

/// Declares the exchange (direct, durable), the queue (durable) and the
/// binding, skipping what the config leaves out. Idempotent.
async fn declare(channel: &Channel, cfg: &AmqpSinkConfig) -> Result<(), String> {
    let default_exchange = cfg.exchange.is_empty();
    if !default_exchange {
        channel
            .exchange_declare(
                cfg.exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("declaring exchange {}: {e}", cfg.exchange))?;
    }
    if cfg.queue.is_empty() {
        return Ok(());
    }
    channel
        .queue_declare(
            cfg.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("declaring queue {}: {e}", cfg.queue))?;
    // The default exchange binds every queue by its name already and
    // refuses explicit bindings.
    if !default_exchange {
        channel
            .queue_bind(
                cfg.queue.as_str().into(),
                cfg.exchange.as_str().into(),
                cfg.routing_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                format!(
                    "binding queue {} to exchange {} with key {}: {e}",
                    cfg.queue, cfg.exchange, cfg.routing_key
                )
            })?;
    }
    Ok(())
}

fn config_err(reason: String) -> AlertsError {
    AlertsError::Sink {
        sink: "amqp",
        reason,
    }
}

/// `url` with the password, if any, replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
#[path = "amqp_sink_tests.rs"]
mod tests;
