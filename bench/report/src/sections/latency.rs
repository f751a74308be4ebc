//! Latency percentiles per metric (`latency.csv`).

use anyhow::Result;

use crate::fmt::{self, sig};
use crate::plot;
use crate::section::{Ctx, Section, med};
use crate::table::{self, Input, Kind, groups};

pub(crate) fn latency(ctx: &Ctx) -> Result<Section> {
    const FILE: &str = "latency.csv";
    let mut s = Section::new("Latency", FILE);
    let cols = [
        ("run", Kind::Num),
        ("metric", Kind::Text),
        ("p50_us", Kind::Num),
        ("p99_us", Kind::Num),
        ("p999_us", Kind::Num),
        ("max_us", Kind::Num),
    ];
    let df = match ctx.load(FILE, &cols)? {
        Input::Missing(why) => return Ok(s.missing(&why)),
        Input::Present(df) => df,
    };
    // (metric, runs, [p50, p99, p99.9, max])
    let mut metrics: Vec<(String, usize, [f64; 4])> = Vec::new();
    for g in groups(&df, &["metric"])? {
        metrics.push((
            table::first_text(&g, "metric")?,
            g.height(),
            [
                med(&g, "p50_us")?,
                med(&g, "p99_us")?,
                med(&g, "p999_us")?,
                med(&g, "max_us")?,
            ],
        ));
    }
    let known = ["processing", "durable", "fdatasync"];
    metrics.sort_by_key(|m| known.iter().position(|k| *k == m.0).unwrap_or(known.len()));
    s.line(
        "Per metric, the median over runs of each run's percentile, in µs. \
         `processing`: from an event's arrival to its batch processed; `durable`: \
         to its batch's journal write being durable; `fdatasync`: the disk's own \
         fdatasync times in the same run.\n",
    );
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|(m, n, p)| {
            let mut row = vec![format!("`{m}`"), n.to_string()];
            row.extend(p.iter().map(|v| sig(*v)));
            row
        })
        .collect();
    s.line(&fmt::table(
        &[
            "metric",
            "runs",
            "p50 (µs)",
            "p99 (µs)",
            "p99.9 (µs)",
            "max (µs)",
        ],
        &rows,
    ));
    let series: Vec<(String, Vec<f64>)> = metrics
        .iter()
        .map(|(m, _, p)| (m.clone(), p[..3].to_vec()))
        .collect();
    let log = plot::spans_decades(series.iter().flat_map(|x| x.1.iter().copied()));
    plot::grouped_bars(
        &ctx.out.join("latency.png"),
        "Latency percentiles (median of runs)",
        if log {
            "latency (µs, log scale)"
        } else {
            "latency (µs)"
        },
        &["p50", "p99", "p99.9"],
        &series,
        log,
    )?;
    s.figure(
        "latency.png",
        "latency percentiles in µs per metric",
        "latency in µs at p50, p99 and p99.9, one bar per metric (median over runs; lower is better).",
    );
    let find = |name: &str| metrics.iter().find(|m| m.0 == name).map(|m| m.2);
    match find("processing") {
        Some(p) => s.headline.push(format!(
            "Processing latency: p99 **{} µs**, p99.9 **{} µs**.",
            sig(p[1]),
            sig(p[2])
        )),
        None => s.headline.push(format!(
            "Processing latency: no `processing` rows in {FILE}."
        )),
    }
    match find("durable") {
        Some(p) => {
            let disk = find("fdatasync")
                .map(|f| format!(" (the disk's fdatasync p99: {} µs)", sig(f[1])))
                .unwrap_or_default();
            s.headline
                .push(format!("Durable latency: p99 **{} µs**{disk}.", sig(p[1])));
        }
        None => s
            .headline
            .push(format!("Durable latency: no `durable` rows in {FILE}.")),
    }
    Ok(s)
}
