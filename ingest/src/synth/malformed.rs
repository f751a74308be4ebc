//! The malformed lines the generator mixes in: one of each kind SPEC §1 rejects.
//!
//! Each is built from a fresh event of a throw-away order (`x-k`) so that, were
//! a parser to wrongly accept one, it would open its own book and not disturb
//! the real orders' alerts.

use super::line::{EventLine, push_key, push_u64};
use super::rng::SplitMix64;

/// Number of kinds [`write`] picks from.
const KINDS: u64 = 5;

/// Appends one malformed line (no newline) for throw-away number `k`.
pub(super) fn write(buf: &mut Vec<u8>, rng: &mut SplitMix64, k: u64, base: EventLine) {
    let id = |buf: &mut Vec<u8>| {
        push_key(buf, "id");
        buf.extend_from_slice(b"\"x-");
        push_u64(buf, k);
        buf.push(b'"');
    };
    let shares = |buf: &mut Vec<u8>| {
        buf.push(b',');
        push_key(buf, "#shares");
        push_u64(buf, base.shares);
    };
    buf.push(b'{');
    match rng.below(KINDS) {
        // Truncated JSON: any strict prefix of an object lacks its closing
        // brace. The cut falls after the id, which keeps every line unique.
        0 => {
            id(buf);
            let min = buf.len();
            shares(buf);
            base.write_tail(buf);
            let cut = min + rng.below((buf.len() - min) as u64) as usize;
            buf.truncate(cut);
        }
        // Missing field: no `client`.
        1 => {
            id(buf);
            shares(buf);
            buf.extend_from_slice(b",\"stock\":\"");
            buf.extend_from_slice(base.stock.as_bytes());
            buf.extend_from_slice(b"\"}");
        }
        // Bad type: shares as a string.
        2 => {
            id(buf);
            buf.extend_from_slice(b",\"#shares\":\"");
            push_u64(buf, base.shares);
            buf.push(b'"');
            base.write_tail(buf);
        }
        // Duplicate key: `id` twice.
        3 => {
            id(buf);
            buf.push(b',');
            id(buf);
            shares(buf);
            base.write_tail(buf);
        }
        // Invalid UTF-8: a lone continuation byte inside the id.
        _ => {
            id(buf);
            buf.pop();
            buf.extend_from_slice(b"\x80\"");
            shares(buf);
            base.write_tail(buf);
        }
    }
}
