//! The per-batch stats of one replay (`batches.csv`).

use anyhow::Result;

use crate::fmt::{self, fixed, int, sig};
use crate::plot;
use crate::section::{Ctx, Section, value};
use crate::table::{self, Input, Kind};

pub(crate) fn batches(ctx: &Ctx) -> Result<Section> {
    const FILE: &str = "batches.csv";
    let mut s = Section::new("Micro-batches of one full-speed replay", FILE);
    let cols = [
        ("batch", Kind::Num),
        ("cut_at_ns", Kind::Num),
        ("events", Kind::Num),
        ("rejected", Kind::Num),
        ("alerts", Kind::Num),
        ("open_books", Kind::Num),
        ("cut_ns", Kind::Num),
        ("process_ns", Kind::Num),
        ("journal_ns", Kind::Num),
    ];
    let df = match ctx.load(FILE, &cols)? {
        Input::Missing(why) => return Ok(s.missing(&why)),
        Input::Present(df) => df,
    };
    let cut: Vec<f64> = table::nums(&df, "cut_at_ns")?.into_no_null_iter().collect();
    let events: Vec<f64> = table::nums(&df, "events")?.into_no_null_iter().collect();
    let books: Vec<f64> = table::nums(&df, "open_books")?
        .into_no_null_iter()
        .collect();
    let t0 = cut.iter().copied().reduce(f64::min).unwrap_or(0.0);
    let span_s = (cut.iter().copied().fold(t0, f64::max) - t0) / 1e9;
    let us = |col: &str, q: f64| -> Result<String> {
        Ok(sig(value(table::quantile(&df, col, q)?) / 1e3))
    };
    let total = table::sum(&df, "events")?;
    let mut rows = vec![
        vec!["batches".to_string(), int(df.height() as f64)],
        vec!["events (total)".into(), int(total)],
        vec![
            "events per batch (mean)".into(),
            sig(value(table::mean(&df, "events")?)),
        ],
        vec![
            "rejected lines (total)".into(),
            int(table::sum(&df, "rejected")?),
        ],
        vec!["alerts (total)".into(), int(table::sum(&df, "alerts")?)],
        vec![
            "open books (max)".into(),
            int(value(table::max(&df, "open_books")?)),
        ],
        vec!["first to last cut (s)".into(), fixed(span_s, 3)],
    ];
    for (col, what) in [
        ("cut_ns", "cut"),
        ("process_ns", "process"),
        ("journal_ns", "journal write"),
    ] {
        rows.push(vec![format!("{what} p50 (µs)"), us(col, 0.5)?]);
        rows.push(vec![format!("{what} p99 (µs)"), us(col, 0.99)?]);
    }
    s.line(
        "Per-batch statistics of one full-speed replay; times per batch in µs \
         (p50/p99 over the batches).\n",
    );
    s.line(&fmt::table(&["statistic", "value"], &rows));
    let mut rate = table::rate_windows(&cut, &events, 100e6);
    // The last window is cut short by the end of the replay: it would read low.
    if rate.len() > 1 && rate.last().is_some_and(|w| span_s < w.0 + 0.1) {
        rate.pop();
    }
    let book_points: Vec<(f64, f64)> = cut
        .iter()
        .zip(&books)
        .map(|(t, b)| ((t - t0) / 1e9, *b))
        .collect();
    plot::over_time(
        &ctx.out.join("events_over_time.png"),
        &rate,
        Some(&book_points),
    )?;
    s.figure(
        "events_over_time.png",
        "events/s over time in 100 ms windows, and open books",
        "top: events/s in 100 ms windows of the batches' cut time, from the first batch; bottom: open books after each batch (count).",
    );
    Ok(s)
}
