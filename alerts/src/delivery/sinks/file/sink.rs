//! The file sink itself: append, fsync, and the tail check that makes it
//! exactly-once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::config::FileSinkConfig;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};

const MAX_BATCH: usize = 1024;
/// Bytes read per step when scanning the tail backwards for a newline.
pub(super) const CHUNK: u64 = 64 * 1024;

pub(crate) struct FileSink {
    path: PathBuf,
    fsync: bool,
    /// Open file and the highest seq it holds; `None` until (re)checked.
    state: Option<(File, Option<u64>)>,
}

impl FileSink {
    /// Never touches the file: opening happens in `recover`/`send`, where a
    /// failure is transient.
    pub(crate) fn new(config: &FileSinkConfig) -> Self {
        Self {
            path: config.path.clone(),
            fsync: config.fsync,
            state: None,
        }
    }

    /// Opens the file, cuts a torn last line, reads the last seq.
    fn check(&mut self) -> Result<Option<u64>, String> {
        if let Some((_, last)) = &self.state {
            return Ok(*last);
        }
        let (file, last) = open_and_check(&self.path)?;
        self.state = Some((file, last));
        Ok(last)
    }
}

impl Sink for FileSink {
    fn recover(&mut self) -> Result<Option<u64>, SendError> {
        self.state = None;
        self.check().map_err(SendError::Transient)
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        let transient = |reason: String| SendFailure {
            delivered: 0,
            error: SendError::Transient(reason),
        };
        let last = self.check().map_err(transient)?;
        // Records the file already holds (a write that "failed" after
        // reaching the file) count as delivered, never written twice.
        let skip = batch
            .iter()
            .take_while(|o| last.is_some_and(|l| o.seq <= l))
            .count();
        let Some(new_last) = batch.last().map(|o| o.seq).filter(|_| skip < batch.len()) else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(batch.iter().map(|o| o.json.len() + 1).sum());
        for o in &batch[skip..] {
            bytes.extend_from_slice(&o.json);
            bytes.push(b'\n');
        }
        let Some((file, held)) = &mut self.state else {
            return Err(transient("file sink not open (a bug)".into()));
        };
        let fsync = self.fsync;
        let result = file
            .write_all(&bytes)
            .and_then(|()| if fsync { file.sync_data() } else { Ok(()) });
        match result {
            Ok(()) => {
                *held = Some(new_last);
                Ok(())
            }
            Err(e) => {
                // What reached the file is unknown: re-check the tail next time.
                self.state = None;
                Err(transient(format!("writing {}: {e}", self.path.display())))
            }
        }
    }
}

/// Opens `path` for appending (creating it and syncing its directory if
/// new), truncates a partial last line, and returns the last line's `seq`.
fn open_and_check(path: &Path) -> Result<(File, Option<u64>), String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    let new = !path.try_exists().map_err(at)?;
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(at)?;
    if new {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        File::open(dir.unwrap_or(Path::new(".")))
            .and_then(|d| d.sync_all())
            .map_err(at)?;
    }
    let len = file.metadata().map_err(at)?.len();
    let end = match last_newline(&file, len).map_err(at)? {
        Some(nl) => nl + 1,
        None => 0,
    };
    if end < len {
        tracing::warn!(
            file = %path.display(),
            bytes = len - end,
            "file sink: cutting a partial last line (a crash during a write)"
        );
        file.set_len(end)
            .and_then(|()| file.sync_data())
            .map_err(at)?;
    }
    if end == 0 {
        return Ok((file, None));
    }
    let start = match last_newline(&file, end - 1).map_err(at)? {
        Some(nl) => nl + 1,
        None => 0,
    };
    let mut line = vec![0u8; (end - 1 - start) as usize];
    file.read_exact_at(&mut line, start).map_err(at)?;
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    let seq = serde_json::from_slice::<Seq>(&line).map_err(|e| {
        format!(
            "{}: the last line (at byte {start}) is not an alert record with a seq ({e}); \
             fix or move the file, it is never overwritten",
            path.display()
        )
    })?;
    Ok((file, Some(seq.seq)))
}

/// The offset of the last `\n` in the first `len` bytes of `file`.
fn last_newline(file: &File, len: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; CHUNK as usize];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}
