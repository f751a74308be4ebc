//! The over-purchase rule (SPEC §2) for the orders of one partition.

use columnar::EventKind;

use engine_core::{
    Alert, AlertOrder, BatchContext, DrainContext, ExpiryQueue, Shard, SnapshotError,
    SnapshotReader, SnapshotWriter,
};

use super::{
    Counter, OverfillConfig,
    books::{Books, NO_REQUEST},
    record::{AlertRecord, ORPHAN, OVERFILL, alert_id},
    tombstones::Tombstones,
};

/// Why a book closes, and what it reports.
enum Close<'c, 'b> {
    /// Its purchases exceeded its request at this row.
    Overfill {
        row: usize,
        ctx: &'c BatchContext<'b>,
    },
    /// Its time-to-live ran out; `order` places a possible orphan alert.
    Expired {
        order: AlertOrder,
        event_ts: Option<u64>,
        detected_at: u64,
    },
}

pub struct OverfillShard {
    cfg: OverfillConfig,
    books: Books,
    expiry: ExpiryQueue<(u32, u32)>,
    /// Closed orders and when they closed, reclaimed oldest first.
    tombstones: Tombstones,
    /// Scratch: the (slot, generation) found for each row of a batch.
    found: Vec<Option<(u32, u32)>>,
}

impl OverfillShard {
    pub(super) fn new(cfg: OverfillConfig) -> Self {
        OverfillShard {
            cfg,
            books: Books::default(),
            expiry: ExpiryQueue::default(),
            tombstones: Tombstones::default(),
            found: Vec::new(),
        }
    }

    /// Step 2: closes every book due at `clock`, oldest first. `cause_from`
    /// is the row the last expiry of this batch was caused at (0 for none
    /// yet): the queue's deadlines and opening positions only grow, so the
    /// next cause is never before it.
    fn expire(
        &mut self,
        ctx: &BatchContext<'_>,
        clock: u64,
        cause_from: &mut usize,
        out: &mut Vec<Alert>,
        counters: &mut [u64],
    ) {
        while let Some((deadline, (slot, generation))) = self.expiry.peek_due(clock) {
            if !self.books.is_live(slot, generation) {
                self.expiry.pop();
                continue;
            }
            // The first event after the one that opened the book at which the
            // clock reached the deadline caused this expiry, whichever
            // partition it belongs to (step 2 runs before step 4, so a book
            // never expires at its own opening event, even with a zero TTL).
            // Deadlines and opening positions only grow along the queue, so
            // if this batch holds no such event, it holds none for later ones.
            let open_pos = self.books.open_pos[slot as usize];
            let Some(cause) = ctx.cause_row_after_from(deadline, open_pos, *cause_from) else {
                break;
            };
            *cause_from = cause;
            self.expiry.pop();
            let closed_at = ctx.clock(cause);
            let order = AlertOrder::clock(ctx.pos(cause), open_pos);
            let event_ts = ctx.is_event_time_at(cause).then_some(closed_at);
            counters[Counter::Expired as usize] += 1;
            self.close(
                slot,
                closed_at,
                Close::Expired {
                    order,
                    event_ts,
                    detected_at: ctx.detected_at_ns(),
                },
                out,
                counters,
            );
        }
    }

