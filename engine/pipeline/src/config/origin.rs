//! Where each configuration key was set — a file's line and column, or an
//! environment variable — so that an error about a key can say where to
//! look: `c.toml:3:1: `overfill.book_ttl_ms` must be an integer, …`.

use std::{collections::BTreeMap, path::Path};

use toml::{Table, de::DeTable};

use crate::{PipelineError, Result};

/// Each key set over the embedded default, dotted (`journal.dir`), and
/// where it was set; a key of the default alone has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(BTreeMap<String, String>);

impl Origins {
    /// Where `key` (dotted) was set: `FILE:LINE:COLUMN`, `environment
    /// variable NAME` or `a command-line flag`; `None` for a default.
    pub fn of(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Records that `key` was set at `origin` (a later layer wins).
    pub(crate) fn set(&mut self, key: String, origin: String) {
        self.0.insert(key, origin);
    }

    /// A message about `key`, led by where it was set.
    pub(crate) fn error(&self, key: &str, what: impl std::fmt::Display) -> PipelineError {
        PipelineError::Config(match self.of(key) {
            Some(at) => format!("{at}: {what}"),
            None => what.to_string(),
        })
    }

    /// A deserialization error of the layered table, named by its key and
    /// led by where that key was set.
    pub(crate) fn deserialize_error(&self, e: &toml::de::Error) -> PipelineError {
        let message = one_line(e.message());
        match error_key(e) {
            Some(key) => self.error(&key, format!("`{key}`: {message}")),
            None => PipelineError::Config(message),
        }
    }

    /// A job's section error that names its key, led by where the key was
    /// set; any other job error as it is.
    pub(crate) fn job_error(&self, e: jobs::JobsError) -> PipelineError {
        match &e {
            jobs::JobsError::Section {
                job, key: Some(k), ..
            } => self.error(&format!("{job}.{k}"), &e),
            _ => PipelineError::Jobs(e),
        }
    }
}

/// Parses a configuration file, recording where each of its keys is: a
/// syntax error names the file, line and column.
pub(crate) fn parse_file(path: &Path, text: &str, origins: &mut Origins) -> Result<Table> {
    let name = path.display().to_string();
    let syntax = |e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| format!(":{}", line_col(text, s.start)))
            .unwrap_or_default();
        PipelineError::Config(format!("{name}{at}: {}", one_line(e.message())))
    };
    let table: Table = text.parse().map_err(syntax)?;
    // The same text parsed again, keeping spans: a file parses in well under
    // a millisecond, and the plain table is what the layering merges.
    let spanned = DeTable::parse(text).map_err(syntax)?;
    record(spanned.get_ref(), "", &name, text, origins);
    Ok(table)
}

/// Records `FILE:LINE:COLUMN` of every key of `table` (tables included, so
/// an unknown section is placed too), under `prefix`.
fn record(table: &DeTable<'_>, prefix: &str, file: &str, text: &str, origins: &mut Origins) {
    for (k, v) in table {
        let key = match prefix {
            "" => k.get_ref().to_string(),
            p => format!("{p}.{}", k.get_ref()),
        };
        origins.set(
            key.clone(),
            format!("{file}:{}", line_col(text, k.span().start)),
        );
        if let Some(t) = v.get_ref().as_table() {
            record(t, &key, file, text, origins);
        }
    }
}

/// `LINE:COLUMN` (both from 1, the column in characters) of byte `offset`.
fn line_col(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[start..].chars().count() + 1;
    format!("{line}:{column}")
}

/// The dotted key a deserialization error of a table is about. toml keeps
/// the key path private, and shows it as a last line "in `a.b`" when it has
/// no source text to quote (a table's `try_into`, as here).
pub(crate) fn error_key(e: &toml::de::Error) -> Option<String> {
    let text = e.to_string();
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(line.strip_prefix("in `")?.strip_suffix('`')?.to_owned())
}

/// toml's message on one line (some span several).
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_file_is_placed_by_line_and_column() {
        let text =
            "job = \"overfill\"\n[engine]\n  threads = 2\n[journal.retention]\nkeep_bytes = 1\n";
        let mut o = Origins::default();
        parse_file(Path::new("c.toml"), text, &mut o).expect("parses");
        assert_eq!(o.of("job"), Some("c.toml:1:1"));
        assert_eq!(o.of("engine"), Some("c.toml:2:2"));
        assert_eq!(o.of("engine.threads"), Some("c.toml:3:3"));
        assert_eq!(o.of("journal.retention.keep_bytes"), Some("c.toml:5:1"));
        assert_eq!(o.of("engine.batch_ms"), None);
    }

    #[test]
    fn a_syntax_error_names_the_file_line_and_column() {
        let mut o = Origins::default();
        let e = parse_file(Path::new("c.toml"), "[engine]\nthreads = = 2\n", &mut o)
            .expect_err("bad syntax")
            .to_string();
        assert!(e.starts_with("config: c.toml:2:11: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn the_key_of_a_deserialization_error_is_found() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "only deserialized")]
        struct Inner {
            n: u64,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "only deserialized")]
        struct Outer {
            inner: Inner,
        }
        let table: Table = "[inner]\nn = -1\n".parse().expect("toml");
        let e = toml::Value::Table(table)
            .try_into::<Outer>()
            .expect_err("negative");
        assert_eq!(error_key(&e).as_deref(), Some("inner.n"));
        let mut o = Origins::default();
        o.set("inner.n".into(), "c.toml:2:1".into());
        let msg = o.deserialize_error(&e).to_string();
        assert!(msg.starts_with("config: c.toml:2:1: `inner.n`: "), "{msg}");
    }
}
