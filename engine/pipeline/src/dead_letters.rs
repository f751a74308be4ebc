//! The dead-letter output: rejected lines as JSON Lines.
//!
//! `{"pos":1234,"reason":"bad:#shares","raw":"{...}"}`; a line that is not
//! UTF-8 carries `raw_base64` instead of `raw`, and a too-long line that was
//! cut carries `"truncated":true`. `pos` is the line's byte offset in a file;
//! from AMQP it is `n << 24 | i`, line `i` (from 0) of the `n`-th message
//! this process received (from 1), and the line carries the message's
//! `message_id` when it has one.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use base64::Engine as _;
use columnar::DeadLetters;
use serde::Serialize;

use crate::{PipelineError, Result};

#[derive(Serialize)]
struct Line<'a> {
    pos: u64,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
}

pub(crate) struct DeadLetterWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// The file's length once everything written is flushed.
    len: u64,
    line: Vec<u8>,
}

impl DeadLetterWriter {
    /// A new, empty file (a replay).
    pub(crate) fn create(path: &Path) -> Result<Self> {
        Self::open_at(path, 0)
    }

    /// The file cut back to `len` bytes, appended to from there: `run`
    /// restarts from a checkpoint, which says how much of the file belongs
    /// to the input before it (what follows is written again as the input
    /// after it is processed again). A file already shorter is kept whole.
    pub(crate) fn open_at(path: &Path, len: u64) -> Result<Self> {
        let err = |source| PipelineError::Output {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        let now = file.metadata().map_err(err)?.len();
        if now > len {
            file.set_len(len).map_err(err)?;
        }
        Ok(DeadLetterWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            len: now.min(len),
            line: Vec::new(),
        })
    }

    /// The file's length once everything written is flushed.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Hands what is buffered to the OS (it survives the process then).
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| PipelineError::Output {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes and fsyncs; returns the file's length (for a checkpoint).
    pub(crate) fn sync(&mut self) -> Result<u64> {
        let path = &self.path;
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|source| PipelineError::Output {
                path: path.clone(),
                source,
            })?;
        Ok(self.len)
    }

    pub(crate) fn write(&mut self, dead: &DeadLetters) -> Result<()> {
        for d in dead.iter() {
            let text = std::str::from_utf8(d.raw).ok();
            let line = Line {
                pos: d.pos,
                reason: d.reason.as_str(),
                raw: text,
                raw_base64: text
                    .is_none()
                    .then(|| base64::engine::general_purpose::STANDARD.encode(d.raw)),
                truncated: d.truncated,
                message_id: d.message_id,
            };
            self.line.clear();
            serde_json::to_writer(&mut self.line, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| {
                    self.line.push(b'\n');
                    self.out.write_all(&self.line)
                })
                .map_err(|source| PipelineError::Output {
                    path: self.path.clone(),
                    source,
                })?;
            self.len += self.line.len() as u64;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|source| PipelineError::Output {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use columnar::RejectReason;

    #[test]
    fn a_line_carries_its_message_id_when_it_has_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dead.jsonl");
        let mut w = DeadLetterWriter::create(&path).expect("create");
        let mut d = DeadLetters::default();
        d.push(7, RejectReason::Malformed, b"{x", false);
        d.push_with_id(
            1 << 24 | 2,
            RejectReason::Malformed,
            b"{y",
            false,
            Some("m-1"),
        );
        w.write(&d).expect("write");
        w.finish().expect("finish");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "{\"pos\":7,\"reason\":\"malformed\",\"raw\":\"{x\"}\n\
             {\"pos\":16777218,\"reason\":\"malformed\",\"raw\":\"{y\",\"message_id\":\"m-1\"}\n"
        );
    }
}
