//! The SPEC §5 AMQP topology and its idempotent declaration.
//!
//! Trades: exchange `Aldebaran.Trade_Data` (direct, durable) → queue
//! `Aldebaran.Trade_Data` (durable), routing key `Aldebaran.Trade_Data`.
//! Alerts: exchange `Aldebaran.Alert` (direct, durable) → queue
//! `Aldebaran.Alert` (durable), routing key `Alert`.
//!
//! Shards (SPEC §8): exchange `Aldebaran.Shards` (`x-consistent-hash`,
//! durable) → queues `Aldebaran.Trade_Data.0 … N-1`, each bound with the
//! same weight, so each holds an equal share of the order ids' hash ring.
//! Only [`declare_shards`] (`aldebaran declare --shards N`) creates them:
//! the exchange places a key by the queues bound at the moment, so a client
//! that bound one more queue (a router started with a larger N) would move
//! orders between shards mid-stream. Every other client checks them
//! ([`check_shards`]: the N queues exist, queue N does not) and a shard's
//! engine finds its queue or fails ([`Topology::for_shard`]).
//!
//! Queues are declared with their type named (`x-queue-type`, classic by
//! default, quorum on a cluster): a queue that exists with another type or
//! other arguments is refused by the broker, and the error names the queue
//! and the argument.

use lapin::{
    Channel, Connection, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};

use broker::{QueueType, Tls, names};

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
    /// The type both queues are declared with.
    pub queue_type: QueueType,
    /// `Some(k)`: the trade queue is shard `k`'s, which must exist (it is
    /// checked, never declared nor bound; see the module doc).
    pub shard: Option<u32>,
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
            queue_type: QueueType::Classic,
            shard: None,
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

    /// Shard `k`'s topology: its queue `Aldebaran.Trade_Data.<k>` (checked
    /// to exist), the SPEC alert route.
    pub fn for_shard(k: u32) -> Self {
        Topology {
            trade_exchange: names::SHARD_EXCHANGE.to_owned(),
            trade_queue: names::shard_queue(k),
            trade_routing_key: String::new(),
            shard: Some(k),
            ..Topology::default()
        }
    }

    /// The same with queues of type `queue_type`.
    pub fn with_queue_type(self, queue_type: QueueType) -> Self {
        Topology { queue_type, ..self }
    }
}

/// Declares both exchanges (direct, durable), both queues (durable) and
/// their bindings. Idempotent: declaring what exists with the same
/// properties is a no-op for the broker.
///
/// On error the broker closes `channel`.
pub async fn declare(conn: &Connection, channel: &Channel, t: &Topology) -> Result<()> {
    let mut routes = vec![(&t.alert_exchange, &t.alert_queue, &t.alert_routing_key)];
    match t.shard {
        Some(k) => check_shard_queue(conn, k).await?,
        None => routes.insert(0, (&t.trade_exchange, &t.trade_queue, &t.trade_routing_key)),
    }
    for (exchange, queue, key) in routes {
        declare_exchange(channel, exchange, ExchangeKind::Direct).await?;
        declare_queue(channel, queue, t.queue_type).await?;
        bind(channel, queue, exchange, key).await?;
    }
    Ok(())
}

/// Declares the shards' exchange and `shards` queues `Aldebaran.Trade_Data.0
/// … shards-1` of type `queue_type`, each bound with the same weight, then
/// [`check_shards`]. Idempotent.
pub async fn declare_shards(
    conn: &Connection,
    channel: &Channel,
    shards: u32,
    queue_type: QueueType,
) -> Result<()> {
    let exchange = names::SHARD_EXCHANGE;
    declare_exchange(
        channel,
        exchange,
        ExchangeKind::Custom("x-consistent-hash".to_owned()),
    )
    .await
    .map_err(|e| e.context("(is the rabbitmq_consistent_hash_exchange plugin enabled?)"))?;
    for k in 0..shards {
        let queue = names::shard_queue(k);
        declare_queue(channel, &queue, queue_type).await?;
        bind(channel, &queue, exchange, names::SHARD_WEIGHT).await?;
    }
    check_shards(conn, shards).await
}

