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
}

/// The rejected lines of one micro-batch, in input order, in one byte arena.
#[derive(Debug, Default, Clone)]
pub struct DeadLetters {
    entries: Vec<(u64, RejectReason, u32, u32, bool)>,
    bytes: Vec<u8>,
}

impl DeadLetters {
    /// Raw bytes kept per dead letter; longer lines (only `too_long` ones) are cut.
    pub const MAX_RAW: usize = 64 * 1024;

    /// Records a rejected line; `truncated` says `raw` was already cut
    /// upstream (it is cut here too if longer than [`Self::MAX_RAW`]).
    pub fn push(&mut self, pos: u64, reason: RejectReason, raw: &[u8], truncated: bool) {
        let truncated = truncated || raw.len() > Self::MAX_RAW;
        let raw = &raw[..raw.len().min(Self::MAX_RAW)];
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(raw);
        self.entries
            .push((pos, reason, start, raw.len() as u32, truncated));
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
        self.entries
            .iter()
            .map(|&(pos, reason, start, len, truncated)| DeadLetter {
                pos,
                reason,
                raw: &self.bytes[start as usize..(start + len) as usize],
                truncated,
            })
    }
}
