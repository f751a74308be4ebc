//! The router's life across links: open one, route on it until it fails,
//! open the next — from the node after the lost one ([`Rotation::lost`]),
//! at once if the lost link had made progress, after a back-off otherwise
//! and after every round that found no node ([`Backoff`]: 100 ms doubling
//! to 5 s by default) — until the stop flag is set.
//!
//! Only the first attempt can fail the run, and only with a permanent
//! failure ([`broker::next`] at [`Stage::Starting`]): a bad URL, a refused
//! login, a missing shard queue. Everything after is retried, and logged.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use broker::{Backoff, Next, Rotation, Stage, next, redact};

use crate::{
    Result, RouteOptions, RouteReport,
    link::open,
    serve::{Ended, serve},
};

/// Routes with `opts` until `stop` is set (then drains, acknowledges and
/// closes); returns what it did. Blocks the calling thread, on a tokio
/// runtime of its own.
pub fn route(opts: &RouteOptions, stop: &AtomicBool) -> Result<RouteReport> {
    let rt = ingest::amqp::runtime()?;
    rt.block_on(run(opts, stop))
}

async fn run(opts: &RouteOptions, stop: &AtomicBool) -> Result<RouteReport> {
    let started = Instant::now();
    let mut report = RouteReport::default();
    let mut rotation = Rotation::new(opts.brokers.len());
    let mut backoff = Backoff::new(opts.reconnect_min, opts.reconnect_max);
    let mut stage = Stage::Starting;
    let run_id = run_id();
    let mut generation = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let link = match open(opts, &mut rotation).await {
            Ok(link) => link,
            Err(e) => {
                let wait = backoff.failed();
                let (class, retry_in_ms) = (e.class(), wait.as_millis() as u64);
                match next(class, stage) {
                    Next::Fail => return Err(e),
                    Next::RetryStart => {
                        tracing::warn!(error = %e, %class, retry_in_ms, "AMQP broker unreachable at start; retrying")
                    }
                    Next::Reconnect => {
                        tracing::warn!(error = %e, %class, retry_in_ms, "AMQP reconnect failed; retrying")
                    }
                }
                if stage == Stage::Starting {
                    stage = Stage::NotYetConnected;
                }
                sleep_unless_stopped(wait, stop).await;
                continue;
            }
        };
        stage = Stage::Connected;
        generation += 1;
        let broker = redact(&opts.brokers.urls()[rotation.preferred()]);
        tracing::info!(%broker, queue = %opts.input.trade_queue, shards = opts.shards, generation, "routing");
        let link_id = format!("{run_id}.{generation}");
        match serve(link, &link_id, opts, stop, &mut report).await {
            Ended::Stopped => break,
            // Stopping: what is unacknowledged goes back to the queue.
            Ended::Lost { .. } if stop.load(Ordering::Relaxed) => break,
            Ended::Lost { why, progressed } => {
                report.reconnects += 1;
                // Its node may be going down: the next round starts after it.
                rotation.lost();
                let wait = if progressed {
                    backoff.reset();
                    Duration::ZERO
                } else {
                    backoff.failed()
                };
                tracing::warn!(error = %why, %broker, retry_in_ms = wait.as_millis() as u64, "AMQP link lost; reconnecting (its unacknowledged input is redelivered)");
                sleep_unless_stopped(wait, stop).await;
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Sleeps `d`, or less if `stop` is set meanwhile.
async fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        tokio::time::sleep(s).await;
        left -= s;
    }
}

/// A name for this run, unique among the routers of a deployment (its
/// start time and process id), in the ids of outputs whose input had none.
fn run_id() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{micros:x}-{}", std::process::id())
}