/// Checks that the shards' topology has `shards` queues: each of
/// `Aldebaran.Trade_Data.0 … shards-1` exists and `Aldebaran.Trade_Data.<shards>`
/// does not (a deployment with more shards than this client expects would
/// place orders on queues it does not know of). Each check runs on a
/// channel of its own, which a missing queue closes.
pub async fn check_shards(conn: &Connection, shards: u32) -> Result<()> {
    for k in 0..shards {
        check_shard_queue(conn, k).await?;
    }
    let next = names::shard_queue(shards);
    if queue_exists(conn, &next).await? {
        return Err(crate::IngestError::Amqp {
            message: format!(
                "queue {next} exists: the deployment has more than {shards} shards (give the \
                 --shards it was declared with)"
            ),
            class: broker::Classified::Permanent,
        });
    }
    Ok(())
}

/// Shard `k`'s queue exists, or the error says how to make it.
async fn check_shard_queue(conn: &Connection, k: u32) -> Result<()> {
    let queue = names::shard_queue(k);
    if queue_exists(conn, &queue).await? {
        Ok(())
    } else {
        Err(crate::IngestError::Amqp {
            message: format!(
                "shard queue {queue} does not exist: declare the shards first \
                 (aldebaran declare --shards N)"
            ),
            class: broker::Classified::Permanent,
        })
    }
}

/// Whether `queue` exists: a passive declare on a channel of its own (a
/// passive declare of a missing queue closes its channel).
async fn queue_exists(conn: &Connection, queue: &str) -> Result<bool> {
    let probe = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening a channel", &e))?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let answer = probe
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await;
    match answer {
        Ok(_) => {
            close_channel(&probe).await;
            Ok(true)
        }
        Err(e) if broker::Failure::of(&e) == broker::Failure::Reply(broker::reply::NOT_FOUND) => {
            Ok(false)
        }
        Err(e) => Err(amqp_err(format!("checking queue {queue}"), &e)),
    }
}

async fn declare_exchange(channel: &Channel, exchange: &str, kind: ExchangeKind) -> Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(exchange.into(), kind, durable, FieldTable::default())
        .await
        .map_err(|e| amqp_err(format!("declaring exchange {exchange}"), &e))
}

async fn declare_queue(channel: &Channel, queue: &str, queue_type: QueueType) -> Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.into(), durable, queue_type.declare_args())
        .await
        .map(drop)
        .map_err(|e| {
            let mismatch = broker::Failure::of(&e)
                == broker::Failure::Reply(broker::reply::PRECONDITION_FAILED);
            let hint = if mismatch {
                " (the queue exists with other arguments: declare it as it is, or delete it \
                 once it is drained)"
            } else {
                ""
            };
            amqp_err(format!("declaring queue {queue} as {queue_type}"), &e).context(hint)
        })
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| {
            amqp_err(
                format!("binding queue {queue} to {exchange} with key {key}"),
                &e,
            )
        })
}

/// [`declare`] from synchronous code: builds a current-thread tokio runtime,
/// connects to one of `urls` (with `tls` for `amqps://`), declares `t` (and
/// with `shards`, [`declare_shards`]) and closes the connection.
pub fn declare_blocking(urls: &str, tls: &Tls, t: &Topology, shards: Option<u32>) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let conn = connect(urls, tls).await?;
        let result = async {
            let channel = conn
                .create_channel()
                .await
                .map_err(|e| amqp_err("opening a channel", &e))?;
            let mut declared = declare(&conn, &channel, t).await;
            if let (Ok(()), Some(n)) = (&declared, shards) {
                declared = declare_shards(&conn, &channel, n, t.queue_type).await;
            }
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
