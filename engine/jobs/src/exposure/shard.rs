//! The exposure rule for the (client, stock) pairs of one partition.

use std::{cmp::Reverse, collections::BinaryHeap, sync::Arc};

use columnar::EventKind;

use engine_core::{
    Alert, AlertOrder, BatchContext, DrainContext, KeyMap, Shard, SnapshotError, SnapshotReader,
    SnapshotWriter,
};

use super::{
    Counter, ExposureConfig, pair_key,
    record::{EXPOSURE, ExposureRecord, alert_id},
    window::Window,
};

pub struct ExposureShard {
    cfg: Arc<ExposureConfig>,
    windows: KeyMap<Window>,
    /// When each pair's oldest purchase leaves the window: evicting idle pairs
    /// keeps memory bounded by the pairs active within one window. A heap,
    /// not the core's FIFO: a late purchase (up to the allowed lateness)
    /// makes a deadline earlier than ones already queued, and the FIFO would
    /// hold it back behind them — evicting at different times depending on
    /// how pairs fall into partitions.
    expiry: BinaryHeap<Reverse<(u64, u128)>>,
}

impl ExposureShard {
    pub(super) fn new(cfg: Arc<ExposureConfig>) -> Self {
        ExposureShard {
            cfg,
            windows: KeyMap::default(),
            expiry: BinaryHeap::new(),
        }
    }

    /// Evicts the windows due at `clock` and forgets pairs left empty. Alerts
    /// and re-arms happen only at a purchase of the pair, which evicts its own
    /// window to its clock first, so when this runs changes no output or
    /// counter, only memory. An alerted pair is kept, even empty, until a
    /// purchase re-arms it.
    fn expire(&mut self, clock: u64) {
        while let Some(&Reverse((deadline, key))) = self.expiry.peek() {
            if deadline > clock {
                break;
            }
            self.expiry.pop();
            let Some(w) = self.windows.get_mut(&key) else {
                continue;
            };
            w.scheduled = false;
            w.evict(clock, self.cfg.window_ms);
            match w.oldest() {
                None if !w.alerted => {
                    self.windows.remove(&key);
                }
                None => {}
                Some(t) => {
                    w.scheduled = true;
                    self.expiry
                        .push(Reverse((t.saturating_add(self.cfg.window_ms), key)));
                }
            }
        }
    }
}

impl Shard for ExposureShard {
    fn process(
        &mut self,
        ctx: &BatchContext<'_>,
        rows: &[u32],
        out: &mut Vec<Alert>,
        counters: &mut [u64],
    ) {
        let batch = ctx.batch();
        let (kinds, shares) = (batch.kinds(), batch.shares());
        let (window_ms, lateness) = (self.cfg.window_ms, self.cfg.allowed_lateness_ms);
        for &r in rows {
            let r = r as usize;
            if EventKind::from_u8(kinds[r]) != EventKind::Purchase {
                continue;
            }
            let clock = ctx.clock(r);
            self.expire(clock);

            // The purchase's event time; without `ts`, the clock's.
            let t = batch.ts(r).unwrap_or(clock);
            if t.saturating_add(lateness) < clock {
                counters[Counter::Late as usize] += 1;
                continue;
            }
            if t.saturating_add(window_ms) <= clock {
                counters[Counter::OutsideWindow as usize] += 1;
                continue;
            }

            let (client, stock) = (batch.client(r), batch.stock(r));
            let key = pair_key(client, stock);
            let w = self
                .windows
                .entry(key)
                .or_insert_with(|| Window::new(self.cfg.limit_of(client)));
            // Leave the window, then re-arm if the sum fell back to the limit.
            w.evict(clock, window_ms);
            if w.rearm() {
                counters[Counter::Rearmed as usize] += 1;
            }
            let pkey = batch.event_key(r).as_u128();
            if w.contains(pkey) {
                counters[Counter::DuplicatePurchase as usize] += 1;
                continue;
            }
            w.add(t, shares[r], pkey);
            counters[Counter::Counted as usize] += 1;
            if !w.scheduled {
                w.scheduled = true;
                let oldest = w.oldest().unwrap_or(t);
                self.expiry
                    .push(Reverse((oldest.saturating_add(window_ms), key)));
            }
            if w.above() && !w.alerted {
                w.alerted = true;
                let (order_id, trigger_id) = (batch.order_id(r), batch.id(r));
                let id = alert_id(client, stock, order_id, trigger_id);
                let payload = ExposureRecord {
                    alert_id: &id,
                    kind: EXPOSURE,
                    client,
                    stock,
                    limit: w.limit,
                    exposure: w.sum(),
                    window_ms,
                    window_start: clock.saturating_sub(window_ms),
                    window_end: clock,
                    order_id,
                    trigger_id,
                    event_ts: batch.ts(r),
                    detected_at: ctx.detected_at_ns(),
                }
                .to_json();
                counters[Counter::Alerts as usize] += 1;
                out.push(Alert {
                    order: AlertOrder::event(ctx.pos(r)),
                    kind: EXPOSURE,
                    alert_id: id,
                    payload,
                });
            }
        }
        if !batch.is_empty() {
            self.expire(ctx.end_clock());
        }
    }

    fn drain(&mut self, _ctx: &DrainContext, _out: &mut Vec<Alert>, _counters: &mut [u64]) {
        // A window holds no pending alert: alerts are raised as purchases
        // arrive. The end of the input closes nothing.
        self.windows.clear();
        self.expiry.clear();
    }

    fn live_keys(&self) -> usize {
        self.windows.len()
    }

    fn snapshot(&self, w: &mut SnapshotWriter<'_>) {
        // Pairs oldest first: the same state always gives the same bytes.
        let mut pairs: Vec<(&u128, &Window)> = self.windows.iter().collect();
        pairs.sort_by_key(|(k, win)| (win.oldest(), **k));
        w.u64(pairs.len() as u64);
        for (&key, win) in pairs {
            w.u128(key);
            w.u64(win.limit);
            w.u8(win.alerted as u8);
            let entries: Vec<_> = win.entries().collect();
            w.u64(entries.len() as u64);
            for &&(t, shares, pkey) in &entries {
                w.u64(t);
                w.u64(shares);
                w.u128(pkey);
            }
        }
    }

    fn restore(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), SnapshotError> {
        for _ in 0..r.count(33)? {
            let key = r.u128()?;
            let mut win = Window::new(r.u64()?);
            win.alerted = r.u8()? != 0;
            for _ in 0..r.count(32)? {
                let (t, shares, pkey) = (r.u64()?, r.u64()?, r.u128()?);
                win.add(t, shares, pkey);
            }
            // An empty window is an alerted pair waiting to re-arm: kept.
            if let Some(t) = win.oldest() {
                win.scheduled = true;
                self.expiry
                    .push(Reverse((t.saturating_add(self.cfg.window_ms), key)));
            }
            self.windows.insert(key, win);
        }
        Ok(())
    }
}
