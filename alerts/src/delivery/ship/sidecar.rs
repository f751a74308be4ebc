//! A sink's `<journal dir>/cursors/<name>.sink` sidecar: its kind and mode,
//! written at every shipper start so `journal cursors` can show them next to
//! the cursor (the cursor file itself holds only positions).
//!
//! ```text
//! format_version = 2          (version 1, before versions: no such key)
//! kind = "file"
//! mode = "exactly-once"
//! ```

use std::path::{Path, PathBuf};

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::atomic::{ensure_dir, write_atomic};
use crate::delivery::ship::cursor::CURSORS_DIR;
use crate::error::{AlertsError, Result, io_at};
use crate::formats::{SIDECAR, Unreadable, toml_version};

const SIDECAR_EXT: &str = "sink";

pub(crate) fn sidecar_path(journal_dir: &Path, name: &str) -> PathBuf {
    journal_dir
        .join(CURSORS_DIR)
        .join(format!("{name}.{SIDECAR_EXT}"))
}

/// Writes the `<name>.sink` sidecar (atomically) so `journal cursors` can show
/// the kind and mode next to the cursor.
pub(crate) fn write_sidecar(
    journal_dir: &Path,
    name: &str,
    kind: &str,
    mode: DeliveryMode,
) -> Result<()> {
    let dir = journal_dir.join(CURSORS_DIR);
    ensure_dir(&dir)?;
    let meta = SidecarFile {
        format_version: Some(SIDECAR.current),
        kind: kind.to_string(),
        mode,
    };
    let text = toml::to_string(&meta).map_err(|e| AlertsError::SinkConfig {
        sink: name.to_string(),
        reason: format!("encoding the sidecar: {e}"),
    })?;
    write_atomic(&sidecar_path(journal_dir, name), &dir, text.as_bytes())
}

/// The sidecar's contents.
#[derive(Debug)]
pub(crate) struct SinkMeta {
    pub kind: String,
    pub mode: DeliveryMode,
}

/// The file: the contents and, from version 2 on, the version (absent in
/// version 1, the form before formats were versioned).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format_version: Option<u64>,
    // The fields of `SinkMeta` (serde cannot flatten them while refusing
    // unknown keys).
    kind: String,
    mode: DeliveryMode,
}

/// Reads a sidecar; `None` if missing. A sidecar that does not parse is an
/// error naming it (it is written atomically, so that means tampering), and
/// so is one of a format version this binary does not read.
pub(crate) fn read_sidecar(path: &Path) -> Result<Option<SinkMeta>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    parse(&text).map(Some).map_err(|why| match why {
        Unreadable::Version(found) => SIDECAR.refuse(path, found),
        Unreadable::Damaged(reason) => AlertsError::CursorCorrupt {
            path: path.to_path_buf(),
            reason,
        },
    })
}

/// A sidecar's contents from its text; the version is checked before the
/// fields, which another version may name differently.
fn parse(text: &str) -> std::result::Result<SinkMeta, Unreadable> {
    let bad = |e: toml::de::Error| Unreadable::Damaged(format!("bad sidecar: {e}"));
    toml_version(&SIDECAR, &toml::from_str(text).map_err(bad)?, false)?;
    toml::from_str::<SidecarFile>(text)
        .map(|file| SinkMeta {
            kind: file.kind,
            mode: file.mode,
        })
        .map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_sidecar(dir.path(), "s", "file", DeliveryMode::ExactlyOnce).expect("write");
        let path = sidecar_path(dir.path(), "s");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "format_version = 2\nkind = \"file\"\nmode = \"exactly-once\"\n"
        );
        let meta = read_sidecar(&path).expect("read").expect("present");
        assert_eq!(
            (meta.kind.as_str(), meta.mode),
            ("file", DeliveryMode::ExactlyOnce)
        );
        assert!(
            read_sidecar(&sidecar_path(dir.path(), "x"))
                .expect("read")
                .is_none()
        );
    }

    /// Today's unversioned sidecar (version 1) is read; one of a future
    /// version is refused in one line naming it.
    #[test]
    fn versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(CURSORS_DIR)).expect("dir");
        let path = sidecar_path(dir.path(), "s");
        std::fs::write(&path, "kind = \"http\"\nmode = \"at-least-once\"\n").expect("write");
        let meta = read_sidecar(&path).expect("read").expect("present");
        assert_eq!(
            (meta.kind.as_str(), meta.mode),
            ("http", DeliveryMode::AtLeastOnce)
        );
        std::fs::write(&path, "format_version = 99\nsomething = \"else\"\n").expect("write");
        let e = read_sidecar(&path).expect_err("refused");
        assert!(
            e.to_string().starts_with(&format!(
                "sink sidecar {}: format version 99, but this aldebaran reads versions 1 and 2; ",
                path.display()
            )),
            "{e}"
        );
        assert!(!e.is_transient());
    }
}
