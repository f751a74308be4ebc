//! The AMQP source: consumes trade events with manual acks, feeds them to the
//! ingest ring, and acknowledges a delivery only when the pipeline reports
//! that every alert it caused is durable.
//!
//! One OS thread runs the consume loop on a tokio runtime of its own, whose
//! one worker thread runs lapin's tasks and the probe. Each message
//! body holds one event or many (JSON Lines); after its lines, a *mark*
//! record carries the delivery tag and the channel generation through the
//! ring, so the pipeline knows which delivery a durable batch completes.
//! Connection or channel loss → reconnect with exponential backoff; the
//! broker redelivers what was not acknowledged and the job's state absorbs
//! the repeats (duplicate purchases are never counted twice).
//!
//! The first connection is attempted by [`start_amqp`] itself: a failure the
//! URL or the broker makes permanent, or a lease held by another consumer,
//! fails the start (see there); any other is retried by the thread, which
//! logs "unreachable at start; retrying" until it has connected once and
//! "connection lost; reconnecting" after.
//!
//! Positions: message `n` (counted from 1 over the process's life) has its
//! line `i` (from 0) at `n << 24 | i`, so positions grow in arrival order;
//! a dead letter's `pos` is that, `pos >> 24` the message and `pos &
//! 0xffffff` the line, and it carries the message's `message_id` if it has
//! one (the number starts again with the process, the id does not).
//!
//! With [`OnLost::End`] a lost link ends the source instead (the lease and
//! fencing: [the module doc](super)); the probe of [`super::liveness`]
//! runs beside the consume loop on every link.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use broker::{Next, Rotation, Stage, next};
use futures_lite::StreamExt;
use lapin::{
    Channel, Connection, Consumer,
    options::{BasicAckOptions, BasicCancelOptions},
};
use tokio::sync::mpsc;

use super::{
    AmqpCounters, AmqpSourceOptions, EndReason, OnLost,
    connect::{close, close_channel, source_runtime},
    lease::{AtStart, at_start},
    liveness::{self, Probing},
    open::{Opened, open},
    redelivery::{Delivery, Redelivery},
};
use crate::{
    Cutter, IngestError, Result,
    line_ingestor::{LineIngestor, SourceStats},
    replay::pin_current,
    ring,
};

/// "Everything up to `tag` on channel `generation` is durable: acknowledge."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRequest {
    /// Channel generation the tag belongs to.
    pub generation: u64,
    /// Delivery tag, acknowledged with `multiple`.
    pub tag: u64,
}

/// The running AMQP source.
pub struct AmqpSourceHandle {
    thread: JoinHandle<Result<SourceStats>>,
    stop: Arc<AtomicBool>,
    acks: mpsc::UnboundedSender<AckRequest>,
    counters: Arc<AmqpCounters>,
}

impl AmqpSourceHandle {
    /// Stops consuming: the cutter then ends after what was already received.
    /// Acknowledgements keep flowing until [`AmqpSourceHandle::join`].
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The flag behind [`AmqpSourceHandle::stop`], for a signal handler.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// A sender for acknowledgements (clone it into the journal thread).
    pub fn acker(&self) -> mpsc::UnboundedSender<AckRequest> {
        self.acks.clone()
    }

    /// Live counters, the broker's liveness
    /// ([`AmqpCounters::silent_for`]) and why the source ended.
    pub fn counters(&self) -> Arc<AmqpCounters> {
        Arc::clone(&self.counters)
    }

    /// Why the source stopped delivering, or `None` while it delivers: set
    /// before the cutter can see the end, so a cutter at
    /// [`crate::Cut::End`] finds it set.
    pub fn ended(&self) -> Option<EndReason> {
        self.counters.ended().cloned()
    }

    /// Waits for the source to finish: it acknowledges what it is told to
    /// until every acker clone (this handle's included) is dropped, then
    /// closes the connection.
    pub fn join(self) -> Result<SourceStats> {
        drop(self.acks);
        self.thread.join().map_err(|_| IngestError::Panicked)?
    }
}

