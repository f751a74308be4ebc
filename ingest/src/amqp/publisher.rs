//! A confirming publisher of trade files: each non-blank line of the file is
//! an event; `batch` events make one persistent message whose body is those
//! lines joined by `\n` (JSON Lines, no trailing newline).
//!
//! Throughput comes from pipelining (LAPIN-NOTES pitfalls 3 and 4): up to
//! `in_flight` messages are on their way at once, neither their socket write
//! nor their broker confirm awaited one by one; the oldest is awaited when the
//! window is full, and every confirm is awaited before the report, so none is
//! dropped unawaited. A nack, an unroutable message or a closed channel is an
//! error: the file was not fully published.
//!
//! Runs on a current-thread tokio runtime of its own; lapin adds its I/O thread.

use std::{
    borrow::Cow,
    collections::VecDeque,
    path::Path,
    pin::Pin,
    time::{Duration, Instant},
};

use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};

use broker::{Classified, Failure, Tls, classify, reply};

use super::{
    connect::{amqp_err, close, close_channel, connect, runtime},
    topology::{Topology, declare},
};
use crate::{IngestError, Result, parse::is_blank, source::MappedFile};

/// What [`publish_file`] publishes, where, and how fast.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Declared first; messages go to its trade exchange with its trade routing key.
    pub topology: Topology,
    /// Events per second at most (`None`: as fast as the broker confirms).
    pub rate: Option<u64>,
    /// Events per message (JSON Lines body); 0 is taken as 1.
    pub batch: usize,
    /// Publishes awaiting a broker confirm at most; 0 is taken as 1.
    pub in_flight: usize,
    /// TLS for an `amqps://` URL (default: the bundled roots, no client
    /// certificate).
    pub tls: Tls,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            topology: Topology::default(),
            rate: None,
            batch: 1,
            in_flight: 256,
            tls: Tls::default(),
        }
    }
}

/// What [`publish_file`] did; every message counted was confirmed by the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    /// Events (non-blank lines) published.
    pub events: u64,
    /// Messages published.
    pub messages: u64,
    /// Body bytes published.
    pub bytes: u64,
    /// From the first publish to the last confirm (connect and declare excluded).
    pub elapsed: Duration,
}

/// Publishes every non-blank line of `path` to the trade exchange of
/// `opts.topology`, `opts.batch` lines per persistent message, after
/// declaring the topology; returns when the broker has confirmed all of them.
pub fn publish_file(path: &Path, opts: &PublishOptions) -> Result<PublishReport> {
    let input = MappedFile::open(path)?;
    let rt = runtime()?;
    rt.block_on(async {
        let conn = connect(&opts.url, &opts.tls).await?;
        let result = publish_on(&conn, input.bytes(), opts).await;
        close(&conn).await;
        result
    })
}

async fn publish_on(
    conn: &Connection,
    data: &[u8],
    opts: &PublishOptions,
) -> Result<PublishReport> {
    let channel = conn
        .create_channel()
        .await
        .map_err(|e| amqp_err("opening a channel", &e))?;
    let result = publish_channel(conn, &channel, data, opts).await;
    close_channel(&channel).await;
    result
}

/// A message on its way: queued for the socket, then awaiting its confirm;
/// yields its event count once confirmed.
type InFlight<'a> = Pin<Box<dyn Future<Output = Result<u64>> + 'a>>;

async fn publish_channel(
    conn: &Connection,
    channel: &Channel,
    data: &[u8],
    opts: &PublishOptions,
) -> Result<PublishReport> {
    let t = &opts.topology;
    declare(conn, channel, t).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| amqp_err("enabling publisher confirms", &e))?;
    let mut confirmed = 0;
    pipeline(channel, data, opts, &mut confirmed)
        .await
        .map_err(|e| match e {
            // Confirms are awaited in order: tell what is known to be stored.
            IngestError::Amqp { message, class } => IngestError::Amqp {
                message: format!("{message} (the first {confirmed} events were confirmed)"),
                class,
            },
            other => other,
        })
}

