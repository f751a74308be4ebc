//! The sinks a journal has shipped to: `<journal dir>/cursors/registry`.
//!
//! A sink is registered (its name, kind and the first seq it was to receive)
//! once, just before its first send, with the file replaced atomically and
//! fsynced. A registered sink whose cursor file is later missing has
//! delivered before, so it must not quietly start over: the start decision
//! (`start.rs`) refuses it until an operator resets its cursor. Updates are
//! read-modify-write under `cursors/registry.lock`, so shippers started at
//! once never drop each other's entries; a cursor mirror is told of each
//! write under that lock too, so it sees them in the order they were made.
//!
//! ```text
//! format_version = 2          (version 1, before versions: no such key,
//!                              the sinks' tables at the top level)
//! [sinks.<name>]
//! kind = "http"
//! first_seq = 1
//! ```

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::delivery::ship::atomic::{ensure_dir, write_atomic};
use crate::delivery::ship::cursor::CURSORS_DIR;
use crate::delivery::ship::mirror::CursorMirror;
use crate::error::{AlertsError, Result, io_at};
use crate::formats::{REGISTRY, Unreadable, toml_version};
use crate::lock::LockedFile;

pub(crate) const REGISTRY_FILE: &str = "registry";
pub(crate) const LOCK_FILE: &str = "registry.lock";
/// The registry relative to the journal directory, as a mirror names it.
pub(crate) const REGISTRY_REL_PATH: &str = "cursors/registry";

/// What the file says at its top, for whoever opens it.
const HEADER: &str = "# The sinks that have shipped from this journal (written by aldebaran).\n\
# A sink listed here whose cursor file is missing refuses to start: set its\n\
# cursor with `aldebaran journal cursors --reset NAME --to SEQ|head|oldest DIR`.\n\n";

/// One registered sink.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Registered {
    /// Its kind when it was registered (`file`, `http`, ...).
    pub kind: String,
    /// The first seq it was to receive: 1 for a sink that started with the
    /// oldest record, the head + 1 for one that started at the head, the
    /// seq after its cursor for one registered with a cursor already there.
    pub first_seq: u64,
}

/// The file as this release writes it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    format_version: u64,
    #[serde(default)]
    sinks: BTreeMap<String, Registered>,
}

pub(crate) fn registry_path(journal_dir: &Path) -> PathBuf {
    journal_dir.join(CURSORS_DIR).join(REGISTRY_FILE)
}

/// The registered sinks by name; empty if the journal has no registry yet.
/// A registry that does not parse is an error naming it (it is written
/// atomically, so that means it was edited or damaged), and so is one of a
/// format version this binary does not read.
pub(crate) fn load(journal_dir: &Path) -> Result<BTreeMap<String, Registered>> {
    let path = registry_path(journal_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_at(&path)(e)),
    };
    parse(&text).map_err(|why| match why {
        Unreadable::Version(found) => REGISTRY.refuse(&path, found),
        Unreadable::Damaged(reason) => AlertsError::CursorCorrupt { path, reason },
    })
}

/// The registered sinks a registry file's text lists; why not if it is no
/// registry or of a version this binary does not read.
pub(crate) fn parse(text: &str) -> std::result::Result<BTreeMap<String, Registered>, Unreadable> {
    let bad = |e: toml::de::Error| Unreadable::Damaged(format!("bad sink registry: {e}"));
    let table: toml::Table = toml::from_str(text).map_err(bad)?;
    match toml_version(&REGISTRY, &table, true)? {
        // Version 1, the form before formats were versioned: no version
        // key, the sinks' tables at the top level.
        1 => toml::from_str(text).map_err(bad),
        _ => toml::from_str::<RegistryFile>(text)
            .map(|file| file.sinks)
            .map_err(bad),
    }
}

/// Takes the registry's lock (waiting: every holder is brief) for a
/// read-modify-write of the file.
pub(crate) fn lock(journal_dir: &Path) -> Result<LockedFile> {
    let dir = journal_dir.join(CURSORS_DIR);
    ensure_dir(&dir)?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_at(&lock_path))?;
    LockedFile::lock(lock, &lock_path)
}

