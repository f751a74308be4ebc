//! Hash tables keyed by the 128-bit keys that ingest computes.
//!
//! The keys are already uniform hashes, so hashing them again is wasted work:
//! [`KeyHasher`] folds the two halves and stops there.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A pass-through hasher for pre-hashed 128-bit keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for key types other than u128/u64; stay correct.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = fold_key(v);
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The 64-bit hash of a pre-hashed 128-bit key: its halves folded, as
/// [`KeyHasher`] does (for tables that take a hash, not a hasher).
#[inline]
pub fn fold_key(v: u128) -> u64 {
    (v as u64) ^ ((v >> 64) as u64)
}

/// A map from a 128-bit key to `V`.
pub type KeyMap<V> = HashMap<u128, V, BuildHasherDefault<KeyHasher>>;

/// A set of 128-bit keys.
pub type KeySet = HashSet<u128, BuildHasherDefault<KeyHasher>>;
