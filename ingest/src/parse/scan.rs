//! The fast path: a scanner for the shape nearly every event has.
//!
//! A flat object of known keys, each once, whose values are strings without
//! escapes or non-negative integers without sign, fraction or exponent, plus
//! up to four distinct unknown keys with scalar values, with JSON whitespace
//! anywhere between tokens. That is every line the generator,
//! the brief's files and the publishers write. The scanner walks such a line
//! once, byte by byte, and fills the same [`RawFields`] the serde walk fills,
//! so the field rules (and their precedence) stay in one place, [`super::fields`].
//!
//! On anything else (an escape, a repeated key, a known field holding a
//! float, a negative or `null`, a nested value, a syntax error, trailing
//! bytes) it gives
//! up with `None` and the caller parses the line with the full parser, which
//! decides every unusual case. So the scanner never has to be right about a
//! reject: it only has to be right about the lines it accepts, which the
//! property tests and the fuzz target check against the full parser.

use super::fields::{
    CLIENT, ID, INITIAL_ORDER_ID, RawFields, SHARES, SHARES_ALIAS, STOCK, TS, Val, slot_of,
};
use super::scratch::StrRef;

/// Scans `text` (one line, UTF-8 already checked, no line terminator) into
/// `raw`, which must start empty (the caller's, so the fields are written in
/// place rather than moved out: a move of `RawFields` is a `memcpy` call).
/// `None`: not the common shape (`raw` holds a part of it); use the full
/// parser.
pub(super) fn scan<'a>(text: &'a str, raw: &mut RawFields<'a>) -> Option<()> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        let mut seen = 0u8;
        let mut unknown = UnknownKeys::default();
        loop {
            let (slot, after) = match known_key(b, i) {
                Some((slot, after)) => (Some(slot), after),
                None => {
                    let (key, after) = plain_string(text, i)?;
                    let slot = slot_of(key);
                    if slot.is_none() {
                        // An unknown field: remembered for the duplicate
                        // rule.
                        unknown.add(key)?;
                    }
                    (slot, after)
                }
            };
            i = skip_ws(b, after);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            let Some(slot) = slot else {
                // An unknown field's value: checked as JSON and skipped.
                i = skip_ws(b, skip_scalar(b, i)?);
                match b.get(i)? {
                    b',' => {
                        i = skip_ws(b, i + 1);
                        continue;
                    }
                    b'}' => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            };
            // A repeated key needs the whole line judged first: the full
            // parser's.
            let bit = 1u8 << slot;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            let (val, after) = match b.get(i)? {
                b'"' => {
                    let (s, after) = plain_string(text, i)?;
                    (Val::Str(StrRef::Line(s)), after)
                }
                b'0'..=b'9' => {
                    let (n, after) = integer(b, i)?;
                    (Val::Uint(n), after)
                }
                _ => return None,
            };
            raw.vals[slot] = Some(val);
            i = skip_ws(b, after);
            match b.get(i)? {
                b',' => i = skip_ws(b, i + 1),
                b'}' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(b, i) == b.len()).then_some(())
}

/// The unknown keys of a line, few enough to compare pairwise.
#[derive(Default)]
struct UnknownKeys<'a> {
    keys: [&'a str; UNKNOWN_MAX],
    n: usize,
}

/// Lines with more unknown keys than this go to the full parser.
const UNKNOWN_MAX: usize = 4;

impl<'a> UnknownKeys<'a> {
    /// `None` if `key` repeats one already seen (the full parser decides
    /// between `duplicate_key` and a later syntax error) or there are too
    /// many to compare pairwise.
    fn add(&mut self, key: &'a str) -> Option<()> {
        if self.n == UNKNOWN_MAX || self.keys[..self.n].contains(&key) {
            return None;
        }
        self.keys[self.n] = key;
        self.n += 1;
        Some(())
    }
}

/// The index after the unknown field's value at `b[i]`, if it is a plain
/// string, a JSON number or a literal; nested values go to the full parser.
fn skip_scalar(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => Some(string_end(b, i + 1)? + 1),
        b'-' | b'0'..=b'9' => number(b, i),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        _ => None,
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

/// The index after the JSON number at `b[i]`:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut j: usize| {
        let start = j;
        while let Some(b'0'..=b'9') = b.get(j) {
            j += 1;
        }
        (j > start).then_some(j)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(b, i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}

/// The first index at or after `i` that is not JSON whitespace.
#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The string that opens at `text[i] == '"'`, if it has no escape and no
/// control character, and the index after its closing quote.
#[inline]
fn plain_string(text: &str, i: usize) -> Option<(&str, usize)> {
    if text.as_bytes().get(i) != Some(&b'"') {
        return None;
    }
    let end = string_end(text.as_bytes(), i + 1)?;
    // Both ends sit next to an ASCII quote, so on char boundaries.
    Some((text.get(i + 1..end)?, end + 1))
}

/// A known key spelled plainly at `b[i] == '"'`: its slot and the index
/// after its closing quote, found without scanning for the quote first.
/// `None` for anything else, which [`plain_string`] then reads.
#[inline]
fn known_key(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let rest = b.get(i + 1..)?;
    // Each arm compares with its own literal: a length known at compile
    // time is compared inline, where a word picked at run time cost a
    // `memcmp` call per key.
    let (slot, len) = match rest.first()? {
        b'i' if rest.starts_with(b"id\"") => (ID, 3),
        b'i' if rest.starts_with(b"initial_order_id\"") => (INITIAL_ORDER_ID, 17),
        b'#' if rest.starts_with(b"#shares\"") => (SHARES, 8),
        b's' if rest.starts_with(b"stock\"") => (STOCK, 6),
        b's' if rest.starts_with(b"shares\"") => (SHARES_ALIAS, 7),
        b'c' if rest.starts_with(b"client\"") => (CLIENT, 7),
        b't' if rest.starts_with(b"ts\"") => (TS, 3),
        _ => return None,
    };
    Some((slot, i + 1 + len))
}

/// Every byte of a word set to `b`.
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// The index of the quote that closes a string whose first byte is `b[j]`;
/// `None` at an escape, a control character or the end of the line. Eight
/// bytes at a time: a byte that is a quote, a backslash or below 0x20 sets
/// its high bit in `m`, and the lowest such bit is exact (the borrows that
/// make the trick inexact only run upwards from a real match).
#[inline]
fn string_end(b: &[u8], mut j: usize) -> Option<usize> {
    const HIGH: u64 = splat(0x80);
    while let Some(word) = b.get(j..j + 8) {
        let x = u64::from_le_bytes(word.try_into().ok()?);
        let zero = |v: u64| v.wrapping_sub(splat(1)) & !v;
        let m =
            (zero(x ^ splat(b'"')) | zero(x ^ splat(b'\\')) | (x.wrapping_sub(splat(0x20)) & !x))
                & HIGH;
        if m != 0 {
            let k = j + (m.trailing_zeros() / 8) as usize;
            return (b.get(k) == Some(&b'"')).then_some(k);
        }
        j += 8;
    }
    loop {
        match *b.get(j)? {
            b'"' => return Some(j),
            // An escape needs unescaping into the scratch; a raw control
            // character is invalid JSON: both are the full parser's.
            b'\\' | 0..=0x1f => return None,
            _ => j += 1,
        }
    }
}

/// The integer whose first digit is `b[i]`, if it is a plain JSON integer
/// that fits a `u64`, and the index after it.
#[inline]
fn integer(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut j = i;
    while let Some(&d @ b'0'..=b'9') = b.get(j) {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        j += 1;
    }
    // A leading zero before more digits is invalid JSON; a fraction or an
    // exponent makes a float: the full parser's.
    if (b.get(i) == Some(&b'0') && j > i + 1) || matches!(b.get(j), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    Some((n, j))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{integer, string_end};

    #[test]
    fn integers_fit_a_u64_up_to_its_last_digit() {
        let at = |s: &str| integer(s.as_bytes(), 0);
        assert_eq!(at("0"), Some((0, 1)));
        assert_eq!(at("1234,"), Some((1234, 4)));
        assert_eq!(
            at("9999999999999999999"),
            Some((9_999_999_999_999_999_999, 19))
        );
        assert_eq!(
            at("10000000000000000000}"),
            Some((10_000_000_000_000_000_000, 20))
        );
        assert_eq!(at("18446744073709551615"), Some((u64::MAX, 20)));
        assert_eq!(at("18446744073709551616"), None, "past u64::MAX");
        assert_eq!(at("99999999999999999999"), None);
        assert_eq!(at("184467440737095516150"), None, "21 digits");
        assert_eq!(at("007"), None, "a leading zero");
        assert_eq!(at("12.5"), None);
        assert_eq!(at("3e2"), None);
    }

    /// One byte at a time: the definition `string_end` must match.
    fn naive(b: &[u8], j: usize) -> Option<usize> {
        let k = j + b
            .get(j..)?
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        (b[k] == b'"').then_some(k)
    }

    proptest! {
        #[test]
        fn eight_at_a_time_finds_what_one_at_a_time_finds(
            b in proptest::collection::vec(prop_oneof![
                8 => 0x20u8..0x7f,
                1 => Just(b'"'),
                1 => Just(b'\\'),
                1 => 0u8..0x20,
                2 => 0x80u8..=0xff,
            ], 0..40),
            j in 0usize..40,
        ) {
            prop_assert_eq!(string_end(&b, j), naive(&b, j));
        }
    }
}
