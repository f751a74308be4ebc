//! Client and stock names, each kept once: an open book holds two `u32` ids
//! instead of two strings (a stream has few clients and stocks and many
//! orders). A name is freed with the last book that names it, so a stream of
//! ever new names costs what it would without the table, bounded by the
//! open books.

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64;

use super::arena::{Arena, StrRef};

/// A name's id in [`Names`].
pub(super) type NameId = u32;

#[derive(Debug, Default)]
pub(super) struct Names {
    /// Ids by the hash of their name, compared in `text`.
    index: HashTable<NameId>,
    /// By id: the name's bytes in `arena`, and how many books name it (0:
    /// the id is free). A name's hash is computed again where needed (when
    /// the index grows, when the name is freed): names are short.
    text: Vec<StrRef>,
    refs: Vec<u32>,
    free: Vec<NameId>,
    arena: Arena,
}

impl Names {
    /// The id of `name`, counted once more.
    pub(super) fn intern(&mut self, name: &str) -> NameId {
        let h = hash(name.as_bytes());
        let (text, arena) = (&self.text, &self.arena);
        if let Some(&id) = self
            .index
            .find(h, |&id| arena.bytes_of(text[id as usize]) == name.as_bytes())
        {
            self.refs[id as usize] += 1;
            return id;
        }
        let r = self.arena.push(name);
        let id = match self.free.pop() {
            Some(id) => {
                let i = id as usize;
                (self.text[i], self.refs[i]) = (r, 1);
                id
            }
            None => {
                self.text.push(r);
                self.refs.push(1);
                (self.text.len() - 1) as NameId
            }
        };
        let (text, arena) = (&self.text, &self.arena);
        self.index
            .insert_unique(h, id, |&id| hash(arena.bytes_of(text[id as usize])));
        id
    }

    /// One book fewer names `id`; the last one frees it.
    pub(super) fn release(&mut self, id: NameId) {
        let i = id as usize;
        self.refs[i] -= 1;
        if self.refs[i] > 0 {
            return;
        }
        let h = hash(self.arena.bytes_of(self.text[i]));
        if let Ok(e) = self.index.find_entry(h, |&other| other == id) {
            e.remove();
        }
        self.arena.free(self.text[i]);
        self.free.push(id);
    }

    pub(super) fn get(&self, id: NameId) -> &str {
        self.arena.get(self.text[id as usize])
    }

    /// Compacts the names' bytes once freed ones dominate.
    pub(super) fn maintain(&mut self) {
        if self.arena.should_compact() {
            let refs = &self.refs;
            let live = self
                .text
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| refs[*i] > 0)
                .map(|(_, r)| r);
            self.arena.compact(live);
        }
    }

    /// Names in use.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.text.len() - self.free.len()
    }

    /// Bytes the table holds from the allocator.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.index.allocation_size()
            + self.text.capacity() * size_of::<StrRef>()
            + self.refs.capacity() * size_of::<u32>()
            + self.free.capacity() * size_of::<NameId>()
            + self.arena.heap_bytes()
    }
}

fn hash(name: &[u8]) -> u64 {
    xxh3_64(name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_name_is_kept_once_and_freed_with_its_last_holder() {
        let mut names = Names::default();
        let a = names.intern("c-1");
        let b = names.intern("AAPL");
        assert_eq!(names.intern("c-1"), a);
        assert_eq!((names.get(a), names.get(b)), ("c-1", "AAPL"));
        names.release(a);
        assert_eq!(names.get(a), "c-1", "still named by one book");
        names.release(a);
        assert_eq!(names.len(), 1);
        let c = names.intern("MSFT");
        assert_eq!(c, a, "the freed id is reused");
        assert_eq!(names.get(c), "MSFT");
        assert_ne!(names.intern("c-1"), c);
    }

    proptest! {
        /// Against a model (name → holders): every id reads back its name,
        /// one id per live name, and a released-to-zero name is gone.
        #[test]
        fn names_match_a_counting_model(ops in prop::collection::vec((0u8..12, any::<bool>()), 0..400)) {
            let mut names = Names::default();
            let mut held: Vec<(String, NameId)> = Vec::new();
            let mut model: HashMap<String, usize> = HashMap::new();
            for (n, release) in ops {
                if release && !held.is_empty() {
                    let (name, id) = held.swap_remove(n as usize % held.len());
                    names.release(id);
                    *model.get_mut(&name).unwrap() -= 1;
                } else {
                    let name = format!("name-{n}");
                    let id = names.intern(&name);
                    held.push((name.clone(), id));
                    *model.entry(name).or_default() += 1;
                }
                names.maintain();
                for (name, id) in &held {
                    prop_assert_eq!(names.get(*id), name.as_str());
                }
                prop_assert_eq!(names.len(), model.values().filter(|&&c| c > 0).count());
            }
        }
    }
}
