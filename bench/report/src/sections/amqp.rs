//! The AMQP drain against the broker's ceiling (`amqp.csv`).

use anyhow::{Result, bail};

use crate::fmt::{self, int, si, times};
use crate::plot;
use crate::section::{Ctx, Section, med};
use crate::table::{self, Input, Kind, groups};

pub(crate) fn amqp(ctx: &Ctx) -> Result<Section> {
    const FILE: &str = "amqp.csv";
    let mut s = Section::new("AMQP source", FILE);
    let cols = [
        ("path", Kind::Text),
        ("events_per_message", Kind::Positive),
        ("run", Kind::Num),
        ("events_per_s", Kind::Num),
    ];
    let df = match ctx.load(FILE, &cols)? {
        Input::Missing(why) => return Ok(s.missing(&why)),
        Input::Present(df) => df,
    };
    // events_per_message → (ceiling (median, runs), run (median, runs))
    type Cell = Option<(f64, usize)>;
    let mut by_size: Vec<(f64, Cell, Cell)> = Vec::new();
    for g in groups(&df, &["events_per_message", "path"])? {
        let size = table::first_num(&g, "events_per_message")?;
        let path = table::first_text(&g, "path")?;
        let cell = Some((med(&g, "events_per_s")?, g.height()));
        let i = match by_size.iter().position(|x| x.0 == size) {
            Some(i) => i,
            None => {
                by_size.push((size, None, None));
                by_size.len() - 1
            }
        };
        match path.as_str() {
            "ceiling" => by_size[i].1 = cell,
            "run" => by_size[i].2 = cell,
            other => bail!(
                "{}: column `path` has `{other}` (expected `ceiling` or `run`)",
                ctx.data.join(FILE).display()
            ),
        }
    }
    by_size.sort_by(|a, b| a.0.total_cmp(&b.0));
    s.line(
        "Events/s through RabbitMQ per events per message, medians over runs: \
         `ceiling` is the broker with a null consumer (what the broker alone \
         delivers), `run` is the engine consuming the same queue; the ratio is \
         run / ceiling.\n",
    );
    let cell = |c: &Cell| match c {
        Some((v, n)) => format!("{} ({n})", int(*v)),
        None => "—".to_string(),
    };
    let rows: Vec<Vec<String>> = by_size
        .iter()
        .map(|(size, ceiling, run)| {
            let r = match (ceiling, run) {
                (Some(c), Some(r)) => table::ratio(r.0, c.0),
                _ => None,
            };
            vec![int(*size), cell(ceiling), cell(run), times(r)]
        })
        .collect();
    s.line(&fmt::table(
        &[
            "events/message",
            "ceiling events/s (runs)",
            "engine events/s (runs)",
            "run/ceiling",
        ],
        &rows,
    ));
    let labels: Vec<String> = by_size
        .iter()
        .map(|x| format!("{} events/message", int(x.0)))
        .collect();
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let pick = |f: fn(&(f64, Cell, Cell)) -> &Cell| -> Vec<f64> {
        by_size.iter().map(|x| f(x).map_or(0.0, |c| c.0)).collect()
    };
    let series = vec![
        ("ceiling (null consumer)".to_string(), pick(|x| &x.1)),
        ("run (the engine)".to_string(), pick(|x| &x.2)),
    ];
    // Message sizes differ by far more than the paths: log once the bars
    // span a decade, or the small messages' bars vanish.
    let positive: Vec<f64> = series
        .iter()
        .flat_map(|x| x.1.iter().copied())
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = positive
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let log = hi > 0.0 && hi / lo > 10.0;
    plot::grouped_bars(
        &ctx.out.join("amqp.png"),
        "AMQP: engine against the broker's ceiling",
        if log {
            "events/s (median of runs, log scale)"
        } else {
            "events/s (median of runs)"
        },
        &label_refs,
        &series,
        log,
    )?;
    s.figure(
        "amqp.png",
        "events/s per events per message, ceiling and engine",
        "events/s (median over runs) per events per message: the broker's ceiling and the engine.",
    );
    for (size, ceiling, run) in &by_size {
        if let (Some(c), Some(r)) = (ceiling, run) {
            s.headline.push(format!(
                "AMQP at {} events/message: engine {} events/s = {} of the broker's ceiling.",
                int(*size),
                si(r.0),
                times(table::ratio(r.0, c.0))
            ));
        }
    }
    Ok(s)
}
