use crate::RejectReason;

/// One rejected input line, borrowed from its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// Input position of the line.
    pub pos: u64,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// The raw bytes (a too-long line is cut at [`DeadLetters::MAX_RAW`]).
    pub raw: &'a [u8],
    /// Whether `raw` was cut.
    pub truncated: bool,
    /// The `message_id` of the AMQP message that held the line, if it had one.
    pub message_id: Option<&'a str>,
}

/// Where one dead letter's bytes are in the arena: its message id, then
/// its raw line.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pos: u64,
    reason: RejectReason,
    start: u32,
    id_len: u8,
    raw_len: u32,
    truncated: bool,
}

/// The rejected lines of one micro-batch, in input order, in one byte arena.
#[derive(Debug, Default, Clone)]
pub struct DeadLetters {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl DeadLetters {
    /// Raw bytes kept per dead letter; longer lines (only `too_long` ones) are cut.
    pub const MAX_RAW: usize = 64 * 1024;

    /// Bytes kept of a message id: an AMQP short string holds at most 255.
    pub const MAX_ID: usize = 255;

    /// Records a rejected line; `truncated` says `raw` was already cut
    /// upstream (it is cut here too if longer than [`Self::MAX_RAW`]).
    pub fn push(&mut self, pos: u64, reason: RejectReason, raw: &[u8], truncated: bool) {
        self.push_with_id(pos, reason, raw, truncated, None);
    }

    /// [`DeadLetters::push`] for a line of a message with `message_id`
    /// (an empty one counts as none; one past [`Self::MAX_ID`] bytes is cut
    /// at a character boundary).
    pub fn push_with_id(
        &mut self,
        pos: u64,
        reason: RejectReason,
        raw: &[u8],
        truncated: bool,
        message_id: Option<&str>,
    ) {
        let truncated = truncated || raw.len() > Self::MAX_RAW;
        let raw = &raw[..raw.len().min(Self::MAX_RAW)];
        let id = message_id.map_or("", Self::cut_id);
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(id.as_bytes());
        self.bytes.extend_from_slice(raw);
        self.entries.push(Entry {
            pos,
            reason,
            start,
            id_len: id.len() as u8,
            raw_len: raw.len() as u32,
            truncated,
        });
    }

    /// The longest prefix of `id` of at most [`Self::MAX_ID`] bytes that
    /// ends on a character boundary.
    pub fn cut_id(id: &str) -> &str {
        let mut end = id.len().min(Self::MAX_ID);
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        &id[..end]
    }

    /// Number of dead letters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes all, keeping the buffers.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes.clear();
    }

    /// The dead letters in input order.
    pub fn iter(&self) -> impl Iterator<Item = DeadLetter<'_>> + '_ {
        self.entries.iter().map(|e| {
            let start = e.start as usize;
            let raw_at = start + usize::from(e.id_len);
            // The id was pushed as a `&str` and cut at a character boundary.
            let id = std::str::from_utf8(&self.bytes[start..raw_at]).ok();
            DeadLetter {
                pos: e.pos,
                reason: e.reason,
                raw: &self.bytes[raw_at..raw_at + e.raw_len as usize],
                truncated: e.truncated,
                message_id: id.filter(|id| !id.is_empty()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_rides_with_its_dead_letter() {
        let mut d = DeadLetters::default();
        d.push(1, RejectReason::Malformed, b"{x", false);
        d.push_with_id(2, RejectReason::Malformed, b"{y", false, Some("m-7"));
        d.push_with_id(3, RejectReason::Malformed, b"{z", false, Some(""));
        let long = "é".repeat(200);
        d.push_with_id(4, RejectReason::Malformed, b"", false, Some(&long));
        let all: Vec<_> = d.iter().map(|l| (l.pos, l.raw, l.message_id)).collect();
        assert_eq!(all[0], (1, &b"{x"[..], None));
        assert_eq!(all[1], (2, &b"{y"[..], Some("m-7")));
        assert_eq!(all[2], (3, &b"{z"[..], None));
        let cut = all[3].2.expect("an id");
        assert!(
            cut.len() <= DeadLetters::MAX_ID && long.starts_with(cut),
            "{cut}"
        );
    }
}
