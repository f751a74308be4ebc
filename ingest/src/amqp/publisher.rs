//! A confirming publisher of trade files: each non-blank line of the file is
//! an event; `batch` events make one persistent message whose body is those
//! lines joined by `\n` (JSON Lines, no trailing newline). With `shards`,
//! each event is one message to the shards' consistent-hash exchange, keyed
//! by its order id ([`super::order_key`], as `aldebaran route` keys it).
//!
//! Throughput comes from pipelining (LAPIN-NOTES pitfalls 3 and 4): up to
//! `in_flight` messages are on their way at once (see `publish_link.rs`).
//! A nack, an unroutable message or a refusal is an error: the file was
//! not fully published.
//!
//! **Failover.** The URL may list several brokers (the nodes of a cluster).
//! The first link is made with one round over them, and its failure is the
//! error. A link lost after that (its node stopped, the connection closed
//! by an operator) is replaced: the next round starts at the node after
//! the lost one, rounds that fail are spaced by a back-off (100 ms doubling
//! to 5 s), and the file resumes at the first message the broker had not
//! confirmed. The messages that were in flight are published again
//! ([`PublishReport::republished`]) — the broker may have stored some of
//! them before the link went; the engine drops the duplicates (SPEC §2).
//! Without a link that confirms anything for 30 s, the publisher gives up
//! with the last failure.
//!
//! Runs on a current-thread tokio runtime of its own; lapin adds its I/O thread.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use broker::{Backoff, Brokers, Classified, Rotation, Tls, redact};
use lapin::ConnectionProperties;

use super::{
    connect::{close, connect_any, runtime},
    publish_link::{Failed, publish_link},
    topology::Topology,
};
use crate::{IngestError, Result, source::MappedFile};

/// How long a publisher that lost its link keeps trying to make one that
/// confirms something.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// What [`publish_file`] publishes, where, and how fast.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`, or several
    /// separated by commas (failed over in turn).
    pub url: String,
    /// Declared first; messages go to its trade exchange with its trade
    /// routing key (unused with `shards`).
    pub topology: Topology,
    /// Events per second at most (`None`: as fast as the broker confirms).
    pub rate: Option<u64>,
    /// Events per message (JSON Lines body); 0 is taken as 1. Must be 1
    /// with `shards`.
    pub batch: usize,
    /// Publishes awaiting a broker confirm at most; 0 is taken as 1.
    pub in_flight: usize,
    /// TLS for an `amqps://` URL (default: the bundled roots, no client
    /// certificate).
    pub tls: Tls,
    /// `Some(n)`: publish to the shards' exchange, whose `n` queues are
    /// checked first (never declared: `aldebaran declare --shards`), one
    /// event per message keyed by its order id; a line the parser rejects
    /// is keyed by a hash of its bytes ([`super::raw_key`]), so it reaches
    /// some shard whose engine dead-letters it.
    pub shards: Option<u32>,
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
            shards: None,
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
    /// Messages published again on a new link because the lost one had not
    /// confirmed them (not counted twice in `messages`).
    pub republished: u64,
    /// Links lost and replaced.
    pub reconnects: u64,
}

/// Where a file's publishing stands, across links.
#[derive(Debug)]
pub(super) struct Progress {
    /// Where the first message the broker has not confirmed starts.
    pub(super) at: usize,
    /// The furthest any publish reached: a message ending at or before it
    /// is published again.
    pub(super) sent_to: usize,
    /// The confirmed figures.
    pub(super) report: PublishReport,
    /// The first publish.
    pub(super) started: Option<Instant>,
    /// The last confirm, or the start: how long no link has worked.
    pub(super) last_progress: Instant,
}

/// Publishes every non-blank line of `path` to the trade exchange of
/// `opts.topology` (after declaring it), `opts.batch` lines per persistent
/// message, or with `opts.shards` one per message to the shards; returns
/// when the broker has confirmed all of them, failing over between the
/// brokers of `opts.url` (see the module doc).
pub fn publish_file(path: &Path, opts: &PublishOptions) -> Result<PublishReport> {
    if opts.shards.is_some() && opts.batch > 1 {
        return Err(IngestError::Options(format!(
            "cannot publish {} events per message to the shards: a message has one routing \
             key, so each event is a message of its own (leave the batch at 1)",
            opts.batch
        )));
    }
    let brokers = Brokers::parse(&opts.url)?;
    let input = MappedFile::open(path)?;
    let rt = runtime()?;
    rt.block_on(publish_failover(&brokers, input.bytes(), opts))
}

