//! One link's share of a published file: from the first message the broker
//! has not confirmed to the end, or until the link fails.
//!
//! Pipelined (LAPIN-NOTES pitfalls 3 and 4): up to `in_flight` messages are
//! on their way at once, neither their socket write nor their broker
//! confirm awaited one by one; the oldest is awaited when the window is
//! full, and every confirm is awaited before the link is done, so none is
//! dropped unawaited. Confirms are settled in file order, so the
//! [`Progress`] always says where the unconfirmed part of the file begins.

use std::{borrow::Cow, collections::VecDeque, pin::Pin, time::Duration, time::Instant};

use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};

use broker::{Classified, Failure, classify, names, reply};

use super::{
    connect::{amqp_err, close_channel},
    line_batcher::LineBatcher,
    publisher::{Progress, PublishOptions},
    shard_key::{order_key, raw_key},
    topology::{check_shards, declare},
};
use crate::{IngestError, Result, parse::ParseScratch};

/// Why a link stopped before the end of the file.
#[derive(Debug)]
pub(super) enum Failed {
    /// The link went (its connection, or its channel for a reason that
    /// may pass): the file resumes on another.
    Lost(IngestError),
    /// The broker refused something on a link that works, or for a reason
    /// that stays: another link would be refused the same.
    Refused(IngestError),
}

/// Publishes what `progress` says is left of `data` on a channel of `conn`.
pub(super) async fn publish_link(
    conn: &Connection,
    data: &[u8],
    opts: &PublishOptions,
    progress: &mut Progress,
) -> std::result::Result<(), Failed> {
    let channel = match conn.create_channel().await {
        Ok(ch) => ch,
        Err(e) => return Err(Failed::Lost(amqp_err("opening a channel", &e))),
    };
    let result = on_channel(conn, &channel, data, opts, progress).await;
    let result = result.map_err(|e| {
        let channel_gone = !channel.status().connected();
        if !conn.status().connected() || channel_gone && e.class() == Classified::Transient {
            Failed::Lost(e)
        } else {
            Failed::Refused(e)
        }
    });
    close_channel(&channel).await;
    result
}

async fn on_channel(
    conn: &Connection,
    channel: &Channel,
    data: &[u8],
    opts: &PublishOptions,
    progress: &mut Progress,
) -> Result<()> {
    match opts.shards {
        Some(n) => check_shards(conn, n).await?,
        None => declare(conn, channel, &opts.topology).await?,
    }
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| amqp_err("enabling publisher confirms", &e))?;
    pipeline(channel, data, opts, progress).await
}

/// A message on its way: queued for the socket, then awaiting its confirm.
type InFlight<'a> = Pin<Box<dyn Future<Output = Result<Sent>> + 'a>>;

/// A confirmed message: its events, its bytes, and where the file's next
/// message starts.
struct Sent {
    events: u64,
    bytes: u64,
    end: usize,
}

/// Where each message goes.
struct Route<'a> {
    exchange: &'a str,
    /// `None`: each event's order id (the shards).
    key: Option<&'a str>,
}

