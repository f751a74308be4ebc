//! [`AlertFields`]: the top-level fields the alert records of a run can
//! have, which are the names a sink's `{field}` templates may use.
//!
//! Every record has [`COMMON_FIELDS`] (`seq` from the journal; `alert_id` and
//! `kind`, which the shipper relies on). The rest depends on the jobs: the
//! engine adds each configured job with its record's fields, and the sinks
//! check their templates against the result when their config is read, so a
//! typo stops the start instead of sending "order " to a phone.

/// One top-level field of an alert record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertField {
    /// The JSON key, as a placeholder names it (`{order_id}`).
    pub name: &'static str,
    /// Its JSON type in words: `"string"`, `"integer"`, `"string or null"`.
    pub type_name: &'static str,
    /// What it holds, in one line.
    pub doc: &'static str,
}

impl AlertField {
    pub const fn new(name: &'static str, type_name: &'static str, doc: &'static str) -> Self {
        AlertField {
            name,
            type_name,
            doc,
        }
    }
}

/// The fields every record has, whatever job produced it.
pub const COMMON_FIELDS: &[AlertField] = &[
    AlertField::new(
        "seq",
        "integer",
        "the journal's sequence number, gapless from 1",
    ),
    AlertField::new(
        "alert_id",
        "string",
        "unique per alert episode; the idempotency key of every delivery",
    ),
    AlertField::new(
        "kind",
        "string",
        "what the alert is (a job may have several kinds)",
    ),
];

/// One configured job and the fields of its records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobFields {
    job: &'static str,
    fields: Vec<AlertField>,
}

/// The fields the records of the configured jobs can have: the common ones
/// plus each job's own. A field some jobs have and others lack renders as
/// nothing in the records of the others (like a null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFields {
    jobs: Vec<JobFields>,
}

impl AlertFields {
    /// Only the common fields (no job configured).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds configured job `job` with its record's `fields` (listing a
    /// common field again is harmless).
    pub fn with_job(mut self, job: &'static str, fields: &[AlertField]) -> Self {
        self.jobs.push(JobFields {
            job,
            fields: fields.to_vec(),
        });
        self
    }

    /// The configured jobs, in the order they were added.
    pub fn jobs(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|j| j.job).collect()
    }

    /// The field called `name`: its first description, common ones first.
    pub fn get(&self, name: &str) -> Option<&AlertField> {
        self.all().find(|f| f.name == name)
    }

    /// Whether some record can have field `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The jobs whose records have field `name` (every job for a common
    /// field; none for an unknown one).
    pub fn jobs_with(&self, name: &str) -> Vec<&'static str> {
        let common = COMMON_FIELDS.iter().any(|f| f.name == name);
        self.jobs
            .iter()
            .filter(|j| common || j.fields.iter().any(|f| f.name == name))
            .map(|j| j.job)
            .collect()
    }

    /// Every known field name once: the common ones, then each job's in order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for field in self.all() {
            if !names.contains(&field.name) {
                names.push(field.name);
            }
        }
        names
    }

    /// Why `name` is not a field, for a config error: the jobs that lack it
    /// and the names there are.
    pub(crate) fn unknown(&self, name: &str) -> String {
        let jobs = self.jobs();
        let jobs = if jobs.is_empty() {
            "none".to_owned()
        } else {
            jobs.join(", ")
        };
        format!(
            "the configured jobs ({jobs}) have no field {name}; known: {}",
            self.names().join(", ")
        )
    }

    fn all(&self) -> impl Iterator<Item = &AlertField> {
        COMMON_FIELDS
            .iter()
            .chain(self.jobs.iter().flat_map(|j| j.fields.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::test_fixtures::overfill_fields;

    /// A second job sharing some fields with the overfill one.
    fn with_exposure() -> AlertFields {
        overfill_fields().with_job(
            "exposure",
            &[
                AlertField::new("client", "string", "the client"),
                AlertField::new("exposure", "integer", "shares bought in the window"),
            ],
        )
    }

    #[test]
    fn common_fields_need_no_job() {
        let fields = AlertFields::new();
        assert_eq!(fields.names(), ["seq", "alert_id", "kind"]);
        assert!(fields.contains("alert_id") && !fields.contains("order_id"));
        assert!(fields.jobs().is_empty());
        assert!(fields.jobs_with("seq").is_empty());
    }

    #[test]
    fn names_are_listed_once_in_order() {
        assert_eq!(
            with_exposure().names(),
            [
                "seq",
                "alert_id",
                "kind",
                "order_id",
                "client",
                "stock",
                "requested",
                "filled",
                "trigger_id",
                "event_ts",
                "detected_at",
                "exposure"
            ]
        );
    }

    #[test]
    fn says_which_jobs_provide_a_field() {
        let fields = with_exposure();
        assert_eq!(fields.jobs(), ["overfill", "exposure"]);
        assert_eq!(fields.jobs_with("client"), ["overfill", "exposure"]);
        assert_eq!(fields.jobs_with("requested"), ["overfill"]);
        assert_eq!(fields.jobs_with("exposure"), ["exposure"]);
        assert_eq!(fields.jobs_with("kind"), ["overfill", "exposure"]);
        assert!(fields.jobs_with("shares").is_empty());
        let requested = fields.get("requested").expect("requested");
        assert_eq!(requested.type_name, "integer or null");
        assert_eq!(fields.get("client").map(|f| f.type_name), Some("string"));
    }

    #[test]
    fn the_unknown_message_names_the_field_and_the_jobs() {
        assert_eq!(
            with_exposure().unknown("shares"),
            "the configured jobs (overfill, exposure) have no field shares; known: seq, \
             alert_id, kind, order_id, client, stock, requested, filled, trigger_id, \
             event_ts, detected_at, exposure"
        );
        assert_eq!(
            AlertFields::new().unknown("order_id"),
            "the configured jobs (none) have no field order_id; known: seq, alert_id, kind"
        );
    }
}
