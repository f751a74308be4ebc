//! One link's routing: consume the input, publish each of its lines as an
//! output on the output channel (in input order: one channel), settle the
//! confirms oldest first, and acknowledge what is fully confirmed
//! ([`AckTracker`]), until asked to stop or until the link fails.
//!
//! At most `in_flight` outputs await their confirm; while the window is
//! full, no delivery is read (the prefetch bounds what the broker sends
//! ahead). Stopping: the consumer is cancelled, the outputs in flight are
//! awaited (for at most [`DRAIN_TIMEOUT`]), what they complete is
//! acknowledged, and the channels and the connection are closed; whatever
//! the broker had delivered and the router had not read yet returns to the
//! queue with the channel, unpublished.
//!
//! A failure ends the link: its outputs in flight are abandoned, and their
//! inputs, unacknowledged, are redelivered by the broker (to this router's
//! next link, or to another router).

use std::{
    collections::VecDeque,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use broker::Classified;
use futures_lite::StreamExt;
use ingest::{
    amqp::{amqp_err, close, close_channel},
    parse::ParseScratch,
};
use lapin::{
    Channel, Consumer,
    message::Delivery,
    options::{BasicAckOptions, BasicCancelOptions},
};

use crate::{
    Result, RouteOptions, RouteReport, RouterError,
    link::{CONSUMER_TAG, Link},
    publish::{self, InFlight, Settled},
    split::{outputs, source_id},
    tracker::AckTracker,
};

/// How long a stopping router waits for the confirms in flight.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long closing the link at the stop may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long closing a lost link may take.
const LOST_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the loop looks at the stop flag and acknowledges what is
/// ackable, whatever the traffic.
const TICK: Duration = Duration::from_millis(50);

/// How a link ended.
pub(crate) enum Ended {
    /// Asked to stop: drained, acknowledged, closed.
    Stopped,
    /// Failed; `progressed` if it had acknowledged anything.
    Lost { why: RouterError, progressed: bool },
}

/// Routes on `link` until stopped or failed; `link_id` names it in the
/// outputs of inputs without a `message_id`.
pub(crate) async fn serve(
    link: Link,
    link_id: &str,
    opts: &RouteOptions,
    stop: &AtomicBool,
    report: &mut RouteReport,
) -> Ended {
    let Link {
        conn,
        input,
        mut consumer,
        output,
    } = link;
    let mut s = Serving {
        opts,
        stop,
        report,
        link_id,
        tracker: AckTracker::default(),
        pending: VecDeque::with_capacity(opts.in_flight.max(1)),
        scratch: ParseScratch::default(),
        progressed: false,
    };
    match s.run(&input, &mut consumer, &output).await {
        Ok(()) => {
            // Bounded: a broker that stopped answering must not hold up the
            // exit (what is unacknowledged is the broker's to redeliver).
            let closing = async {
                close_channel(&output).await;
                close_channel(&input).await;
                close(&conn).await;
            };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
            Ended::Stopped
        }
        Err(why) => {
            // Abandoned: their inputs are not acknowledged.
            s.pending.clear();
            // Bounded: a node that went away must not hold up the next.
            let _ = tokio::time::timeout(LOST_CLOSE_TIMEOUT, close(&conn)).await;
            Ended::Lost {
                why,
                progressed: s.progressed,
            }
        }
    }
}

struct Serving<'a> {
    opts: &'a RouteOptions,
    stop: &'a AtomicBool,
    report: &'a mut RouteReport,
    link_id: &'a str,
    tracker: AckTracker,
    /// Outputs in flight, oldest first.
    pending: VecDeque<InFlight>,
    scratch: ParseScratch,
    progressed: bool,
}

