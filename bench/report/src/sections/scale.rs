//! Time and memory against replay size (`scale.csv`).

use anyhow::Result;

use crate::fmt::{self, fixed, int, si};
use crate::plot;
use crate::section::{Ctx, Section, med};
use crate::table::{self, Input, Kind, groups};

pub(crate) fn scale(ctx: &Ctx) -> Result<Section> {
    const FILE: &str = "scale.csv";
    let mut s = Section::new("Scaling with replay size", FILE);
    let cols = [
        ("events", Kind::Positive),
        ("run", Kind::Num),
        ("seconds", Kind::Positive),
        ("peak_rss_anon_kib", Kind::Num),
        ("peak_rss_file_kib", Kind::Num),
        ("open_books_max", Kind::Num),
    ];
    let df = match ctx.load(FILE, &cols)? {
        Input::Missing(why) => return Ok(s.missing(&why)),
        Input::Present(df) => df,
    };
    struct Size {
        events: f64,
        runs: usize,
        seconds: f64,
        anon_mib: f64,
        file_mib: f64,
        books: f64,
    }
    let mut sizes = Vec::new();
    for g in groups(&df, &["events"])? {
        sizes.push(Size {
            events: table::first_num(&g, "events")?,
            runs: g.height(),
            seconds: med(&g, "seconds")?,
            anon_mib: med(&g, "peak_rss_anon_kib")? / 1024.0,
            file_mib: med(&g, "peak_rss_file_kib")? / 1024.0,
            books: med(&g, "open_books_max")?,
        });
    }
    sizes.sort_by(|a, b| a.events.total_cmp(&b.events));
    s.line(
        "Per replay size, medians over runs: wall seconds, events/s (= events / \
         median seconds), ns per event, peak resident memory split into anonymous \
         (heap, the engine's state) and file-backed (mapped input and journal) in \
         MiB, and the largest number of open books.\n",
    );
    let rows: Vec<Vec<String>> = sizes
        .iter()
        .map(|x| {
            vec![
                int(x.events),
                x.runs.to_string(),
                fixed(x.seconds, 3),
                int(x.events / x.seconds),
                fixed(x.seconds * 1e9 / x.events, 1),
                fixed(x.anon_mib, 1),
                fixed(x.file_mib, 1),
                int(x.books),
            ]
        })
        .collect();
    s.line(&fmt::table(
        &[
            "events",
            "runs",
            "seconds",
            "events/s",
            "ns/event",
            "peak anon RSS (MiB)",
            "peak file RSS (MiB)",
            "open books (max)",
        ],
        &rows,
    ));
    let mem: Vec<(f64, f64, f64)> = sizes
        .iter()
        .map(|x| (x.events, x.anon_mib, x.file_mib))
        .collect();
    plot::memory(&ctx.out.join("memory.png"), &mem)?;
    s.figure(
        "memory.png",
        "peak RSS in MiB against events replayed",
        "peak resident memory in MiB (anonymous and file-backed) against events replayed (log scale).",
    );
    let time: Vec<(f64, f64)> = sizes.iter().map(|x| (x.events, x.seconds)).collect();
    plot::scale_time(&ctx.out.join("scale_time.png"), &time)?;
    s.figure(
        "scale_time.png",
        "replay seconds against events, log-log",
        "replay wall time in seconds against events replayed, log-log; the dashed line is linear scaling from the smallest size.",
    );
    if let (Some(lo), Some(hi)) = (sizes.first(), sizes.last())
        && sizes.len() > 1
    {
        let growth = table::ratio(hi.anon_mib, lo.anon_mib);
        let verdict = match growth {
            Some(r) if r <= 1.5 => "flat (within 1.5×)".to_string(),
            Some(r) => format!("**not flat**: ×{}", fixed(r, 2)),
            None => "unknown (0 MiB at the smallest size)".to_string(),
        };
        s.headline.push(format!(
            "Memory: peak anonymous RSS {} MiB at {} events vs {} MiB at {} events: {verdict}.",
            fixed(lo.anon_mib, 1),
            si(lo.events),
            fixed(hi.anon_mib, 1),
            si(hi.events),
        ));
    } else if let Some(x) = sizes.first() {
        s.headline.push(format!(
            "Memory: peak anonymous RSS {} MiB at {} events (one size only).",
            fixed(x.anon_mib, 1),
            si(x.events)
        ));
    }
    Ok(s)
}
