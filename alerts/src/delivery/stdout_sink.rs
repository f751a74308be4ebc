//! The `stdout` sink: writes each alert's dump line to standard output (or an
//! injected writer in tests) and flushes. It cannot read back what a reader
//! got, so it is at-least-once (default) or at-most-once.

use std::io::Write;

use serde::Deserialize;

use crate::delivery::config::Modes;
use crate::delivery::{DeliveryMode, Outgoing, SendError, SendFailure, Sink};

pub(crate) const KIND: &str = "stdout";
pub(crate) const MODES: Modes = Modes {
    default: DeliveryMode::AtLeastOnce,
    allowed: &[DeliveryMode::AtLeastOnce, DeliveryMode::AtMostOnce],
};
const MAX_BATCH: usize = 1024;

/// `kind = "stdout"`: no settings of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_lines() {
        let buf = Shared::default();
        let mut s = StdoutSink::with_writer(Box::new(buf.clone()));
        let o = |seq: u64| Outgoing {
            seq,
            alert_id: String::new(),
            json: format!("{{\"seq\":{seq}}}").into_bytes(),
        };
        s.send(&[o(1), o(2)]).expect("send");
        assert_eq!(&*buf.0.lock().expect("lock"), b"{\"seq\":1}\n{\"seq\":2}\n");
        assert_eq!(s.recover(), Ok(None));
    }
}
