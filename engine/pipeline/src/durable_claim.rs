//! What the rest of the system already relied on as durable in the journal —
//! the checkpoint's journal seq and each sink cursor's — so that opening the
//! journal never truncates, or reuses the seqs of, records something holds.

use std::path::Path;

use alerts::DurableClaim;

use crate::Result;

/// The strongest claim among the restored checkpoint (`checkpoint`: its path
/// and the seq it covers) and the cursors under `journal_dir`; `None` when
/// nothing has relied on the journal yet.
pub(crate) fn durable_claim(
    journal_dir: &Path,
    checkpoint: Option<(&Path, u64)>,
) -> Result<Option<DurableClaim>> {
    let mut claim = checkpoint
        .filter(|&(_, through)| through > 0)
        .map(|(path, through)| DurableClaim {
            through,
            by: format!("the checkpoint {} covers seq {through}", path.display()),
        });
    for c in alerts::delivery::read_cursors(journal_dir)? {
        // A send is marked in flight only for records read from the durable
        // journal: they existed and were durable too.
        let through = c.delivered.max(c.in_flight_to);
        if through > claim.as_ref().map_or(0, |c| c.through) {
            claim = Some(DurableClaim {
                through,
                by: format!("sink {}'s cursor reached seq {through}", c.name),
            });
        }
    }
    Ok(claim)
}
