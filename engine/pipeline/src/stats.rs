//! Per-micro-batch statistics, exported as CSV or Parquet.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};

use crate::{PipelineError, Result};

/// One row per micro-batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batch number, from 1.
    pub batch: u64,
    /// Wall-clock ns when the batch was cut.
    pub cut_at_ns: u64,
    /// Accepted events.
    pub events: u64,
    /// Rejected lines.
    pub rejected: u64,
    /// Alerts produced.
    pub alerts: u64,
    /// Open books (live keys) after the batch.
    pub open_books: u64,
    /// Time spent cutting (draining the ring, waiting for input included).
    pub cut_ns: u64,
    /// Time the engine spent processing.
    pub process_ns: u64,
    /// Time from handing the batch to the journal thread until its alerts
    /// were durable (queueing and group-commit fsync included).
    pub journal_ns: u64,
}

const COLUMNS: [&str; 9] = [
    "batch",
    "cut_at_ns",
    "events",
    "rejected",
    "alerts",
    "open_books",
    "cut_ns",
    "process_ns",
    "journal_ns",
];

impl BatchStats {
    fn values(&self) -> [u64; 9] {
        [
            self.batch,
            self.cut_at_ns,
            self.events,
            self.rejected,
            self.alerts,
            self.open_books,
            self.cut_ns,
            self.process_ns,
            self.journal_ns,
        ]
    }
}

/// Where the rows go.
pub(crate) enum StatsWriter {
    Csv {
        path: PathBuf,
        out: BufWriter<File>,
    },
    Parquet {
        path: PathBuf,
        rows: Vec<BatchStats>,
    },
}

fn out_err(path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Output {
        path: path.to_path_buf(),
        source,
    }
}

impl StatsWriter {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let parquet = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        // Create the file now so a bad path fails before the replay starts.
        let file = File::create(path).map_err(out_err(path))?;
        if parquet {
            return Ok(StatsWriter::Parquet {
                path: path.to_path_buf(),
                rows: Vec::new(),
            });
        }
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", COLUMNS.join(",")).map_err(out_err(path))?;
        Ok(StatsWriter::Csv {
            path: path.to_path_buf(),
            out,
        })
    }

    pub(crate) fn row(&mut self, s: &BatchStats) -> Result<()> {
        match self {
            StatsWriter::Csv { path, out } => {
                let v = s.values();
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{}",
                    v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
                )
                .map_err(out_err(path))
            }
            StatsWriter::Parquet { rows, .. } => {
                rows.push(*s);
                Ok(())
            }
        }
    }

    pub(crate) fn finish(self) -> Result<()> {
        match self {
            StatsWriter::Csv { path, mut out } => out.flush().map_err(out_err(&path)),
            StatsWriter::Parquet { path, rows } => write_parquet(&path, &rows),
        }
    }
}

fn write_parquet(path: &Path, rows: &[BatchStats]) -> Result<()> {
    let schema = Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::UInt64, false))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = (0..COLUMNS.len())
        .map(|i| {
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.values()[i]),
            )) as ArrayRef
        })
        .collect();
    let bad = |e: String| PipelineError::Output {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let batch =
        RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| bad(e.to_string()))?;
    let file = File::create(path).map_err(out_err(path))?;
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, schema, None).map_err(|e| bad(e.to_string()))?;
    w.write(&batch).map_err(|e| bad(e.to_string()))?;
    w.close().map_err(|e| bad(e.to_string()))?;
    Ok(())
}