/// Starts the AMQP source on its own thread; returns its handle and the cutter.
///
/// The first attempt to connect (connect, declare, consume) is made here,
/// and waited for, before the thread starts; it takes at most twice the
/// connect timeout (10 s each for the handshake and the channel's setup). A
/// failure the URL or the broker makes permanent (a URL that does not parse,
/// a refused login, an unknown vhost) is returned: `run` then exits 2 with
/// it before it reports ready, with no retry loop. Any other failure (nothing
/// listening, a name that does not resolve yet, no answer in time) is logged
/// and retried by the thread in the background (see [`broker::next`]).
///
/// Waiting here rather than failing the source's `join` later: the error
/// reaches `run` through its start, before the service reports ready, opens
/// nothing more and writes no checkpoint, instead of ending a pipeline that
/// had already started.
///
/// A consume refused because another consumer holds the queue exclusively
/// is returned at once as [`IngestError::LeaseHeld`] (transient), after one
/// attempt and with its connection closed: a standby calls this every
/// ~100 ms to obtain the lease. With [`OnLost::End`], every failure of the
/// first attempt is returned, and `Ok` means the source is consuming (with
/// `exclusive`: holding the lease).
pub fn start_amqp(opts: AmqpSourceOptions) -> Result<(AmqpSourceHandle, Cutter)> {
    liveness::epoch();
    let rt = source_runtime()?;
    let mut rotation = Rotation::new(opts.url.split(',').count());
    let first = match rt.block_on(open(&opts, &mut rotation)) {
        Err(e) if at_start(&e, opts.on_lost) == AtStart::Fail => return Err(e),
        outcome => outcome,
    };
    let counters = Arc::new(AmqpCounters::default());
    if let Ok(opened) = &first {
        // Before `Ok` is returned: a pair that now holds the lease reads a
        // silence that is measured already, not "never heard".
        link_up(&counters, opened);
    }
    let (writer, reader) = ring::ring(opts.ring_bytes);
    let stop = Arc::new(AtomicBool::new(false));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let cut = opts.cut;
    let (s, c) = (Arc::clone(&stop), Arc::clone(&counters));
    let thread = std::thread::Builder::new()
        .name("aldebaran-amqp".into())
        .spawn(move || {
            pin_current(opts.pin_core);
            let ing = LineIngestor::new(writer);
            // Twice the prefetch window: every delivery a lost channel may
            // return, with room for the next channel's.
            let redelivery = Redelivery::new(&opts.processed, 2 * usize::from(opts.prefetch));
            rt.block_on(
                Source {
                    opts,
                    stop: s,
                    counters: c,
                    acks: ack_rx,
                    redelivery,
                    rotation,
                }
                .run(ing, first),
            )
        })
        .map_err(IngestError::Spawn)?;
    Ok((
        AmqpSourceHandle {
            thread,
            stop,
            acks: ack_tx,
            counters,
        },
        Cutter::of_messages(reader, cut),
    ))
}

struct Source {
    opts: AmqpSourceOptions,
    stop: Arc<AtomicBool>,
    counters: Arc<AmqpCounters>,
    acks: mpsc::UnboundedReceiver<AckRequest>,
    redelivery: Redelivery,
    /// Which broker of the list the next attempt starts with.
    rotation: Rotation,
}

/// How one connection ended.
enum Ended {
    /// Asked to stop; the link is kept to acknowledge the tail.
    Stopped(Box<Kept>),
    /// Lost: reconnect, or end with [`OnLost::End`].
    Lost(String),
}

/// A link kept after the source stopped, for the last acks; still probed,
/// since a pair's shippers may still be shipping meanwhile.
struct Kept {
    conn: Connection,
    ch: Channel,
    probe: Channel,
    probing: Probing,
    /// An exclusive consumer, kept to hold the lease until the link closes
    /// (dropped, lapin would cancel it).
    held: Option<Consumer>,
}

/// Per-connection state.
struct Link {
    generation: u64,
    last_acked: u64,
}

