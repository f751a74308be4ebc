//! What every section of the report shares: where the inputs are
//! ([`Ctx`]), a section's text and headline lines ([`Section`]), and the
//! median of a column.

use std::path::PathBuf;

use anyhow::Result;
use polars::prelude::DataFrame;

use crate::table::{self, Input, Kind, load};

/// Where the inputs are and where the report goes.
pub(crate) struct Ctx {
    pub(crate) data: PathBuf,
    pub(crate) out: PathBuf,
}

impl Ctx {
    pub(crate) fn load(&self, file: &str, cols: &[(&str, Kind)]) -> Result<Input> {
        load(&self.data, &self.out, file, cols)
    }
}

/// One section of index.md, and its lines for the headline.
pub(crate) struct Section {
    pub(crate) title: &'static str,
    pub(crate) file: &'static str,
    pub(crate) body: String,
    pub(crate) headline: Vec<String>,
}

impl Section {
    pub(crate) fn new(title: &'static str, file: &'static str) -> Self {
        Self {
            title,
            file,
            body: String::new(),
            headline: Vec::new(),
        }
    }

    pub(crate) fn missing(mut self, why: &str) -> Self {
        self.body = format!("Not measured in this run ({why}).\n");
        self.headline
            .push(format!("{}: not measured in this run ({why}).", self.title));
        self
    }

    pub(crate) fn line(&mut self, text: &str) {
        self.body.push_str(text);
        self.body.push('\n');
    }

    pub(crate) fn figure(&mut self, file: &str, alt: &str, caption: &str) {
        self.line(&format!("\n![{alt}]({file})\n\n_Figure: {caption}_"));
    }
}

pub(crate) fn value(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

pub(crate) fn med(df: &DataFrame, col: &str) -> Result<f64> {
    Ok(value(table::median(df, col)?))
}
