//! The columnar book table: one row per open order, struct of arrays.
//!
//! Rows are addressed by a dense slot index (the job's group index) found
//! through one hash lookup per event; the hot loop then reads and writes
//! plain `Vec`s. Freed slots are reused, and each reuse bumps the slot's
//! generation so stale expiry entries can be recognised.

use crate::core::{KeyMap, KeySet};

use super::arena::{Arena, StrRef};

/// `requested` of a book whose purchase request has not been seen.
pub(super) const NO_REQUEST: u64 = u64::MAX;
const NIL: u32 = u32::MAX;

/// The strings an alert prints: order id, client, stock.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BookStrings {
    pub(super) order_id: StrRef,
    pub(super) client: StrRef,
    pub(super) stock: StrRef,
}

#[derive(Debug, Default)]
pub(super) struct Books {
    index: KeyMap<u32>,
    pub(super) key: Vec<u128>,
    pub(super) requested: Vec<u64>,
    pub(super) filled: Vec<u64>,
    pub(super) opened_at: Vec<u64>,
    pub(super) open_pos: Vec<u64>,
    pub(super) generation: Vec<u32>,
    live: Vec<bool>,
    pub(super) strings: Vec<BookStrings>,
    purchases_head: Vec<u32>,
    free_slots: Vec<u32>,
    pub(super) arena: Arena,
    /// Purchase keys counted in open books (keys are seeded by the order).
    purchases: KeySet,
    /// Per-book chains of counted purchase keys, so closing can forget them.
    chain: Vec<(u128, u32)>,
    chain_free: Vec<u32>,
    open: usize,
}

impl Books {
    pub(super) fn find(&self, key: u128) -> Option<u32> {
        self.index.get(&key).copied()
    }

    /// Opens a book; returns its slot and generation.
    pub(super) fn open(
        &mut self,
        key: u128,
        clock: u64,
        pos: u64,
        strings: [&str; 3],
    ) -> (u32, u32) {
        let strs = BookStrings {
            order_id: self.arena.push(strings[0]),
            client: self.arena.push(strings[1]),
            stock: self.arena.push(strings[2]),
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                let i = s as usize;
                self.key[i] = key;
                self.requested[i] = NO_REQUEST;
                self.filled[i] = 0;
                self.opened_at[i] = clock;
                self.open_pos[i] = pos;
                self.generation[i] = self.generation[i].wrapping_add(1);
                self.live[i] = true;
                self.strings[i] = strs;
                self.purchases_head[i] = NIL;
                s
            }
            None => {
                self.key.push(key);
                self.requested.push(NO_REQUEST);
                self.filled.push(0);
                self.opened_at.push(clock);
                self.open_pos.push(pos);
                self.generation.push(0);
                self.live.push(true);
                self.strings.push(strs);
                self.purchases_head.push(NIL);
                (self.key.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
        self.open += 1;
        (slot, self.generation[slot as usize])
    }

    /// Whether `slot` still holds the book of generation `generation`.
    pub(super) fn is_live(&self, slot: u32, generation: u32) -> bool {
        let i = slot as usize;
        self.live[i] && self.generation[i] == generation
    }

    /// Replaces the client and stock (a late request names the order's owner).
    pub(super) fn set_owner(&mut self, slot: u32, client: &str, stock: &str) {
        let s = &mut self.strings[slot as usize];
        self.arena.free(s.client);
        self.arena.free(s.stock);
        s.client = self.arena.push(client);
        s.stock = self.arena.push(stock);
    }

    /// Counts purchase `pkey` in `slot`; false if it was counted before.
    pub(super) fn add_purchase(&mut self, slot: u32, pkey: u128) -> bool {
        if !self.purchases.insert(pkey) {
            return false;
        }
        let link = (pkey, self.purchases_head[slot as usize]);
        let at = match self.chain_free.pop() {
            Some(at) => {
                self.chain[at as usize] = link;
                at
            }
            None => {
                self.chain.push(link);
                (self.chain.len() - 1) as u32
            }
        };
        self.purchases_head[slot as usize] = at;
        true
    }

    /// Frees the book in `slot` (after its alert, if any, was built).
    pub(super) fn close(&mut self, slot: u32) {
        let i = slot as usize;
        self.index.remove(&self.key[i]);
        self.live[i] = false;
        let s = self.strings[i];
        self.arena.free(s.order_id);
        self.arena.free(s.client);
        self.arena.free(s.stock);
        let mut at = self.purchases_head[i];
        while at != NIL {
            let (pkey, next) = self.chain[at as usize];
            self.purchases.remove(&pkey);
            self.chain_free.push(at);
            at = next;
        }
        self.purchases_head[i] = NIL;
        self.free_slots.push(slot);
        self.open -= 1;
    }

    pub(super) fn open_count(&self) -> usize {
        self.open
    }

    pub(super) fn str(&self, r: StrRef) -> &str {
        self.arena.get(r)
    }

    /// Compacts the string arena when garbage dominates.
    pub(super) fn maintain(&mut self) {
        if self.arena.should_compact() {
            let live = &self.live;
            let refs = self
                .strings
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| live[*i])
                .flat_map(|(_, s)| [&mut s.order_id, &mut s.client, &mut s.stock]);
            self.arena.compact(refs);
        }
    }
}
