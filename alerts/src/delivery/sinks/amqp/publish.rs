//! Publishing one batch for the AMQP sink: every record queued before any
//! confirm is awaited (pipelined publisher confirms), then the confirms in
//! order under one deadline; a returned (unroutable) message is matched to
//! its record by the `seq` header, not by which confirm lapin attaches it to.

use std::{future::Future, pin::Pin};

use lapin::{
    BasicProperties, Channel, Confirmation,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable, ShortString},
};
use tokio::time::{Instant, timeout_at};

use super::config::AmqpSinkConfig;
use crate::delivery::sink::{Outgoing, SendError, SendFailure};

/// A record on its way: queued for the socket, then awaiting its confirm.
type InFlight<'a> = Pin<Box<dyn Future<Output = lapin::Result<Confirmation>> + 'a>>;

/// Publishes every record of `batch` (all queued before any confirm is
/// awaited), then awaits the confirms in order under one deadline. `Ok` if
/// all were acked; otherwise the leading run of acks is `delivered`.
pub(super) async fn publish(
    channel: &Channel,
    cfg: &AmqpSinkConfig,
    batch: &[Outgoing],
) -> Result<(), SendFailure> {
    let mut pending: Vec<InFlight<'_>> = Vec::with_capacity(batch.len());
    for record in batch {
        let mut message: InFlight<'_> = Box::pin(publish_one(channel, cfg, record));
        // `basic_publish(..).await` resolves only once lapin's I/O thread has
        // written the frames; its first poll already queues them and takes the
        // delivery tag. Polling each once here keeps seq order and lets the
        // writes batch up (as ingest's publisher does).
        match futures_lite::future::poll_once(&mut message).await {
            Some(done) => pending.push(Box::pin(std::future::ready(done))),
            None => pending.push(message),
        }
    }
    let deadline = Instant::now() + cfg.confirm_timeout();
    // What went wrong with each record, if anything.
    let mut problems: Vec<Option<String>> = Vec::with_capacity(batch.len());
    // Returned messages, with the index of the confirm that carried them.
    let mut returns = Vec::new();
    // Every confirm is awaited, even after a failure, so none is dropped
    // pending (LAPIN-NOTES pitfall 4): after a nack or a return the rest come
    // promptly, after a lost connection they fail at once. Past the deadline
    // each is still polled once; those still pending are dropped with the
    // connection, which the caller closes.
    for (i, message) in pending.into_iter().enumerate() {
        problems.push(match timeout_at(deadline, message).await {
            Ok(Ok(Confirmation::Ack(None))) => None,
            Ok(Ok(Confirmation::Ack(Some(returned)))) => {
                returns.push((i, returned));
                None
            }
            Ok(Ok(Confirmation::Nack(returned))) => {
                returns.extend(returned.map(|r| (i, r)));
                Some("nacked by the broker (not stored)".to_owned())
            }
            Ok(Ok(Confirmation::NotRequested)) => {
                Some("internal error (a bug): publisher confirms are not enabled".to_owned())
            }
            Ok(Err(e)) => Some(format!("publishing to exchange {:?}: {e}", cfg.exchange)),
            Err(_) => Some(format!(
                "no publisher confirm within {} ms",
                cfg.confirm_timeout_ms
            )),
        });
    }
    // lapin hands a basic.return to whichever confirm completes next (with a
    // multiple ack, in hash-map order), not necessarily its own: the returned
    // message's own seq header or message_id says which record it was.
    for (carrier, returned) in returns {
        let i = returned_index(batch, &returned.delivery.properties).unwrap_or(carrier);
        problems[i] = Some(format!(
            "returned unroutable by exchange {:?} with routing key {:?} ({} {}): \
             no queue is bound for it",
            cfg.exchange, cfg.routing_key, returned.reply_code, returned.reply_text
        ));
    }
    match problems.iter().position(Option::is_some) {
        None => Ok(()),
        Some(i) => Err(SendFailure {
            delivered: i,
            error: SendError::Transient(format!(
                "alert seq {}: {}",
                batch[i].seq,
                problems[i].take().unwrap_or_default()
            )),
        }),
    }
}

/// Which record of `batch` a returned message with `properties` was: by its
/// `seq` header, else by its `message_id`.
pub(super) fn returned_index(batch: &[Outgoing], properties: &BasicProperties) -> Option<usize> {
    let seq = properties
        .headers()
        .as_ref()
        .and_then(|h| match h.inner().get("seq") {
            Some(AMQPValue::LongLongInt(n)) => u64::try_from(*n).ok(),
            _ => None,
        });
    if let Some(seq) = seq {
        return batch.iter().position(|r| r.seq == seq);
    }
    let id = properties.message_id().as_ref()?;
    batch.iter().position(|r| r.alert_id == id.as_str())
}

/// The header naming the fencing epoch of the node that shipped a message.
pub(super) const EPOCH_HEADER: &str = "x-aldebaran-epoch";

/// The `x-aldebaran-epoch` value of a record shipped at `epoch`, as an AMQP
/// long-long (what consumers in every language read as a plain integer);
/// none at 0 (no pair). The ship gate refuses epochs past `i64::MAX`, so the
/// saturation never happens for a gated shipper; it keeps a hand-built
/// record from panicking or wrapping negative.
pub(super) fn epoch_header(epoch: u64) -> Option<AMQPValue> {
    (epoch > 0).then(|| AMQPValue::LongLongInt(i64::try_from(epoch).unwrap_or(i64::MAX)))
}

/// Publishes one record (persistent, mandatory) and waits for its confirm.
async fn publish_one(
    channel: &Channel,
    cfg: &AmqpSinkConfig,
    record: &Outgoing,
) -> lapin::Result<Confirmation> {
    let mut headers = FieldTable::default();
    if let Ok(seq) = i64::try_from(record.seq) {
        headers.insert("seq".into(), AMQPValue::LongLongInt(seq));
    }
    if let Some(epoch) = epoch_header(record.epoch) {
        headers.insert(EPOCH_HEADER.into(), epoch);
    }
    // `ShortString::from` panics past 255 bytes: lengths were checked (the
    // config in `new`, the alert ids in `send`).
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(record.alert_id.as_str().into())
        .with_headers(headers);
    let confirm = channel
        .basic_publish(
            ShortString::from(cfg.exchange.as_str()),
            ShortString::from(cfg.routing_key.as_str()),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &record.json,
            properties,
        )
        .await?;
    confirm.await
}