    fn close(
        &mut self,
        slot: u32,
        closed_at: u64,
        why: Close<'_, '_>,
        out: &mut Vec<Alert>,
        counters: &mut [u64],
    ) {
        let i = slot as usize;
        let b = &self.books;
        let s = b.strings[i];
        let (requested, filled) = (b.requested[i], b.filled[i]);
        // The strings are read only for an alert: most closes are expiries
        // of books that raise none.
        let alert = match why {
            Close::Overfill { row, ctx } => {
                let batch = ctx.batch();
                let order_id = b.str(s.order_id);
                let id = alert_id(OVERFILL, order_id, batch.id(row));
                let payload = AlertRecord {
                    alert_id: &id,
                    kind: OVERFILL,
                    order_id,
                    client: b.name(s.client),
                    stock: b.name(s.stock),
                    requested: Some(requested),
                    filled,
                    trigger_id: Some(batch.id(row)),
                    event_ts: batch.ts(row),
                    detected_at: ctx.detected_at_ns(),
                }
                .to_json();
                counters[Counter::Overfill as usize] += 1;
                Some(Alert {
                    order: AlertOrder::event(ctx.pos(row)),
                    kind: OVERFILL,
                    alert_id: id,
                    payload,
                })
            }
            Close::Expired {
                order,
                event_ts,
                detected_at,
            } if requested == NO_REQUEST && filled > 0 => {
                let order_id = b.str(s.order_id);
                let id = alert_id(ORPHAN, order_id, b.first_purchase(slot));
                let payload = AlertRecord {
                    alert_id: &id,
                    kind: ORPHAN,
                    order_id,
                    client: b.name(s.client),
                    stock: b.name(s.stock),
                    requested: None,
                    filled,
                    trigger_id: None,
                    event_ts,
                    detected_at,
                }
                .to_json();
                counters[Counter::Orphan as usize] += 1;
                Some(Alert {
                    order,
                    kind: ORPHAN,
                    alert_id: id,
                    payload,
                })
            }
            Close::Expired { .. } => None,
        };
        out.extend(alert);
        let key = self.books.key[i];
        self.books.close(slot);
        self.tombstones.insert(key, closed_at);
    }
}

impl Shard for OverfillShard {
    fn process(
        &mut self,
        ctx: &BatchContext<'_>,
        rows: &[u32],
        out: &mut Vec<Alert>,
        counters: &mut [u64],
    ) {
        let batch = ctx.batch();
        let (shares, kinds) = (batch.shares(), batch.kinds());

        // Phase 1, group indices: find every row's book up front. The lookups
        // do not depend on each other, so the CPU overlaps their cache misses
        // (and prefetches the book rows); phase 2 revalidates each found slot
        // with one generation compare, since a book may close mid-batch.
        let mut found = std::mem::take(&mut self.found);
        found.clear();
        found.extend(rows.iter().map(|&r| {
            self.books
                .find_prefetch(batch.order_key(r as usize).as_u128())
        }));

        // Phase 2, the rules, row by row in input order.
        let mut cause_from = 0;
        for (&r, &found) in rows.iter().zip(&found) {
            let r = r as usize;
            let clock = ctx.clock(r);
            // Most rows find nothing due: they skip the call.
            if self.expiry.peek_due(clock).is_some() {
                self.expire(ctx, clock, &mut cause_from, out, counters);
            }

            // An order with an open book has no tombstone (closing removes the
            // book, and a tombstone is forgotten before a book reopens), so the
            // small table of open books is asked first and the large table of
            // tombstones only for an order's first event.
            let key = batch.order_key(r).as_u128();
            let known = found
                .filter(|&(s, g)| self.books.is_live(s, g))
                .map(|(s, _)| s);
            let slot = match known.or_else(|| self.books.find(key)) {
                Some(slot) => slot,
                None => {
                    // Step 3: a recently closed order drops the event.
                    if let Some(closed_at) = self.tombstones.closed_at(key) {
                        if clock.saturating_sub(closed_at) < self.cfg.tombstone_ttl_ms {
                            counters[Counter::Closed as usize] += 1;
                            continue;
                        }
                        self.tombstones.forget(key);
                    }
                    // Step 4: the order's book, opened by its first event.
                    let strings = [batch.order_id(r), batch.client(r), batch.stock(r)];
                    let (slot, generation) = self.books.open(key, ctx.pos(r), strings);
                    self.expiry.push(
                        clock.saturating_add(self.cfg.book_ttl_ms),
                        (slot, generation),
                    );
                    counters[Counter::Opened as usize] += 1;
                    slot
                }
            };
            let i = slot as usize;

            // Step 5: count the request or the purchase, once.
            if EventKind::from_u8(kinds[r]) == EventKind::Request {
                if self.books.requested[i] != NO_REQUEST {
                    counters[Counter::DuplicateRequest as usize] += 1;
                    continue;
                }
                self.books.requested[i] = shares[r];
                self.books.forget_first_purchase(slot);
                if self.books.open_pos[i] != ctx.pos(r) {
                    // A late request: the book was opened by a purchase, but
                    // the alert names the order's owner as the request gives it.
                    counters[Counter::LateRequest as usize] += 1;
                    self.books.set_owner(slot, batch.client(r), batch.stock(r));
                }
            } else {
                if !self.books.add_purchase(slot, batch.event_key(r).as_u128()) {
                    counters[Counter::DuplicatePurchase as usize] += 1;
                    continue;
                }
                self.books.set_first_purchase(slot, batch.id(r));
                self.books.filled[i] = self.books.filled[i].saturating_add(shares[r]);
            }

            // Step 6: the cumulative fill crossed the request.
            let requested = self.books.requested[i];
            if requested != NO_REQUEST && self.books.filled[i] > requested {
                self.close(slot, clock, Close::Overfill { row: r, ctx }, out, counters);
            }
        }
        self.found = found;
        // Deadlines reached by other partitions' rows after our last row.
        let end = ctx.end_clock();
        if !batch.is_empty() {
            self.expire(ctx, end, &mut cause_from, out, counters);
        }
        self.tombstones.reclaim(end, self.cfg.tombstone_ttl_ms);
    }

