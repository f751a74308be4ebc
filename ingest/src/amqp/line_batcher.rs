//! The message bodies of a trade file: its non-blank lines, `batch` per
//! body, joined by `\n` (JSON Lines, no trailing newline).
//!
//! A batcher can start at any body's first byte ([`LineBatcher::at`]): a
//! publisher that lost its link resumes at the first body the broker had
//! not confirmed ([`LineBatcher::position`] after each body says where the
//! next one starts).

use std::borrow::Cow;

use crate::parse::is_blank;

/// Splits `data` into lines (`\n`-terminated, the last one maybe not), skips
/// blank ones (as replay does) and groups `batch` per message body.
pub(super) struct LineBatcher<'a> {
    data: &'a [u8],
    at: usize,
    batch: usize,
}

impl<'a> LineBatcher<'a> {
    /// From the beginning of `data`.
    #[cfg(test)]
    pub(super) fn new(data: &'a [u8], batch: usize) -> Self {
        LineBatcher::at(data, 0, batch)
    }

    /// From byte `at` of `data`, which must be where a line starts (a
    /// [`LineBatcher::position`]); `batch` 0 is taken as 1.
    pub(super) fn at(data: &'a [u8], at: usize, batch: usize) -> Self {
        LineBatcher {
            data,
            at: at.min(data.len()),
            batch: batch.max(1),
        }
    }

    /// Where the next body's lines start (past the end: no more).
    pub(super) fn position(&self) -> usize {
        self.at
    }

    /// The next up to `batch` non-blank lines joined by `\n`, and how many;
    /// `None` at the end of the data. The body borrows the file when its
    /// lines are adjacent there (no blank line between them), as is usual.
    pub(super) fn next_body(&mut self) -> Option<(usize, Cow<'a, [u8]>)> {
        let data = self.data;
        let mut n = 0;
        // The adjacent lines so far, as a span of `data`, until a blank line
        // in the middle forces a copy.
        let mut span = (0, 0);
        let mut copy: Option<Vec<u8>> = None;
        let mut gap = false;
        while n < self.batch && self.at < data.len() {
            let start = self.at;
            let len = memchr::memchr(b'\n', &data[start..]).unwrap_or(data.len() - start);
            let line = &data[start..start + len];
            self.at = start + len + 1;
            if is_blank(line) {
                gap = n > 0;
                continue;
            }
            if let Some(buf) = copy.as_mut() {
                buf.push(b'\n');
                buf.extend_from_slice(line);
            } else if n == 0 {
                span = (start, start + len);
            } else if !gap {
                span.1 = start + len;
            } else {
                let mut buf = Vec::with_capacity(span.1 - span.0 + 1 + len);
                buf.extend_from_slice(&data[span.0..span.1]);
                buf.push(b'\n');
                buf.extend_from_slice(line);
                copy = Some(buf);
            }
            n += 1;
        }
        match (n, copy) {
            (0, _) => None,
            (n, Some(buf)) => Some((n, Cow::Owned(buf))),
            (n, None) => Some((n, Cow::Borrowed(&data[span.0..span.1]))),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bodies(data: &[u8], batch: usize) -> Vec<(usize, String)> {
        let mut b = LineBatcher::new(data, batch);
        let mut out = Vec::new();
        while let Some((n, body)) = b.next_body() {
            out.push((n, String::from_utf8_lossy(&body).into_owned()));
        }
        out
    }

    #[test]
    fn lines_are_grouped_and_blank_lines_skipped() {
        let data = b"a\n\nb\n \t\r\nc\r\nd\ne";
        assert_eq!(
            bodies(data, 1),
            [(1, "a"), (1, "b"), (1, "c\r"), (1, "d"), (1, "e")].map(|(n, s)| (n, s.to_owned()))
        );
        assert_eq!(
            bodies(data, 2),
            [(2, "a\nb"), (2, "c\r\nd"), (1, "e")].map(|(n, s)| (n, s.to_owned()))
        );
        assert_eq!(bodies(data, 100), [(5, "a\nb\nc\r\nd\ne".to_owned())]);
        assert_eq!(bodies(b"a\n", 0), [(1, "a".to_owned())]);
    }

    #[test]
    fn adjacent_lines_are_not_copied() {
        let data = b"a\nb\n\nc\nd\n";
        let mut b = LineBatcher::new(data, 2);
        let bodies: Vec<_> = std::iter::from_fn(|| b.next_body()).collect();
        assert!(
            matches!(&bodies[0], (2, Cow::Borrowed(b"a\nb"))),
            "{bodies:?}"
        );
        assert!(
            matches!(&bodies[1], (2, Cow::Borrowed(b"c\nd"))),
            "{bodies:?}"
        );
        let mut b = LineBatcher::new(data, 3);
        let bodies: Vec<_> = std::iter::from_fn(|| b.next_body()).collect();
        assert!(
            matches!(&bodies[0], (3, Cow::Owned(v)) if v == b"a\nb\nc"),
            "{bodies:?}"
        );
        assert!(matches!(&bodies[1], (1, Cow::Borrowed(b"d"))), "{bodies:?}");
    }

    #[test]
    fn nothing_to_publish_in_empty_or_blank_data() {
        assert!(bodies(b"", 3).is_empty());
        assert!(bodies(b"\n\n  \n", 3).is_empty());
    }

    proptest! {
        /// Resuming at any body's position gives the bodies that followed
        /// it, as a publisher that lost its link needs.
        #[test]
        fn resuming_at_a_position_gives_the_rest(
            lines in prop::collection::vec("[a-c ]{0,3}", 0..30),
            batch in 1usize..5,
            resume in 0usize..30,
        ) {
            let data = lines.join("\n").into_bytes();
            let mut b = LineBatcher::new(&data, batch);
            let mut all = Vec::new();
            let mut starts = vec![0];
            while let Some((n, body)) = b.next_body() {
                all.push((n, body.into_owned()));
                starts.push(b.position());
            }
            let from = resume % starts.len();
            let mut r = LineBatcher::at(&data, starts[from], batch);
            let rest: Vec<_> = std::iter::from_fn(|| r.next_body())
                .map(|(n, body)| (n, body.into_owned()))
                .collect();
            prop_assert_eq!(&rest[..], &all[from.min(all.len())..]);
        }
    }
}
