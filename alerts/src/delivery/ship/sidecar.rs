//! A sink's `<journal dir>/cursors/<name>.sink` sidecar: its kind and mode,
//! written at every shipper start so `journal cursors` can show them next to
//! the cursor (the cursor file itself holds only positions).

use std::path::{Path, PathBuf};

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::atomic::{ensure_dir, write_atomic};
use crate::delivery::ship::cursor::CURSORS_DIR;
use crate::error::{AlertsError, Result, io_at};

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
    let meta = SinkMeta {
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
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkMeta {
    pub kind: String,
    pub mode: DeliveryMode,
}

/// Reads a sidecar; `None` if missing. A sidecar that does not parse is an
/// error naming it (it is written atomically, so that means tampering).
pub(crate) fn read_sidecar(path: &Path) -> Result<Option<SinkMeta>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| AlertsError::CursorCorrupt {
            path: path.to_path_buf(),
            reason: format!("bad sidecar: {e}"),
        })
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
        assert_eq!(text, "kind = \"file\"\nmode = \"exactly-once\"\n");
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
}
