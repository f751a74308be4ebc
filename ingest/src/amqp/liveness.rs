//! How long the broker may have gone without hearing from the source, for
//! fencing a pair's active before the broker can give its lease away.
//!
//! The broker releases an exclusive consumer when it closes the
//! connection, and it closes a silent one after missed heartbeats: what
//! matters is when the broker last *received* something from us. That is
//! bounded from below by the *send* time of the last probe it answered (it
//! received the probe after we sent it), so that is the stamp, not the
//! reply's arrival, and not a delivery's (a delivery only proves the
//! broker-to-us direction). A probe is a `basic.qos` on a channel of the
//! consumer's own connection: a round trip with no effect, one at a time,
//! every `probe_interval`.
//!
//! The probe runs as a task of its own (on the source runtime's worker),
//! not in the consume loop: that loop blocks while the ring is full, and a
//! busy engine must not look like a silent broker.
//!
//! Stamps are nanoseconds of a process-wide monotonic clock (an [`Instant`]
//! taken once) plus one, so that 0 means "never heard".

use std::{
    sync::{Arc, OnceLock, atomic::Ordering},
    time::{Duration, Instant},
};

use lapin::{Channel, options::BasicQosOptions};

use super::AmqpCounters;

/// The origin of the stamps, fixed the first time it is asked for: before
/// any instant that will be stamped is taken ([`super::start_amqp`] asks
/// first), since an instant before it would stamp as the origin itself.
pub(crate) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `at` as a stamp (never 0).
pub(crate) fn stamp(at: Instant) -> u64 {
    let ns = at.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX - 1) + 1
}

/// How long before `now` the stamp `heard` was; [`Duration::MAX`] if it is
/// 0 (never heard), zero if it is after `now`.
pub(crate) fn since(heard: u64, now: Instant) -> Duration {
    if heard == 0 {
        return Duration::MAX;
    }
    Duration::from_nanos(stamp(now).saturating_sub(heard))
}

/// Records that the broker received something we sent at `sent`.
pub(crate) fn heard(counters: &AmqpCounters, sent: Instant) {
    counters
        .heard_at_ns
        .fetch_max(stamp(sent), Ordering::Release);
}

/// Probes the broker on `channel` every `every` until a probe fails; returns
/// that failure (the channel or its connection is gone).
pub(crate) async fn probe(
    channel: Channel,
    every: Duration,
    counters: Arc<AmqpCounters>,
) -> lapin::Error {
    let mut tick = tokio::time::interval(every);
    // After a slow reply, the next probe waits a whole interval rather
    // than firing a burst to catch up.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let sent = Instant::now();
        if let Err(e) = channel
            .basic_qos(0, BasicQosOptions { global: false })
            .await
        {
            return e;
        }
        heard(&counters, sent);
    }
}

/// The probe of one link, running until it fails or this is dropped.
pub(crate) struct Probing(Option<tokio::task::JoinHandle<lapin::Error>>);

impl Probing {
    /// Starts probing on `channel` (a clone; the link keeps its own to
    /// close it) every `every`; not at all if `every` is zero. Must be
    /// called on the source's runtime.
    pub(crate) fn start(channel: Channel, every: Duration, counters: Arc<AmqpCounters>) -> Self {
        Probing((!every.is_zero()).then(|| tokio::spawn(probe(channel, every, counters))))
    }

    /// Resolves when the probe has failed, with why; never if it does not
    /// run. Not to be awaited again once it resolved.
    pub(crate) async fn failed(&mut self) -> String {
        match self.0.as_mut() {
            Some(task) => match task.await {
                Ok(e) => format!("probe: {}", broker::describe(&e)),
                Err(e) => format!("probe: the task ended: {e}"),
            },
            None => std::future::pending().await,
        }
    }
}

impl Drop for Probing {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// The longest silence ([`AmqpCounters::silent_for`]) after which a pair's
/// active must have stopped shipping, for a negotiated heartbeat of
/// `heartbeat_secs`, probes every `probe_interval`, and `safety` for the
/// time between the pair's check and the end of what it then ships (plus
/// scheduling delays): `2 × heartbeat − probe_interval − safety`.
///
/// RabbitMQ checks a connection's received bytes every heartbeat timeout
/// and closes it after two checks without any, so between 2 and 3 heartbeat
/// timeouts after it last received something (`rabbit_heartbeat`); only
/// then is the exclusive consumer released. The silence is measured from
/// the send of the last probe the broker answered, never shorter than the
/// broker's own, so `safety` only has to cover the pair: the time from its
/// check to the end of the send the check allowed, and clock-rate error.
/// The probe interval is taken off as well, for a pair that reads the
/// silence on a tick of its own no faster than the probe's and so acts up
/// to one interval late.
///
/// `None` when no such margin exists: heartbeats off (0: the broker never
/// closes a silent connection, so the lease never moves on a silent loss and
/// there is nothing to fence against, but no failover either), or a margin
/// no longer than two probe intervals (the active would fence itself
/// between two healthy probes).
pub fn fence_after(
    heartbeat_secs: u16,
    probe_interval: Duration,
    safety: Duration,
) -> Option<Duration> {
    let released_after = Duration::from_secs(2 * u64::from(heartbeat_secs));
    let margin = released_after
        .checked_sub(probe_interval)?
        .checked_sub(safety)?;
    (heartbeat_secs > 0 && margin > 2 * probe_interval).then_some(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_heard_is_forever_and_a_stamp_after_now_is_no_silence() {
        epoch();
        let counters = AmqpCounters::default();
        let now = Instant::now();
        assert_eq!(counters.silent_for(now), Duration::MAX);
        heard(&counters, now);
        assert_eq!(counters.silent_for(now), Duration::ZERO);
        let later = now + Duration::from_millis(250);
        assert_eq!(counters.silent_for(later), Duration::from_millis(250));
        // A stamp only moves forward: an older probe's reply arriving late
        // does not make the silence look longer.
        heard(&counters, now - Duration::from_millis(1));
        assert_eq!(counters.silent_for(later), Duration::from_millis(250));
        let before = now.checked_sub(Duration::from_millis(5)).unwrap_or(now);
        assert_eq!(counters.silent_for(before), Duration::ZERO);
    }

    #[test]
    fn the_fence_comes_before_the_broker_can_release_the_lease() {
        let probe = Duration::from_millis(100);
        let safety = Duration::from_millis(400);
        assert_eq!(
            fence_after(1, probe, safety),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            fence_after(5, probe, safety),
            Some(Duration::from_millis(9500))
        );
        for hb in 1..=120u16 {
            if let Some(f) = fence_after(hb, probe, safety) {
                assert!(f + probe + safety <= Duration::from_secs(2 * u64::from(hb)));
                assert!(f > 2 * probe);
            }
        }
    }

    #[test]
    fn no_fence_without_heartbeats_or_without_room() {
        let probe = Duration::from_millis(100);
        assert_eq!(fence_after(0, probe, Duration::ZERO), None);
        assert_eq!(fence_after(1, probe, Duration::from_millis(1900)), None);
        assert_eq!(fence_after(1, probe, Duration::from_millis(1750)), None);
        assert_eq!(fence_after(1, Duration::from_secs(3), Duration::ZERO), None);
    }
}
