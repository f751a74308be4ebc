//! Opening the router's link: one connection to the first node of the list
//! that answers, the shards checked (never declared: see
//! `ingest::amqp::check_shards`), the input topology and the dead-letter
//! queue declared idempotently, an input channel that consumes with the
//! prefetch, an output channel with publisher confirms. Every step is
//! bounded in time and every failure classified, so the caller knows
//! whether the attempt is worth making again.

use std::time::Duration;

use broker::{Classified, Failure, Rotation, classify};
use ingest::amqp::{amqp_err, check_shards, close, connect_any, declare};
use lapin::{
    Channel, Connection, ConnectionProperties, Consumer,
    options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions},
    types::FieldTable,
};

use crate::{Result, RouteOptions, RouterError};

/// How long the setup of a connected link may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The consumer tag of the router on the input queue.
pub(crate) const CONSUMER_TAG: &str = "aldebaran-route";

/// A link ready to route.
pub(crate) struct Link {
    pub(crate) conn: Connection,
    /// Consumes the input and acknowledges it.
    pub(crate) input: Channel,
    pub(crate) consumer: Consumer,
    /// Publishes the outputs, in input order, with confirms.
    pub(crate) output: Channel,
}

/// Opens a link, from `rotation`'s preferred node on; on failure the
/// connection, if made, is closed and the next attempt starts at the next
/// node.
pub(crate) async fn open(o: &RouteOptions, rotation: &mut Rotation) -> Result<Link> {
    let props =
        ConnectionProperties::default().with_connection_name(o.connection_name.as_str().into());
    let conn = connect_any(&o.brokers, rotation, &o.tls, None, props).await?;
    let set_up = match tokio::time::timeout(SETUP_TIMEOUT, set_up(&conn, o)).await {
        Ok(r) => r,
        Err(_) => Err(RouterError::Amqp {
            message: format!(
                "setting up the link: no answer within {} s",
                SETUP_TIMEOUT.as_secs()
            ),
            class: classify(Failure::Timeout),
        }),
    };
    match set_up {
        Ok((input, consumer, output)) => Ok(Link {
            conn,
            input,
            consumer,
            output,
        }),
        Err(e) => {
            close(&conn).await;
            // A node that accepts connections but fails the setup (a quorum
            // queue whose leader it cannot reach yet): its peers first next
            // time. A missing shard is missing on every node, and fails the
            // start anyway.
            if e.class() == Classified::Transient {
                rotation.lost();
            }
            Err(e)
        }
    }
}

async fn set_up(conn: &Connection, o: &RouteOptions) -> Result<(Channel, Consumer, Channel)> {
    check_shards(conn, o.shards).await?;
    let input = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening the input channel", &e))?;
    declare(conn, &input, &o.input).await?;
    let dead = &o.dead_letter_queue;
    input
        .queue_declare(
            dead.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            o.input.queue_type.declare_args(),
        )
        .await
        .map_err(|e| {
            amqp_err(
                format!(
                    "declaring the dead-letter queue {dead} as {}",
                    o.input.queue_type
                ),
                &e,
            )
        })?;
    let output = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening the output channel", &e))?;
    output
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| amqp_err("enabling publisher confirms", &e))?;
    input
        .basic_qos(o.prefetch, BasicQosOptions { global: false })
        .await
        .map_err(|e| amqp_err(format!("setting prefetch {}", o.prefetch), &e))?;
    let queue = &o.input.trade_queue;
    let consumer = input
        .basic_consume(
            queue.as_str().into(),
            CONSUMER_TAG.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| amqp_err(format!("consuming queue {queue}"), &e))?;
    Ok((input, consumer, output))
}
