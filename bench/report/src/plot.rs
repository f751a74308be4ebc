//! The PNG plots (plotters, bitmap backend, text through ab_glyph with a
//! font read at run time).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::fmt::{si, sig};

const FONT: &str = "sans-serif";
const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Colours of the series, in order.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// Registers the TrueType font the plots' text is drawn with: `$BENCH_REPORT_FONT`,
/// else DejaVu Sans from Debian's `fonts-dejavu-core`.
pub fn init_font() -> Result<()> {
    let path = std::env::var_os("BENCH_REPORT_FONT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| DEFAULT_FONT.into());
    let bytes = std::fs::read(&path).map_err(|e| {
        anyhow!(
            "cannot read the plot font {} ({e}): install the Debian package fonts-dejavu-core, \
             or set BENCH_REPORT_FONT to a .ttf file",
            path.display()
        )
    })?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FONT, FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{}: not a TrueType/OpenType font", path.display()))?;
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn canvas(path: &Path, size: (u32, u32)) -> Result<Area<'_>> {
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(root)
}

fn finish(root: Area<'_>, path: &Path) -> Result<()> {
    root.present()
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// `max * 1.15`, and something drawable for an all-zero series.
fn headroom(max: f64) -> f64 {
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

/// Log-axis bounds around positive values: a little below the smallest and
/// above the largest; `None` if no value is positive.
fn log_bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    (hi > 0.0).then(|| (lo / 1.6, hi * 1.6))
}

/// Whether values span more than two decades (so a log axis reads better).
pub fn spans_decades(values: impl Iterator<Item = f64>) -> bool {
    log_bounds(values).is_some_and(|(lo, hi)| hi / lo > 100.0 * 1.6 * 1.6)
}

/// A horizontal bar per item, the value written at the bar's end.
pub fn bars_h(path: &Path, title: &str, x_desc: &str, items: &[(String, f64)]) -> Result<()> {
    let n = items.len();
    let longest = items
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(4);
    let height = 140 + 55 * n as u32;
    let root = canvas(path, (1000, height))?;
    let max = headroom(items.iter().map(|(_, v)| *v).fold(0.0, f64::max) * 1.1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 26))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(20 + 9 * longest as u32)
        .build_cartesian_2d(0f64..max, (0..n.saturating_sub(1)).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n.max(1))
        .x_desc(x_desc)
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => items.get(*i).map(|x| x.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    chart.draw_series(items.iter().enumerate().map(|(i, (_, v))| {
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (*v, SegmentValue::Exact(i + 1)),
            ],
            colour(0).mix(0.8).filled(),
        );
        bar.set_margin(8, 8, 0, 0);
        bar
    }))?;
    let value_style =
        TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(items.iter().enumerate().map(|(i, (_, v))| {
        Text::new(
            format!(" {}", si(*v)),
            (*v, SegmentValue::CenterOf(i)),
            value_style.clone(),
        )
    }))?;
    drop(chart);
    finish(root, path)
}

/// Events/s in time windows, and open books per batch below it when given.
pub fn over_time(path: &Path, rate: &[(f64, f64)], books: Option<&[(f64, f64)]>) -> Result<()> {
    let root = canvas(path, (1100, if books.is_some() { 900 } else { 520 }))?;
    let (top, bottom) = match books {
        Some(_) => {
            let (t, b) = root.split_vertically(480);
            (t, Some(b))
        }
        None => (root.clone(), None),
    };
    let t_max = rate
        .iter()
        .map(|p| p.0)
        .chain(books.unwrap_or(&[]).iter().map(|p| p.0))
        .fold(0.0, f64::max)
        .max(0.1);
    time_line(
        &top,
        "Replay throughput over time (100 ms windows)",
        "events/s",
        rate,
        t_max,
        0,
    )?;
    if let (Some(area), Some(books)) = (bottom, books) {
        time_line(
            &area,
            "Open books after each batch",
            "open books (count)",
            books,
            t_max,
            1,
        )?;
    }
    drop(top);
    finish(root, path)
}

/// One line of `points` (seconds since the first batch, value) on `area`.
fn time_line(
    area: &Area<'_>,
    caption: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    t_max: f64,
    series: usize,
) -> Result<()> {
    let y_max = headroom(points.iter().map(|p| p.1).fold(0.0, f64::max));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time since the first batch (s)")
        .y_desc(y_desc)
        .y_label_formatter(&|v| si(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .draw()?;
    chart.draw_series(LineSeries::new(
        points.iter().copied(),
        colour(series).stroke_width(2),
    ))?;
    Ok(())
}

/// The series' legend, in the upper left corner.
fn legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 16))
        .draw()?;
    Ok(())
}

/// A line series' mark in the legend.
fn line_marker(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
}