impl Source {
    /// Consumes until stopped, starting with the outcome of the first
    /// attempt (made by [`start_amqp`]).
    async fn run(mut self, mut ing: LineIngestor, first: Result<Opened>) -> Result<SourceStats> {
        let mut generation = 0u64;
        let mut message_no = 0u64;
        let mut delay = self.opts.reconnect_min;
        let mut tail = None;
        let mut attempt = Some(first);
        while !self.stopping() {
            generation += 1;
            let mut link = Link {
                generation,
                last_acked: 0,
            };
            let opened = match attempt.take() {
                Some(outcome) => outcome,
                None => open(&self.opts, &mut self.rotation).await,
            };
            let opened = match opened {
                Ok(opened) => opened,
                // Never for `End`, whose first attempt is the only one
                // ([`at_start`]) and which ends after a loss; should it
                // happen, it ends rather than race a standby.
                Err(e) if self.opts.on_lost == OnLost::End => {
                    self.counters.set_ended(EndReason::LeaseLost {
                        reason: e.to_string(),
                    });
                    break;
                }
                Err(e) => {
                    self.log_retry(&e, delay);
                    self.sleep_unless_stopped(delay).await;
                    delay = (delay * 2).min(self.opts.reconnect_max);
                    continue;
                }
            };
            match self
                .consume(opened, &mut ing, &mut link, &mut message_no, &mut delay)
                .await
            {
                Ended::Stopped(kept) => {
                    tail = Some((kept, link));
                    break;
                }
                Ended::Lost(why) => {
                    self.counters.connected.store(0, Ordering::Relaxed);
                    // Its node may be going down: the next round starts
                    // with the node after it.
                    self.rotation.lost();
                    self.redelivery.on_channel_lost(link.generation);
                    if self.opts.on_lost == OnLost::End {
                        tracing::warn!(error = %why, queue = %self.opts.topology.trade_queue, "AMQP connection lost; the source ends (the lease went with it)");
                        self.counters
                            .set_ended(EndReason::LeaseLost { reason: why });
                        break;
                    }
                    tracing::warn!(error = %why, retry_in_ms = delay.as_millis() as u64, "AMQP connection lost; reconnecting");
                    self.sleep_unless_stopped(delay).await;
                    delay = (delay * 2).min(self.opts.reconnect_max);
                }
            }
        }
        // Set before the ring ends, so whoever sees the cutter's end finds
        // the reason (the first one set stays: a lost link's).
        self.counters.set_ended(EndReason::Stopped);
        // No more input: end the stream, then acknowledge what the pipeline
        // makes durable until it says it is done (the ack channel closes).
        ing.publish();
        let stats = ing.end();
        match tail {
            Some((kept, mut link)) => {
                let Kept {
                    conn,
                    ch,
                    probe,
                    probing,
                    held,
                } = *kept;
                while let Some(req) = self.acks.recv().await {
                    if let Err(e) = self.ack(&ch, &mut link, req).await {
                        tracing::warn!(error = %e, "final acknowledgement failed; the broker will redeliver");
                        break;
                    }
                }
                drop(probing);
                close_channel(&probe).await;
                // Closing the channel ends its consumer, the lease with it.
                let _ = ch.close(200, "shutdown".into()).await;
                drop(held);
                let _ = conn.close(200, "shutdown".into()).await;
            }
            None => while self.acks.recv().await.is_some() {},
        }
        self.counters.connected.store(0, Ordering::Relaxed);
        Ok(stats)
    }

