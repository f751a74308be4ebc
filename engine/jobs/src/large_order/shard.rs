//! The large-order rule for the requests of one partition.

use columnar::EventKind;
use engine_core::{
    Alert, AlertOrder, BatchContext, DrainContext, ExpiryQueue, KeyMap, Shard, SnapshotError,
    SnapshotReader, SnapshotWriter,
};

use super::{
    Counter, LargeOrderConfig,
    record::{LARGE_ORDER, LargeOrderRecord, alert_id},
};

pub struct LargeOrderShard {
    cfg: LargeOrderConfig,
    /// Alerted request ids and the clock at which they alerted.
    alerted: KeyMap<u64>,
    /// When each alerted id may be forgotten (alerts arrive at a
    /// non-decreasing clock with one TTL, so a FIFO is in deadline order).
    forget: ExpiryQueue<u128>,
}

impl LargeOrderShard {
    pub(super) fn new(cfg: LargeOrderConfig) -> Self {
        LargeOrderShard {
            cfg,
            alerted: KeyMap::default(),
            forget: ExpiryQueue::default(),
        }
    }

    /// Whether `key` alerted less than the TTL before `clock`. Decided from
    /// the stored clock, not from whether the forgetting already ran, so the
    /// answer never depends on batch boundaries.
    fn alerted_within_ttl(&self, key: u128, clock: u64) -> bool {
        self.alerted
            .get(&key)
            .is_some_and(|&at| clock.saturating_sub(at) < self.cfg.ttl_ms)
    }

    /// Forgets ids whose TTL ran out by `clock` (memory only: decisions use
    /// [`Self::alerted_within_ttl`]). An entry for an id that alerted again
    /// later is stale and left alone.
    fn forget_due(&mut self, clock: u64, counters: &mut [u64]) {
        while let Some((_, key)) = self.forget.pop_due(clock) {
            let due = self
                .alerted
                .get(&key)
                .is_some_and(|&at| at.saturating_add(self.cfg.ttl_ms) <= clock);
            if due {
                self.alerted.remove(&key);
                counters[Counter::Forgotten as usize] += 1;
            }
        }
    }
}

impl Shard for LargeOrderShard {
    fn process(
        &mut self,
        ctx: &BatchContext<'_>,
        rows: &[u32],
        out: &mut Vec<Alert>,
        counters: &mut [u64],
    ) {
        let batch = ctx.batch();
        let (kinds, shares) = (batch.kinds(), batch.shares());
        for &r in rows {
            let r = r as usize;
            if EventKind::from_u8(kinds[r]) != EventKind::Request || shares[r] <= self.cfg.max_shares
            {
                continue;
            }
            let (key, clock) = (batch.order_key(r).as_u128(), ctx.clock(r));
            if self.alerted_within_ttl(key, clock) {
                counters[Counter::Duplicate as usize] += 1;
                continue;
            }
            // An id past its TTL alerts again; the old episode counts as
            // forgotten here whether or not the forgetting reached it yet,
            // so the counter does not depend on batch boundaries.
            if self.alerted.insert(key, clock).is_some() {
                counters[Counter::Forgotten as usize] += 1;
            }
            self.forget.push(clock.saturating_add(self.cfg.ttl_ms), key);
            let order_id = batch.order_id(r);
            let id = alert_id(order_id);
            let payload = LargeOrderRecord {
                alert_id: &id,
                kind: LARGE_ORDER,
                order_id,
                client: batch.client(r),
                stock: batch.stock(r),
                shares: shares[r],
                max_shares: self.cfg.max_shares,
                event_ts: batch.ts(r),
                detected_at: ctx.detected_at_ns(),
            }
            .to_json();
            out.push(Alert {
                order: AlertOrder::event(ctx.pos(r)),
                kind: LARGE_ORDER,
                alert_id: id,
                payload,
            });
            counters[Counter::Alerts as usize] += 1;
        }
        self.forget_due(ctx.end_clock(), counters);
    }

    fn drain(&mut self, _ctx: &DrainContext, _out: &mut Vec<Alert>, _counters: &mut [u64]) {}

    fn live_keys(&self) -> usize {
        self.alerted.len()
    }

    fn snapshot(&self, w: &mut SnapshotWriter<'_>) {
        // In alert order, so the restored forgetting queue is in deadline
        // order again.
        let mut entries: Vec<(u64, u128)> = self.alerted.iter().map(|(&k, &at)| (at, k)).collect();
        entries.sort_unstable();
        w.u64(entries.len() as u64);
        for (at, key) in entries {
            w.u128(key);
            w.u64(at);
        }
    }

    fn restore(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), SnapshotError> {
        let n = r.count(24)?;
        for _ in 0..n {
            let (key, at) = (r.u128()?, r.u64()?);
            self.alerted.insert(key, at);
            self.forget.push(at.saturating_add(self.cfg.ttl_ms), key);
        }
        Ok(())
    }
}
