//! Opening the source's link to the broker: connect (named, with the
//! heartbeat asked for), open a channel, declare the topology, set the prefetch and start consuming — each step
//! bounded in time and each failure classified ([`IngestError::class`]), so
//! the source knows whether the attempt can succeed if made again.
//!
//! A consume refused because another consumer holds the queue exclusively
//! is [`IngestError::LeaseHeld`], told from a permission refusal (also 403)
//! by [`broker::consume_refusal`]; the connection is closed before it
//! returns, like after any failure, so asking again every 100 ms leaves
//! nothing behind.

use broker::{ConsumeRefusal, Failure, classify, consume_refusal_lapin};
use lapin::{
    Channel, Connection, ConnectionProperties, Consumer,
    options::{BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
};

use super::{
    AmqpSourceOptions,
    connect::{CONNECT_TIMEOUT, amqp_err, close, connect_with},
    topology::declare,
};
use crate::{IngestError, Result};

/// A connection whose channel consumes the trade queue.
pub(super) struct Opened {
    pub(super) conn: Connection,
    pub(super) ch: Channel,
    pub(super) consumer: Consumer,
}

/// Opens the link `o` describes; on failure the connection, if made, is
/// closed.
pub(super) async fn open(o: &AmqpSourceOptions) -> Result<Opened> {
    let props = ConnectionProperties::default().with_connection_name(o.connection_name().into());
    let conn = connect_with(&o.url, o.heartbeat_secs, props).await?;
    // The setup is bounded too: a broker that accepts the connection but
    // never answers a declare would otherwise hold `run`'s start, or the
    // source, forever.
    match tokio::time::timeout(CONNECT_TIMEOUT, set_up(&conn, o)).await {
        Ok(Ok((ch, consumer))) => Ok(Opened { conn, ch, consumer }),
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

async fn set_up(conn: &Connection, o: &AmqpSourceOptions) -> Result<(Channel, Consumer)> {
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening a channel", &e))?;
    let consumer = consume(&ch, o).await?;
    Ok((ch, consumer))
}

async fn consume(ch: &Channel, o: &AmqpSourceOptions) -> Result<Consumer> {
    declare(ch, &o.topology).await?;
    ch.basic_qos(o.prefetch, BasicQosOptions { global: false })
        .await
        .map_err(|e| amqp_err(format!("setting prefetch {}", o.prefetch), &e))?;
    let queue = &o.topology.trade_queue;
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
        .map_err(|e| match consume_refusal_lapin(&e) {
            ConsumeRefusal::LeaseHeld => IngestError::LeaseHeld {
                queue: queue.clone(),
            },
            ConsumeRefusal::Other => amqp_err(format!("consuming queue {queue}"), &e),
        })?;
    Ok(consumer)
}