    /// Logs a failed attempt to connect, saying whether the source had ever
    /// connected (a broker down at start, or a lost one).
    fn log_retry(&self, e: &IngestError, delay: Duration) {
        let stage = if self.counters.connections.load(Ordering::Relaxed) == 0 {
            Stage::NotYetConnected
        } else {
            Stage::Connected
        };
        let retry_in_ms = delay.as_millis() as u64;
        let class = e.class();
        match next(class, stage) {
            Next::Reconnect => {
                tracing::warn!(error = %e, %class, retry_in_ms, "AMQP connection lost; reconnecting")
            }
            // Only the first attempt fails ([`start_amqp`]); from here on
            // every failure is retried.
            Next::RetryStart | Next::Fail => {
                tracing::warn!(error = %e, %class, retry_in_ms, "AMQP broker unreachable at start; retrying")
            }
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    async fn sleep_unless_stopped(&self, d: Duration) {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() && !self.stopping() {
            let s = left.min(step);
            tokio::time::sleep(s).await;
            left -= s;
        }
    }

    async fn ack(&mut self, ch: &Channel, link: &mut Link, req: AckRequest) -> lapin::Result<()> {
        // A request for an older channel is void: those deliveries return to
        // the queue with the channel and come back redelivered. A tag already
        // covered must not be acknowledged twice (the broker would close the
        // channel).
        if req.generation != link.generation || req.tag <= link.last_acked {
            return Ok(());
        }
        ch.basic_ack(req.tag, BasicAckOptions { multiple: true })
            .await?;
        self.counters
            .acked
            .fetch_add(req.tag - link.last_acked, Ordering::Relaxed);
        link.last_acked = req.tag;
        self.redelivery.on_ack(req.generation, req.tag);
        Ok(())
    }
}

/// Shows a new link in `counters` (connected, its heartbeat, the broker's
/// answer to the consume as the first sign of life); returns the
/// negotiated heartbeat.
fn link_up(counters: &AmqpCounters, opened: &Opened) -> u16 {
    let heartbeat = opened.conn.configuration().heartbeat();
    counters
        .heartbeat_secs
        .store(u64::from(heartbeat), Ordering::Relaxed);
    liveness::heard(counters, opened.consumed_at);
    counters.connected.store(1, Ordering::Relaxed);
    heartbeat
}

/// The link is gone or going: what is left of it is closed, so that
/// lapin's I/O thread ends and the broker forgets the consumer at once
/// (bounded: a broker that no longer answers must not hold up the end).
async fn lost(conn: &Connection, why: String) -> Ended {
    let _ = tokio::time::timeout(LOST_CLOSE_TIMEOUT, close(conn)).await;
    Ended::Lost(why)
}

/// How long closing a lost link may take.
const LOST_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

impl Source {
    async fn consume(
        &mut self,
        opened: Opened,
        ing: &mut LineIngestor,
        link: &mut Link,
        message_no: &mut u64,
        delay: &mut Duration,
    ) -> Ended {
        let heartbeat = link_up(&self.counters, &opened);
        let Opened {
            conn,
            ch,
            mut consumer,
            probe,
            ..
        } = opened;
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        let mut probing = Probing::start(
            probe.clone(),
            self.opts.probe_interval,
            Arc::clone(&self.counters),
        );
        *delay = self.opts.reconnect_min;
        tracing::info!(queue = %self.opts.topology.trade_queue, generation = link.generation, exclusive = self.opts.exclusive, heartbeat_secs = heartbeat, "consuming");
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut acks_open = true;
        loop {
            tokio::select! {
                biased;
                req = self.acks.recv(), if acks_open => match req {
                    Some(req) => {
                        if let Err(e) = self.ack(&ch, link, req).await {
                            return lost(&conn, format!("ack: {e}")).await;
                        }
                    }
                    // Every acker is gone (the owner joined without a stop):
                    // nothing will be acknowledged any more, so the source
                    // stops. A closed channel is always ready, so polling it
                    // again would spin and starve the branches below.
                    None => {
                        acks_open = false;
                        self.stop.store(true, Ordering::Relaxed);
                    }
                },
                why = probing.failed() => return lost(&conn, why).await,
                d = consumer.next() => match d {
                    Some(Ok(delivery)) => {
                        *message_no += 1;
                        self.counters.messages.fetch_add(1, Ordering::Relaxed);
                        if delivery.redelivered {
                            self.counters.redelivered.fetch_add(1, Ordering::Relaxed);
                        }
                        let digest = columnar::keys::hash64(&delivery.data);
                        let what = self.redelivery.on_delivery(
                            link.generation,
                            delivery.delivery_tag,
                            digest,
                            delivery.redelivered,
                        );
                        if what == Delivery::Skip {
                            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                        } else {
                            let base = *message_no << 24;
                            let id = delivery.properties.message_id().as_ref();
                            ing.set_message_id(id.map(|id| id.as_str()));
                            for (i, line) in delivery.data.split(|&b| b == b'\n').enumerate() {
                                ing.line(base | i as u64, line);
                            }
                            ing.set_message_id(None);
                        }
                        ing.mark(link.generation, delivery.delivery_tag, digest);
                        ing.publish();
                    }
                    Some(Err(e)) => return lost(&conn, format!("consume: {e}")).await,
                    None => return lost(&conn, "the broker cancelled the consumer".into()).await,
                },
                _ = tick.tick() => {
                    if self.stopping() {
                        // An exclusive consumer is kept, unread, until the
                        // link closes: no standby may obtain the lease while
                        // this node may still ship what it drains. What
                        // arrives meanwhile (up to the prefetch) returns to
                        // the queue with the channel.
                        let held = if self.opts.exclusive {
                            Some(consumer)
                        } else {
                            let tag = self.opts.consumer_tag.as_str().into();
                            if let Err(e) = ch.basic_cancel(tag, BasicCancelOptions::default()).await {
                                return lost(&conn, format!("cancel: {e}")).await;
                            }
                            None
                        };
                        return Ended::Stopped(Box::new(Kept {
                            conn,
                            ch,
                            probe,
                            probing,
                            held,
                        }));
                    }
                }
            }
        }
    }
}
