//! The job registry: what each job declares, so the pipeline builds jobs from
//! config and checks sink templates without a branch over job names.

use engine_core::Engine;

use crate::{JobsError, Result};

/// One field of a job's alert record (besides `seq`, `alert_id` and `kind`,
/// which every record has), declared for sink templates and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertField {
    /// The JSON key.
    pub name: &'static str,
    /// Its JSON type, e.g. `"string"`, `"integer"`, `"integer or null"`.
    pub ty: &'static str,
    /// One line saying what it holds.
    pub doc: &'static str,
}

/// A registered job: how the pipeline builds it and what it emits.
pub trait JobSpec: Sync {
    /// Its name: in `--job`/`job`, the `[<name>]` config section, reports.
    fn name(&self) -> &'static str;
    /// One line for help texts.
    fn about(&self) -> &'static str;
    /// The fields of its alert records (all kinds it emits), in record order.
    fn alert_fields(&self) -> &'static [AlertField];
    /// Tables in its section whose keys are data (client names, say), not
    /// settings: the config layering accepts any key there.
    fn free_form_tables(&self) -> &'static [&'static str] {
        &[]
    }
    /// Parses `section` (unknown keys are an error naming them; absent keys
    /// take the job's defaults) and adds the job to `engine`.
    fn add_to(&self, engine: &mut Engine, section: &toml::Table) -> Result<()>;
}

impl std::fmt::Debug for dyn JobSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Declares the job modules and [`JOBS`], in registration order: one line
/// per job.
macro_rules! registry {
    ($($job:ident),* $(,)?) => {
        $(pub mod $job;)*

        /// Every registered job, in registration order.
        pub static JOBS: &[&dyn JobSpec] = &[$(&$job::SPEC),*];
    };
}

/// The registered job called `name`.
pub fn find(name: &str) -> Option<&'static dyn JobSpec> {
    crate::JOBS.iter().copied().find(|j| j.name() == name)
}

/// The registered names, comma-separated (for messages).
pub fn known_names() -> String {
    crate::JOBS
        .iter()
        .map(|j| j.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the jobs named in `spec` (comma-separated, in order) to `engine`,
/// each built from its section of `sections` (the config's top-level tables
/// by job name; a missing one takes the job's defaults). Alerts of one
/// event come in that order; a name may appear once. Returns the jobs added.
pub fn add_jobs(
    engine: &mut Engine,
    spec: &str,
    sections: &toml::Table,
) -> Result<Vec<&'static dyn JobSpec>> {
    let mut added: Vec<&'static dyn JobSpec> = Vec::new();
    let empty = toml::Table::new();
    for name in spec.split(',').map(str::trim) {
        let job = find(name).ok_or_else(|| JobsError::UnknownJob {
            name: name.to_owned(),
            known: known_names(),
        })?;
        if added.iter().any(|j| j.name() == job.name()) {
            return Err(JobsError::NamedTwice(job.name()));
        }
        let section = match sections.get(job.name()) {
            None => &empty,
            Some(toml::Value::Table(t)) => t,
            Some(other) => {
                return Err(JobsError::Section {
                    job: job.name(),
                    key: None,
                    reason: format!("must be a table, found a {}", other.type_str()),
                });
            }
        };
        job.add_to(engine, section)?;
        added.push(job);
    }
    Ok(added)
}

/// Deserializes a job's section into its settings struct (which denies
/// unknown fields and defaults absent ones).
pub(crate) fn parse_section<T: serde::de::DeserializeOwned>(
    job: &'static str,
    section: &toml::Table,
) -> Result<T> {
    toml::Value::Table(section.clone())
        .try_into()
        .map_err(|e: toml::de::Error| JobsError::Section {
            job,
            key: error_key(&e),
            reason: e.message().split_whitespace().collect::<Vec<_>>().join(" "),
        })
}

/// The key a deserialization error is about. toml keeps the key path
/// private and shows it as a last line "in `key`" when it has no source
/// text to quote (a table's `try_into`, as here).
fn error_key(e: &toml::de::Error) -> Option<String> {
    let text = e.to_string();
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(line.strip_prefix("in `")?.strip_suffix('`')?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_fields_documented() {
        let mut names: Vec<_> = crate::JOBS.iter().map(|j| j.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            crate::JOBS.len(),
            "a job name is registered twice"
        );
        for job in crate::JOBS {
            assert!(!job.about().is_empty(), "{}", job.name());
            for f in job.alert_fields() {
                assert!(
                    !f.doc.is_empty() && !f.ty.is_empty(),
                    "{}.{}",
                    job.name(),
                    f.name
                );
                assert!(
                    !["seq", "alert_id", "kind"].contains(&f.name),
                    "{}: {} is common to every record",
                    job.name(),
                    f.name
                );
            }
        }
    }

    #[test]
    fn every_job_has_a_default_section_it_builds_from() {
        let default: toml::Table = include_str!("../../../configs/default.toml")
            .parse()
            .expect("configs/default.toml parses");
        for job in crate::JOBS {
            let section = default
                .get(job.name())
                .and_then(toml::Value::as_table)
                .unwrap_or_else(|| panic!("configs/default.toml has no [{}]", job.name()));
            let mut e = Engine::new(Default::default()).expect("engine");
            job.add_to(&mut e, section)
                .unwrap_or_else(|err| panic!("{}: {err}", job.name()));
            let mut typo = section.clone();
            typo.insert("no_such_key".into(), toml::Value::Integer(1));
            let err = job
                .add_to(&mut Engine::new(Default::default()).expect("engine"), &typo)
                .expect_err("an unknown key");
            assert!(err.to_string().contains("no_such_key"), "{err}");
        }
    }

    #[test]
    fn unknown_twice_and_bad_sections_are_errors() {
        let mut e = Engine::new(Default::default()).expect("engine");
        let none = toml::Table::new();
        let err = add_jobs(&mut e, "nojob", &none).expect_err("unknown");
        assert!(err.to_string().contains("nojob") && err.to_string().contains("overfill"));
        let err = add_jobs(&mut e, "overfill,overfill", &none).expect_err("twice");
        assert!(err.to_string().contains("twice"), "{err}");
        let bad: toml::Table = "overfill = 3".parse().expect("toml");
        let err = add_jobs(
            &mut Engine::new(Default::default()).expect("engine"),
            "overfill",
            &bad,
        )
        .expect_err("not a table");
        assert!(err.to_string().contains("[overfill]"), "{err}");
    }

    /// A value of a section that does not fit names its key, so the
    /// pipeline can say where it was set.
    #[test]
    fn a_bad_value_names_its_key() {
        let bad: toml::Table = "[overfill]\nbook_ttl_ms = -1\n".parse().expect("toml");
        let err = add_jobs(
            &mut Engine::new(Default::default()).expect("engine"),
            "overfill",
            &bad,
        )
        .expect_err("a negative time-to-live");
        assert!(
            matches!(&err, JobsError::Section { key: Some(k), .. } if k == "book_ttl_ms"),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("`overfill.book_ttl_ms`: "),
            "{err}"
        );
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}