/// Registers `name` unless it already is (an entry is never rewritten: it
/// says when the sink first shipped). Durable when it returns; `mirror`, if
/// any, has been told of the write.
pub(crate) fn register(
    journal_dir: &Path,
    name: &str,
    entry: Registered,
    mirror: Option<&dyn CursorMirror>,
) -> Result<()> {
    let dir = journal_dir.join(CURSORS_DIR);
    let _held = lock(journal_dir)?;
    let mut sinks = load(journal_dir)?;
    if sinks.contains_key(name) {
        return Ok(());
    }
    sinks.insert(name.to_owned(), entry);
    let file = RegistryFile {
        format_version: REGISTRY.current,
        sinks,
    };
    let body = toml::to_string(&file).map_err(|e| AlertsError::SinkConfig {
        sink: name.to_owned(),
        reason: format!("encoding the sink registry: {e}"),
    })?;
    let bytes = format!("{HEADER}{body}").into_bytes();
    write_atomic(&registry_path(journal_dir), &dir, &bytes)?;
    if let Some(mirror) = mirror {
        mirror.written(REGISTRY_REL_PATH, &bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_added_once_and_survive_a_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).expect("empty").is_empty());
        let entry = |kind: &str, first_seq| Registered {
            kind: kind.into(),
            first_seq,
        };
        register(dir.path(), "hook", entry("http", 1), None).expect("register");
        register(dir.path(), "archive", entry("file", 40), None).expect("register");
        // Registering again keeps the first entry.
        register(dir.path(), "hook", entry("smtp", 99), None).expect("again");
        let got = load(dir.path()).expect("load");
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            [
                ("archive".to_owned(), entry("file", 40)),
                ("hook".to_owned(), entry("http", 1)),
            ]
        );
        let text = std::fs::read_to_string(registry_path(dir.path())).expect("read");
        assert!(text.starts_with("# The sinks"), "{text}");
        assert!(
            text.contains("format_version = 2\n")
                && text.contains("[sinks.hook]\nkind = \"http\"\nfirst_seq = 1\n"),
            "{text}"
        );
    }

    /// A registry as the releases before versioned formats wrote it
    /// (version 1: the sinks' tables at the top level, no version) is
    /// read, a sink named like the version key included; the next
    /// registration writes it in this release's form, keeping every entry.
    #[test]
    fn a_version_1_registry_is_read_and_rewritten_versioned() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(CURSORS_DIR)).expect("dir");
        let old = "# The sinks that have shipped from this journal (written by aldebaran).\n\n\
                   [format_version]\nkind = \"file\"\nfirst_seq = 3\n\n\
                   [hook]\nkind = \"http\"\nfirst_seq = 1\n";
        std::fs::write(registry_path(dir.path()), old).expect("write");
        let entry = |kind: &str, first_seq| Registered {
            kind: kind.into(),
            first_seq,
        };
        let want = [
            ("format_version".to_owned(), entry("file", 3)),
            ("hook".to_owned(), entry("http", 1)),
        ];
        let got = load(dir.path()).expect("load");
        assert_eq!(got.into_iter().collect::<Vec<_>>(), want);
        register(dir.path(), "new", entry("smtp", 9), None).expect("register");
        let text = std::fs::read_to_string(registry_path(dir.path())).expect("read");
        assert!(text.contains("format_version = 2\n"), "{text}");
        let got = load(dir.path()).expect("load");
        assert_eq!(got.len(), 3);
        assert_eq!(got.get("format_version"), Some(&entry("file", 3)));
    }

    #[test]
    fn a_registry_of_an_unknown_version_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(CURSORS_DIR)).expect("dir");
        let path = registry_path(dir.path());
        std::fs::write(&path, "format_version = 99\n[sinks.hook]\nwhatever = 1\n").expect("write");
        let e = load(dir.path()).expect_err("refused");
        assert!(
            matches!(e, AlertsError::UnknownVersion { found: 99, .. }),
            "{e:?}"
        );
        assert!(!e.is_transient());
        let line = e.to_string();
        assert!(
            line.starts_with(&format!(
                "sink registry {}: format version 99, but this aldebaran reads versions 1 and 2; ",
                path.display()
            )),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
        // Never registered over: the file stays as the newer release left it.
        let entry = Registered {
            kind: "file".into(),
            first_seq: 1,
        };
        assert!(register(dir.path(), "x", entry, None).is_err());
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .starts_with("format_version = 99")
        );
    }

    #[test]
    fn a_damaged_registry_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(CURSORS_DIR)).expect("dir");
        std::fs::write(registry_path(dir.path()), "[hook]\nkind = 3\n").expect("write");
        let e = load(dir.path()).expect_err("damaged").to_string();
        assert!(
            e.contains("registry") && e.contains("bad sink registry"),
            "{e}"
        );
    }

    #[test]
    fn concurrent_registrations_keep_every_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let entry = Registered {
                        kind: "file".into(),
                        first_seq: i,
                    };
                    register(&d, &format!("s{i}"), entry, None).expect("register");
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(load(dir.path()).expect("load").len(), 8);
    }
}
