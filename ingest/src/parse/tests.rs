//! Example-based tests: one per accepted shape and per SPEC §1 reject reason.

use columnar::{Field, RejectReason, TradeEventRef};

use super::{MAX_LINE, ParseScratch, is_blank, parse_line};

const PR: &str =
    r##"{"id":"o-17","#shares":500,"client":"c-3","stock":"AAPL","ts":1700000000123}"##;
const P: &str = r##"{"id":"p-17-2","#shares":120,"client":"c-3","stock":"AAPL","initial_order_id":"o-17","ts":1700000000124}"##;

fn parse_ok(line: &str) -> (String, u64, String, String, Option<String>, Option<u64>) {
    let mut s = ParseScratch::default();
    let e = parse_line(line.as_bytes(), &mut s).unwrap_or_else(|r| panic!("{r}: {line}"));
    owned(e)
}

fn owned(e: TradeEventRef<'_>) -> (String, u64, String, String, Option<String>, Option<u64>) {
    (
        e.id.to_owned(),
        e.shares,
        e.client.to_owned(),
        e.stock.to_owned(),
        e.initial_order_id.map(str::to_owned),
        e.ts,
    )
}

fn reject(line: impl AsRef<[u8]>) -> RejectReason {
    let mut s = ParseScratch::default();
    match parse_line(line.as_ref(), &mut s) {
        Ok(e) => panic!("accepted {e:?}"),
        Err(r) => r,
    }
}

