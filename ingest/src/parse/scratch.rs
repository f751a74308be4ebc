//! The parser's reusable memory: unescaped strings and the keys of unknown
//! fields.
//!
//! Kept apart from the visitor so that the hot path's only state is visible in
//! one place. Both buffers are cleared, never freed, between lines; their size
//! is bounded by [`super::MAX_LINE`] (an unescaped string is never longer than
//! its escaped form, and a key span takes at least 4 bytes of input), so they
//! need no cap.

/// A string value: borrowed from the line, or unescaped into
/// [`ParseScratch`] at `start..end`.
#[derive(Debug, Clone, Copy)]
pub(super) enum StrRef<'a> {
    Line(&'a str),
    Buf { start: u32, end: u32 },
}

impl<'a> StrRef<'a> {
    /// Length in bytes of the unescaped value.
    pub(super) fn len(self) -> usize {
        match self {
            StrRef::Line(s) => s.len(),
            StrRef::Buf { start, end } => end.saturating_sub(start) as usize,
        }
    }

    /// The string itself; `None` only if the span is not ours (a bug).
    pub(super) fn resolve(self, scratch: &'a ParseScratch) -> Option<&'a str> {
        match self {
            StrRef::Line(s) => Some(s),
            StrRef::Buf { start, end } => scratch.buf.get(start as usize..end as usize),
        }
    }
}

/// Where an unknown key's (unescaped) bytes are: in the line or in the buffer.
#[derive(Debug, Clone, Copy)]
struct KeySpan {
    in_buf: bool,
    start: u32,
    end: u32,
}

/// Reusable parser memory; keep one per ingest thread and pass it to every
/// [`super::parse_line`] call. Parsing a line without escapes touches it only
/// to clear it.
#[derive(Debug, Default)]
pub struct ParseScratch {
    /// Unescaped strings (values and unknown keys), back to back.
    buf: String,
    /// The keys of the unknown fields of the current line.
    unknown: Vec<KeySpan>,
}

/// Up to this many unknown keys, duplicates are found by comparing every pair;
/// beyond it, by sorting (so a hostile 64 KiB line of keys stays O(n log n)).
const PAIRWISE_MAX: usize = 16;

impl ParseScratch {
    pub(super) fn reset(&mut self) {
        self.buf.clear();
        self.unknown.clear();
    }

    /// Copies an escaped (already unescaped by serde_json) string into the buffer.
    pub(super) fn push_str(&mut self, s: &str) -> StrRef<'static> {
        let start = self.buf.len() as u32;
        self.buf.push_str(s);
        StrRef::Buf {
            start,
            end: self.buf.len() as u32,
        }
    }

    /// Records an unknown key borrowed from `text` (the line being parsed).
    pub(super) fn push_unknown_in_line(&mut self, text: &str, key: &str) {
        // Borrowed keys point into `text`; the offset is plain address
        // arithmetic, checked again (by `get`) when the span is read.
        let start = (key.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        self.unknown.push(KeySpan {
            in_buf: false,
            start: start as u32,
            end: (start + key.len()) as u32,
        });
    }

    /// Records an unknown key that had escapes, copying its unescaped form.
    pub(super) fn push_unknown_escaped(&mut self, key: &str) {
        if let StrRef::Buf { start, end } = self.push_str(key) {
            self.unknown.push(KeySpan {
                in_buf: true,
                start,
                end,
            });
        }
    }

    fn key_bytes<'s>(&'s self, text: &'s str, k: KeySpan) -> &'s [u8] {
        let range = k.start as usize..k.end as usize;
        let src = if k.in_buf {
            self.buf.as_bytes()
        } else {
            text.as_bytes()
        };
        src.get(range).unwrap_or_default()
    }

    /// True if two unknown keys of the line just parsed are equal.
    pub(super) fn has_duplicate_unknown_key(&mut self, text: &str) -> bool {
        let n = self.unknown.len();
        if n < 2 {
            return false;
        }
        if n <= PAIRWISE_MAX {
            let keys = &self.unknown;
            return (0..n).any(|i| {
                let a = self.key_bytes(text, keys[i]);
                keys[i + 1..].iter().any(|&b| self.key_bytes(text, b) == a)
            });
        }
        let mut keys = std::mem::take(&mut self.unknown);
        keys.sort_unstable_by(|&a, &b| self.key_bytes(text, a).cmp(self.key_bytes(text, b)));
        let dup = keys
            .windows(2)
            .any(|w| self.key_bytes(text, w[0]) == self.key_bytes(text, w[1]));
        self.unknown = keys;
        dup
    }
}
