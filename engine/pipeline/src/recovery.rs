//! After a restart: alerts the journal already holds are not appended again.
//!
//! The restored state is that of the newest checkpoint; the journal may hold
//! alerts produced after it (the engine journaled them, then died before the
//! next checkpoint). Re-processing the input from the checkpoint produces
//! them again. They are deterministic in their `alert_id`, so the journal's
//! records past the checkpoint form a multiset of ids that re-produced alerts
//! are matched against, each at most once — an order that legitimately alerts
//! twice (reopened after its tombstone expired) appears twice in the multiset.
//! Once the multiset is empty the engine is past the point of the crash.

use std::collections::HashMap;
use std::path::Path;

use alerts::JournalReader;
use serde::Deserialize;

use engine_core::Alert;

use crate::{PipelineError, Result};

#[derive(Deserialize)]
struct IdOnly {
    alert_id: String,
}

/// The alerts journaled past a checkpoint, still expected again.
#[derive(Debug, Default)]
pub(crate) struct AlreadyJournaled {
    ids: HashMap<String, u32>,
    left: u64,
    /// Re-produced alerts kept out of the journal so far.
    pub(crate) suppressed: u64,
    /// What the summary's note calls this (`recovery`, `append`).
    label: &'static str,
    /// The first seq read.
    from_seq: u64,
}

impl AlreadyJournaled {
    /// Reads the records of the journal in `dir` from `from_seq` on.
    pub(crate) fn read(dir: &Path, from_seq: u64) -> Result<Self> {
        let mut me = AlreadyJournaled {
            label: "recovery",
            from_seq: from_seq.max(1),
            ..AlreadyJournaled::default()
        };
        if !dir.exists() {
            return Ok(me);
        }
        for record in JournalReader::open(dir, from_seq.max(1))? {
            let (seq, payload) = record?;
            let id: IdOnly = serde_json::from_slice(&payload).map_err(|e| {
                PipelineError::Internal(format!(
                    "journal record {seq} has no readable alert_id: {e}"
                ))
            })?;
            *me.ids.entry(id.alert_id).or_default() += 1;
            me.left += 1;
        }
        Ok(me)
    }

    /// While records are still expected, the seq they were read from: a
    /// restart now must expect them again.
    pub(crate) fn recover_from(&self) -> Option<u64> {
        (self.left > 0).then_some(self.from_seq)
    }

    /// Records still expected.
    pub(crate) fn pending(&self) -> u64 {
        self.left
    }

    /// The same, named `label` in the summary.
    pub(crate) fn labelled(self, label: &'static str) -> Self {
        AlreadyJournaled { label, ..self }
    }

    /// The summary's note on what was kept out of the journal, if any.
    pub(crate) fn note(&self) -> Option<String> {
        if self.suppressed == 0 && self.left == 0 {
            return None;
        }
        let unmatched = match (self.left, self.label) {
            (0, _) => String::new(),
            (n, "recovery") => {
                format!(" ({n} journaled alerts past the checkpoint were not re-produced)")
            }
            (n, _) => format!(" ({n} journaled alerts were not produced by this input)"),
        };
        Some(format!(
            "{}: {} re-produced alerts were already in the journal and not appended again{unmatched}",
            self.label, self.suppressed
        ))
    }

    /// Removes from `alerts` those the journal already holds.
    pub(crate) fn filter(&mut self, alerts: &mut Vec<Alert>) {
        if self.left == 0 {
            return;
        }
        alerts.retain(|a| match self.ids.get_mut(&a.alert_id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                self.left -= 1;
                self.suppressed += 1;
                false
            }
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alerts::{Journal, JournalOptions};
    use engine_core::AlertOrder;

    fn alert(id: &str) -> Alert {
        Alert {
            order: AlertOrder::event(0),
            kind: "overfill",
            alert_id: id.into(),
            payload: format!("{{\"alert_id\":\"{id}\"}}").into_bytes(),
        }
    }

    #[test]
    fn each_journaled_id_is_kept_out_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
            for id in ["a", "b", "c", "c"] {
                j.append(&alert(id).payload).expect("append");
            }
            j.sync().expect("sync");
        }
        let mut seen = AlreadyJournaled::read(dir.path(), 2).expect("read");
        assert_eq!(seen.pending(), 3);
        let mut batch = vec![alert("a"), alert("b"), alert("c"), alert("d")];
        seen.filter(&mut batch);
        let ids: Vec<_> = batch.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(ids, ["a", "d"]);
        let mut batch = vec![alert("c"), alert("c"), alert("b")];
        seen.filter(&mut batch);
        let ids: Vec<_> = batch.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(ids, ["c", "b"]);
        assert_eq!((seen.pending(), seen.suppressed), (0, 3));
    }
}
