//! One in-flight order: its request, how its purchases split it, and which of
//! its events comes next.
//!
//! The order's whole plan is drawn when it opens, so the event sequence of an
//! order does not depend on how it interleaves with the others.

use super::SynthConfig;
use super::line::EventLine;
use super::rng::SplitMix64;

/// Tickers orders are drawn from.
const STOCKS: [&str; 16] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "NFLX", "IBM", "ORCL", "INTC", "AMD",
    "CSCO", "ADBE", "PYPL", "UBER",
];
/// Clients are `c-0` .. `c-999`.
const CLIENTS: u64 = 1000;
/// Requests are 100 ..= 10_000 shares.
const MIN_REQUEST: u64 = 100;
const MAX_REQUEST: u64 = 10_000;

/// What an order's next event is.
pub(super) enum Step {
    Request,
    /// Purchase `j` (1-based), the `j`-th part of the split.
    Purchase(u32),
}

#[derive(Debug, Default)]
pub(super) struct Order {
    pub(super) number: u64,
    client: u32,
    stock: &'static str,
    pub(super) requested: u64,
    /// Shares of each purchase, in emission order; reused between orders.
    pub(super) parts: Vec<u64>,
    /// Index of the request among the order's events (0 unless late).
    pr_at: u32,
    /// Index of the next event to emit.
    next: u32,
    pub(super) late: bool,
    pub(super) overfill: bool,
}

impl Order {
    /// Re-plans this slot as order `number`, reusing its `parts` buffer.
    pub(super) fn open(&mut self, number: u64, cfg: &SynthConfig, rng: &mut SplitMix64) {
        let purchases = cfg.purchases_per_order;
        self.number = number;
        self.client = rng.below(CLIENTS) as u32;
        self.stock = STOCKS[rng.below(STOCKS.len() as u64) as usize];
        self.requested = MIN_REQUEST + rng.below(MAX_REQUEST - MIN_REQUEST + 1);
        split_exactly(self.requested, purchases, rng, &mut self.parts);
        self.overfill = purchases > 0 && rng.chance(cfg.overfill_fraction);
        if self.overfill {
            let extra = 1 + rng.below(self.requested / 4);
            let at = rng.below(u64::from(purchases)) as usize;
            if let Some(p) = self.parts.get_mut(at) {
                *p += extra;
            }
        }
        self.late = purchases > 0 && rng.chance(cfg.late_pr_fraction);
        self.pr_at = if self.late {
            1 + rng.below(u64::from(purchases)) as u32
        } else {
            0
        };
        self.next = 0;
    }

    /// Advances to the next event; `None` once the order is done.
    pub(super) fn step(&mut self) -> Option<Step> {
        let s = self.next;
        if s as usize > self.parts.len() {
            return None;
        }
        self.next += 1;
        Some(match s.cmp(&self.pr_at) {
            std::cmp::Ordering::Equal => Step::Request,
            std::cmp::Ordering::Less => Step::Purchase(s + 1),
            std::cmp::Ordering::Greater => Step::Purchase(s),
        })
    }

    pub(super) fn is_done(&self) -> bool {
        self.next as usize > self.parts.len()
    }

    /// The line of `step`, stamped with `ts`.
    pub(super) fn line(&self, step: &Step, ts: Option<u64>) -> EventLine {
        let (purchase, shares) = match *step {
            Step::Request => (None, self.requested),
            Step::Purchase(j) => {
                let shares = self
                    .parts
                    .get((j as usize).wrapping_sub(1))
                    .copied()
                    .unwrap_or(0);
                (Some(j), shares)
            }
        };
        EventLine {
            order: self.number,
            purchase,
            shares,
            client: self.client,
            stock: self.stock,
            ts,
        }
    }
}

/// Splits `total` into `n` parts that add up to exactly `total`, each drawn
/// around the mean of what is left.
fn split_exactly(total: u64, n: u32, rng: &mut SplitMix64, parts: &mut Vec<u64>) {
    parts.clear();
    let mut left = total;
    for k in 0..n {
        let remaining = u64::from(n - k);
        let take = if remaining == 1 {
            left
        } else {
            let mean = left / remaining;
            (mean / 2 + rng.below(mean + 1)).min(left)
        };
        parts.push(take);
        left -= take;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_adds_up() {
        let mut rng = SplitMix64::new(3);
        let mut parts = Vec::new();
        for n in [1, 2, 4, 17, 500] {
            for total in [0, 1, 100, 9_999] {
                split_exactly(total, n, &mut rng, &mut parts);
                assert_eq!(parts.len(), n as usize);
                assert_eq!(parts.iter().sum::<u64>(), total);
            }
        }
    }

    #[test]
    fn late_request_comes_after_a_purchase() {
        let cfg = SynthConfig {
            late_pr_fraction: 1.0,
            ..SynthConfig::default()
        };
        let mut rng = SplitMix64::new(1);
        let mut o = Order::default();
        o.open(1, &cfg, &mut rng);
        let steps: Vec<Step> = std::iter::from_fn(|| o.step()).collect();
        assert_eq!(steps.len(), 5);
        assert!(matches!(steps[0], Step::Purchase(1)));
        let js: Vec<u32> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Purchase(j) => Some(*j),
                Step::Request => None,
            })
            .collect();
        assert_eq!(js, [1, 2, 3, 4]);
    }
}
