//! A byte arena for the strings an open book must keep for its alert.
//!
//! Each string is stored after its length (LEB128: one byte below 128), so
//! a reference is one `u32` offset: 4 bytes in every book row instead of an
//! offset and a length. Offset 0 holds the empty string, which is what
//! [`StrRef::default`] names. Strings are appended to one buffer; freeing
//! only counts dead bytes, and [`Arena::compact`] copies the live ones into a
//! fresh buffer once dead bytes dominate. Appends allocate only when the
//! buffer grows (amortised), never per event.

/// A string in the arena: the offset of its length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct StrRef {
    at: u32,
}

#[derive(Debug)]
pub(super) struct Arena {
    bytes: Vec<u8>,
    dead: usize,
}

impl Default for Arena {
    fn default() -> Self {
        Arena {
            bytes: vec![0],
            dead: 0,
        }
    }
}

/// Compaction pays off only past this much garbage.
const COMPACT_MIN_DEAD: usize = 1 << 20;

impl Arena {
    pub(super) fn push(&mut self, s: &str) -> StrRef {
        if s.is_empty() {
            return StrRef::default();
        }
        let at = self.bytes.len() as u32;
        let mut len = s.len();
        while len >= 0x80 {
            self.bytes.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        self.bytes.push(len as u8);
        self.bytes.extend_from_slice(s.as_bytes());
        StrRef { at }
    }

    /// Where `r`'s bytes start, and how many there are.
    #[inline]
    fn span(&self, r: StrRef) -> (usize, usize) {
        let mut i = r.at as usize;
        let first = self.bytes[i];
        if first < 0x80 {
            return (i + 1, usize::from(first));
        }
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let b = self.bytes[i];
            len |= usize::from(b & 0x7f) << shift;
            i += 1;
            if b < 0x80 {
                return (i, len);
            }
            shift += 7;
        }
    }

    /// The bytes of `r`: what lookups compare and hash, without the UTF-8
    /// check of [`Arena::get`] (a tenth of a lookup, on every event).
    pub(super) fn bytes_of(&self, r: StrRef) -> &[u8] {
        let (start, len) = self.span(r);
        &self.bytes[start..start + len]
    }

    pub(super) fn get(&self, r: StrRef) -> &str {
        let b = self.bytes_of(r);
        // Only whole `&str`s are pushed, so the slice is UTF-8; an error
        // would be an arena bug, shown as an empty string rather than a crash.
        std::str::from_utf8(b).unwrap_or("")
    }

    pub(super) fn free(&mut self, r: StrRef) {
        if r != StrRef::default() {
            let (start, len) = self.span(r);
            self.dead += start + len - r.at as usize;
        }
    }

    pub(super) fn should_compact(&self) -> bool {
        self.dead >= COMPACT_MIN_DEAD && self.dead * 2 >= self.bytes.len()
    }

    /// Copies the live strings (every ref in `live`) into a fresh buffer and
    /// rewrites the refs.
    pub(super) fn compact<'a>(&mut self, live: impl Iterator<Item = &'a mut StrRef>) {
        let mut fresh = Vec::with_capacity((self.bytes.len() - self.dead) * 2);
        fresh.push(0);
        for r in live {
            if *r == StrRef::default() {
                continue;
            }
            let (start, len) = self.span(*r);
            let at = fresh.len() as u32;
            fresh.extend_from_slice(&self.bytes[r.at as usize..start + len]);
            r.at = at;
        }
        self.bytes = fresh;
        self.dead = 0;
    }

    /// Bytes the arena holds: its strings. The buffer's growth slack is
    /// left out because its size is no power of two, unlike the columns'
    /// in the budget test, and untouched slack of a large buffer is address
    /// space the kernel has not backed (bench.sh measures what is resident).
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_keeps_live_strings() {
        let mut a = Arena::default();
        let mut live = Vec::new();
        for i in 0..100_000 {
            let r = a.push(&format!("order-{i:08}"));
            if i % 10 == 0 {
                live.push((i, r));
            } else {
                a.free(r);
            }
        }
        assert!(a.should_compact());
        a.compact(live.iter_mut().map(|(_, r)| r));
        assert!(!a.should_compact());
        // The empty string, then each live one after its 1-byte length.
        assert_eq!(a.bytes(), 1 + live.len() * 15);
        for (i, r) in &live {
            assert_eq!(a.get(*r), format!("order-{i:08}"));
        }
    }

    #[test]
    fn strings_of_every_length_round_trip_and_free_exactly() {
        let mut a = Arena::default();
        let lens = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000];
        let texts: Vec<String> = lens.iter().map(|&n| "x".repeat(n)).collect();
        let refs: Vec<StrRef> = texts.iter().map(|t| a.push(t)).collect();
        for (t, &r) in texts.iter().zip(&refs) {
            assert_eq!(a.get(r), t.as_str());
        }
        assert_eq!(a.get(StrRef::default()), "");
        for &r in &refs {
            a.free(r);
        }
        // Every byte but the empty string's is dead: lengths included.
        assert_eq!(a.dead, a.bytes() - 1);
        let mut keep = refs[4];
        a.compact(std::iter::once(&mut keep));
        assert_eq!((a.get(keep), a.bytes()), (texts[4].as_str(), 1 + 2 + 300));
    }
}
