//! Reading the CSV inputs with polars (eager API), checking their columns,
//! the Parquet copies, and the group-by / median helpers the sections use.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use polars::prelude::{
    ChunkAgg, ChunkQuantile, Column, CsvReadOptions, DataFrame, DataType, Float64Chunked,
    IntoColumn, IntoSeries, ParquetWriter, QuantileMethod, SerReader,
};

/// What a required column must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any number; read as `f64`.
    Num,
    /// A number > 0 (a divisor such as `seconds`).
    Positive,
    /// Text (a system, a metric, a path).
    Text,
}

/// One input file, as the report sees it.
pub enum Input {
    /// Not there, or a header without rows: the section says why.
    Missing(String),
    /// The required columns, checked and cast (numbers to `f64`, text to
    /// `String`), in the file's row order.
    Present(DataFrame),
}

/// Reads `DATA_DIR/file` if it exists, writes its Parquet copy to
/// `OUT_DIR/data/<stem>.parquet`, and checks that every column of `cols`
/// is there with values of its kind. A missing file is `Input::Missing`; an
/// unreadable or malformed one is an error naming the file and the column.
pub fn load(data_dir: &Path, out_dir: &Path, file: &str, cols: &[(&str, Kind)]) -> Result<Input> {
    let path = data_dir.join(file);
    if !path.is_file() {
        return Ok(Input::Missing(format!("{file} missing")));
    }
    let mut raw = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.clone()))
        .and_then(|reader| reader.finish())
        .with_context(|| format!("{}: not a readable CSV file", path.display()))?;
    write_parquet(&mut raw, &parquet_path(out_dir, file))?;
    if raw.height() == 0 {
        return Ok(Input::Missing(format!("{file} has a header but no rows")));
    }
    let mut checked = Vec::with_capacity(cols.len());
    for &(name, kind) in cols {
        checked.push(check_column(&raw, &path, name, kind)?);
    }
    let df = DataFrame::new_infer_height(checked)
        .with_context(|| format!("{}: cannot assemble its columns", path.display()))?;
    Ok(Input::Present(df))
}

fn check_column(raw: &DataFrame, path: &Path, name: &str, kind: Kind) -> Result<Column> {
    let file = path.display();
    let column = raw.column(name).map_err(|_| {
        let header: Vec<&str> = raw.get_column_names().iter().map(|c| c.as_str()).collect();
        anyhow!(
            "{file}: no column `{name}` (its header is: {})",
            header.join(",")
        )
    })?;
    let cast = match kind {
        Kind::Num | Kind::Positive => column.strict_cast(&DataType::Float64).map_err(|_| {
            anyhow!(
                "{file}: column `{name}` is not numeric (type {})",
                column.dtype()
            )
        })?,
        Kind::Text => column
            .cast(&DataType::String)
            .with_context(|| format!("{file}: column `{name}` cannot be read as text"))?,
    };
    if cast.null_count() > 0 {
        bail!(
            "{file}: column `{name}` has {} empty value(s)",
            cast.null_count()
        );
    }
    if kind == Kind::Positive {
        let values = cast
            .f64()
            .with_context(|| format!("{file}: column `{name}`"))?;
        if let Some(bad) = values
            .into_no_null_iter()
            .find(|v| !(*v > 0.0 && v.is_finite()))
        {
            bail!("{file}: column `{name}` must be > 0 (found {bad})");
        }
    }
    Ok(cast)
}

/// `OUT_DIR/data/<stem>.parquet` for the input `file` (`throughput.csv` →
/// `throughput.parquet`).
pub fn parquet_path(out_dir: &Path, file: &str) -> PathBuf {
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    out_dir.join("data").join(format!("{stem}.parquet"))
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    ParquetWriter::new(file)
        .finish(df)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The rows of `df` split by the values of `keys`, groups in order of first
/// appearance (polars' stable partition).
pub fn groups(df: &DataFrame, keys: &[&str]) -> Result<Vec<DataFrame>> {
    df.partition_by_stable(keys.iter().copied(), true)
        .with_context(|| format!("cannot group by {}", keys.join(",")))
}

/// The `f64` values of a checked numeric column.
pub fn nums<'a>(df: &'a DataFrame, col: &str) -> Result<&'a Float64Chunked> {
    df.column(col)
        .and_then(|c| c.f64())
        .with_context(|| format!("column `{col}` is not a number column"))
}

/// The median of a numeric column (linear interpolation between the two
/// middle values for an even count), `None` for no rows.
pub fn median(df: &DataFrame, col: &str) -> Result<Option<f64>> {
    Ok(nums(df, col)?.median())
}

/// The `q` quantile (0..=1, linear interpolation) of a numeric column.
pub fn quantile(df: &DataFrame, col: &str, q: f64) -> Result<Option<f64>> {
    nums(df, col)?
        .quantile(q, QuantileMethod::Linear)
        .with_context(|| format!("quantile {q} of `{col}`"))
}

pub fn min(df: &DataFrame, col: &str) -> Result<Option<f64>> {
    Ok(nums(df, col)?.min())
}

pub fn max(df: &DataFrame, col: &str) -> Result<Option<f64>> {
    Ok(nums(df, col)?.max())
}

pub fn mean(df: &DataFrame, col: &str) -> Result<Option<f64>> {
    Ok(nums(df, col)?.mean())
}

