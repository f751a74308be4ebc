//! Opening the source's link to the broker: connect (named, with the
//! heartbeat asked for), open the consumer's channel and the probe's,
//! declare the topology, set the prefetch and start consuming — each step
//! bounded in time and each failure classified ([`IngestError::class`]), so
//! the source knows whether the attempt can succeed if made again.
//!
//! A consume refused because another consumer holds the queue exclusively
//! is [`IngestError::LeaseHeld`], told from a permission refusal (also 403)
//! by [`broker::consume_refusal`]; the connection is closed before it
//! returns, like after any failure, so asking again every 100 ms leaves
//! nothing behind.

use std::time::Instant;

use broker::{Brokers, ConsumeRefusal, Failure, Rotation, classify, consume_refusal_lapin};
use lapin::{
    Channel, Connection, ConnectionProperties, Consumer,
    options::{BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions},
    types::FieldTable,
};

use super::{
    AmqpSourceOptions,
    connect::{CONNECT_TIMEOUT, amqp_err, close, close_channel, connect_any},
    topology::declare,
};
use crate::{IngestError, Result};

/// The lease queue of input queue `queue`: `<queue>.lease`.
pub(super) fn lease_queue(queue: &str) -> String {
    format!("{queue}.lease")
}

/// A connection whose channel consumes the trade queue.
pub(super) struct Opened {
    pub(super) conn: Connection,
    pub(super) ch: Channel,
    pub(super) consumer: Consumer,
    /// A second channel of the same connection, for the liveness probe.
    pub(super) probe: Channel,
    /// When the consume that the broker answered was sent.
    pub(super) consumed_at: Instant,
}

/// Opens the link `o` describes, to the first node of `o.url`'s list that
/// answers in `rotation`'s order; on failure the connection, if made, is
/// closed (and the next attempt starts at the next node).
pub(super) async fn open(o: &AmqpSourceOptions, rotation: &mut Rotation) -> Result<Opened> {
    let props = ConnectionProperties::default().with_connection_name(o.connection_name().into());
    let brokers = Brokers::parse(&o.url)?;
    let conn = connect_any(&brokers, rotation, &o.tls, o.heartbeat_secs, props).await?;
    let opened = set_up_bounded(conn, o).await;
    if let Err(e) = &opened
        && !matches!(e, IngestError::LeaseHeld { .. })
    {
        // A node that accepts connections but fails the setup (a queue
        // whose leader it cannot reach yet): try its peers first next time.
        // A held lease is an answer, not a failure of the node.
        rotation.lost();
    }
    opened
}

/// The channels and the consume on `conn`, within [`CONNECT_TIMEOUT`].
async fn set_up_bounded(conn: Connection, o: &AmqpSourceOptions) -> Result<Opened> {
    // The setup is bounded too: a broker that accepts the connection but
    // never answers a declare would otherwise hold `run`'s start, or the
    // source, forever.
    match tokio::time::timeout(CONNECT_TIMEOUT, set_up(&conn, o)).await {
        Ok(Ok((ch, consumer, probe, consumed_at))) => Ok(Opened {
            conn,
            ch,
            consumer,
            probe,
            consumed_at,
        }),
        Ok(Err(e)) => {
            close(&conn).await;
            Err(e)
        }
        Err(_) => {
            close(&conn).await;
            Err(IngestError::Amqp {
                message: format!(
                    "setting up the channel: no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
                class: classify(Failure::Timeout),
            })
        }
    }
}

async fn set_up(
    conn: &Connection,
    o: &AmqpSourceOptions,
) -> Result<(Channel, Consumer, Channel, Instant)> {
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening a channel", &e))?;
    // Opened before the consume: once it holds the lease, nothing else
    // can fail.
    let probe = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening the probe's channel", &e))?;
    match consume(conn, &ch, o).await {
        Ok((consumer, at)) => Ok((ch, consumer, probe, at)),
        Err(e) => {
            // Left to `Drop`, lapin would close it racing the connection's
            // close (and log an error).
            close_channel(&probe).await;
            Err(e)
        }
    }
}

async fn consume(
    conn: &Connection,
    ch: &Channel,
    o: &AmqpSourceOptions,
) -> Result<(Consumer, Instant)> {
    declare(conn, ch, &o.topology).await?;
    ch.basic_qos(o.prefetch, BasicQosOptions { global: false })
        .await
        .map_err(|e| amqp_err(format!("setting prefetch {}", o.prefetch), &e))?;
    let queue = &o.topology.trade_queue;
    let lease_held = |e: &lapin::Error, what: String| match consume_refusal_lapin(e) {
        ConsumeRefusal::LeaseHeld => IngestError::LeaseHeld {
            queue: queue.clone(),
        },
        ConsumeRefusal::Other => amqp_err(what, e),
    };
    if o.exclusive {
        // The lease queue (`broker::consume_refusal`): a quorum queue does
        // not refuse a second exclusive consumer; the broker refuses this
        // exclusive queue to every other connection, and deletes it when
        // this one goes.
        let lease = lease_queue(queue);
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        ch.queue_declare(
            lease.as_str().into(),
            options,
            broker::QueueType::Classic.declare_args(),
        )
        .await
        .map_err(|e| lease_held(&e, format!("declaring the lease queue {lease}")))?;
    }
    let sent = Instant::now();
    let consumer = ch
        .basic_consume(
            queue.as_str().into(),
            o.consumer_tag.as_str().into(),
            BasicConsumeOptions {
                exclusive: o.exclusive,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        // Refused for a queue in exclusive use whether or not this consume
        // is exclusive itself: either way another consumer holds the lease.
        .map_err(|e| lease_held(&e, format!("consuming queue {queue}")))?;
    Ok((consumer, sent))
}
