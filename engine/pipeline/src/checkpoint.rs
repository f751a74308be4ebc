//! Full snapshots of the state of `aldebaran run` (`<state.dir>/checkpoint`).
//!
//! A checkpoint ties to one instant between two micro-batches: the jobs'
//! state, the input-log frame it includes (the log continues after it), the
//! journal seq that state has produced alerts up to, and where the source
//! resumes. It is written only after the journal is durable through that seq,
//! atomically (temporary file, fsync, rename, fsync of the directory), so the
//! newest checkpoint is always one the journal can back. Between two
//! checkpoints the input log (`crate::input_log`) carries the state forward:
//! a restart restores the checkpoint and replays the frames after it.
//!
//! Between the last durable frame and a crash the journal may already hold
//! alerts the restarted engine produces again; `crate::recovery` keeps them
//! out.

use std::{
    fs::{self, File},
    io::Write,
    path::{Path, PathBuf},
};

use engine_core::{SnapshotReader, SnapshotWriter};

use crate::{PipelineError, Result, formats::CHECKPOINT};

const FILE: &str = "checkpoint";
/// The magic is this prefix and the format version
/// ([`crate::formats::CHECKPOINT`]).
const MAGIC_PREFIX: &str = "aldebaran-checkpoint-";
const VERSION: u64 = CHECKPOINT.current;

/// Why a checkpoint's bytes cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unreadable {
    /// A format version this binary does not read.
    Version(u64),
    /// Not a checkpoint, or damaged: why.
    Damaged(String),
}

impl From<String> for Unreadable {
    fn from(why: String) -> Self {
        Unreadable::Damaged(why)
    }
}

/// Where the source continues after a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// No position: the source starts where it starts (AMQP redelivers what
    /// was not acknowledged; a file that was not read yet starts at 0).
    Start,
    /// A file source processed the line starting at this byte offset and
    /// everything before it.
    AfterLineAt(u64),
    /// A finite input was read to its end (and drained, if asked).
    Done,
}

/// What a checkpoint's state belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceId {
    /// `file:<canonical path>` or `amqp:<queue>`.
    pub(crate) name: String,
    /// For a file: how many of its first bytes were hashed (at most
    /// [`FINGERPRINT_BYTES`]; fewer while a followed file is shorter) ...
    pub(crate) prefix_len: u64,
    /// ... and their hash: another file at the same path is told apart.
    pub(crate) prefix_hash: u64,
}

/// Bytes of a file's beginning that identify it.
pub(crate) const FINGERPRINT_BYTES: u64 = 64 * 1024;

/// One checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// The source the state belongs to: a checkpoint is never applied to
    /// another input.
    pub(crate) source: SourceId,
    /// Every input-log frame up to this seq is in the state; the log goes on
    /// after it.
    pub(crate) input_seq: u64,
    /// Every alert of the state has a seq below this.
    pub(crate) journal_next_seq: u64,
    /// Where the source continues.
    pub(crate) resume: Resume,
    /// Length of the dead-letter file (`replay.dead_letter`) that belongs to
    /// the input before the checkpoint: a restart cuts the file back to it.
    pub(crate) dead_letter_bytes: u64,
    /// Digests of the last messages the state holds, oldest first: one that
    /// comes back redelivered was processed already.
    pub(crate) messages: Vec<u64>,
    /// [`engine_core::Engine::snapshot`].
    pub(crate) state: Vec<u8>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Output {
        path: path.to_path_buf(),
        source,
    }
}

impl Checkpoint {
    /// The checkpoint as its file holds it (the active sends it to a
    /// resyncing standby).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// A checkpoint from the bytes of its file.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::decode(bytes).map_err(|why| {
            let reason = match why {
                Unreadable::Version(found) => format!(
                    "format version {found}, but this aldebaran reads {} (the nodes of a pair \
                     must run releases that read each other's state)",
                    CHECKPOINT.reads_text()
                ),
                Unreadable::Damaged(reason) => reason,
            };
            PipelineError::Config(format!("a checkpoint received: {reason}"))
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.state.len() + 128);
        let mut w = SnapshotWriter::new(&mut buf);
        w.str(&format!("{MAGIC_PREFIX}{VERSION}"));
        w.str(&self.source.name);
        w.u64(self.source.prefix_len);
        w.u64(self.source.prefix_hash);
        w.u64(self.input_seq);
        w.u64(self.journal_next_seq);
        let (tag, at) = match self.resume {
            Resume::Start => (0, 0),
            Resume::AfterLineAt(at) => (1, at),
            Resume::Done => (2, 0),
        };
        w.u8(tag);
        w.u64(at);
        w.u64(self.dead_letter_bytes);
        w.u64(self.messages.len() as u64);
        for &d in &self.messages {
            w.u64(d);
        }
        w.bytes(&self.state);
        let crc = crc32fast::hash(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, Unreadable> {
        // The version first, before the CRC: another version may place its
        // checksum elsewhere, and is refused as such, not as damage.
        if let Some(found) = version_of(bytes)
            && !CHECKPOINT.reads(found)
        {
            return Err(Unreadable::Version(found));
        }
        let (body, crc) = bytes
            .split_last_chunk::<4>()
            .ok_or_else(|| "file too short".to_string())?;
        if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
            return Err("CRC mismatch (corrupt file)".to_string().into());
        }
        let mut r = SnapshotReader::new(body);
        let e = |e: engine_core::SnapshotError| e.0;
        let magic = r
            .str()
            .map_err(|_| "not an Aldebaran checkpoint".to_string())?;
        if magic != format!("{MAGIC_PREFIX}{VERSION}") {
            return Err("not an Aldebaran checkpoint".to_string().into());
        }
        let source = SourceId {
            name: r.str().map_err(e)?.to_owned(),
            prefix_len: r.u64().map_err(e)?,
            prefix_hash: r.u64().map_err(e)?,
        };
        let input_seq = r.u64().map_err(e)?;
        let journal_next_seq = r.u64().map_err(e)?;
        let tag = r.u8().map_err(e)?;
        let at = r.u64().map_err(e)?;
        let resume = match tag {
            0 => Resume::Start,
            1 => Resume::AfterLineAt(at),
            2 => Resume::Done,
            t => return Err(format!("unknown resume tag {t}").into()),
        };
        let dead_letter_bytes = r.u64().map_err(e)?;
        let n = r.count(8).map_err(e)?;
        let mut messages = Vec::with_capacity(n);
        for _ in 0..n {
            messages.push(r.u64().map_err(e)?);
        }
        let state = r.bytes().map_err(e)?.to_vec();
        if !r.is_done() {
            return Err("trailing bytes".to_string().into());
        }
        Ok(Checkpoint {
            source,
            input_seq,
            journal_next_seq,
            resume,
            dead_letter_bytes,
            messages,
            state,
        })
    }
}

