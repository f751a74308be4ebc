//! What one input message becomes: the pure plan of its outputs.
//!
//! A body holds one event or several separated by `\n` (SPEC §1); blank
//! lines are skipped. Each other line is one output, in body order: an
//! event for the shards, keyed by its order id ([`ingest::amqp::order_key`],
//! the key `publish --shards` uses too), or a dead letter with the parser's
//! reason. Each output's `message_id` is the input's id (or, for an input
//! without one, `tag:<link>:<delivery tag>`, `<link>` naming the router's
//! run and its link to the broker) and the line's index in the body:
//! `<source>#<line>`. Only an input's own id survives a redelivery (a
//! redelivered message has another tag, on another link): a downstream
//! consumer can deduplicate on the output ids of inputs that have one.

use columnar::RejectReason;
use ingest::{amqp::order_key, parse::ParseScratch, parse::is_blank};

/// One output of an input message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Output<'a> {
    /// The line's index in the body (blank lines counted), from 0.
    pub(crate) line: usize,
    /// The line's bytes, as they came.
    pub(crate) bytes: &'a [u8],
    /// Where it goes.
    pub(crate) kind: Kind,
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// To the shards, with this routing key (the order id).
    Event(String),
    /// To the dead-letter queue, for this reason.
    Dead(RejectReason),
}

/// The outputs of `body`, in order.
pub(crate) fn outputs<'a>(body: &'a [u8], scratch: &mut ParseScratch) -> Vec<Output<'a>> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !is_blank(l))
        .map(|(line, bytes)| Output {
            line,
            bytes,
            kind: match order_key(bytes, scratch) {
                Ok(key) => Kind::Event(key.to_owned()),
                Err(reason) => Kind::Dead(reason),
            },
        })
        .collect()
}

/// Who an input message is to its outputs: its `message_id`, or its tag on
/// link `link`.
pub(crate) fn source_id(message_id: Option<&str>, link: &str, tag: u64) -> String {
    match message_id {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("tag:{link}:{tag}"),
    }
}

/// The `message_id` of the output from line `line` of input `source`:
/// `<source>#<line>`, within AMQP's 255 bytes for a `message_id` (a
/// longer one would fail the publish, and the link, every time the input
/// came back): a source too long for it keeps its first bytes and a hash
/// of the whole, `<head>~<hash>#<line>`, still one id per input.
pub(crate) fn output_id(source: &str, line: usize) -> String {
    let id = format!("{source}#{line}");
    if id.len() <= MAX_ID {
        return id;
    }
    let hash = columnar::keys::hash64(source.as_bytes());
    let tail = format!("~{hash:016x}#{line}");
    let mut cut = MAX_ID - tail.len();
    while !source.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tail}", &source[..cut])
}

/// The longest `message_id` (an AMQP short string).
const MAX_ID: usize = 255;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pr(id: &str) -> String {
        format!(r##"{{"id":"{id}","#shares":10,"client":"c","stock":"S"}}"##)
    }

    fn purchase(id: &str, order: &str) -> String {
        format!(
            r##"{{"id":"{id}","#shares":3,"client":"c","stock":"S","initial_order_id":"{order}"}}"##
        )
    }

    #[test]
    fn each_non_blank_line_is_one_output_in_order() {
        let body = format!(
            "{}\n\n{}\n{{\"id\":1}}\n  \r\nnot json\n",
            pr("o1"),
            purchase("p1", "o1")
        );
        let mut s = ParseScratch::default();
        let out = outputs(body.as_bytes(), &mut s);
        let got: Vec<(usize, Kind)> = out.iter().map(|o| (o.line, o.kind.clone())).collect();
        assert_eq!(
            got,
            [
                (0, Kind::Event("o1".into())),
                (2, Kind::Event("o1".into())),
                (3, Kind::Dead(RejectReason::Bad(columnar::Field::Id))),
                (5, Kind::Dead(RejectReason::Malformed)),
            ]
        );
        assert_eq!(out[3].bytes, b"not json");
        assert!(outputs(b"", &mut s).is_empty());
        assert!(outputs(b"\n \n", &mut s).is_empty());
    }

    #[test]
    fn ids_name_the_input_and_the_line() {
        assert_eq!(source_id(Some("m-7"), "r1.3", 41), "m-7");
        assert_eq!(source_id(None, "r1.3", 41), "tag:r1.3:41");
        assert_eq!(source_id(Some(""), "r1.3", 41), "tag:r1.3:41");
        assert_eq!(output_id("m-7", 2), "m-7#2");
    }

    proptest! {
        #[test]
        fn output_ids_fit_a_short_string_and_differ_per_input_and_line(
            a in "\\PC{0,300}",
            b in "\\PC{0,300}",
            line in 0usize..100_000,
        ) {
            let id = output_id(&a, line);
            prop_assert!(id.len() <= MAX_ID);
            let suffix = format!("#{line}");
            prop_assert!(id.ends_with(&suffix));
            if a.len() + suffix.len() <= MAX_ID {
                prop_assert_eq!(&id, &format!("{a}#{line}"));
            }
            if a != b {
                prop_assert_ne!(id.clone(), output_id(&b, line));
            }
            prop_assert_ne!(id, output_id(&a, line + 1));
        }
    }

    /// A line of a generated body and what it must become.
    fn line() -> impl Strategy<Value = (String, Option<Kind>)> {
        prop_oneof![
            "[a-z0-9]{1,12}".prop_map(|o| (pr(&o), Some(Kind::Event(o)))),
            ("[a-z0-9]{1,12}", "[a-z0-9]{1,12}")
                .prop_map(|(p, o)| (purchase(&p, &o), Some(Kind::Event(o)))),
            "[ \t\r]{0,3}".prop_map(|b| (b, None)),
            "[a-z{}:,\"]{1,20}".prop_filter_map("not an event", |junk| {
                let mut s = ParseScratch::default();
                order_key(junk.as_bytes(), &mut s)
                    .err()
                    .map(|r| (junk.clone(), Some(Kind::Dead(r))))
            }),
        ]
    }

    proptest! {
        #[test]
        fn outputs_follow_the_lines(lines in prop::collection::vec(line(), 0..20)) {
            let body = lines.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join("\n");
            let want: Vec<(usize, &str, Kind)> = lines
                .iter()
                .enumerate()
                .filter_map(|(i, (l, k))| k.clone().map(|k| (i, l.as_str(), k)))
                .collect();
            let mut s = ParseScratch::default();
            let got: Vec<(usize, &str, Kind)> = outputs(body.as_bytes(), &mut s)
                .into_iter()
                .map(|o| (o.line, std::str::from_utf8(o.bytes).unwrap_or("?"), o.kind))
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