/// Grouped bars: one group per entry of `groups` along x, one bar per
/// series in each group; log y when `log` (bars then start at the axis floor).
pub fn grouped_bars(
    path: &Path,
    title: &str,
    y_desc: &str,
    groups: &[&str],
    series: &[(String, Vec<f64>)],
    log: bool,
) -> Result<()> {
    let root = canvas(path, (1000, 600))?;
    let values = || series.iter().flat_map(|(_, v)| v.iter().copied());
    let n = groups.len();
    let m = series.len().max(1);
    let x_label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => groups.get(*i).map(|s| s.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    // Draws into a chart whatever its y coordinate; `floor` is where bars start.
    macro_rules! draw {
        ($chart:expr, $floor:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n.max(1))
                .x_label_formatter(&x_label)
                .y_label_formatter(&|v| si(*v))
                .y_desc(y_desc)
                .label_style((FONT, 16))
                .axis_desc_style((FONT, 18))
                .draw()?;
            let seg = chart.plotting_area().dim_in_pixel().0 / n.max(1) as u32;
            let pad = seg / 8;
            let bw = (seg - 2 * pad) / m as u32;
            for (j, (name, vals)) in series.iter().enumerate() {
                let c = colour(j);
                chart
                    .draw_series(vals.iter().enumerate().map(|(i, v)| {
                        let mut bar = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), $floor),
                                (SegmentValue::Exact(i + 1), v.max($floor)),
                            ],
                            c.filled(),
                        );
                        let left = pad + j as u32 * bw;
                        bar.set_margin(0, 0, left + 1, seg.saturating_sub(left + bw) + 1);
                        bar
                    }))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())
                    });
            }
            legend(&mut chart)?;
        }};
    }
    if log {
        let (lo, hi) = log_bounds(values()).unwrap_or((0.1, 10.0));
        let chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(85)
            .build_cartesian_2d(
                (0..n.saturating_sub(1)).into_segmented(),
                (lo..hi).log_scale(),
            )?;
        draw!(chart, lo);
    } else {
        let hi = headroom(values().fold(0.0, f64::max));
        let chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(85)
            .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), 0f64..hi)?;
        draw!(chart, 0.0);
    }
    finish(root, path)
}

/// Peak RSS against the replayed events: x log, two series.
pub fn memory(path: &Path, points: &[(f64, f64, f64)]) -> Result<()> {
    let root = canvas(path, (1000, 600))?;
    let (lo, hi) = log_bounds(points.iter().map(|p| p.0)).unwrap_or((1e5, 1e9));
    let y_max = headroom(points.iter().map(|p| p.1.max(p.2)).fold(0.0, f64::max));
    let mut chart = ChartBuilder::on(&root)
        .caption("Peak resident memory against replay size", (FONT, 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("events replayed (log scale)")
        .y_desc("peak RSS (MiB)")
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| sig(*v))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    let anon: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
    let file: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.2)).collect();
    let series = [
        ("anonymous (heap, state)", anon),
        ("file-backed (mapped files)", file),
    ];
    for (j, (name, pts)) in series.into_iter().enumerate() {
        let c = colour(j);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(name)
            .legend(line_marker(c));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 5, c.filled())))?;
    }
    legend(&mut chart)?;
    drop(chart);
    finish(root, path)
}

/// Replay seconds against events, log-log, with a dashed line of linear
/// scaling through the smallest size.
pub fn scale_time(path: &Path, points: &[(f64, f64)]) -> Result<()> {
    let root = canvas(path, (1000, 600))?;
    let first = points.iter().copied().find(|p| p.0 > 0.0 && p.1 > 0.0);
    let reference: Vec<(f64, f64)> = match first {
        Some((e0, s0)) => points.iter().map(|p| (p.0, s0 * p.0 / e0)).collect(),
        None => Vec::new(),
    };
    let (xlo, xhi) = log_bounds(points.iter().map(|p| p.0)).unwrap_or((1e5, 1e9));
    let (ylo, yhi) =
        log_bounds(points.iter().chain(&reference).map(|p| p.1)).unwrap_or((0.1, 10.0));
    let mut chart = ChartBuilder::on(&root)
        .caption("Replay time against replay size", (FONT, 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((xlo..xhi).log_scale(), (ylo..yhi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("events replayed (log scale)")
        .y_desc("wall time (s, log scale)")
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| format!("{v}"))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    let c = colour(0);
    chart
        .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
        .label("measured (median of runs)")
        .legend(line_marker(c));
    chart.draw_series(points.iter().map(|p| Circle::new(*p, 5, c.filled())))?;
    let grey = RGBColor(110, 110, 110);
    chart
        .draw_series(DashedLineSeries::new(
            reference.iter().copied(),
            8,
            6,
            grey.stroke_width(2),
        ))?
        .label("linear in events, through the smallest size")
        .legend(line_marker(grey));
    legend(&mut chart)?;
    drop(chart);
    finish(root, path)
}

/// Points with a text label each; y on a log scale when `log_y`.
pub fn scatter_labelled(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64, String)],
    log_y: bool,
) -> Result<()> {
    let root = canvas(path, (1000, 650))?;
    let x_max = headroom(points.iter().map(|p| p.0).fold(0.0, f64::max) * 1.1);
    let label_style =
        TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    let c = colour(0);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&|v| si(*v))
                .y_label_formatter(&|v| si(*v))
                .label_style((FONT, 16))
                .axis_desc_style((FONT, 18))
                .draw()?;
            chart.draw_series(points.iter().map(|(x, y, label)| {
                EmptyElement::at((*x, *y))
                    + Circle::new((0, 0), 5, c.filled())
                    + Text::new(label.clone(), (6, -4), label_style.clone())
            }))?;
        }};
    }
    if log_y {
        let (lo, hi) = log_bounds(points.iter().map(|p| p.1)).unwrap_or((0.1, 10.0));
        let chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())?;
        draw!(chart);
    } else {
        let hi = headroom(points.iter().map(|p| p.1).fold(0.0, f64::max));
        let chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..x_max, 0f64..hi)?;
        draw!(chart);
    }
    finish(root, path).context("scatter plot")
}
