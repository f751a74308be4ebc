//! Property tests: the parser never panics, and agrees with serde_json's own
//! serializer on every valid event.

use proptest::prelude::*;

use super::fields::MAX_INT;
use super::{ParseScratch, parse_line};

/// Strings of 1..=max bytes, with characters that force escaping.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-zA-Z0-9\-_"\\/\n\t\u{7f}é😀\u{1}]{1,40}"#)
        .unwrap_or_else(|e| panic!("regex: {e}"))
        .prop_filter("byte length", move |s| !s.is_empty() && s.len() <= max)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut s = ParseScratch::default();
        let _ = parse_line(&bytes, &mut s);
    }

    #[test]
    fn json_like_bytes_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"),
                Just("\"id\""), Just("\"#shares\""), Just("\"x\""), Just("\"\\u0069d\""),
                Just("1"), Just("-1"), Just("1.5"), Just("null"), Just("\"s\""), Just(" "),
            ],
            0..40,
        )
    ) {
        let line = parts.concat();
        let mut s = ParseScratch::default();
        let _ = parse_line(line.as_bytes(), &mut s);
    }

    #[test]
    fn serialized_events_round_trip(
        id in text(128),
        shares in 0..=MAX_INT,
        client in text(256),
        stock in text(256),
        ioid in proptest::option::of(text(128)),
        ts in proptest::option::of(0..=MAX_INT),
        alias in any::<bool>(),
        extra in proptest::option::of(any::<i64>()),
    ) {
        let mut obj = serde_json::Map::new();
        obj.insert("id".into(), id.clone().into());
        obj.insert(if alias { "shares" } else { "#shares" }.into(), shares.into());
        obj.insert("client".into(), client.clone().into());
        obj.insert("stock".into(), stock.clone().into());
        if let Some(o) = &ioid {
            obj.insert("initial_order_id".into(), o.clone().into());
        }
        if let Some(t) = ts {
            obj.insert("ts".into(), t.into());
        }
        if let Some(x) = extra {
            obj.insert("extra".into(), x.into());
        }
        let line = serde_json::to_vec(&serde_json::Value::Object(obj))
            .unwrap_or_else(|e| panic!("serialize: {e}"));
        let mut s = ParseScratch::default();
        let e = parse_line(&line, &mut s);
        prop_assert!(e.is_ok(), "{:?} for {}", e, String::from_utf8_lossy(&line));
        if let Ok(e) = e {
            prop_assert_eq!(e.id, id.as_str());
            prop_assert_eq!(e.shares, shares);
            prop_assert_eq!(e.client, client.as_str());
            prop_assert_eq!(e.stock, stock.as_str());
            prop_assert_eq!(e.initial_order_id, ioid.as_deref());
            prop_assert_eq!(e.ts, ts);
        }
    }
}
