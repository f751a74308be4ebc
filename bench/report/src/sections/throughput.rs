//! Replay throughput against the peers (`throughput.csv`).

use anyhow::Result;

use crate::fmt::{self, int, si, times};
use crate::plot;
use crate::section::{Ctx, Section, med, value};
use crate::table::{self, Input, Kind, groups};

struct System {
    name: String,
    runs: usize,
    median: f64,
    min: f64,
    max: f64,
}

pub(crate) fn throughput(ctx: &Ctx) -> Result<Section> {
    const FILE: &str = "throughput.csv";
    let mut s = Section::new("Replay throughput against peers", FILE);
    let cols = [
        ("system", Kind::Text),
        ("run", Kind::Num),
        ("events", Kind::Num),
        ("seconds", Kind::Positive),
    ];
    let mut df = match ctx.load(FILE, &cols)? {
        Input::Missing(why) => return Ok(s.missing(&why)),
        Input::Present(df) => df,
    };
    table::add_ratio(&mut df, "events_per_s", "events", "seconds")?;
    let mut systems = Vec::new();
    for g in groups(&df, &["system"])? {
        systems.push(System {
            name: table::first_text(&g, "system")?,
            runs: g.height(),
            median: med(&g, "events_per_s")?,
            min: value(table::min(&g, "events_per_s")?),
            max: value(table::max(&g, "events_per_s")?),
        });
    }
    let base = systems
        .iter()
        .find(|x| x.name == "aldebaran")
        .map(|x| x.median);
    s.line(
        "Events/s of each run = events / seconds; the table gives the median over \
         the runs, the slowest and the fastest run, and the median's ratio to \
         `aldebaran`'s median (above 1× is faster than aldebaran).\n",
    );
    let rows: Vec<Vec<String>> = systems
        .iter()
        .map(|x| {
            vec![
                format!("`{}`", x.name),
                x.runs.to_string(),
                int(x.median),
                int(x.min),
                int(x.max),
                times(base.and_then(|b| table::ratio(x.median, b))),
            ]
        })
        .collect();
    s.line(&fmt::table(
        &[
            "system",
            "runs",
            "median events/s",
            "min events/s",
            "max events/s",
            "ratio to aldebaran",
        ],
        &rows,
    ));
    let items: Vec<(String, f64)> = systems.iter().map(|x| (x.name.clone(), x.median)).collect();
    plot::bars_h(
        &ctx.out.join("peers.png"),
        "Median replay throughput per system",
        "events/s (median of runs; higher is better)",
        &items,
    )?;
    s.figure(
        "peers.png",
        "median events/s per system",
        "median events/s over the runs, per system (higher is better).",
    );
    match systems.iter().find(|x| x.name == "aldebaran") {
        Some(a) => {
            s.headline.push(format!(
                "Replay: aldebaran **{} events/s** (median of {} runs).",
                si(a.median),
                a.runs
            ));
            for p in systems.iter().filter(|x| x.name != "aldebaran") {
                s.headline.push(format!(
                    "aldebaran's median is **{}** `{}`'s ({} events/s).",
                    times(table::ratio(a.median, p.median)),
                    p.name,
                    si(p.median)
                ));
            }
        }
        None => s
            .headline
            .push(format!("Replay: no `aldebaran` rows in {FILE}.")),
    }
    Ok(s)
}
