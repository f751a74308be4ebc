//! A byte arena for the strings an open book must keep for its alert.
//!
//! Strings are appended to one buffer; freeing only counts dead bytes, and
//! [`Arena::compact`] copies the live ones into a fresh buffer once dead bytes
//! dominate. Appends allocate only when the buffer grows (amortised), never
//! per event.

/// A string in the arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct StrRef {
    start: u32,
    len: u32,
}

#[derive(Debug, Default)]
pub(super) struct Arena {
    bytes: Vec<u8>,
    dead: usize,
}

/// Compaction pays off only past this much garbage.
const COMPACT_MIN_DEAD: usize = 1 << 20;

impl Arena {
    pub(super) fn push(&mut self, s: &str) -> StrRef {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        StrRef {
            start,
            len: s.len() as u32,
        }
    }

    /// The bytes of `r`: what lookups compare and hash, without the UTF-8
    /// check of [`Arena::get`] (a tenth of a lookup, on every event).
    pub(super) fn bytes_of(&self, r: StrRef) -> &[u8] {
        &self.bytes[r.start as usize..(r.start + r.len) as usize]
    }

    pub(super) fn get(&self, r: StrRef) -> &str {
        let b = self.bytes_of(r);
        // Only whole `&str`s are pushed, so the slice is UTF-8; an error
        // would be an arena bug, shown as an empty string rather than a crash.
        std::str::from_utf8(b).unwrap_or("")
    }

    pub(super) fn free(&mut self, r: StrRef) {
        self.dead += r.len as usize;
    }

    pub(super) fn should_compact(&self) -> bool {
        self.dead >= COMPACT_MIN_DEAD && self.dead * 2 >= self.bytes.len()
    }

    /// Copies the live strings (every ref in `live`) into a fresh buffer and
    /// rewrites the refs.
    pub(super) fn compact<'a>(&mut self, live: impl Iterator<Item = &'a mut StrRef>) {
        let mut fresh = Vec::with_capacity((self.bytes.len() - self.dead) * 2);
        for r in live {
            let start = fresh.len() as u32;
            fresh.extend_from_slice(&self.bytes[r.start as usize..(r.start + r.len) as usize]);
            r.start = start;
        }
        self.bytes = fresh;
        self.dead = 0;
    }

    /// Bytes the arena holds from the allocator.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
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
        assert_eq!(a.bytes(), live.len() * 14);
        for (i, r) in &live {
            assert_eq!(a.get(*r), format!("order-{i:08}"));
        }
    }
}
