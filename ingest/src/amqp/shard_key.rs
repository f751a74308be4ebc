//! The routing key of an event on the shards' consistent-hash exchange
//! (SPEC §8): its order id — `initial_order_id` for a purchase, `id` for a
//! request — so every event of an order hashes to the same shard queue.
//!
//! One function for every client that places events on the shards (`aldebaran
//! route`, `aldebaran publish --shards`): two that computed the key apart
//! could disagree on an order (an escaped id, say) and split it over two
//! engines. The id is the parser's, unescaped, exactly what the engine keys
//! its books by.

use columnar::RejectReason;

use crate::parse::{ParseScratch, parse_line};

/// The order id of `line` (one event, without its `\n`), the routing key
/// it must be published with; or why the parser rejects it. At most 128
/// bytes (SPEC §1), within AMQP's 255 for a routing key.
pub fn order_key<'a>(
    line: &'a [u8],
    scratch: &'a mut ParseScratch,
) -> Result<&'a str, RejectReason> {
    parse_line(line, scratch).map(|ev| ev.order_id())
}

/// A routing key for a line the parser rejects, for a client that must put
/// it on some shard all the same (`publish --shards`, whose shard's engine
/// then dead-letters it): `raw:` and a hash of its bytes, so the same bytes
/// always reach the same shard and different lines spread over all of them.
pub fn raw_key(line: &[u8]) -> String {
    format!("raw:{:016x}", xxhash_rust::xxh3::xxh3_64(line))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_request_is_keyed_by_its_id_and_a_purchase_by_its_order() {
        let mut s = ParseScratch::default();
        let pr = br##"{"id":"o-1","#shares":10,"client":"c","stock":"S"}"##;
        assert_eq!(order_key(pr, &mut s), Ok("o-1"));
        let p = br##"{"id":"p-9","#shares":4,"client":"c","stock":"S","initial_order_id":"o-1"}"##;
        assert_eq!(order_key(p, &mut s), Ok("o-1"));
        // Escaped: the key is the id the engine books, unescaped.
        let esc =
            br##"{"id":"p-2","shares":1,"client":"c","stock":"S","initial_order_id":"o-\u0031"}"##;
        assert_eq!(order_key(esc, &mut s), Ok("o-1"));
    }

    #[test]
    fn a_rejected_line_gives_the_parser_s_reason() {
        let mut s = ParseScratch::default();
        assert_eq!(order_key(b"{", &mut s), Err(RejectReason::Malformed));
        assert_eq!(
            order_key(br#"{"id":"x","client":"c","stock":"S"}"#, &mut s),
            Err(RejectReason::Missing(columnar::Field::Shares))
        );
    }

    #[test]
    fn raw_keys_are_short_and_stable() {
        assert_eq!(raw_key(b"{"), raw_key(b"{"));
        assert_ne!(raw_key(b"{"), raw_key(b"}"));
        assert_eq!(raw_key(&[0xff; 70_000]).len(), 20);
    }

    proptest! {
        #[test]
        fn the_key_of_any_event_is_its_order_id(
            order in "[a-z0-9-]{1,128}",
            id in "[a-z0-9-]{1,128}",
            purchase: bool,
            shares in 0u64..1_000_000,
        ) {
            let line = if purchase {
                format!(r##"{{"id":"{id}","#shares":{shares},"client":"c","stock":"S","initial_order_id":"{order}"}}"##)
            } else {
                format!(r##"{{"id":"{order}","#shares":{shares},"client":"c","stock":"S"}}"##)
            };
            let mut s = ParseScratch::default();
            let key = order_key(line.as_bytes(), &mut s);
            prop_assert_eq!(key, Ok(order.as_str()));
        }

        #[test]
        fn any_bytes_give_a_key_or_a_reason_never_a_panic(
            line in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut s = ParseScratch::default();
            if let Ok(key) = order_key(&line, &mut s) {
                prop_assert!(!key.is_empty() && key.len() <= 128);
            }
            prop_assert!(raw_key(&line).starts_with("raw:"));
        }
    }
}
