//! The dead-letter output: rejected lines as JSON Lines.
//!
//! `{"pos":1234,"reason":"bad:#shares","raw":"{...}"}`; a line that is not
//! UTF-8 carries `raw_base64` instead of `raw`, and a too-long line that was
//! cut carries `"truncated":true`.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use base64::Engine as _;
use columnar::DeadLetters;
use serde::Serialize;

use crate::{EngineError, Result};

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
}

pub(crate) struct DeadLetterWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl DeadLetterWriter {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|source| EngineError::Output {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(DeadLetterWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
        })
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
            };
            serde_json::to_writer(&mut self.out, &line)
                .map_err(std::io::Error::from)
                .and_then(|_| self.out.write_all(b"\n"))
                .map_err(|source| EngineError::Output {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|source| EngineError::Output {
            path: self.path.clone(),
            source,
        })
    }
}
