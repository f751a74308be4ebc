//! Formats event lines into a reused byte buffer.
//!
//! Hand-rolled instead of `serde_json::to_writer`/`write!` because the
//! generator writes tens of millions of lines: every id is a prefix plus
//! integers and every other value is an integer or a fixed ticker, so plain
//! byte pushes (and a stack buffer for digits) allocate nothing and never need
//! escaping.

/// One well-formed event, in the brief's field order.
#[derive(Debug, Clone, Copy)]
pub(super) struct EventLine {
    /// The order number `n` of `o-n`.
    pub(super) order: u64,
    /// `Some(j)` for the purchase `p-n-j`, `None` for the request.
    pub(super) purchase: Option<u32>,
    pub(super) shares: u64,
    /// The client number `k` of `c-k`.
    pub(super) client: u32,
    pub(super) stock: &'static str,
    pub(super) ts: Option<u64>,
}

/// "00" ..= "99", for two digits per division.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal digits of `n`.
pub(super) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Appends `"key":` (the key must need no escaping).
#[inline]
pub(super) fn push_key(buf: &mut Vec<u8>, key: &str) {
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// Appends `"<prefix>-a"` or `"<prefix>-a-b"` as a JSON string.
#[inline]
pub(super) fn push_id(buf: &mut Vec<u8>, prefix: u8, a: u64, b: Option<u32>) {
    buf.extend_from_slice(&[b'"', prefix, b'-']);
    push_u64(buf, a);
    if let Some(b) = b {
        buf.push(b'-');
        push_u64(buf, u64::from(b));
    }
    buf.push(b'"');
}

impl EventLine {
    /// Appends the JSON object (no newline).
    pub(super) fn write(&self, buf: &mut Vec<u8>) {
        buf.push(b'{');
        push_key(buf, "id");
        match self.purchase {
            None => push_id(buf, b'o', self.order, None),
            Some(j) => push_id(buf, b'p', self.order, Some(j)),
        }
        buf.push(b',');
        push_key(buf, "#shares");
        push_u64(buf, self.shares);
        self.write_tail(buf);
    }

    /// Appends everything after `#shares`: client, stock, the order link of a
    /// purchase, ts, and the closing brace.
    pub(super) fn write_tail(&self, buf: &mut Vec<u8>) {
        buf.push(b',');
        push_key(buf, "client");
        push_id(buf, b'c', u64::from(self.client), None);
        buf.push(b',');
        push_key(buf, "stock");
        buf.push(b'"');
        buf.extend_from_slice(self.stock.as_bytes());
        buf.push(b'"');
        if self.purchase.is_some() {
            buf.push(b',');
            push_key(buf, "initial_order_id");
            push_id(buf, b'o', self.order, None);
        }
        if let Some(ts) = self.ts {
            buf.push(b',');
            push_key(buf, "ts");
            push_u64(buf, ts);
        }
        buf.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_briefs_examples() {
        let mut buf = Vec::new();
        let pr = EventLine {
            order: 17,
            purchase: None,
            shares: 500,
            client: 3,
            stock: "AAPL",
            ts: Some(1_700_000_000_123),
        };
        pr.write(&mut buf);
        assert_eq!(
            buf,
            br##"{"id":"o-17","#shares":500,"client":"c-3","stock":"AAPL","ts":1700000000123}"##
        );
        buf.clear();
        let p = EventLine {
            purchase: Some(2),
            shares: 120,
            ts: None,
            ..pr
        };
        p.write(&mut buf);
        assert_eq!(
            buf,
            br##"{"id":"p-17-2","#shares":120,"client":"c-3","stock":"AAPL","initial_order_id":"o-17"}"##
        );
    }

    #[test]
    fn digits() {
        for n in [0, 7, 10, 99, 100, 999, 1000, 1_700_000_000_123, u64::MAX] {
            let mut buf = Vec::new();
            push_u64(&mut buf, n);
            assert_eq!(buf, n.to_string().as_bytes());
        }
    }
}
