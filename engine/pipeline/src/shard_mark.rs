//! A sharded node's mark on its journal (SPEC §8): the file `shard` in the
//! journal directory names the shard whose alerts it holds, so a node
//! configured for another shard (or for none) refuses the directory instead
//! of appending its alerts to another shard's, and an operator looking at
//! a directory can tell whose it is. (The checkpoints need no mark of their
//! own: they name the queue they were taken on, and a shard's queue is its
//! own.)
//!
//! The decision ([`decide`]) is a pure function of what the directory
//! holds and what the node is configured for; [`claim`] reads the facts and
//! carries it out.

use std::path::Path;

use crate::{PipelineError, Result};

/// The mark's file name, in the journal directory.
const FILE: &str = "shard";
/// The mark's first line.
const HEADER: &str = "aldebaran journal shard";

/// What the journal directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// The shard its mark names, if it has one.
    pub(crate) mark: Option<u32>,
    /// Whether it holds journal segments already.
    pub(crate) has_segments: bool,
}

/// What to do with the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Use it as it is.
    Use,
    /// Write the mark for this shard, then use it.
    Mark(u32),
    /// Refuse it: it holds another shard's alerts, or an unsharded run's.
    Refuse(String),
}

/// The decision for a node of shard `configured` (`None`: not sharded).
pub(crate) fn decide(found: Found, configured: Option<u32>) -> Claim {
    match (found.mark, configured) {
        (Some(m), Some(c)) if m == c => Claim::Use,
        (Some(m), Some(c)) => Claim::Refuse(format!(
            "it holds the alerts of shard {m}, and this node consumes shard {c}"
        )),
        (Some(m), None) => Claim::Refuse(format!(
            "it holds the alerts of shard {m}, and this node is not sharded \
             (set source.amqp.shard = {m}, or use another journal.dir)"
        )),
        (None, Some(c)) if found.has_segments => Claim::Refuse(format!(
            "it holds the alerts of an unsharded run, and this node consumes shard {c} \
             (use another journal.dir)"
        )),
        (None, Some(c)) => Claim::Mark(c),
        (None, None) => Claim::Use,
    }
}

/// Reads the journal directory `dir`, decides, and writes the mark if the
/// decision says so (durably: the directory is synced after it).
pub(crate) fn claim(dir: &Path, configured: Option<u32>) -> Result<()> {
    let path = dir.join(FILE);
    let found = Found {
        mark: read(&path)?,
        has_segments: has_segments(dir)?,
    };
    match decide(found, configured) {
        Claim::Use => Ok(()),
        Claim::Mark(k) => write(dir, &path, k),
        Claim::Refuse(why) => Err(PipelineError::Config(format!(
            "journal directory {}: {why}",
            dir.display()
        ))),
    }
}

fn read(path: &Path) -> Result<Option<u32>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PipelineError::Output {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut lines = text.lines();
    match (lines.next(), lines.next().map(|l| l.trim().parse::<u32>())) {
        (Some(HEADER), Some(Ok(k))) => Ok(Some(k)),
        _ => Err(PipelineError::Config(format!(
            "{} is not a shard mark (expected \"{HEADER}\" and a shard number): \
             restore it, or remove it if the directory holds no alerts",
            path.display()
        ))),
    }
}

fn has_segments(dir: &Path) -> Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(PipelineError::Output {
                path: dir.to_owned(),
                source,
            });
        }
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .any(|e| e.path().extension().is_some_and(|x| x == "seg")))
}

fn write(dir: &Path, path: &Path, k: u32) -> Result<()> {
    let out = |source| PipelineError::Output {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(out)?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, format!("{HEADER}\n{k}\n")).map_err(out)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(out)?;
    std::fs::rename(&tmp, path).map_err(out)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Against the rule in words: a mark is kept and must match; an
        /// unmarked directory is marked only while it holds no alerts.
        #[test]
        fn a_directory_serves_one_shard_only(
            mark in proptest::option::of(0u32..4),
            has_segments in any::<bool>(),
            configured in proptest::option::of(0u32..4),
        ) {
            let claim = decide(Found { mark, has_segments }, configured);
            let want = match (mark, configured) {
                (Some(m), Some(c)) if m == c => "use",
                (None, None) => "use",
                (None, Some(_)) if !has_segments => "mark",
                _ => "refuse",
            };
            let got = match &claim {
                Claim::Use => "use",
                Claim::Mark(k) => {
                    prop_assert_eq!(Some(*k), configured);
                    "mark"
                }
                Claim::Refuse(_) => "refuse",
            };
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_mark_is_written_once_then_enforced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = dir.path().join("journal");
        claim(&j, Some(2)).expect("marks an empty directory");
        assert_eq!(read(&j.join(FILE)).expect("reads"), Some(2));
        claim(&j, Some(2)).expect("its own shard");
        let e = claim(&j, Some(1)).expect_err("another shard").to_string();
        assert!(e.contains("holds the alerts of shard 2"), "{e}");
        assert!(e.contains("consumes shard 1"), "{e}");
        let e = claim(&j, None).expect_err("not sharded").to_string();
        assert!(e.contains("source.amqp.shard = 2"), "{e}");
    }

    #[test]
    fn an_unsharded_journal_with_alerts_is_not_taken_by_a_shard() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("00000000000000000001.seg"), b"x").expect("seg");
        let e = claim(dir.path(), Some(0)).expect_err("refused").to_string();
        assert!(e.contains("an unsharded run"), "{e}");
        claim(dir.path(), None).expect("unsharded is fine");
    }

    #[test]
    fn a_damaged_mark_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), "garbage\n").expect("write");
        let e = claim(dir.path(), Some(0)).expect_err("refused").to_string();
        assert!(e.contains("is not a shard mark"), "{e}");
    }
}
