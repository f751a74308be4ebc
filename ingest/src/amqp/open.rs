//! Opening the source's link to the broker: connect, open a channel,
//! declare the topology, set the prefetch and start consuming — each step
//! bounded in time and each failure classified ([`IngestError::class`]), so
//! the source knows whether the attempt can succeed if made again.

use broker::{Failure, classify};
use lapin::{
    Channel, Connection, Consumer,
    options::{BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
};

use super::{
    AmqpSourceOptions,
    connect::{CONNECT_TIMEOUT, amqp_err, close, connect},
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
    let conn = connect(&o.url).await?;
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
    declare(&ch, &o.topology).await?;
    ch.basic_qos(o.prefetch, BasicQosOptions { global: false })
        .await
        .map_err(|e| amqp_err(format!("setting prefetch {}", o.prefetch), &e))?;
    let consumer = ch
        .basic_consume(
            o.topology.trade_queue.as_str().into(),
            o.consumer_tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| amqp_err(format!("consuming queue {}", o.topology.trade_queue), &e))?;
    Ok((ch, consumer))
}
