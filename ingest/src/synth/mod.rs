//! The synthetic trade-file generator behind `aldebaran gen`.
//!
//! Benchmarks and end-to-end tests need large, realistic, reproducible inputs
//! whose expected alerts are known by construction. [`generate`] writes JSON
//! Lines in the original brief's format: orders (`o-n`) whose purchases
//! (`p-n-j`) split the request exactly, except the orders chosen to overfill;
//! `open_orders` orders in flight at once, interleaved at random; some
//! requests arriving late (after a purchase); byte-for-byte duplicate lines;
//! and a few malformed lines of every kind SPEC §1 rejects.
//!
//! **Determinism.** The only randomness is a hand-written SplitMix64 seeded by
//! [`SynthConfig::seed`] (see `rng.rs`), drawn in a fixed order, so a seed
//! gives the same file forever, on every platform and Rust version.
//!
//! **Timestamps.** With `with_ts`, the n-th newly formatted line (malformed
//! ones included) carries `ts_start_ms + n * ts_step_ms`, capped at 2^53 − 1, so
//! time is monotone; a duplicate repeats its original's bytes, old `ts`
//! included, exactly as a redelivery would.

mod line;
mod malformed;
mod order;
mod rng;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

use line::EventLine;
use order::{Order, Step};
use rng::SplitMix64;

/// How [`generate`] shapes the file. Fractions are probabilities per order
/// (`late_pr_fraction`, `overfill_fraction`) or per well-formed event
/// (`duplicate_fraction`, `malformed_fraction`); out-of-range values clamp.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Number of orders (purchase requests) to generate.
    pub orders: u64,
    /// Purchases per order; 0 writes requests only.
    pub purchases_per_order: u32,
    /// Interleave window: how many orders are in flight at once (at least 1).
    pub open_orders: u32,
    /// Share of orders whose request comes after its first purchase(s).
    pub late_pr_fraction: f64,
    /// Chance, after each well-formed event, of re-emitting a recent line.
    pub duplicate_fraction: f64,
    /// Chance, after each well-formed event, of a malformed line.
    pub malformed_fraction: f64,
    /// Share of orders whose purchases add up to more than the request.
    pub overfill_fraction: f64,
    /// Whether events carry `ts`.
    pub with_ts: bool,
    /// `ts` of the first line, epoch milliseconds.
    pub ts_start_ms: u64,
    /// `ts` increment per line.
    pub ts_step_ms: u64,
    /// The SplitMix64 seed: same seed, same file.
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            orders: 1000,
            purchases_per_order: 4,
            open_orders: 100,
            late_pr_fraction: 0.05,
            duplicate_fraction: 0.01,
            malformed_fraction: 0.001,
            overfill_fraction: 0.1,
            with_ts: true,
            ts_start_ms: 1_700_000_000_000,
            ts_step_ms: 1,
            seed: 42,
        }
    }
}

/// What [`generate`] wrote. `events == requests + purchases + duplicates + malformed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynthSummary {
    /// Lines written, of every kind.
    pub events: u64,
    /// Purchase requests (first copies).
    pub requests: u64,
    /// Purchases (first copies).
    pub purchases: u64,
    /// Byte-for-byte repeats of an earlier line.
    pub duplicates: u64,
    /// Lines the parser must reject.
    pub malformed: u64,
    /// Orders whose request came after one of its purchases.
    pub late_requests: u64,
    /// Orders whose purchases add up to more than the request.
    pub overfill_orders: u64,
}

/// How many recent events a duplicate may repeat.
const RECENT: usize = 16;
/// Largest `ts` the parser accepts.
const MAX_TS: u64 = (1 << 53) - 1;
/// Output is formatted straight into one buffer, handed to the writer
/// whenever it passes this size (our own `BufWriter`, minus a copy).
const FLUSH_AT: usize = 1 << 20;

