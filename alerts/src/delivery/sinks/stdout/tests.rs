//! Tests of the stdout sink with an injected writer.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::sink::StdoutSink;
use crate::delivery::sink::{Outgoing, Sink};

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
        epoch: 0,
    };
    s.send(&[o(1), o(2)]).expect("send");
    assert_eq!(&*buf.0.lock().expect("lock"), b"{\"seq\":1}\n{\"seq\":2}\n");
    assert_eq!(s.recover(), Ok(None));
}