/// A valid purchase with `field`'s value replaced by `value` (raw JSON), or
/// the field removed when `value` is `None`.
fn with(field: &str, value: Option<&str>) -> String {
    let fields = [
        ("id", "\"p-1\""),
        ("#shares", "10"),
        ("client", "\"c\""),
        ("stock", "\"S\""),
        ("initial_order_id", "\"o-1\""),
        ("ts", "5"),
    ];
    let body: Vec<String> = fields
        .iter()
        .filter_map(|&(k, v)| {
            let v = if k == field { value? } else { v };
            Some(format!("\"{k}\":{v}"))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

#[test]
fn valid_request_and_purchase() {
    let pr = parse_ok(PR);
    assert_eq!(
        pr,
        (
            "o-17".into(),
            500,
            "c-3".into(),
            "AAPL".into(),
            None,
            Some(1_700_000_000_123)
        )
    );
    let p = parse_ok(P);
    assert_eq!(p.0, "p-17-2");
    assert_eq!(p.1, 120);
    assert_eq!(p.4.as_deref(), Some("o-17"));
    assert_eq!(p.5, Some(1_700_000_000_124));
}

#[test]
fn shares_alias_and_optional_ts() {
    let e = parse_ok(r##"{"id":"o","shares":7,"client":"c","stock":"s"}"##);
    assert_eq!((e.1, e.5), (7, None));
    assert_eq!(parse_ok(&with("#shares", Some("0"))).1, 0);
    assert_eq!(
        parse_ok(&with("#shares", Some("9007199254740991"))).1,
        (1 << 53) - 1
    );
    assert_eq!(
        parse_ok(&with("ts", Some("9007199254740991"))).5,
        Some((1 << 53) - 1)
    );
}

#[test]
fn escaped_strings_equal_their_plain_form() {
    let e = parse_ok(
        r##"{"id":"p\u002d1","#shares":1,"client":"c\"q\\","stock":"\u00e9\ud83d\ude00","initial_order_id":"o\u002d1"}"##,
    );
    assert_eq!(e.0, "p-1");
    assert_eq!(e.2, "c\"q\\");
    assert_eq!(e.3, "é😀");
    assert_eq!(e.4.as_deref(), Some("o-1"));
    // Escaped keys are the keys they spell.
    let e = parse_ok(r##"{"i\u0064":"o","\u0023shares":3,"client":"c","stock":"s"}"##);
    assert_eq!((e.0.as_str(), e.1), ("o", 3));
}

#[test]
fn scratch_is_reused_across_lines() {
    let mut s = ParseScratch::default();
    for i in 0..3 {
        let line = format!(r##"{{"id":"a\u0041{i}","#shares":1,"client":"c","stock":"s"}}"##);
        let e = parse_line(line.as_bytes(), &mut s).unwrap();
        assert_eq!(e.id, format!("aA{i}"));
    }
}

#[test]
fn whitespace_and_crlf() {
    let spaced = " \t{ \"id\" : \"o\" ,\n\"#shares\":\t1 , \"client\":\"c\",\"stock\":\"s\" }  \r";
    assert_eq!(parse_ok(spaced).0, "o");
    assert_eq!(parse_ok(&format!("{PR}\r")).0, "o-17");
    // Only one trailing \r is the line terminator; JSON allows the rest.
    assert_eq!(parse_ok(&format!("{PR}\r\r")).0, "o-17");
    assert!(is_blank(b""));
    assert!(is_blank(b" \t\r"));
    assert!(!is_blank(b" x "));
}

#[test]
fn unknown_fields_of_every_type_are_ignored() {
    let line = r##"{"a":null,"b":true,"c":false,"d":-1.5e300,"e":"x\n","f":[1,[{"g":2}],"h"],"g":{"i":{"j":[]}},"id":"o","#shares":1,"client":"c","stock":"s","k":123456789012345678901234567890}"##;
    assert_eq!(parse_ok(line).0, "o");
    // Keys of a nested object are not the event's keys.
    let nested = r##"{"x":{"id":1,"id":2},"id":"o","#shares":1,"client":"c","stock":"s"}"##;
    assert_eq!(parse_ok(nested).0, "o");
}

#[test]
fn too_long() {
    let pad = "x".repeat(MAX_LINE);
    let line = format!(r##"{{"id":"o","#shares":1,"client":"c","stock":"s","pad":"{pad}"}}"##);
    assert_eq!(reject(&line), RejectReason::TooLong);
    // Even garbage is too long before it is malformed.
    assert_eq!(reject(vec![0xff; MAX_LINE + 1]), RejectReason::TooLong);
    // Exactly MAX_LINE bytes, plus a \r terminator, is fine.
    let head = r##"{"id":"o","#shares":1,"client":"c","stock":"s","pad":""##;
    let fill = "y".repeat(MAX_LINE - head.len() - 2);
    let exact = format!("{head}{fill}\"}}\r");
    assert_eq!(exact.len(), MAX_LINE + 1);
    assert_eq!(parse_ok(&exact).0, "o");
}

#[test]
fn malformed() {
    let mut bad_utf8 = PR.as_bytes().to_vec();
    bad_utf8[8] = 0xff;
    assert_eq!(reject(bad_utf8), RejectReason::Malformed);
    for line in [
        r##"{"id":"o","#shares":1,"client":"c","stock":"s""##,
        r##"{"id":"o","#shares":1,"client":"c","stock":"s"} x"##,
        r##"{"id":"o","#shares":1,"client":"c","stock":"s"}{}"##,
        r##"{"id":"o","#shares":01,"client":"c","stock":"s"}"##,
        r##"{"id":"o\x","#shares":1,"client":"c","stock":"s"}"##,
        r##"{"id":"\ud800","#shares":1,"client":"c","stock":"s"}"##,
        "{\"id\":\"a\tb\",\"#shares\":1,\"client\":\"c\",\"stock\":\"s\"}",
        r##"{'id':'o'}"##,
        "[1,2]",
        "[]",
        "42",
        "\"o\"",
        "null",
        "{",
        "x",
    ] {
        assert_eq!(reject(line), RejectReason::Malformed, "{line}");
    }
}

#[test]
fn deep_nesting_is_bounded() {
    // serde_json skips ignored values without recursing, and stops parsed
    // values at depth 128: no stack overflow either way.
    let deep = format!("{}0{}", "[".repeat(30_000), "]".repeat(30_000));
    let unknown = format!(r##"{{"x":{deep},"id":"o","#shares":1,"client":"c","stock":"s"}}"##);
    assert_eq!(parse_ok(&unknown).0, "o");
    assert_eq!(
        reject(with("ts", Some(&deep))),
        RejectReason::Bad(Field::Ts)
    );
    let unclosed = format!(r##"{{"x":{}}}"##, "[".repeat(60_000));
    assert_eq!(reject(unclosed), RejectReason::Malformed);
    assert_eq!(reject("[".repeat(60_000)), RejectReason::Malformed);
}

#[test]
fn duplicate_keys() {
    let dup_known = r##"{"id":"o","#shares":1,"client":"c","stock":"s","id":"o"}"##;
    assert_eq!(reject(dup_known), RejectReason::DuplicateKey);
    let dup_unknown = r##"{"x":1,"id":"o","#shares":1,"client":"c","stock":"s","x":[2]}"##;
    assert_eq!(reject(dup_unknown), RejectReason::DuplicateKey);
    let dup_escaped = r##"{"xy":1,"id":"o","#shares":1,"client":"c","stock":"s","x\u0079":2}"##;
    assert_eq!(reject(dup_escaped), RejectReason::DuplicateKey);
    let dup_escaped_known = r##"{"stock":"s","id":"o","#shares":1,"client":"c","\u0073tock":"s"}"##;
    assert_eq!(reject(dup_escaped_known), RejectReason::DuplicateKey);
    // Many unknown keys take the sorting path.
    let many: String = (0..40).map(|i| format!("\"k{}\":0,", i % 39)).collect();
    let line = format!(r##"{{{many}"id":"o","#shares":1,"client":"c","stock":"s"}}"##);
    assert_eq!(reject(line), RejectReason::DuplicateKey);
    let distinct: String = (0..40).map(|i| format!("\"k{i}\":0,")).collect();
    let line = format!(r##"{{{distinct}"id":"o","#shares":1,"client":"c","stock":"s"}}"##);
    assert_eq!(parse_ok(&line).0, "o");
}

#[test]
fn precedence() {
    // Syntax errors outrank duplicates, duplicates outrank field problems.
    let dup_then_broken = r##"{"id":"o","id":"o","#shares":1,"client":"c","stock":"s""##;
    assert_eq!(reject(dup_then_broken), RejectReason::Malformed);
    let dup_and_bad = r##"{"id":1,"id":2}"##;
    assert_eq!(reject(dup_and_bad), RejectReason::DuplicateKey);
    // Field order: id before #shares before client ...
    assert_eq!(
        reject(r##"{"ts":"x","stock":1}"##),
        RejectReason::Missing(Field::Id)
    );
    let bad_stock_missing_client = r##"{"id":"o","#shares":1,"stock":1}"##;
    assert_eq!(
        reject(bad_stock_missing_client),
        RejectReason::Missing(Field::Client)
    );
    let bad_ts_and_ioid =
        r##"{"id":"o","#shares":1,"client":"c","stock":"s","initial_order_id":"","ts":-1}"##;
    assert_eq!(
        reject(bad_ts_and_ioid),
        RejectReason::Bad(Field::InitialOrderId)
    );
}

#[test]
fn each_missing_field() {
    for (name, field) in [
        ("id", Field::Id),
        ("#shares", Field::Shares),
        ("client", Field::Client),
        ("stock", Field::Stock),
    ] {
        assert_eq!(
            reject(with(name, None)),
            RejectReason::Missing(field),
            "{name}"
        );
    }
    // The optional ones may be absent.
    parse_ok(&with("initial_order_id", None));
    parse_ok(&with("ts", None));
}

#[test]
fn both_shares_spellings_is_bad() {
    let line = r##"{"id":"o","#shares":1,"shares":1,"client":"c","stock":"s"}"##;
    assert_eq!(reject(line), RejectReason::Bad(Field::Shares));
}

#[test]
fn bad_integers() {
    for field in [("#shares", Field::Shares), ("ts", Field::Ts)] {
        for v in [
            "1.0",
            "1e2",
            "1.5",
            "true",
            "false",
            "\"12\"",
            "-1",
            "-0",
            "9007199254740992",
            "18446744073709551616",
            "null",
            "[1]",
            "{\"n\":1}",
        ] {
            assert_eq!(
                reject(with(field.0, Some(v))),
                RejectReason::Bad(field.1),
                "{v}"
            );
        }
    }
    let alias = r##"{"id":"o","shares":1.0,"client":"c","stock":"s"}"##;
    assert_eq!(reject(alias), RejectReason::Bad(Field::Shares));
}

#[test]
fn bad_strings() {
    for (name, field, max) in [
        ("id", Field::Id, 128),
        ("client", Field::Client, 256),
        ("stock", Field::Stock, 256),
        ("initial_order_id", Field::InitialOrderId, 128),
    ] {
        let longest = format!("\"{}\"", "a".repeat(max));
        assert!(
            parse_line(
                with(name, Some(&longest)).as_bytes(),
                &mut ParseScratch::default()
            )
            .is_ok()
        );
        let over = format!("\"{}\"", "a".repeat(max + 1));
        // 2-byte characters count as 2 bytes, escaped or not.
        let over_utf8 = format!("\"{}\"", "\\u00e9".repeat(max / 2 + 1));
        for v in [
            "\"\"",
            over.as_str(),
            over_utf8.as_str(),
            "1",
            "true",
            "null",
            "[]",
            "{}",
            "1.5",
        ] {
            assert_eq!(
                reject(with(name, Some(v))),
                RejectReason::Bad(field),
                "{name}={v}"
            );
        }
    }
}