/// The format version a checkpoint's magic names, if it starts with one
/// (whatever the rest of the file holds).
fn version_of(bytes: &[u8]) -> Option<u64> {
    let magic = SnapshotReader::new(bytes).str().ok()?;
    magic.strip_prefix(MAGIC_PREFIX)?.parse().ok()
}

/// The checkpoint file of the state directory `dir`.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Removes a temporary file a failed write left behind (a full disk, a crash
/// mid-write): it is never a checkpoint. Returns whether there was one.
pub(crate) fn clean_tmp(dir: &Path) -> Result<bool> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    match fs::remove_file(&tmp) {
        Ok(()) => {
            tracing::info!(path = %tmp.display(), "removed a checkpoint a failed write left behind");
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(&tmp)(e)),
    }
}

/// The newest checkpoint in `dir`, if any. A damaged one is an error: the
/// operator decides (moving it away restarts from the journal alone).
pub(crate) fn load(dir: &Path) -> Result<Option<(PathBuf, Checkpoint)>> {
    let path = dir.join(FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let ckpt = Checkpoint::decode(&bytes).map_err(|why| match why {
        Unreadable::Version(found) => CHECKPOINT.refuse("checkpoint".into(), &path, found, dir),
        Unreadable::Damaged(reason) => PipelineError::Config(format!(
            "cannot read the checkpoint {}: {reason} (move it away to rebuild the state from the input)",
            path.display()
        )),
    })?;
    Ok(Some((path, ckpt)))
}

/// Writes `ckpt` to `dir` atomically; returns the bytes written.
pub(crate) fn save(dir: &Path, ckpt: &Checkpoint) -> Result<u64> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let bytes = ckpt.encode();
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(resume: Resume) -> Checkpoint {
        Checkpoint {
            source: SourceId {
                name: "file:/tmp/x.jsonl".into(),
                prefix_len: 10,
                prefix_hash: 0xfeed,
            },
            input_seq: 9,
            journal_next_seq: 42,
            resume,
            dead_letter_bytes: 7,
            messages: vec![5, 6],
            state: vec![1, 2, 3, 250],
        }
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).expect("load").is_none());
        for r in [Resume::Start, Resume::AfterLineAt(1 << 40), Resume::Done] {
            save(dir.path(), &sample(r)).expect("save");
            let (_, back) = load(dir.path()).expect("load").expect("present");
            assert_eq!(back, sample(r));
        }
    }

    #[test]
    fn damage_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        save(dir.path(), &sample(Resume::Done)).expect("save");
        let path = dir.path().join(FILE);
        let mut bytes = fs::read(&path).expect("read");
        for cut in [0, 3, bytes.len() - 1] {
            fs::write(&path, &bytes[..cut]).expect("write");
            let err = load(dir.path()).expect_err("truncated").to_string();
            assert!(err.contains("checkpoint"), "{err}");
        }
        bytes[10] ^= 1;
        fs::write(&path, &bytes).expect("write");
        let err = load(dir.path()).expect_err("flipped").to_string();
        assert!(err.contains("CRC"), "{err}");
    }

    /// A checkpoint of another format version (a newer release's, or an
    /// older one this release no longer reads) is refused in one line
    /// naming it, the version found and the version read; before its CRC
    /// is looked at, since another version may keep it elsewhere.
    #[test]
    fn a_checkpoint_of_an_unknown_version_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        for found in [99u64, 3] {
            let mut bytes = Vec::new();
            SnapshotWriter::new(&mut bytes).str(&format!("{MAGIC_PREFIX}{found}"));
            bytes.extend_from_slice(b"whatever that release keeps");
            fs::write(&path, &bytes).expect("write");
            let e = load(dir.path()).expect_err("refused");
            assert!(!e.is_transient());
            assert!(
                matches!(e, PipelineError::UnknownVersion { found: f, .. } if f == found),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "checkpoint {}: format version {found}, but this aldebaran reads version 4; \
                     run the aldebaran release that wrote it, or move the state directory {} \
                     away to rebuild the state from the input",
                    path.display(),
                    dir.path().display()
                )
            );
            let e = Checkpoint::from_bytes(&bytes).expect_err("refused");
            assert!(e.to_string().contains("format version"), "{e}");
        }
    }

    /// The checkpoint the release before versioned formats wrote is this
    /// release's version 4, byte for byte: read as it is.
    #[test]
    fn todays_checkpoint_is_still_read() {
        let bytes = sample(Resume::Done).encode();
        assert_eq!(&bytes[8..8 + 22], b"aldebaran-checkpoint-4");
        assert_eq!(Checkpoint::decode(&bytes), Ok(sample(Resume::Done)));
    }
}
