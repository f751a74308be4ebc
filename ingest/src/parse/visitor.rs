//! The serde walk over one JSON object: keys, known values, skipped values.
//!
//! Hand-written seeds instead of `#[derive(Deserialize)]` because the derive
//! stops at the first type error or duplicate, while SPEC §1 needs the whole
//! line read (a later syntax error outranks an earlier bad field), duplicate
//! unknown keys detected, and escaped strings copied into our reused scratch
//! rather than into fresh `String`s. Every visitor here errors only on JSON
//! syntax; type problems are recorded as [`Val::Other`] and judged later.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fields::{RawFields, Val, slot_of};
use super::scratch::{ParseScratch, StrRef};

/// Reads the top-level object of `text` (the whole line).
pub(super) struct ObjectSeed<'s, 'a> {
    text: &'a str,
    scratch: &'s mut ParseScratch,
}

impl<'s, 'a> ObjectSeed<'s, 'a> {
    pub(super) fn new(text: &'a str, scratch: &'s mut ParseScratch) -> Self {
        ObjectSeed { text, scratch }
    }
}

impl<'a> DeserializeSeed<'a> for ObjectSeed<'_, 'a> {
    type Value = RawFields<'a>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        // A non-object top level is a type error from serde_json: malformed.
        d.deserialize_map(self)
    }
}

impl<'a> Visitor<'a> for ObjectSeed<'_, 'a> {
    type Value = RawFields<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut raw = RawFields::default();
        let mut seen = 0u8;
        while let Some(key) = map.next_key_seed(KeySeed {
            text: self.text,
            scratch: &mut *self.scratch,
        })? {
            match key {
                Some(slot) => {
                    let bit = 1u8 << slot;
                    raw.duplicate_known_key |= seen & bit != 0;
                    seen |= bit;
                    raw.vals[slot] = Some(map.next_value_seed(ValueSeed(&mut *self.scratch))?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// Reads a key: `Some(slot)` for a known field, `None` for an unknown one,
/// whose span is recorded for the duplicate check.
struct KeySeed<'s, 'a> {
    text: &'a str,
    scratch: &'s mut ParseScratch,
}

impl<'a> DeserializeSeed<'a> for KeySeed<'_, 'a> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'a> Visitor<'a> for KeySeed<'_, 'a> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'a str) -> Result<Self::Value, E> {
        let slot = slot_of(key);
        if slot.is_none() {
            self.scratch.push_unknown_in_line(self.text, key);
        }
        Ok(slot)
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        let slot = slot_of(key);
        if slot.is_none() {
            self.scratch.push_unknown_escaped(key);
        }
        Ok(slot)
    }
}

/// Reads a known field's value of any JSON type without failing on its type.
struct ValueSeed<'s>(&'s mut ParseScratch);

impl<'a> DeserializeSeed<'a> for ValueSeed<'_> {
    type Value = Val<'a>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for ValueSeed<'_> {
    type Value = Val<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'a str) -> Result<Self::Value, E> {
        Ok(Val::Str(StrRef::Line(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Val::Str(self.0.push_str(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Val::Uint(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        // serde_json reports only negatives here; be exact anyway.
        Ok(u64::try_from(v).map_or(Val::Other, Val::Uint))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Val::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Val::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Val::Other)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Val::Other)
    }

    fn visit_seq<S: SeqAccess<'a>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Val::Other)
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        // Keys of a nested object are not fields: SPEC §1 duplicates are about
        // the event's own keys. The nested syntax is still fully checked.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Val::Other)
    }
}
