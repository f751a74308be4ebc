//! The scanner against the full parser: on lines near the common shape (the
//! ones it must get right) and on lines that differ from it by one token (the
//! ones it must hand over), `parse_line` gives what the full parser gives;
//! and the common shape itself always takes the fast path.

use proptest::prelude::*;

use super::{check_scanner, scan};
use crate::synth::{SynthConfig, generate};

/// A key: mostly known ones, sometimes the alias, an unknown key, an escaped
/// known key, or not a string.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop_oneof![
            Just("id"), Just("#shares"), Just("client"), Just("stock"),
            Just("initial_order_id"), Just("ts"),
        ]
        .prop_map(|k| format!("\"{k}\"")),
        1 => Just("\"shares\"".to_owned()),
        1 => Just("\"venue\"".to_owned()),
        1 => Just("\"x\"".to_owned()),
        1 => Just(r#""i\u0064""#.to_owned()),
        1 => Just("\"\"".to_owned()),
        1 => Just("id".to_owned()),
    ]
}

/// A value: mostly plain strings and integers, then everything the scanner
/// must leave to the full parser.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::string::string_regex(r"[a-zA-Z0-9\-_ é😀\u{7f}]{0,12}")
            .unwrap_or_else(|e| panic!("regex: {e}"))
            .prop_map(|s| format!("\"{s}\"")),
        6 => prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..1000).prop_map(|n| n.to_string()),
            Just("9007199254740991".to_owned()),
            Just("9007199254740992".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("0".to_owned()),
        ],
        1 => prop_oneof![
            Just(r#""a\"b""#), Just(r#""\u00e9""#), Just("\"a\tb\""), Just("\"\\\""),
            Just("007"), Just("-1"), Just("-0"), Just("1.5"), Just("1e3"), Just("2E1"),
            Just("0.0"), Just("null"), Just("true"), Just("false"), Just("[]"), Just("[1,2]"),
            Just("{}"), Just(r#"{"id":"x","id":"y"}"#), Just("\"open"), Just("12a"), Just(""),
        ]
        .prop_map(str::to_owned),
    ]
}

/// Between tokens: nothing, or some JSON whitespace (rarely something else).
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        12 => Just(""),
        2 => Just(" "),
        1 => Just("\t \r\n"),
        1 => Just("\u{a0}"),
    ]
}

/// A flat object of up to nine fields, sometimes with one token broken.
fn line() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((key(), value(), ws(), ws(), ws()), 0..9),
        (ws(), ws()),
        prop_oneof![
            12 => Just(""),
            1 => Just("drop_colon"),
            1 => Just("drop_comma"),
            1 => Just("trailing_comma"),
            1 => Just("no_close"),
            1 => Just("garbage"),
            1 => Just("array"),
        ],
    )
        .prop_map(|(fields, (lead, tail), break_it)| {
            let mut s = format!("{lead}{{");
            for (i, (k, v, w1, w2, w3)) in fields.iter().enumerate() {
                if i > 0 && break_it != "drop_comma" {
                    s.push(',');
                }
                let colon = if break_it == "drop_colon" { "" } else { ":" };
                s.push_str(&format!("{w1}{k}{w2}{colon}{w3}{v}"));
            }
            if break_it == "trailing_comma" {
                s.push(',');
            }
            if break_it != "no_close" {
                s.push('}');
            }
            if break_it == "garbage" {
                s.push_str(" x");
            }
            if break_it == "array" {
                s = format!("[{s}]");
            }
            s.push_str(tail);
            s
        })
}

/// `Ok` if the two paths agree on `line`.
fn agree(line: &str) -> Result<(), TestCaseError> {
    check_scanner(line.as_bytes()).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_scanner_agrees_with_the_full_parser(l in line()) {
        agree(&l)?;
    }

    /// Known keys once each, plain strings and integers, up to four unknown
    /// fields with scalar values, any whitespace: the fast path takes all of
    /// them (or it would be no faster).
    #[test]
    fn the_common_shape_takes_the_fast_path(
        fields in proptest::sample::subsequence(
            vec!["id", "#shares", "client", "stock", "initial_order_id", "ts"], 0..=6),
        strings in proptest::collection::vec("[a-z0-9\\-é]{0,10}", 6),
        n in any::<u64>(),
        w in ws().prop_filter("JSON whitespace", |w| !w.contains('\u{a0}')),
        extras in proptest::collection::vec(prop_oneof![
            Just("\"XNAS\""), Just("-12"), Just("0"), Just("3.25e-2"), Just("1E9"),
            Just("true"), Just("false"), Just("null"), Just("\"\""),
        ], 0..=4),
    ) {
        let body: Vec<String> = fields.iter().zip(&strings).map(|(k, s)| {
            if matches!(*k, "#shares" | "ts") {
                format!("{w}\"{k}\"{w}:{w}{n}{w}")
            } else {
                format!("\"{k}\":\"{s}\"")
            }
        }).chain(extras.iter().enumerate().map(|(i, v)| format!("\"extra{i}\":{w}{v}")))
        .collect();
        let l = format!("{w}{{{}}}{w}", body.join(","));
        prop_assert!(
            scan::scan(&l, &mut Default::default()).is_some(),
            "left to the full parser: {:?}",
            l
        );
        agree(&l)?;
    }
}

/// Every line the generator writes, malformed ones aside, is read by the
/// scanner, and to the same event as the full parser.
#[test]
fn generated_lines_take_the_fast_path() {
    let mut text = Vec::new();
    let cfg = SynthConfig {
        orders: 2_000,
        ..SynthConfig::default()
    };
    if let Err(e) = generate(&cfg, &mut text) {
        panic!("generate: {e}");
    }
    let text = String::from_utf8_lossy(&text);
    let (mut fast_path, mut lines) = (0, 0);
    for l in text.lines() {
        lines += 1;
        fast_path += usize::from(scan::scan(l, &mut Default::default()).is_some());
        if let Err(e) = check_scanner(l.as_bytes()) {
            panic!("{e}");
        }
    }
    assert!(lines > 2_000, "{lines} lines generated");
    // The default generator writes 0.1% malformed lines and nothing else
    // the scanner leaves.
    assert!(
        fast_path * 1000 >= lines * 990,
        "{fast_path} of {lines} lines took the fast path"
    );
}