impl Serving<'_> {
    async fn run(
        &mut self,
        input: &Channel,
        consumer: &mut Consumer,
        output: &Channel,
    ) -> Result<()> {
        let window = self.opts.in_flight.max(1);
        let every = self.opts.ack_every();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining_since: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                done = oldest(&mut self.pending), if !self.pending.is_empty() => {
                    self.pending.pop_front();
                    self.settle(done?)?;
                    self.ack_due(input, every).await?;
                }
                d = consumer.next(), if draining_since.is_none() && self.pending.len() < window => {
                    match d {
                        Some(Ok(delivery)) => {
                            self.route(output, delivery, window).await?;
                            self.ack_due(input, every).await?;
                        }
                        Some(Err(e)) => return Err(amqp_err("consuming the input", &e).into()),
                        None => {
                            return Err(RouterError::Amqp {
                                message: "the broker cancelled the consumer".to_owned(),
                                class: Classified::Transient,
                            });
                        }
                    }
                }
                _ = tick.tick() => {
                    self.ack_due(input, 1).await?;
                    if draining_since.is_none() && self.stop.load(Ordering::Relaxed) {
                        tracing::info!(in_flight = self.pending.len(), "stopping: consumer cancelled, awaiting the confirms in flight");
                        input
                            .basic_cancel(CONSUMER_TAG.into(), BasicCancelOptions::default())
                            .await
                            .map_err(|e| amqp_err("cancelling the consumer", &e))?;
                        draining_since = Some(Instant::now());
                    }
                    if let Some(since) = draining_since {
                        if self.pending.is_empty() {
                            return Ok(());
                        }
                        if since.elapsed() > DRAIN_TIMEOUT {
                            return Err(RouterError::Amqp {
                                message: format!(
                                    "{} outputs still unconfirmed {} s after the stop; their inputs \
                                     are left to the broker",
                                    self.pending.len(),
                                    DRAIN_TIMEOUT.as_secs()
                                ),
                                class: Classified::Transient,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Publishes every output of `d`, keeping at most `window` in flight.
    async fn route(&mut self, output: &Channel, d: Delivery, window: usize) -> Result<()> {
        if d.redelivered {
            self.report.redelivered += 1;
        }
        let tag = d.delivery_tag;
        let id = d.properties.message_id().as_ref().map(|id| id.as_str());
        let source = source_id(id, self.link_id, tag);
        let outs = outputs(&d.data, &mut self.scratch);
        // Before any of its confirms can be settled (a full window settles
        // the oldest, maybe this message's own first line).
        self.tracker
            .received(tag, outs.len())
            .map_err(|m| RouterError::Internal(m.to_string()))?;
        for out in &outs {
            while self.pending.len() >= window {
                if let Some(oldest) = self.pending.pop_front() {
                    self.settle(oldest.await?)?;
                }
            }
            let mut f = publish::output(output, out, tag, &source, &self.opts.dead_letter_queue);
            // The first poll queues the frames (lapin takes the publish's
            // confirm number at once), so outputs keep input order, and
            // their writes batch up instead of a thread round trip each.
            match futures_lite::future::poll_once(&mut f).await {
                Some(done) => self.pending.push_back(Box::pin(std::future::ready(done))),
                None => self.pending.push_back(f),
            }
        }
        Ok(())
    }

    fn settle(&mut self, s: Settled) -> Result<()> {
        self.tracker
            .confirmed(s.tag)
            .map_err(|m| RouterError::Internal(m.to_string()))?;
        if s.dead {
            self.report.dead_letters += 1;
        } else {
            self.report.events += 1;
        }
        Ok(())
    }

    /// Acknowledges, with `multiple`, what [`AckTracker::due`] allows.
    async fn ack_due(&mut self, input: &Channel, every: usize) -> Result<()> {
        if let Some(tag) = self.tracker.due(every) {
            input
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await
                .map_err(|e| amqp_err(format!("acknowledging delivery {tag}"), &e))?;
            self.report.messages += self.tracker.acked(tag) as u64;
            self.progressed = true;
        }
        Ok(())
    }
}

/// The oldest output's confirm (never resolves when there is none).
async fn oldest(pending: &mut VecDeque<InFlight>) -> Result<Settled> {
    match pending.front_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}
