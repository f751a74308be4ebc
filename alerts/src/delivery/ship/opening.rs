//! A sink's cursor at start: the facts (its entry in the sink registry, its
//! cursor file, its `start` key, the journal's durable head and the oldest
//! seq it keeps) go to the pure [`decide_start`]; this executes the answer
//! (I/O stays here), telling the spec's cursor mirror, if any, of each file
//! it writes.

use crate::delivery::ship::cursor::{CursorFile, CursorState, cursor_path};
use crate::delivery::ship::registry::{self, Registered};
use crate::delivery::ship::spec::ShipperSpec;
use crate::delivery::ship::start::{CursorFound, JournalSpan, Refusal, Start, decide_start};
use crate::error::{AlertsError, Result};
use crate::retention::first_kept_seq;

/// Opens (and locks) the cursor `spec`'s sink ships from: its own, a new one
/// where its `start` key says, or an error if it has lost the one it had or
/// needs records retention removed.
pub(crate) fn open_cursor(spec: &ShipperSpec) -> Result<CursorFile> {
    let (dir, name) = (&spec.journal_dir, spec.name.as_str());
    let registered = registry::load(dir)?;
    let existing = CursorFile::open_existing(dir, name)?;
    if let Some(cursor) = &existing
        && let Some(slot) = cursor.damaged_slot()
    {
        tracing::warn!(
            sink = %name,
            file = %cursor.path().display(),
            slot,
            "delivery cursor damaged: slot {slot} has a bad CRC (torn by a crash while it was \
             written, or damaged since); using the other slot, the state written before it \
             (if the damaged slot had been written whole, the sends after that state are \
             repeated)",
        );
    }
    let found = existing
        .as_ref()
        .map_or(CursorFound::Missing, |c| CursorFound::Present(c.state()));
    let journal = JournalSpan {
        oldest: first_kept_seq(dir)?,
        last: spec.durable.get(),
    };
    let decision = decide_start(registered.get(name), found, spec.start, journal);
    let mirror = spec.mirror.as_deref();
    match (decision, existing) {
        (Start::Resume(_), Some(cursor)) => Ok(cursor),
        (Start::Adopt(state), Some(cursor)) => {
            let first_seq = state.delivered + 1;
            registry::register(dir, name, registered_as(spec, first_seq), mirror)?;
            tracing::info!(sink = %name, first_seq, "sink registered with the cursor it had");
            Ok(cursor)
        }
        (Start::Fresh { from }, None) => {
            // The cursor first, then the registry: a crash in between leaves
            // a cursor the registry does not know, which the next start
            // adopts; the other order would leave a registered sink without
            // a cursor, refused for nothing.
            let cursor = CursorFile::create(dir, name, CursorState::settled(from - 1))?;
            // In the same order to the mirror, for the same reason.
            if let Some(mirror) = mirror {
                mirror.written(cursor.rel_path(), cursor.bytes());
            }
            registry::register(dir, name, registered_as(spec, from), mirror)?;
            tracing::info!(
                sink = %name,
                start = spec.start.as_str(),
                first_seq = from,
                "sink new to this journal: shipping from seq {from}",
            );
            Ok(cursor)
        }
        (
            Start::Refuse {
                why: Refusal::CursorMissing { kind, first_seq },
            },
            _,
        ) => Err(AlertsError::CursorMissing {
            sink: name.to_owned(),
            kind,
            first_seq,
            path: cursor_path(dir, name),
            journal: dir.clone(),
        }),
        (
            Start::Refuse {
                why: Refusal::BehindOldest { delivered, oldest },
            },
            _,
        ) => Err(AlertsError::CursorBehind {
            sink: name.to_owned(),
            delivered,
            oldest,
            path: cursor_path(dir, name),
            journal: dir.clone(),
        }),
        (decision, cursor) => Err(AlertsError::Internal(format!(
            "start of sink {name:?}: decided {decision:?} with {} cursor file",
            if cursor.is_some() { "a" } else { "no" }
        ))),
    }
}

fn registered_as(spec: &ShipperSpec, first_seq: u64) -> Registered {
    Registered {
        kind: spec.kind.clone(),
        first_seq,
    }
}