/// Writes the file described by `cfg` to `out` (buffered internally; `out`
/// need not be) and returns its summary. Fails only if `out` does.
pub fn generate(cfg: &SynthConfig, out: &mut impl Write) -> io::Result<SynthSummary> {
    let mut g = Generator {
        cfg,
        rng: SplitMix64::new(cfg.seed),
        out,
        buf: Vec::with_capacity(FLUSH_AT + 4096),
        recent: [None; RECENT],
        recent_len: 0,
        lines_formatted: 0,
        sum: SynthSummary::default(),
    };
    g.run()?;
    g.out.write_all(&g.buf)?;
    g.out.flush()?;
    Ok(g.sum)
}

struct Generator<'c, W: Write> {
    cfg: &'c SynthConfig,
    rng: SplitMix64,
    out: W,
    buf: Vec<u8>,
    /// The last [`RECENT`] well-formed events, as a ring indexed by
    /// `recent_len % RECENT`. Formatting is deterministic, so re-formatting
    /// one repeats its line byte for byte.
    recent: [Option<EventLine>; RECENT],
    recent_len: usize,
    lines_formatted: u64,
    sum: SynthSummary,
}

impl<W: Write> Generator<'_, W> {
    fn run(&mut self) -> io::Result<()> {
        let window = u64::from(self.cfg.open_orders.max(1)).min(self.cfg.orders);
        let mut slots: Vec<Order> = Vec::with_capacity(window as usize);
        let mut opened = 0;
        while opened < window {
            opened += 1;
            slots.push(self.open(opened));
        }
        while !slots.is_empty() {
            let i = self.rng.below(slots.len() as u64) as usize;
            let Some(step) = slots[i].step() else {
                slots.swap_remove(i);
                continue;
            };
            let ts = self.next_ts();
            let event = slots[i].line(&step, ts);
            match step {
                Step::Request => self.sum.requests += 1,
                Step::Purchase(_) => self.sum.purchases += 1,
            }
            self.emit_event(&event)?;
            if slots[i].is_done() {
                if opened < self.cfg.orders {
                    opened += 1;
                    let number = opened;
                    slots[i].open(number, self.cfg, &mut self.rng);
                    self.count_order(&slots[i]);
                } else {
                    slots.swap_remove(i);
                }
            }
        }
        Ok(())
    }

    fn open(&mut self, number: u64) -> Order {
        let mut o = Order::default();
        o.open(number, self.cfg, &mut self.rng);
        self.count_order(&o);
        o
    }

    fn count_order(&mut self, o: &Order) {
        self.sum.late_requests += u64::from(o.late);
        self.sum.overfill_orders += u64::from(o.overfill);
    }

    fn next_ts(&mut self) -> Option<u64> {
        let n = self.lines_formatted;
        self.lines_formatted += 1;
        self.cfg.with_ts.then(|| {
            self.cfg
                .ts_start_ms
                .saturating_add(n.saturating_mul(self.cfg.ts_step_ms))
                .min(MAX_TS)
        })
    }

    /// Writes a well-formed event, then maybe a duplicate and a malformed line.
    fn emit_event(&mut self, event: &EventLine) -> io::Result<()> {
        event.write(&mut self.buf);
        self.end_line()?;
        self.recent[self.recent_len % RECENT] = Some(*event);
        self.recent_len += 1;

        if self.rng.chance(self.cfg.duplicate_fraction) {
            let back = self.rng.below(self.recent_len.min(RECENT) as u64) as usize;
            let idx = (self.recent_len - 1 - back) % RECENT;
            if let Some(earlier) = self.recent[idx] {
                earlier.write(&mut self.buf);
                self.end_line()?;
                self.sum.duplicates += 1;
            }
        }
        if self.rng.chance(self.cfg.malformed_fraction) {
            self.sum.malformed += 1;
            let base = EventLine {
                purchase: None,
                ts: self.next_ts(),
                ..*event
            };
            malformed::write(&mut self.buf, &mut self.rng, self.sum.malformed, base);
            self.end_line()?;
        }
        Ok(())
    }

    /// Ends the line just formatted into `buf`, handing full buffers to `out`.
    fn end_line(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.sum.events += 1;
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}
