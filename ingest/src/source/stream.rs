//! A byte stream (stdin, a pipe, a followed file) split into lines through
//! one reused buffer.

use std::{
    io::{ErrorKind, Read},
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use crate::{
    line_ingestor::LineIngestor,
    pace::{self, Pacer},
    parse::MAX_LINE,
};

/// Read buffer; a line longer than this is rejected as too long.
const BUF: usize = 4 * MAX_LINE;
/// A followed file at its end is polled after this, doubling up to the max.
const FOLLOW_MIN_WAIT: Duration = Duration::from_micros(500);
const FOLLOW_MAX_WAIT: Duration = Duration::from_millis(50);

/// Feeds every line of `input` to `ing`; positions are byte offsets, the
/// first byte read being at `start`.
pub(crate) fn read_stream(
    input: &mut dyn Read,
    start: u64,
    follow: bool,
    ing: &mut LineIngestor,
    mut pacer: Option<Pacer>,
    progress: &AtomicU64,
    stop: &dyn Fn() -> bool,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; BUF];
    let mut filled = 0usize; // bytes in buf
    let mut base = start; // input offset of buf[0]
    let mut skipping: Option<u64> = None; // inside an over-long line that began here
    let mut wait = FOLLOW_MIN_WAIT;
    loop {
        if stop() {
            return Ok(());
        }
        // About to block in read(): publish what we have so it is not delayed.
        ing.publish();
        let n = match input.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 && follow {
            // A growing file: wait for more (a partial last line stays
            // buffered until its newline arrives). The wait starts short so a
            // steady writer is picked up within a millisecond, and backs off
            // to FOLLOW_MAX_WAIT on a quiet file.
            std::thread::sleep(wait);
            wait = (wait * 2).min(FOLLOW_MAX_WAIT);
            continue;
        }
        wait = FOLLOW_MIN_WAIT;
        let eof = n == 0;
        filled += n;
        let mut at = 0usize;
        while at < filled {
            let Some(i) = memchr::memchr(b'\n', &buf[at..filled]) else {
                break;
            };
            let end = at + i;
            if skipping.take().is_none() {
                pace::line(pacer.as_mut(), ing, base + at as u64, &buf[at..end]);
            }
            at = end + 1;
        }
        if eof {
            if at < filled && skipping.is_none() {
                ing.line(base + at as u64, &buf[at..filled]);
            }
            base += filled as u64;
            ing.stats.bytes = base;
            progress.store(base, Ordering::Relaxed);
            return Ok(());
        }
        if at == 0 && filled == buf.len() {
            // No newline in a full buffer: the line is too long. Report its head
            // once, then discard input until its end.
            if skipping.is_none() {
                ing.too_long(base, &buf[..MAX_LINE + 1]);
                skipping = Some(base);
            }
            at = filled;
        }
        buf.copy_within(at..filled, 0);
        base += at as u64;
        filled -= at;
        ing.stats.bytes = base;
        progress.store(base, Ordering::Relaxed);
    }
}
