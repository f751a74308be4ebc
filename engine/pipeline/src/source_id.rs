//! Which input a checkpoint belongs to: the queue, or the file by its
//! canonical path and a hash of its beginning — so a new capture written to
//! the same path is not mistaken for the one the state came from.

use std::{fs::File, io::Read, path::Path};

use super::checkpoint::{FINGERPRINT_BYTES, SourceId};
use crate::{PipelineError, Result, options::SourceSetup};

/// The configured source as it is now.
pub(crate) fn identify(source: &SourceSetup) -> Result<SourceId> {
    match source {
        SourceSetup::Amqp(a) => Ok(SourceId {
            name: format!("amqp:{}", a.queue),
            prefix_len: 0,
            prefix_hash: columnar::keys::hash64(b""),
        }),
        SourceSetup::File { path, .. } => {
            let path = file_path(path)?;
            let (prefix_len, prefix_hash) = prefix(&path, FINGERPRINT_BYTES)?;
            Ok(SourceId {
                name: format!("file:{}", path.display()),
                prefix_len,
                prefix_hash,
            })
        }
    }
}

/// Why the checkpoint's `saved` source is not this run's, if it is not.
pub(crate) fn mismatch(
    saved: &SourceId,
    now: &SourceId,
    source: &SourceSetup,
) -> Result<Option<String>> {
    if saved.name != now.name {
        return Ok(Some(format!(
            "it belongs to `{}`, this run reads `{}`",
            saved.name, now.name
        )));
    }
    if let SourceSetup::File { path, .. } = source {
        let path = file_path(path)?;
        let (len, hash) = prefix(&path, saved.prefix_len)?;
        if len < saved.prefix_len || hash != saved.prefix_hash {
            return Ok(Some(format!(
                "its first {} bytes differ from those of the file it was taken on: another file at the same path",
                saved.prefix_len
            )));
        }
    }
    Ok(None)
}

fn file_path(path: &str) -> Result<std::path::PathBuf> {
    if path.is_empty() {
        return Err(PipelineError::Config("source.file.path is empty".into()));
    }
    let p = Path::new(path);
    p.canonicalize()
        .map_err(|e| PipelineError::Config(format!("source.file.path {}: {e}", p.display())))
}

/// Length and hash of the first `want` bytes of `path` (fewer if it is
/// shorter).
fn prefix(path: &Path, want: u64) -> Result<(u64, u64)> {
    let err = |e: std::io::Error| {
        PipelineError::Config(format!("source.file.path {}: {e}", path.display()))
    };
    let mut buf = Vec::new();
    File::open(path)
        .map_err(err)?
        .take(want)
        .read_to_end(&mut buf)
        .map_err(err)?;
    Ok((buf.len() as u64, columnar::keys::hash64(&buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_config(path: &Path) -> SourceSetup {
        SourceSetup::File {
            path: path.display().to_string(),
            follow: true,
        }
    }

    #[test]
    fn a_file_is_known_by_its_path_and_beginning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, b"line one\n").expect("write");
        let cfg = file_config(&path);
        let first = identify(&cfg).expect("identify");
        assert_eq!(first.prefix_len, 9);
        // The same file grown (a followed file): still the same source.
        std::fs::write(&path, b"line one\nline two\n").expect("write");
        let grown = identify(&cfg).expect("identify");
        assert_eq!(mismatch(&first, &grown, &cfg).expect("check"), None);
        // Another capture at the same path: refused.
        std::fs::write(&path, b"line uno\nline two\n").expect("write");
        let other = identify(&cfg).expect("identify");
        let why = mismatch(&first, &other, &cfg)
            .expect("check")
            .expect("refused");
        assert!(why.contains("another file"), "{why}");
        // A shorter file cannot be the one either.
        std::fs::write(&path, b"line").expect("write");
        let short = identify(&cfg).expect("identify");
        assert!(mismatch(&first, &short, &cfg).expect("check").is_some());
    }
}