    fn drain(&mut self, ctx: &DrainContext, out: &mut Vec<Alert>, counters: &mut [u64]) {
        let event_ts = ctx.event_time.then_some(ctx.clock);
        while let Some((_, (slot, generation))) = self.expiry.pop_any() {
            if !self.books.is_live(slot, generation) {
                continue;
            }
            let order = AlertOrder::clock(AlertOrder::DRAIN, self.books.open_pos[slot as usize]);
            counters[Counter::Drained as usize] += 1;
            self.close(
                slot,
                ctx.clock,
                Close::Expired {
                    order,
                    event_ts,
                    detected_at: ctx.detected_at_ns,
                },
                out,
                counters,
            );
        }
    }

    fn live_keys(&self) -> usize {
        self.books.open_count()
    }

    fn snapshot(&self, w: &mut SnapshotWriter<'_>) {
        // Open books in expiry (= opening) order, with their deadlines, so the
        // restored queue expires them in the same order; then tombstones, in
        // closing order, so the restored ring reclaims them in the same order.
        let overflow = self.books.overflow_by_slot();
        let live: Vec<(u64, u32)> = self
            .expiry
            .iter()
            .filter(|(_, (s, g))| self.books.is_live(*s, *g))
            .map(|(d, (s, _))| (d, s))
            .collect();
        w.u64(live.len() as u64);
        for (deadline, slot) in live {
            w.u64(deadline);
            let opened_at = deadline.saturating_sub(self.cfg.book_ttl_ms);
            self.books.snapshot_book(slot, opened_at, &overflow, w);
        }
        w.u64(self.tombstones.len() as u64);
        for (key, closed_at) in self.tombstones.iter() {
            w.u128(key);
            w.u64(closed_at);
        }
    }

    fn restore(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), SnapshotError> {
        for _ in 0..r.count(8)? {
            let deadline = r.u64()?;
            let (slot, generation) = self.books.restore_book(r)?;
            self.expiry.push(deadline, (slot, generation));
        }
        for _ in 0..r.count(24)? {
            let key = r.u128()?;
            let closed_at = r.u64()?;
            // A key listed twice keeps its last clock, as a map would.
            self.tombstones.forget(key);
            self.tombstones.insert(key, closed_at);
        }
        Ok(())
    }

    fn maintain(&mut self) {
        self.books.maintain();
    }
}
