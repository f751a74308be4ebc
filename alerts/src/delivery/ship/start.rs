//! Where a sink starts: the pure decision from what its journal says about
//! it (the registry entry, its cursor file, the oldest seq retention kept)
//! and its `start` key, executed by `opening.rs`.

use crate::delivery::ship::cursor::CursorState;
use crate::delivery::ship::registry::Registered;

/// Where a sink that has never shipped from a journal starts (the `start`
/// key of its table). Read only then: afterwards its cursor says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFrom {
    /// The journal's oldest record: the sink receives every alert the
    /// journal holds (a new archive, a new consumer that wants the history).
    #[default]
    Oldest,
    /// After the journal's last durable record: the sink receives only the
    /// alerts journaled from now on (a pager added to a long-running engine
    /// should not receive months of old alerts).
    Head,
}

impl StartFrom {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            StartFrom::Oldest => "oldest",
            StartFrom::Head => "head",
        }
    }
}

/// The sink's cursor file as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CursorFound {
    Missing,
    /// Read from its valid slot (a damaged other slot is the caller's to
    /// report; it does not change where the sink stands).
    Present(CursorState),
}

/// What to do at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// A registered sink with its cursor: carry on from it.
    Resume(CursorState),
    /// A cursor the registry does not know (written before the registry
    /// existed, or set with `journal cursors --reset`): carry on from it and
    /// register the sink, its first seq being the one after the cursor.
    Adopt(CursorState),
    /// A sink new to this journal: create its cursor so that `from` is the
    /// first seq it receives, and register it.
    Fresh { from: u64 },
    /// Do not start.
    Refuse { why: Refusal },
}

/// Why a sink may not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It has shipped from this journal (per the registry), but its cursor
    /// file is gone: starting over would resend everything (or, from the
    /// head, skip what it never got); only an operator knows which is right.
    CursorMissing { kind: String, first_seq: u64 },
    /// Its cursor says it has delivered up to `delivered`, but the journal
    /// keeps seqs from `oldest` on: the ones in between are gone (removed
    /// by retention), and skipping them is the operator's call.
    BehindOldest { delivered: u64, oldest: u64 },
}

/// The journal as the start decision sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JournalSpan {
    /// The oldest seq a reader can start at (1 unless retention removed
    /// segments).
    pub oldest: u64,
    /// The last durable seq (0 for an empty journal).
    pub last: u64,
}

/// The start of a sink, from the registry's entry for it (if any), its
/// cursor file, its `start` key and the seqs the journal holds.
pub(crate) fn decide_start(
    registered: Option<&Registered>,
    cursor: CursorFound,
    start: StartFrom,
    journal: JournalSpan,
) -> Start {
    let oldest = journal.oldest.max(1);
    match (registered, cursor) {
        // Whether it is known or adopted, a cursor that needs a seq the
        // journal no longer has would read into a gap.
        (_, CursorFound::Present(state)) if state.delivered.saturating_add(1) < oldest => {
            Start::Refuse {
                why: Refusal::BehindOldest {
                    delivered: state.delivered,
                    oldest,
                },
            }
        }
        (Some(_), CursorFound::Present(state)) => Start::Resume(state),
        (None, CursorFound::Present(state)) => Start::Adopt(state),
        (Some(entry), CursorFound::Missing) => Start::Refuse {
            why: Refusal::CursorMissing {
                kind: entry.kind.clone(),
                first_seq: entry.first_seq,
            },
        },
        (None, CursorFound::Missing) => Start::Fresh {
            from: match start {
                StartFrom::Oldest => oldest,
                StartFrom::Head => journal.last.saturating_add(1).max(oldest),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STARTS: [StartFrom; 2] = [StartFrom::Oldest, StartFrom::Head];

    fn entry() -> Registered {
        Registered {
            kind: "http".into(),
            first_seq: 3,
        }
    }

    fn cursor(delivered: u64, in_flight_to: u64) -> CursorState {
        CursorState {
            delivered,
            in_flight_to,
        }
    }

    fn whole(last: u64) -> JournalSpan {
        JournalSpan { oldest: 1, last }
    }

    /// Every combination: registered or not × cursor missing, settled or
    /// in flight × start oldest or head × an empty or a filled journal.
    #[test]
    fn every_combination() {
        let registered = entry();
        for start in STARTS {
            for last in [0, 1, 42] {
                for state in [cursor(0, 0), cursor(7, 7), cursor(7, 9)] {
                    let found = CursorFound::Present(state);
                    // A cursor on disk always wins over the start key, in
                    // doubt or not (the mode handles what is in flight).
                    assert_eq!(
                        decide_start(Some(&registered), found, start, whole(last)),
                        Start::Resume(state)
                    );
                    assert_eq!(
                        decide_start(None, found, start, whole(last)),
                        Start::Adopt(state)
                    );
                }
                assert_eq!(
                    decide_start(Some(&registered), CursorFound::Missing, start, whole(last)),
                    Start::Refuse {
                        why: Refusal::CursorMissing {
                            kind: "http".into(),
                            first_seq: 3
                        }
                    },
                    "a known sink without its cursor never starts over"
                );
                let from = match start {
                    StartFrom::Oldest => 1,
                    StartFrom::Head => last + 1,
                };
                assert_eq!(
                    decide_start(None, CursorFound::Missing, start, whole(last)),
                    Start::Fresh { from }
                );
            }
        }
    }

    /// After retention removed seqs 1..=19 (the journal keeps 20..=42).
    #[test]
    fn a_cursor_behind_the_oldest_kept_seq_is_refused_never_skipped() {
        let span = JournalSpan {
            oldest: 20,
            last: 42,
        };
        let registered = entry();
        for start in STARTS {
            for reg in [Some(&registered), None] {
                // Delivered through 18: seq 19 is gone.
                for state in [cursor(0, 0), cursor(18, 18), cursor(10, 30)] {
                    assert_eq!(
                        decide_start(reg, CursorFound::Present(state), start, span),
                        Start::Refuse {
                            why: Refusal::BehindOldest {
                                delivered: state.delivered,
                                oldest: 20
                            }
                        },
                        "{state:?}"
                    );
                }
                // Delivered through 19 or later: everything it needs is there.
                for state in [cursor(19, 19), cursor(19, 25), cursor(42, 42)] {
                    let got = decide_start(reg, CursorFound::Present(state), start, span);
                    assert!(
                        matches!(got, Start::Resume(s) | Start::Adopt(s) if s == state),
                        "{got:?}"
                    );
                }
            }
        }
        // A new sink starts at the oldest record kept, or at the head.
        assert_eq!(
            decide_start(None, CursorFound::Missing, StartFrom::Oldest, span),
            Start::Fresh { from: 20 }
        );
        assert_eq!(
            decide_start(None, CursorFound::Missing, StartFrom::Head, span),
            Start::Fresh { from: 43 }
        );
    }

    #[test]
    fn start_keys_read_as_written() {
        #[derive(serde::Deserialize)]
        struct T {
            start: StartFrom,
        }
        for (text, want) in [("oldest", StartFrom::Oldest), ("head", StartFrom::Head)] {
            let t: T = toml::from_str(&format!("start = {text:?}")).expect(text);
            assert_eq!((t.start, want.as_str()), (want, text));
        }
        assert!(toml::from_str::<T>("start = \"tail\"").is_err());
        assert_eq!(StartFrom::default(), StartFrom::Oldest);
    }
}