/// Publishes every message, `in_flight` at most on their way; `confirmed`
/// counts the events of the file's leading messages the broker confirmed.
async fn pipeline(
    channel: &Channel,
    data: &[u8],
    opts: &PublishOptions,
    confirmed: &mut u64,
) -> Result<PublishReport> {
    let t = &opts.topology;
    let window = opts.in_flight.max(1);
    let mut pending: VecDeque<InFlight<'_>> = VecDeque::with_capacity(window);
    let mut batches = LineBatcher::new(data, opts.batch.max(1));
    let mut report = PublishReport {
        events: 0,
        messages: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    while let Some((events, body)) = batches.next_body() {
        if let Some(rate) = opts.rate {
            let due = start + schedule(report.events, rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        if pending.len() >= window
            && let Some(oldest) = pending.pop_front()
        {
            *confirmed += oldest.await?;
        }
        report.events += events as u64;
        report.messages += 1;
        report.bytes += body.len() as u64;
        let mut message: InFlight<'_> = Box::pin(publish_confirmed(channel, t, body, events));
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
        *confirmed += oldest.await?;
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Publishes one persistent, mandatory message (an unroutable message comes
/// back as an error rather than vanishing) and waits for its confirm.
async fn publish_confirmed(
    channel: &Channel,
    t: &Topology,
    body: Cow<'_, [u8]>,
    events: usize,
) -> Result<u64> {
    let confirm = channel
        .basic_publish(
            t.trade_exchange.as_str().into(),
            t.trade_routing_key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .map_err(|e| amqp_err(format!("publishing to exchange {}", t.trade_exchange), &e))?;
    confirmed(confirm, t).await?;
    Ok(events as u64)
}

/// Waits for one confirm; anything but a plain ack is an error.
async fn confirmed(confirm: PublisherConfirm, t: &Topology) -> Result<()> {
    match confirm.await {
        Ok(Confirmation::Ack(None)) => Ok(()),
        Ok(Confirmation::Ack(Some(_))) => Err(IngestError::Amqp {
            message: format!(
                "message returned unroutable by exchange {} with routing key {}",
                t.trade_exchange, t.trade_routing_key
            ),
            class: classify(Failure::Reply(reply::NO_ROUTE)),
        }),
        // The broker could not store it (e.g. a disk alarm): it may later.
        Ok(Confirmation::Nack(_)) => Err(IngestError::Amqp {
            message: "the broker nacked a message (not stored)".to_owned(),
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

/// Splits `data` into lines (`\n`-terminated, the last one maybe not), skips
/// blank ones (as replay does) and groups `batch` per message body.
struct LineBatcher<'a> {
    data: &'a [u8],
    at: usize,
    batch: usize,
}

impl<'a> LineBatcher<'a> {
    fn new(data: &'a [u8], batch: usize) -> Self {
        LineBatcher {
            data,
            at: 0,
            batch: batch.max(1),
        }
    }

    /// The next up to `batch` non-blank lines joined by `\n`, and how many;
    /// `None` at the end of the data. The body borrows the file when its
    /// lines are adjacent there (no blank line between them), as is usual.
    fn next_body(&mut self) -> Option<(usize, Cow<'a, [u8]>)> {
        let data = self.data;
        let mut n = 0;
        // The adjacent lines so far, as a span of `data`, until a blank line
        // in the middle forces a copy.
        let mut span = (0, 0);
        let mut copy: Option<Vec<u8>> = None;
        let mut gap = false;
        while n < self.batch && self.at < data.len() {
            let start = self.at;
            let len = memchr::memchr(b'\n', &data[start..]).unwrap_or(data.len() - start);
            let line = &data[start..start + len];
            self.at = start + len + 1;
            if is_blank(line) {
                gap = n > 0;
                continue;
            }
            if let Some(buf) = copy.as_mut() {
                buf.push(b'\n');
                buf.extend_from_slice(line);
            } else if n == 0 {
                span = (start, start + len);
            } else if !gap {
                span.1 = start + len;
            } else {
                let mut buf = Vec::with_capacity(span.1 - span.0 + 1 + len);
                buf.extend_from_slice(&data[span.0..span.1]);
                buf.push(b'\n');
                buf.extend_from_slice(line);
                copy = Some(buf);
            }
            n += 1;
        }
        match (n, copy) {
            (0, _) => None,
            (n, Some(buf)) => Some((n, Cow::Owned(buf))),
            (n, None) => Some((n, Cow::Borrowed(&data[span.0..span.1]))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(data: &[u8], batch: usize) -> Vec<(usize, String)> {
        let mut b = LineBatcher::new(data, batch);
        let mut out = Vec::new();
        while let Some((n, body)) = b.next_body() {
            out.push((n, String::from_utf8_lossy(&body).into_owned()));
        }
        out
    }

    #[test]
    fn lines_are_grouped_and_blank_lines_skipped() {
        let data = b"a\n\nb\n \t\r\nc\r\nd\ne";
        assert_eq!(
            bodies(data, 1),
            [(1, "a"), (1, "b"), (1, "c\r"), (1, "d"), (1, "e")].map(|(n, s)| (n, s.to_owned()))
        );
        assert_eq!(
            bodies(data, 2),
            [(2, "a\nb"), (2, "c\r\nd"), (1, "e")].map(|(n, s)| (n, s.to_owned()))
        );
        assert_eq!(bodies(data, 100), [(5, "a\nb\nc\r\nd\ne".to_owned())]);
        assert_eq!(bodies(b"a\n", 0), [(1, "a".to_owned())]);
    }

    #[test]
    fn adjacent_lines_are_not_copied() {
        let data = b"a\nb\n\nc\nd\n";
        let mut b = LineBatcher::new(data, 2);
        let bodies: Vec<_> = std::iter::from_fn(|| b.next_body()).collect();
        assert!(
            matches!(&bodies[0], (2, Cow::Borrowed(b"a\nb"))),
            "{bodies:?}"
        );
        assert!(
            matches!(&bodies[1], (2, Cow::Borrowed(b"c\nd"))),
            "{bodies:?}"
        );
        let mut b = LineBatcher::new(data, 3);
        let bodies: Vec<_> = std::iter::from_fn(|| b.next_body()).collect();
        assert!(
            matches!(&bodies[0], (3, Cow::Owned(v)) if v == b"a\nb\nc"),
            "{bodies:?}"
        );
        assert!(matches!(&bodies[1], (1, Cow::Borrowed(b"d"))), "{bodies:?}");
    }

    #[test]
    fn nothing_to_publish_in_empty_or_blank_data() {
        assert!(bodies(b"", 3).is_empty());
        assert!(bodies(b"\n\n  \n", 3).is_empty());
    }

    #[test]
    fn schedule_spreads_events_over_the_rate() {
        assert_eq!(schedule(0, 1000), Duration::ZERO);
        assert_eq!(schedule(500, 1000), Duration::from_millis(500));
        assert_eq!(schedule(3000, 1000), Duration::from_secs(3));
    }

    #[test]
    fn a_missing_file_is_an_input_error() {
        let err = publish_file(
            Path::new("/nonexistent/trades.jsonl"),
            &PublishOptions::default(),
        )
        .err();
        assert!(matches!(err, Some(IngestError::Input { .. })), "{err:?}");
    }
}
