//! The micro-batch sweep (`sweep.csv`).

use anyhow::Result;

use crate::fmt::{self, int, si, sig};
use crate::plot;
use crate::section::{Ctx, Section, med};
use crate::table::{self, Input, Kind, groups};

pub(crate) fn sweep(ctx: &Ctx) -> Result<Section> {
    const FILE: &str = "sweep.csv";
    let mut s = Section::new("Batch size sweep", FILE);
    let cols = [
        ("batch_ms", Kind::Num),
        ("batch_events", Kind::Num),
        ("run", Kind::Num),
        ("events_per_s", Kind::Num),
        ("p99_processing_us", Kind::Num),
        ("p99_durable_us", Kind::Num),
    ];
    let df = match ctx.load(FILE, &cols)? {
        Input::Missing(why) => return Ok(s.missing(&why)),
        Input::Present(df) => df,
    };
    struct Point {
        ms: f64,
        events: f64,
        runs: usize,
        eps: f64,
        p99_proc: f64,
        p99_dur: f64,
    }
    let mut points = Vec::new();
    for g in groups(&df, &["batch_ms", "batch_events"])? {
        points.push(Point {
            ms: table::first_num(&g, "batch_ms")?,
            events: table::first_num(&g, "batch_events")?,
            runs: g.height(),
            eps: med(&g, "events_per_s")?,
            p99_proc: med(&g, "p99_processing_us")?,
            p99_dur: med(&g, "p99_durable_us")?,
        });
    }
    points.sort_by(|a, b| a.ms.total_cmp(&b.ms).then(a.events.total_cmp(&b.events)));
    let label = |p: &Point| format!("{}/{}", sig(p.ms), int(p.events));
    s.line(
        "Per micro-batch setting (the batch is cut after `batch_ms` milliseconds \
         or `batch_events` events, whichever first), medians over runs of the \
         run's events/s and p99 latencies in µs.\n",
    );
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                sig(p.ms),
                int(p.events),
                p.runs.to_string(),
                int(p.eps),
                sig(p.p99_proc),
                sig(p.p99_dur),
            ]
        })
        .collect();
    s.line(&fmt::table(
        &[
            "batch_ms",
            "batch_events",
            "runs",
            "events/s",
            "p99 processing (µs)",
            "p99 durable (µs)",
        ],
        &rows,
    ));
    let scatter: Vec<(f64, f64, String)> = points
        .iter()
        .map(|p| (p.eps, p.p99_proc, label(p)))
        .collect();
    let log = plot::spans_decades(scatter.iter().map(|p| p.1));
    plot::scatter_labelled(
        &ctx.out.join("sweep.png"),
        "Batch sweep (labels: batch_ms/batch_events)",
        "events/s (median of runs)",
        if log {
            "p99 processing latency (µs, log scale)"
        } else {
            "p99 processing latency (µs)"
        },
        &scatter,
        log,
    )?;
    s.figure(
        "sweep.png",
        "median events/s against median p99 processing latency in µs, per batch setting",
        "each point is one setting, labelled batch_ms/batch_events; x = median events/s, y = median p99 processing latency in µs (right and low is better).",
    );
    let fastest = points.iter().max_by(|a, b| a.eps.total_cmp(&b.eps));
    let lowest = points
        .iter()
        .min_by(|a, b| a.p99_proc.total_cmp(&b.p99_proc));
    if let (Some(f), Some(l)) = (fastest, lowest) {
        s.headline.push(format!(
            "Best sweep point (highest events/s): **{}** — {} events/s at p99 processing {} µs; \
             lowest p99: {} ({} µs at {} events/s).",
            label(f),
            si(f.eps),
            sig(f.p99_proc),
            label(l),
            sig(l.p99_proc),
            si(l.eps),
        ));
    }
    Ok(s)
}
