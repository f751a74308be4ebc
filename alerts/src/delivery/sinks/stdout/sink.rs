//! The stdout sink itself: one write and one flush per batch.

use std::io::Write;

use super::config::StdoutSinkConfig;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};

const MAX_BATCH: usize = 1024;

pub(crate) struct StdoutSink {
    out: Box<dyn Write + Send>,
}

impl StdoutSink {
    pub(crate) fn new(_config: &StdoutSinkConfig) -> Self {
        Self::with_writer(Box::new(std::io::stdout()))
    }

    pub(crate) fn with_writer(out: Box<dyn Write + Send>) -> Self {
        Self { out }
    }
}

impl Sink for StdoutSink {
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        let mut bytes = Vec::with_capacity(batch.iter().map(|o| o.json.len() + 1).sum());
        for o in batch {
            bytes.extend_from_slice(&o.json);
            bytes.push(b'\n');
        }
        // A failed write may have put part of the batch out: retrying it is
        // the at-least-once duplicate window.
        self.out
            .write_all(&bytes)
            .and_then(|()| self.out.flush())
            .map_err(|e| SendFailure {
                delivered: 0,
                error: SendError::Transient(format!("writing to stdout: {e}")),
            })
    }
}
