//! The SPEC §1 line parser: one JSON Lines line in, a borrowed
//! [`TradeEventRef`] or a [`RejectReason`] out.
//!
//! This is the ingest hot path, so it allocates nothing per event in the common
//! case. serde_json reads the line through a hand-written `Visitor`
//! ([`visitor`]); strings without escapes are borrowed straight from the line,
//! and only escaped strings are unescaped into the reused [`ParseScratch`], from
//! which the returned event then borrows. Unknown fields are skipped with
//! `IgnoredAny`, but their keys are remembered (as spans) so that a duplicate
//! unknown key is still caught ([`scratch`]). The field rules live in
//! [`fields`].
//!
//! **Reject precedence.** A line with several problems is reported by the first
//! rule that fails, in this order, so the reason is a pure function of the
//! bytes:
//!
//! 1. `too_long`: the line (without `\n` and one trailing `\r`) is over
//!    [`MAX_LINE`] bytes; nothing else is looked at.
//! 2. `malformed`: invalid UTF-8, invalid JSON (including trailing garbage or
//!    nesting deeper than serde_json's limit of 128), or a top level that is
//!    not an object. The whole line is parsed before any other verdict, so a
//!    syntax error after a duplicate key is still `malformed`.
//! 3. `duplicate_key`: any key, known or unknown, occurs twice, compared after
//!    unescaping (`"i\u0064"` is `"id"`). `#shares` and `shares` are different
//!    keys; both present is `bad:#shares` (rule 4), not a duplicate. Only the
//!    event's own (top-level) keys count; keys inside a nested value are not
//!    fields.
//! 4. `missing:<field>` / `bad:<field>`, checking the fields in the order `id`,
//!    `#shares`, `client`, `stock`, `initial_order_id`, `ts`; the first field
//!    that is missing or ill-typed names the reason.
//!
//! String lengths are counted in bytes of the unescaped UTF-8 value. A `\u`
//! escape of a lone UTF-16 surrogate is `malformed` in a key or a known field
//! (it has no UTF-8 form); inside an ignored unknown value serde_json skips it
//! unchecked, which we accept since the value is never read.
//!
//! **Two paths, one verdict.** Most lines have one shape: known keys once
//! each, plain strings and integers. [`scan`] reads those in one pass without
//! serde; anything else goes through serde_json and the [`visitor`]. Both fill
//! the same [`fields::RawFields`] and meet in [`fields::check`], so a line
//! gets the same event or reason whichever path read it; the property tests
//! and the fuzz target (`ingest/fuzz`) hold the scanner to that.

mod fields;
mod scan;
mod scratch;
mod visitor;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod tests;

use columnar::{RejectReason, TradeEventRef};
use serde::de::DeserializeSeed;

pub use scratch::ParseScratch;

/// The longest accepted line in bytes, excluding its line terminator (SPEC §1).
pub const MAX_LINE: usize = 64 * 1024;

/// True for a line the caller must skip silently: empty or all ASCII
/// whitespace (SPEC §1).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Parses one line (without its `\n`; one trailing `\r` is stripped) into an
/// event borrowed from `line` and, for escaped strings, from `scratch`.
///
/// See the module docs for which [`RejectReason`] wins when a line has several
/// problems. Never panics, whatever the bytes.
pub fn parse_line<'a>(
    line: &'a [u8],
    scratch: &'a mut ParseScratch,
) -> Result<TradeEventRef<'a>, RejectReason> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE {
        return Err(RejectReason::TooLong);
    }
    // Validating once up front lets serde_json's `StrRead` skip its per-string
    // UTF-8 checks, and also covers bytes inside ignored values. simdutf8 does
    // it several times faster than `std::str::from_utf8` (4% of the ingest
    // thread's time before).
    let text = simdutf8::basic::from_utf8(line).map_err(|_| RejectReason::Malformed)?;
    let mut raw = fields::RawFields::default();
    if scan::scan(text, &mut raw).is_some() {
        // Every string of the fast path is borrowed from the line.
        let scratch: &'a ParseScratch = scratch;
        return fields::check(&raw)?.resolve(scratch);
    }
    parse_full(text, scratch)
}

/// The full parser: serde_json through the [`visitor`], for every line the
/// scanner leaves (and, in the tests, for every line, to check the scanner).
fn parse_full<'a>(
    text: &'a str,
    scratch: &'a mut ParseScratch,
) -> Result<TradeEventRef<'a>, RejectReason> {
    scratch.reset();

    let mut de = serde_json::Deserializer::from_str(text);
    let raw = visitor::ObjectSeed::new(text, scratch)
        .deserialize(&mut de)
        .map_err(|_| RejectReason::Malformed)?;
    de.end().map_err(|_| RejectReason::Malformed)?;

    if raw.duplicate_known_key || scratch.has_duplicate_unknown_key(text) {
        return Err(RejectReason::DuplicateKey);
    }
    let checked = fields::check(&raw)?;
    let scratch: &'a ParseScratch = scratch;
    checked.resolve(scratch)
}

/// `Err` (saying how) if `parse_line`'s verdict on `line` differs from the
/// full parser's: the fast path may only ever be faster. For the property
/// tests and the fuzz target (`ingest/fuzz`, feature `fuzzing`).
#[cfg(any(test, feature = "fuzzing"))]
pub fn check_scanner(line: &[u8]) -> Result<(), String> {
    let mut a = ParseScratch::default();
    let got = format!("{:?}", parse_line(line, &mut a));
    let body = line.strip_suffix(b"\r").unwrap_or(line);
    // Both paths share the length and UTF-8 checks that come first.
    let want = match std::str::from_utf8(body) {
        Ok(text) if body.len() <= MAX_LINE => {
            let mut b = ParseScratch::default();
            format!("{:?}", parse_full(text, &mut b))
        }
        _ => return Ok(()),
    };
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "line {:?}: parse_line gives {got}, the full parser {want}",
            String::from_utf8_lossy(line)
        ))
    }
}