pub fn sum(df: &DataFrame, col: &str) -> Result<f64> {
    Ok(nums(df, col)?.sum().unwrap_or(0.0))
}

/// The value of a column in the first row of a group (its key).
pub fn first_text(df: &DataFrame, col: &str) -> Result<String> {
    df.column(col)
        .and_then(|c| c.str().map(|s| s.get(0).map(str::to_string)))
        .with_context(|| format!("column `{col}` is not a text column"))?
        .ok_or_else(|| anyhow!("empty group in column `{col}`"))
}

pub fn first_num(df: &DataFrame, col: &str) -> Result<f64> {
    nums(df, col)?
        .get(0)
        .ok_or_else(|| anyhow!("empty group in column `{col}`"))
}

/// Adds the column `name` = `num / den` (row by row).
pub fn add_ratio(df: &mut DataFrame, name: &str, num: &str, den: &str) -> Result<()> {
    let ratio = (nums(df, num)? / nums(df, den)?).with_name(name.into());
    df.with_column(ratio.into_series().into_column())
        .with_context(|| format!("cannot add column `{name}`"))?;
    Ok(())
}

/// Events per second in consecutive windows of `window_ns` nanoseconds,
/// counted from the earliest `cut_at_ns`: `(window start in s, events in
/// the window / window length in s)`. Windows without a batch count as 0.
pub fn rate_windows(cut_at_ns: &[f64], events: &[f64], window_ns: f64) -> Vec<(f64, f64)> {
    let Some(t0) = cut_at_ns.iter().copied().reduce(f64::min) else {
        return Vec::new();
    };
    if window_ns <= 0.0 {
        return Vec::new();
    }
    let mut sums: Vec<f64> = Vec::new();
    for (t, n) in cut_at_ns.iter().zip(events) {
        // Truncating cast: t >= t0, so the index is >= 0.
        let i = ((t - t0) / window_ns) as usize;
        if sums.len() <= i {
            sums.resize(i + 1, 0.0);
        }
        sums[i] += n;
    }
    let window_s = window_ns / 1e9;
    sums.iter()
        .enumerate()
        .map(|(i, n)| (i as f64 * window_s, n / window_s))
        .collect()
}

/// `value / base`, `None` when the base is 0 (or either is not finite).
pub fn ratio(value: f64, base: f64) -> Option<f64> {
    let r = value / base;
    (base != 0.0 && r.is_finite()).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{NamedFrom, Series};

    fn frame(values: &[f64]) -> DataFrame {
        let s = Series::new("v".into(), values);
        DataFrame::new_infer_height(vec![s.into_column()]).unwrap()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&frame(&[3.0, 1.0, 2.0]), "v").unwrap(), Some(2.0));
        assert_eq!(
            median(&frame(&[4.0, 1.0, 3.0, 2.0]), "v").unwrap(),
            Some(2.5)
        );
        assert_eq!(median(&frame(&[]), "v").unwrap(), None);
    }

    #[test]
    fn quantiles_interpolate() {
        let df = frame(&(0..=100).map(f64::from).collect::<Vec<_>>());
        assert_eq!(quantile(&df, "v", 0.99).unwrap(), Some(99.0));
        assert_eq!(quantile(&df, "v", 0.5).unwrap(), Some(50.0));
    }

    #[test]
    fn groups_keep_first_appearance_order() {
        let keys = Series::new("k".into(), &["b", "a", "b", "a", "b"]);
        let vals = Series::new("v".into(), &[1.0, 10.0, 3.0, 30.0, 2.0]);
        let df = DataFrame::new_infer_height(vec![keys.into_column(), vals.into_column()]).unwrap();
        let g = groups(&df, &["k"]).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(first_text(&g[0], "k").unwrap(), "b");
        assert_eq!(median(&g[0], "v").unwrap(), Some(2.0));
        assert_eq!(first_text(&g[1], "k").unwrap(), "a");
        assert_eq!(median(&g[1], "v").unwrap(), Some(20.0));
    }

    #[test]
    fn windows_of_100ms_from_the_first_batch() {
        let t0 = 1_700_000_000_000_000_000.0;
        let cut = [t0, t0 + 50e6, t0 + 120e6, t0 + 350e6];
        let events = [10.0, 20.0, 5.0, 7.0];
        let w = rate_windows(&cut, &events, 100e6);
        assert_eq!(w.len(), 4);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(w[0].0, 0.0) && close(w[0].1, 300.0));
        assert!(close(w[1].0, 0.1) && close(w[1].1, 50.0));
        assert!(
            close(w[2].0, 0.2) && close(w[2].1, 0.0),
            "an empty window is 0"
        );
        assert!(close(w[3].0, 0.3) && close(w[3].1, 70.0));
        assert!(rate_windows(&[], &[], 100e6).is_empty());
    }

    #[test]
    fn ratio_guards_a_zero_base() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
    }

    #[test]
    fn add_ratio_divides_row_by_row() {
        let e = Series::new("events".into(), &[100.0, 300.0]);
        let s = Series::new("seconds".into(), &[2.0, 3.0]);
        let mut df = DataFrame::new_infer_height(vec![e.into_column(), s.into_column()]).unwrap();
        add_ratio(&mut df, "eps", "events", "seconds").unwrap();
        let eps: Vec<f64> = nums(&df, "eps").unwrap().into_no_null_iter().collect();
        assert_eq!(eps, vec![50.0, 100.0]);
    }
}
