//! The node's epoch, persisted in its state directory (`epoch`): raised by
//! every takeover before the new active ships anything, so that it is never
//! lower after a restart than what its alerts carried.
//!
//! ```text
//! format_version = 2          (version 1, before versions: the bare
//! epoch = 7                    number, `7`, still read)
//! ```
//!
//! A file of another version is refused ([`PairError::UnknownVersion`]),
//! never read as 0: a node that took its epoch for lower than it is could
//! ship under an epoch already fenced.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::{PairError, Result};

const FILE: &str = "epoch";
/// The version written; 1 (a bare number) is read too.
const VERSION: u64 = 2;
const VERSION_KEY: &str = "format_version";
const EPOCH_KEY: &str = "epoch";

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

fn err(p: &Path, reason: impl std::fmt::Display) -> PairError {
    PairError::Epoch {
        path: p.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Why an epoch file's text gives no epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unreadable {
    Version(u64),
    Damaged(String),
}

/// The epoch stored in `state_dir` (0 when none was ever stored).
pub fn load(state_dir: &Path) -> Result<u64> {
    let p = path(state_dir);
    match fs::read_to_string(&p) {
        Ok(text) => parse(&text).map_err(|why| match why {
            Unreadable::Version(found) => PairError::UnknownVersion {
                path: p.clone(),
                found,
                reads: format!("versions 1 and {VERSION}"),
            },
            Unreadable::Damaged(reason) => err(&p, reason),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(err(&p, e)),
    }
}

/// The epoch an epoch file's text holds (a pure function of it).
fn parse(text: &str) -> std::result::Result<u64, Unreadable> {
    // Version 1, the form before formats were versioned: the bare number.
    if let Ok(epoch) = text.trim().parse() {
        return Ok(epoch);
    }
    let bad = || Unreadable::Damaged(format!("holds {:?}, not an epoch", text.trim()));
    let table: toml::Table = text.parse().map_err(|_| bad())?;
    let int = |key: &str| match table.get(key) {
        Some(toml::Value::Integer(v)) => u64::try_from(*v).ok(),
        _ => None,
    };
    let found = int(VERSION_KEY).ok_or_else(bad)?;
    if found != VERSION {
        return Err(Unreadable::Version(found));
    }
    if table.len() != 2 {
        return Err(bad());
    }
    int(EPOCH_KEY).ok_or_else(bad)
}

/// The text of an epoch file of this release's version.
fn render(epoch: u64) -> String {
    format!("{VERSION_KEY} = {VERSION}\n{EPOCH_KEY} = {epoch}\n")
}

/// Stores `epoch` durably (temporary file, fsync, rename, directory fsync).
pub fn store(state_dir: &Path, epoch: u64) -> Result<()> {
    fs::create_dir_all(state_dir).map_err(|e| err(state_dir, e))?;
    let p = path(state_dir);
    let tmp = state_dir.join(format!("{FILE}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(|e| err(&tmp, e))?;
    f.write_all(render(epoch).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e))?;
    fs::rename(&tmp, &p).map_err(|e| err(&p, e))?;
    fs::File::open(state_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(state_dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_survives_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("none yet"), 0);
        store(dir.path(), 7).expect("store");
        assert_eq!(load(dir.path()).expect("load"), 7);
        assert_eq!(
            fs::read_to_string(dir.path().join(FILE)).expect("read"),
            "format_version = 2\nepoch = 7\n"
        );
        fs::write(dir.path().join(FILE), "seven").expect("garbage");
        assert!(load(dir.path()).is_err());
        fs::write(dir.path().join(FILE), "format_version = 2\nepoch = -1\n").expect("garbage");
        assert!(matches!(load(dir.path()), Err(PairError::Epoch { .. })));
    }

    /// The bare number the releases before versioned formats wrote
    /// (version 1) is read, so an upgrade keeps the epoch.
    #[test]
    fn a_version_1_epoch_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(FILE), "12\n").expect("write");
        assert_eq!(load(dir.path()).expect("load"), 12);
    }

    #[test]
    fn an_epoch_of_an_unknown_version_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(FILE);
        fs::write(&p, "format_version = 99\nepochs = [3]\n").expect("write");
        let e = load(dir.path()).expect_err("refused");
        assert!(!e.is_transient());
        let line = e.to_string();
        assert!(
            line.starts_with(&format!(
                "epoch file {}: format version 99, but this aldebaran reads versions 1 and 2; ",
                p.display()
            )),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }
}