async fn publish_failover(
    brokers: &Brokers,
    data: &[u8],
    opts: &PublishOptions,
) -> Result<PublishReport> {
    let mut rotation = Rotation::new(brokers.len());
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut progress = Progress {
        at: 0,
        sent_to: 0,
        report: PublishReport {
            events: 0,
            messages: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
            republished: 0,
            reconnects: 0,
        },
        started: None,
        last_progress: Instant::now(),
    };
    let props = || ConnectionProperties::default().with_connection_name("aldebaran-publish".into());
    // The first link's failure is the caller's error, as for any one-shot
    // tool; once a link has worked, losing it is failed over.
    let mut conn = connect_any(brokers, &mut rotation, &opts.tls, None, props()).await?;
    loop {
        let confirmed_before = progress.report.messages;
        let outcome = publish_link(&conn, data, opts, &mut progress).await;
        // Bounded: a node that went away must not hold up the next one.
        let _ = tokio::time::timeout(Duration::from_secs(1), close(&conn)).await;
        let failure = match outcome {
            Ok(()) => {
                progress.report.elapsed = progress.started.map_or(Duration::ZERO, |t| t.elapsed());
                return Ok(progress.report);
            }
            // A refusal (unroutable, nacked, a missing exchange) fails the
            // same way on the next link.
            Err(Failed::Refused(e)) => return Err(with_confirmed(e, &progress)),
            Err(Failed::Lost(e)) => e,
        };
        if progress.report.messages > confirmed_before {
            backoff.reset();
        } else if progress.last_progress.elapsed() >= GIVE_UP_AFTER {
            // Links that open and fail before confirming anything.
            return Err(with_confirmed(failure, &progress));
        }
        progress.report.reconnects += 1;
        rotation.lost();
        tracing::warn!(error = %failure, resume_at_event = progress.report.events, "link to the broker lost; publishing on the next one");
        conn = loop {
            tokio::time::sleep(backoff.failed()).await;
            match connect_any(brokers, &mut rotation, &opts.tls, None, props()).await {
                Ok(c) => break c,
                Err(e) if progress.last_progress.elapsed() >= GIVE_UP_AFTER => {
                    return Err(with_confirmed(
                        IngestError::Amqp {
                            message: format!(
                                "no broker of {} took the file for {} s: {e}",
                                brokers.shown(),
                                GIVE_UP_AFTER.as_secs()
                            ),
                            class: Classified::Transient,
                        },
                        &progress,
                    ));
                }
                Err(e) => {
                    let url = redact(&brokers.urls()[rotation.preferred()]);
                    tracing::warn!(error = %e, next = %url, "no broker answered; retrying");
                }
            }
        };
    }
}

/// `e` with how much of the file is known to be stored (confirms are
/// awaited in order).
fn with_confirmed(e: IngestError, progress: &Progress) -> IngestError {
    match e {
        IngestError::Amqp { message, class } => IngestError::Amqp {
            message: format!(
                "{message} (the first {} events were confirmed)",
                progress.report.events
            ),
            class,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_input_error() {
        let err = publish_file(
            Path::new("/nonexistent/trades.jsonl"),
            &PublishOptions::default(),
        )
        .err();
        assert!(matches!(err, Some(IngestError::Input { .. })), "{err:?}");
    }

    #[test]
    fn several_events_per_message_are_refused_for_the_shards() {
        let opts = PublishOptions {
            batch: 10,
            shards: Some(3),
            ..PublishOptions::default()
        };
        let err = publish_file(Path::new("/nonexistent/trades.jsonl"), &opts)
            .expect_err("batch 10 with shards");
        assert_eq!(err.class(), Classified::Permanent);
        assert!(err.to_string().contains("one routing key"), "{err}");
    }
}
