//! The generator checked against its own summary and the parser.

use std::collections::{HashMap, HashSet};

use super::{SynthConfig, SynthSummary, generate};
use crate::parse::{ParseScratch, parse_line};

fn gen_bytes(cfg: &SynthConfig) -> (Vec<u8>, SynthSummary) {
    let mut out = Vec::new();
    let sum = generate(cfg, &mut out).unwrap();
    (out, sum)
}

fn noisy() -> SynthConfig {
    SynthConfig {
        orders: 3000,
        duplicate_fraction: 0.05,
        malformed_fraction: 0.05,
        late_pr_fraction: 0.2,
        overfill_fraction: 0.3,
        seed: 7,
        ..SynthConfig::default()
    }
}

#[test]
fn same_seed_same_bytes() {
    let (a, sa) = gen_bytes(&noisy());
    let (b, sb) = gen_bytes(&noisy());
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let (c, _) = gen_bytes(&SynthConfig { seed: 8, ..noisy() });
    assert_ne!(a, c);
}

#[test]
fn default_seed_is_pinned() {
    // Guards "same seed, same file forever": changing the generator changes
    // this hash, which must then be a deliberate, announced format change.
    let (bytes, sum) = gen_bytes(&SynthConfig::default());
    let head: Vec<&str> = bytes
        .split(|&b| b == b'\n')
        .take(2)
        .map(|l| std::str::from_utf8(l).unwrap_or("<not UTF-8>"))
        .collect();
    assert_eq!(
        sum.events,
        bytes.iter().filter(|&&b| b == b'\n').count() as u64
    );
    assert_eq!(
        (xxhash_rust::xxh3::xxh3_64(&bytes), head),
        (PINNED_HASH, PINNED_HEAD.to_vec())
    );
}

const PINNED_HASH: u64 = 6_344_922_801_545_622_254;
const PINNED_HEAD: [&str; 2] = [
    r##"{"id":"o-50","#shares":9335,"client":"c-930","stock":"TSLA","ts":1700000000000}"##,
    r##"{"id":"o-76","#shares":1754,"client":"c-619","stock":"NFLX","ts":1700000000001}"##,
];

#[derive(Default)]
struct OrderSeen {
    requested: Option<u64>,
    filled: u64,
    late: bool,
}

/// Parses every line and checks it against the summary and the order plans.
fn audit(bytes: &[u8], sum: &SynthSummary, cfg: &SynthConfig) {
    let mut seen_lines = HashSet::new();
    let mut orders: HashMap<String, OrderSeen> = HashMap::new();
    let (mut lines, mut dups, mut rejected, mut prs, mut ps) = (0, 0, 0, 0, 0);
    let mut last_ts = 0;
    let mut scratch = ParseScratch::default();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        if !seen_lines.insert(line) {
            dups += 1;
            continue;
        }
        let Ok(e) = parse_line(line, &mut scratch) else {
            rejected += 1;
            continue;
        };
        let ts = e.ts.unwrap_or_default();
        assert!(ts >= last_ts, "ts goes back at line {lines}");
        last_ts = ts;
        assert_eq!(e.ts.is_some(), cfg.with_ts);
        let o = orders.entry(e.order_id().to_owned()).or_default();
        match e.initial_order_id {
            None => {
                prs += 1;
                assert!(o.requested.is_none(), "second request for {}", e.id);
                o.late = o.filled > 0 || o.late;
                o.requested = Some(e.shares);
            }
            Some(_) => {
                ps += 1;
                o.late |= o.requested.is_none();
                o.filled += e.shares;
            }
        }
    }
    assert_eq!(lines, sum.events);
    assert_eq!(dups, sum.duplicates);
    assert_eq!(rejected, sum.malformed);
    assert_eq!((prs, ps), (sum.requests, sum.purchases));
    assert_eq!(
        sum.events,
        sum.requests + sum.purchases + sum.duplicates + sum.malformed
    );
    assert_eq!(prs, cfg.orders);
    assert_eq!(ps, cfg.orders * u64::from(cfg.purchases_per_order));
    let late = orders.values().filter(|o| o.late).count() as u64;
    assert_eq!(late, sum.late_requests);
    let over = orders
        .values()
        .filter(|o| o.filled > o.requested.unwrap_or(u64::MAX))
        .count() as u64;
    assert_eq!(over, sum.overfill_orders);
    for o in orders.values() {
        let requested = o.requested.unwrap_or_default();
        let has_purchases = cfg.purchases_per_order > 0;
        assert!(
            o.filled >= requested || !has_purchases,
            "an order is underfilled"
        );
        assert!((100..=10_000).contains(&requested));
    }
}

#[test]
fn summary_matches_the_file() {
    for cfg in [
        noisy(),
        SynthConfig::default(),
        SynthConfig {
            with_ts: false,
            open_orders: 1,
            purchases_per_order: 1,
            ..noisy()
        },
        SynthConfig {
            purchases_per_order: 0,
            open_orders: 0,
            ..noisy()
        },
    ] {
        let (bytes, sum) = gen_bytes(&cfg);
        audit(&bytes, &sum, &cfg);
        assert!(sum.duplicates > 0 && sum.malformed > 0, "{sum:?}");
    }
}

#[test]
fn without_malformed_every_line_parses_and_fills_exactly_or_over() {
    let cfg = SynthConfig {
        malformed_fraction: 0.0,
        overfill_fraction: 0.5,
        ..noisy()
    };
    let (bytes, sum) = gen_bytes(&cfg);
    assert_eq!(sum.malformed, 0);
    let mut scratch = ParseScratch::default();
    let mut fills: HashMap<String, (u64, u64)> = HashMap::new();
    let mut seen = HashSet::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let e = parse_line(line, &mut scratch).unwrap_or_else(|r| panic!("{r}"));
        if !seen.insert(line) {
            continue;
        }
        let f = fills.entry(e.order_id().to_owned()).or_default();
        match e.initial_order_id {
            None => f.0 = e.shares,
            Some(_) => f.1 += e.shares,
        }
    }
    let exact = fills.values().filter(|(r, f)| r == f).count() as u64;
    let over = fills.values().filter(|(r, f)| f > r).count() as u64;
    assert_eq!(over, sum.overfill_orders);
    assert_eq!(exact + over, cfg.orders);
    assert!(over > 0 && exact > 0);
}

#[test]
fn every_malformed_kind_is_rejected() {
    let cfg = SynthConfig {
        orders: 500,
        malformed_fraction: 1.0,
        duplicate_fraction: 0.0,
        ..SynthConfig::default()
    };
    let (bytes, sum) = gen_bytes(&cfg);
    let mut scratch = ParseScratch::default();
    let mut reasons = HashSet::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Err(r) = parse_line(line, &mut scratch) {
            reasons.insert(r.as_str());
        }
    }
    assert_eq!(sum.malformed, sum.requests + sum.purchases);
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        [
            "bad:#shares",
            "duplicate_key",
            "malformed",
            "missing:client"
        ]
    );
}

#[test]
fn empty_config_writes_nothing() {
    let (bytes, sum) = gen_bytes(&SynthConfig {
        orders: 0,
        ..SynthConfig::default()
    });
    assert!(bytes.is_empty());
    assert_eq!(sum, SynthSummary::default());
}
