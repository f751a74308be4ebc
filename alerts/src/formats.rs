//! The format version of every file this crate writes and reads back, in
//! one place, and the one-line refusal of a version it does not read.
//!
//! | file | versions read | written | where the version is |
//! |---|---|---|---|
//! | journal segment (`*.seg`, the input log's too) | 1 | 1 | header `ALDJNL version:u16le` |
//! | delivery cursor (`cursors/<sink>.cursor`) | 1, 2 | 2 | each slot (1: slots without one) |
//! | sink registry (`cursors/registry`) | 1, 2 | 2 | `format_version` (1: none) |
//! | sink sidecar (`cursors/<sink>.sink`) | 1, 2 | 2 | `format_version` (1: none) |
//! | retention marker (`OLDEST`) | 1, 2 | 2 | `format_version` (1: a bare seq) |
//!
//! Version 1 of the last four is the form the releases before versioned
//! formats wrote, without a version field: it is still read, so an upgrade
//! keeps every cursor and registration, and the next write replaces it with
//! the versioned form. A version this binary does not read (a newer release
//! wrote the file, or an older one this release no longer reads) is never
//! guessed at: [`AlertsError::UnknownVersion`], permanent, naming the file,
//! the version found, the versions read and what to do.

use std::path::Path;

use crate::error::AlertsError;

/// One kind of file and the versions this binary handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    /// What the file is, as an operator knows it.
    pub what: &'static str,
    /// The oldest version read.
    pub oldest: u64,
    /// The version written, and the newest read.
    pub current: u64,
    /// What to do about a file of another version.
    pub fix: &'static str,
}

pub(crate) const SEGMENT: Format = Format {
    what: "journal segment",
    oldest: 1,
    current: 1,
    fix: "run the aldebaran release that wrote it, or restore the directory from a backup \
          this release can read",
};

pub(crate) const CURSOR: Format = Format {
    what: "delivery cursor",
    oldest: 1,
    current: 2,
    fix: "run the aldebaran release that wrote it, or set it with `aldebaran journal cursors \
          --reset <sink> --to SEQ|head|oldest <journal dir>`",
};

pub(crate) const REGISTRY: Format = Format {
    what: "sink registry",
    oldest: 1,
    current: 2,
    fix: "run the aldebaran release that wrote it, or move it away (a sink with a cursor \
          file registers again at its next start)",
};

pub(crate) const SIDECAR: Format = Format {
    what: "sink sidecar",
    oldest: 1,
    current: 2,
    fix: "run the aldebaran release that wrote it, or delete it (it only describes the sink \
          for `journal cursors`; the sink's next start writes it again)",
};

pub(crate) const OLDEST: Format = Format {
    what: "journal retention marker",
    oldest: 1,
    current: 2,
    fix: "run the aldebaran release that wrote it",
};

impl Format {
    /// Whether this binary reads version `found` (a pure decision).
    pub(crate) fn reads(&self, found: u64) -> bool {
        (self.oldest..=self.current).contains(&found)
    }

    /// The versions read, as the refusal prints them.
    pub(crate) fn reads_text(&self) -> String {
        match self.current - self.oldest {
            0 => format!("version {}", self.current),
            1 => format!("versions {} and {}", self.oldest, self.current),
            _ => format!("versions {} to {}", self.oldest, self.current),
        }
    }

    /// The refusal of `path`, found in version `found`.
    pub(crate) fn refuse(&self, path: &Path, found: u64) -> AlertsError {
        AlertsError::UnknownVersion {
            what: self.what,
            path: path.to_path_buf(),
            found,
            reads: self.reads_text(),
            fix: self.fix,
        }
    }

    /// Why bytes that are not a file on disk yet (a mirrored cursor or
    /// registry) are refused, for an error that names them itself.
    pub(crate) fn why_not(&self, found: u64) -> String {
        format!(
            "format version {found}, but this aldebaran reads {}",
            self.reads_text()
        )
    }
}

/// Why a file's contents cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// A version this binary does not read.
    Version(u64),
    /// Not such a file, or damaged: why.
    Damaged(String),
}

/// The `format_version` of a small TOML state file: 1 when it has none
/// (the form written before versions existed); refused if `format` does
/// not read the version. `key_is_data` says the key, when it
/// is not an integer, belongs to the data (a sink registry of version 1 may
/// have a sink named `format_version`).
pub(crate) fn toml_version(
    format: &Format,
    table: &toml::Table,
    key_is_data: bool,
) -> Result<u64, Unreadable> {
    let found = match table.get(VERSION_KEY) {
        None => return Ok(1),
        Some(toml::Value::Integer(v)) => u64::try_from(*v).unwrap_or(0),
        Some(_) if key_is_data => return Ok(1),
        Some(other) => {
            return Err(Unreadable::Damaged(format!(
                "{VERSION_KEY} is {other}, not a version number"
            )));
        }
    };
    if format.reads(found) {
        Ok(found)
    } else {
        Err(Unreadable::Version(found))
    }
}

/// The key holding the format version of a TOML state file.
pub(crate) const VERSION_KEY: &str = "format_version";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_one_line_naming_file_found_and_read_versions() {
        let e = CURSOR
            .refuse(Path::new("/j/cursors/hook.cursor"), 99)
            .to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.starts_with(
                "delivery cursor /j/cursors/hook.cursor: format version 99, but this \
                 aldebaran reads versions 1 and 2; run the aldebaran release"
            ),
            "{e}"
        );
        assert!(e.contains("--reset"), "{e}");
        let e = SEGMENT.refuse(Path::new("x.seg"), 7).to_string();
        assert!(
            e.contains("format version 7, but this aldebaran reads version 1;"),
            "{e}"
        );
        assert!(!SEGMENT.refuse(Path::new("x"), 7).is_transient());
    }

    #[test]
    fn versions_read() {
        assert!(SEGMENT.reads(1) && !SEGMENT.reads(0) && !SEGMENT.reads(2));
        assert!(CURSOR.reads(1) && CURSOR.reads(2) && !CURSOR.reads(99));
        let t = Format {
            oldest: 2,
            current: 5,
            ..SEGMENT
        };
        assert_eq!(t.reads_text(), "versions 2 to 5");
        let t = Format { current: 3, ..t };
        assert_eq!(t.reads_text(), "versions 2 and 3");
    }

    #[test]
    fn toml_versions() {
        let table = |s: &str| s.parse::<toml::Table>().expect("toml");
        assert_eq!(toml_version(&REGISTRY, &table("a = 1"), false), Ok(1));
        assert_eq!(
            toml_version(&REGISTRY, &table("format_version = 2"), false),
            Ok(2)
        );
        assert_eq!(
            toml_version(&REGISTRY, &table("format_version = 99"), false),
            Err(Unreadable::Version(99))
        );
        assert_eq!(
            toml_version(&REGISTRY, &table("format_version = -3"), false),
            Err(Unreadable::Version(0))
        );
        let sink_named_so = table("[format_version]\nkind = \"file\"\nfirst_seq = 1");
        assert_eq!(toml_version(&REGISTRY, &sink_named_so, true), Ok(1));
        assert!(matches!(
            toml_version(&SIDECAR, &table("format_version = \"2\""), false),
            Err(Unreadable::Damaged(_))
        ));
    }
}
