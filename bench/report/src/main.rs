//! `bench-report DATA_DIR OUT_DIR`: turns the CSV files that
//! `scripts/bench.sh` leaves in DATA_DIR into `OUT_DIR/index.md`, PNG plots
//! beside it, and Parquet copies of the inputs in `OUT_DIR/data/`.
//!
//! Every input is optional: a missing file makes its section say "not
//! measured in this run"; a malformed one is an error naming the file and
//! the column.

mod fmt;
mod plot;
mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use polars::prelude::DataFrame;

use crate::fmt::{fixed, int, si, sig, times};
use crate::table::{Input, Kind, groups, load};

const USAGE: &str = "usage: bench-report DATA_DIR OUT_DIR

Reads throughput.csv, batches.csv, latency.csv, scale.csv, sweep.csv,
amqp.csv and meta.txt from DATA_DIR (each optional) and writes
OUT_DIR/index.md, PNG plots in OUT_DIR and OUT_DIR/data/<name>.parquet.
The plots' font: $BENCH_REPORT_FONT, else DejaVu Sans (fonts-dejavu-core).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [data, out] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(Path::new(data), Path::new(out)) {
        Ok(index) => {
            println!("wrote {}", index.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line, whatever the causes' own messages hold.
            let msg = format!("{e:#}");
            let lines: Vec<&str> = msg
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("bench-report: {}", lines.join(" "));
            ExitCode::FAILURE
        }
    }
}

/// Where the inputs are and where the report goes.
struct Ctx {
    data: PathBuf,
    out: PathBuf,
}

impl Ctx {
    fn load(&self, file: &str, cols: &[(&str, Kind)]) -> Result<Input> {
        load(&self.data, &self.out, file, cols)
    }
}

/// One section of index.md, and its lines for the headline.
struct Section {
    title: &'static str,
    file: &'static str,
    body: String,
    headline: Vec<String>,
}

impl Section {
    fn new(title: &'static str, file: &'static str) -> Self {
        Self {
            title,
            file,
            body: String::new(),
            headline: Vec::new(),
        }
    }

    fn missing(mut self, why: &str) -> Self {
        self.body = format!("Not measured in this run ({why}).\n");
        self.headline
            .push(format!("{}: not measured in this run ({why}).", self.title));
        self
    }

    fn line(&mut self, text: &str) {
        self.body.push_str(text);
        self.body.push('\n');
    }

    fn figure(&mut self, file: &str, alt: &str, caption: &str) {
        self.line(&format!("\n![{alt}]({file})\n\n_Figure: {caption}_"));
    }
}

fn run(data: &Path, out: &Path) -> Result<PathBuf> {
    if !data.is_dir() {
        bail!("DATA_DIR {} is not a directory", data.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    plot::init_font()?;
    let ctx = Ctx {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
    };
    let sections = [
        throughput(&ctx)?,
        latency(&ctx)?,
        scale(&ctx)?,
        sweep(&ctx)?,
        batches(&ctx)?,
        amqp(&ctx)?,
    ];

    let mut md = String::from("# Aldebaran benchmark report\n\n## Run\n\n");
    md.push_str(&meta(data)?);
    md.push_str("\n## Headline\n\n");
    for s in &sections {
        for h in &s.headline {
            md.push_str(&format!("- {h}\n"));
        }
    }
    for (i, s) in sections.iter().enumerate() {
        md.push_str(&format!("\n## {}. {} (`{}`)\n\n", i + 1, s.title, s.file));
        md.push_str(&s.body);
    }
    md.push_str("\n---\n\nParquet copies of the CSV inputs present in this run are in `data/`.\n");
    let index = out.join("index.md");
    std::fs::write(&index, md).with_context(|| format!("cannot write {}", index.display()))?;
    Ok(index)
}

/// meta.txt verbatim in a code block.
fn meta(data: &Path) -> Result<String> {
    let path = data.join("meta.txt");
    if !path.is_file() {
        return Ok("No `meta.txt` in this run (host, date and commit unknown).\n".to_string());
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    // A fence longer than any run of backticks in the text.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body = text.trim_end_matches('\n');
    Ok(format!("{fence}text\n{body}\n{fence}\n"))
}

fn value(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn med(df: &DataFrame, col: &str) -> Result<f64> {
    Ok(value(table::median(df, col)?))
}

// --- throughput.csv ---------------------------------------------------------

struct System {
    name: String,
    runs: usize,
    median: f64,
    min: f64,
    max: f64,
}

fn throughput(ctx: &Ctx) -> Result<Section> {
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

// --- latency.csv ------------------------------------------------------------

fn latency(ctx: &Ctx) -> Result<Section> {
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

// --- scale.csv --------------------------------------------------------------

fn scale(ctx: &Ctx) -> Result<Section> {
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

// --- sweep.csv --------------------------------------------------------------

fn sweep(ctx: &Ctx) -> Result<Section> {
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

// --- batches.csv ------------------------------------------------------------

fn batches(ctx: &Ctx) -> Result<Section> {
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

// --- amqp.csv ---------------------------------------------------------------

fn amqp(ctx: &Ctx) -> Result<Section> {
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