async fn pipeline(
    channel: &Channel,
    data: &[u8],
    opts: &PublishOptions,
    progress: &mut Progress,
) -> Result<()> {
    let t = &opts.topology;
    let route = match opts.shards {
        Some(_) => Route {
            exchange: names::SHARD_EXCHANGE,
            key: None,
        },
        None => Route {
            exchange: &t.trade_exchange,
            key: Some(&t.trade_routing_key),
        },
    };
    let window = opts.in_flight.max(1);
    let mut pending: VecDeque<InFlight<'_>> = VecDeque::with_capacity(window);
    let mut batches = LineBatcher::at(data, progress.at, opts.batch);
    let mut scratch = ParseScratch::default();
    let start = *progress.started.get_or_insert_with(Instant::now);
    // Events before the next message, for the pacing: the confirmed ones
    // and those in flight.
    let mut queued = progress.report.events;
    while let Some((events, body)) = batches.next_body() {
        let end = batches.position();
        if let Some(rate) = opts.rate {
            let due = start + schedule(queued, rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        if pending.len() >= window
            && let Some(oldest) = pending.pop_front()
        {
            settle(progress, oldest.await?);
        }
        if end <= progress.sent_to {
            progress.report.republished += 1;
        }
        progress.sent_to = progress.sent_to.max(end);
        queued += events as u64;
        let key = match route.key {
            Some(key) => key.to_owned(),
            // One line per message here (`publish_file` refuses more).
            None => order_key(&body, &mut scratch)
                .map(str::to_owned)
                .unwrap_or_else(|_| raw_key(&body)),
        };
        let sent = Sent {
            events: events as u64,
            bytes: body.len() as u64,
            end,
        };
        let mut message: InFlight<'_> =
            Box::pin(publish_confirmed(channel, route.exchange, key, body, sent));
        // `basic_publish(..).await` resolves only once lapin's I/O thread has
        // written the frames: awaiting it per message costs a thread round
        // trip each (~4k msg/s on a loaded machine). Its first poll queues the
        // frames and takes the delivery tag synchronously, so polling each
        // message once here keeps file order and lets writes batch up.
        match futures_lite::future::poll_once(&mut message).await {
            // Done at once (an error, in practice): keep it in line.
            Some(done) => pending.push_back(Box::pin(std::future::ready(done))),
            None => pending.push_back(message),
        }
    }
    while let Some(oldest) = pending.pop_front() {
        settle(progress, oldest.await?);
    }
    Ok(())
}

/// The oldest message in flight is confirmed: the file is stored up to
/// its end.
fn settle(progress: &mut Progress, sent: Sent) {
    let r = &mut progress.report;
    r.events += sent.events;
    r.messages += 1;
    r.bytes += sent.bytes;
    progress.at = sent.end;
    progress.last_progress = Instant::now();
}

/// Publishes one persistent, mandatory message (an unroutable message comes
/// back as an error rather than vanishing) and waits for its confirm.
async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    key: String,
    body: Cow<'_, [u8]>,
    sent: Sent,
) -> Result<Sent> {
    let props = BasicProperties::default().with_delivery_mode(2);
    let what = format!("publishing to exchange {exchange}");
    publish_mandatory(channel, exchange, &key, &body, props, &what).await?;
    Ok(sent)
}

/// Publishes one mandatory message (an unroutable one comes back as an
/// error rather than vanishing) and waits for its confirm ([`confirmed`]);
/// a failure to publish is `what` with lapin's reason. Both confirming
/// publishers (`publish`, the router) send through it.
pub async fn publish_mandatory(
    channel: &Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    props: BasicProperties,
    what: &str,
) -> Result<()> {
    let confirm = channel
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body,
            props,
        )
        .await
        .map_err(|e| amqp_err(what, &e))?;
    confirmed(confirm, exchange, key).await
}

/// Waits for the broker's confirm of one message published to `exchange`
/// with routing key `key`: anything but a plain ack is an error — returned
/// unroutable (a mandatory publish no queue took), nacked (not stored, a
/// disk alarm say: transient), the link failed meanwhile — naming the
/// exchange and the key. Every confirming publisher of the project's
/// clients (`publish`, the router) settles its confirms with it.
pub async fn confirmed(confirm: PublisherConfirm, exchange: &str, key: &str) -> Result<()> {
    let shown = if exchange.is_empty() {
        "the default exchange".to_owned()
    } else {
        format!("exchange {exchange}")
    };
    match confirm.await {
        Ok(Confirmation::Ack(None)) => Ok(()),
        Ok(Confirmation::Ack(Some(_))) => Err(IngestError::Amqp {
            message: format!("message returned unroutable by {shown} with routing key {key}"),
            class: classify(Failure::Reply(reply::NO_ROUTE)),
        }),
        Ok(Confirmation::Nack(_)) => Err(IngestError::Amqp {
            message: format!("the broker nacked a message for {shown} (not stored)"),
            class: Classified::Transient,
        }),
        Ok(Confirmation::NotRequested) => Err(IngestError::Amqp {
            message: "internal error (a bug): publisher confirms are not enabled".to_owned(),
            class: Classified::Permanent,
        }),
        Err(e) => Err(amqp_err("waiting for a publisher confirm", &e)),
    }
}

/// When the message after the first `events_before` events is due, from the
/// start, at `rate` events per second: the first message goes at once and
/// each message waits for the events before it to have had their time.
fn schedule(events_before: u64, rate: u64) -> Duration {
    Duration::from_secs_f64(events_before as f64 / rate.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_spreads_events_over_the_rate() {
        assert_eq!(schedule(0, 1000), Duration::ZERO);
        assert_eq!(schedule(500, 1000), Duration::from_millis(500));
        assert_eq!(schedule(3000, 1000), Duration::from_secs(3));
    }
}
