//! `bench-report DATA_DIR OUT_DIR`: turns the CSV files that
//! `scripts/bench.sh` leaves in DATA_DIR into `OUT_DIR/index.md`, PNG plots
//! beside it, and Parquet copies of the inputs in `OUT_DIR/data/`.
//!
//! Every input is optional: a missing file makes its section say "not
//! measured in this run"; a malformed one is an error naming the file and
//! the column.

mod fmt;
mod plot;
mod section;
mod sections;
mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::section::Ctx;
use crate::sections::{amqp, batches, latency, scale, sweep, throughput};

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
