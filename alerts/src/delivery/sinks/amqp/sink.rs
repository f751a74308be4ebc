//! The AMQP sink itself: its own runtime, the connection (opened on first
//! send, dropped after any failure), the topology declaration, and `send`.

use std::time::Duration;

use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::FieldTable,
};
use tokio::time::{Instant, timeout_at};

use broker::{Classified, Failure, classify, describe, describe_connect};

use super::config::{AmqpSinkConfig, MAX_SHORT_STRING, config_err, redact};
use super::publish::publish;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::error::Result;

/// Records per [`Sink::send`]: one batch of pipelined publishes.
const MAX_BATCH: usize = 1024;

/// How long closing a dropped connection may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A sink publishing alerts to RabbitMQ with publisher confirms.
pub(crate) struct AmqpSink {
    cfg: AmqpSinkConfig,
    /// The TLS files of `cfg`, read and checked at construction.
    tls: broker::Tls,
    /// `cfg`'s broker URLs, parsed at construction.
    brokers: broker::Brokers,
    /// Which of them the next connect tries first.
    rotation: broker::Rotation,
    /// Shown by the broker (`rabbitmqctl list_connections client_properties`).
    pub(super) connection_name: String,
    rt: tokio::runtime::Runtime,
    /// The open connection, if any; dropped after any failure.
    link: Option<Link>,
}

impl std::fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSink")
            .field("url", &self.brokers.shown())
            .field("tls", &self.tls)
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
    pub(crate) fn new(cfg: AmqpSinkConfig) -> Result<Self> {
        cfg.validate()?;
        let tls = cfg.load_tls()?;
        let brokers = cfg.brokers()?;
        let rotation = broker::Rotation::new(brokers.len());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config_err(format!("cannot start the tokio runtime: {e}")))?;
        let connection_name = format!("aldebaran alerts sink -> {}", cfg.exchange);
        Ok(AmqpSink {
            cfg,
            tls,
            brokers,
            rotation,
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
                tls,
                brokers,
                rotation,
                connection_name,
                rt,
                link,
            } = self;
            let to = Brokers {
                brokers,
                rotation,
                tls,
            };
            rt.block_on(send_on(cfg, to, connection_name, link, sendable))?;
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

/// Where [`send_on`] connects: the list, its rotation and the TLS files.
struct Brokers<'a> {
    brokers: &'a broker::Brokers,
    rotation: &'a mut broker::Rotation,
    tls: &'a broker::Tls,
}

/// Connects if needed, publishes `batch`, and drops the link on failure
/// (the next connect then starts with the next broker of the list).
async fn send_on(
    cfg: &AmqpSinkConfig,
    to: Brokers<'_>,
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
        to.rotation.lost();
    }
    let current = match link {
        Some(l) => l,
        None => link.insert(
            open_link(cfg, to.brokers, to.rotation, to.tls, connection_name)
                .await
                .map_err(|error| SendFailure {
                    delivered: 0,
                    error,
                })?,
        ),
    };
    let outcome = publish(&current.channel, cfg, batch).await;
    if outcome.is_err()
        && let Some(failed) = link.take()
    {
        failed.close().await;
        to.rotation.lost();
    }
    outcome
}

/// One round over the brokers of the list, each within the confirm
/// timeout, from the one `rotation` prefers; the first that connects is
/// settled on. When none does: [`SendError::EndpointDown`] if every one
/// refused this sink's credentials or certificate (only an operator fixes
/// that), else [`SendError::Transient`] with each broker's reason.
async fn open_link(
    cfg: &AmqpSinkConfig,
    brokers: &broker::Brokers,
    rotation: &mut broker::Rotation,
    tls: &broker::Tls,
    connection_name: &str,
) -> Result<Link, SendError> {
    let mut reasons = Vec::new();
    let mut all_refused = true;
    for node in rotation.round() {
        match open_one(cfg, &brokers.urls()[node], tls, connection_name).await {
            Ok(link) => {
                rotation.settle(node);
                return Ok(link);
            }
            Err(e) if brokers.len() == 1 => return Err(e),
            Err(SendError::EndpointDown(r)) => reasons.push(r),
            Err(SendError::Transient(r) | SendError::Permanent(r)) => {
                all_refused = false;
                reasons.push(r);
            }
        }
    }
    let reason = format!(
        "no broker of the {} in the list answered: {}",
        reasons.len(),
        reasons.join("; ")
    );
    Err(if all_refused {
        SendError::EndpointDown(reason)
    } else {
        SendError::Transient(reason)
    })
}

/// Connects, opens a channel in confirm mode and declares the topology, all
/// within the confirm timeout. Every failure is transient (the broker may be
/// down or restarting) except a refused login or a TLS handshake that a
/// certificate failed, which are the broker refusing this sink's
/// credentials (or this sink refusing the broker's) for every alert: the
/// sink pauses.
async fn open_one(
    cfg: &AmqpSinkConfig,
    url: &str,
    tls: &broker::Tls,
    connection_name: &str,
) -> Result<Link, SendError> {
    let deadline = Instant::now() + cfg.confirm_timeout();
    let props = ConnectionProperties::default().with_connection_name(connection_name.into());
    // Checked at construction; a failure here would be a bug, and it is
    // reported like any other rather than trusted away.
    let target = broker::target(url, tls).map_err(|e| SendError::EndpointDown(e.to_string()))?;
    let tls_used = target.uri.scheme == lapin::uri::AMQPScheme::AMQPS;
    let lapin_runtime = lapin::runtime::default_runtime().map_err(|e| {
        SendError::Transient(format!("cannot start lapin's runtime: {}", describe(&e)))
    })?;
    let connecting =
        Connection::connect_uri_with_config(target.uri, props, target.tls, lapin_runtime);
    let conn = match timeout_at(deadline, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            let reason = format!(
                "cannot connect to {}: {}",
                redact(url),
                describe_connect(&e, tls_used, tls)
            );
            return Err(if needs_an_operator(&e) {
                SendError::EndpointDown(reason)
            } else {
                SendError::Transient(reason)
            });
        }
        Err(_) => {
            return Err(SendError::Transient(format!(
                "cannot connect to {}: no answer within {} ms",
                redact(url),
                cfg.confirm_timeout_ms
            )));
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
            tracing::info!(url = %redact(url), exchange = %cfg.exchange, "AMQP sink connected");
            return Ok(Link { conn, channel });
        }
        Ok(Err(e)) => Err(format!("{}: {e}", redact(url))),
        Err(_) => Err(format!(
            "{}: channel setup got no answer within {} ms",
            redact(url),
            cfg.confirm_timeout_ms
        )),
    };
    if let Err(e) = tokio::time::timeout(CLOSE_TIMEOUT, conn.close(200, "OK".into())).await {
        tracing::debug!(error = %e, "closing the AMQP sink connection timed out");
    }
    result.map_err(SendError::Transient)
}

/// The broker closed the connection with ACCESS_REFUSED (403: a wrong user,
/// password or vhost permission), or the TLS handshake failed for a reason
/// only a changed certificate, CA file or port fixes.
fn needs_an_operator(e: &lapin::Error) -> bool {
    match Failure::of(e) {
        Failure::Reply(code) => code == broker::reply::ACCESS_REFUSED,
        failure @ Failure::Tls(_) => classify(failure) == Classified::Permanent,
        _ => false,
    }
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
            cfg.queue_type.declare_args(),
        )
        .await
        .map_err(|e| format!("declaring queue {} as {}: {e}", cfg.queue, cfg.queue_type))?;
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
