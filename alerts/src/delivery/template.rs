//! Text templates with `{field}` placeholders filled from an alert record's
//! top-level fields, shared by the sinks that build text for people or for
//! other programs: HTTP form values (SMS providers) and JSON-template values
//! (chat webhooks), an e-mail's subject and body, a command's environment.
//!
//! A template is parsed once, when its sink is built, and every placeholder is
//! checked against the fields of the configured jobs' records
//! ([`AlertFields`]): a typo is a config error at start, not an alert that
//! silently reads "order ".

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::delivery::fields::AlertFields;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

/// A parsed template: literal text and `{field}` placeholders. `{{` and `}}`
/// stand for literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `src`, rejecting unbalanced braces and names that are not in
    /// `fields`. The error is a sentence for the operator, without the config
    /// key (the caller adds it).
    pub(crate) fn parse(src: &str, fields: &AlertFields) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("unclosed '{{' in template {src:?}")),
                        }
                    }
                    if !fields.contains(&name) {
                        return Err(format!(
                            "unknown placeholder {{{name}}} in template {src:?}: {}",
                            fields.unknown(&name)
                        ));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Field(name));
                }
                '}' => return Err(format!("unmatched '}}' in template {src:?} (write '}}}}')")),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// Fills the placeholders from `record`. A string is inserted without its
    /// quotes, null (an orphan's `requested`) or a missing field as nothing,
    /// anything else as its JSON text.
    pub(crate) fn render(&self, record: &Map<String, Value>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(name) => match record.get(name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                },
            }
        }
        out
    }
}

/// Parses every value of the `key` table (`form`, `json`, `env`, ...) as a
/// template, in key order; an error names the entry (`form.Body: ...`).
pub(crate) fn parse_table(
    key: &str,
    table: &BTreeMap<String, String>,
    fields: &AlertFields,
) -> Result<Vec<(String, Template)>, String> {
    table
        .iter()
        .map(|(name, src)| {
            let template =
                Template::parse(src, fields).map_err(|e| format!("{key}.{name}: {e}"))?;
            Ok((name.clone(), template))
        })
        .collect()
}

/// Parses an [`Outgoing`](crate::delivery::Outgoing) record's JSON into its top-level
/// fields, for [`Template::render`].
pub(crate) fn record_fields(json: &[u8]) -> Result<Map<String, Value>, String> {
    serde_json::from_slice(json).map_err(|e| format!("alert record is not a JSON object: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::test_fixtures::overfill_fields;

    fn record() -> Map<String, Value> {
        record_fields(
            br#"{"seq":7,"alert_id":"overfill:o-1","kind":"overfill","order_id":"o-1","client":"c","stock":"ACME","requested":null,"filled":150.5,"trigger_id":null,"event_ts":null,"detected_at":1}"#,
        )
        .expect("record")
    }

    #[test]
    fn fills_strings_numbers_and_nulls() {
        let t = Template::parse(
            "{kind} on {order_id}: {filled} of {requested} (#{seq})",
            &overfill_fields(),
        )
        .expect("parse");
        assert_eq!(t.render(&record()), "overfill on o-1: 150.5 of  (#7)");
    }

    #[test]
    fn doubled_braces_are_literal() {
        let t = Template::parse("{{kind}} {kind} }}", &overfill_fields()).expect("parse");
        assert_eq!(t.render(&record()), "{kind} overfill }");
    }

    #[test]
    fn rejects_unknown_and_unbalanced_placeholders() {
        let unknown =
            Template::parse("order {order}", &overfill_fields()).expect_err("unknown field");
        assert!(unknown.contains("{order}"), "{unknown}");
        assert!(Template::parse("order {order_id", &overfill_fields()).is_err());
        assert!(Template::parse("order } x", &overfill_fields()).is_err());
    }

    #[test]
    fn plain_text_renders_as_is() {
        let t = Template::parse("no fields here", &overfill_fields()).expect("parse");
        assert_eq!(t.render(&Map::new()), "no fields here");
    }

    #[test]
    fn an_unknown_placeholder_names_the_field_the_jobs_and_the_known_ones() {
        let e = Template::parse("sold {shares}", &overfill_fields()).expect_err("unknown");
        assert_eq!(
            e,
            "unknown placeholder {shares} in template \"sold {shares}\": the configured jobs \
             (overfill) have no field shares; known: seq, alert_id, kind, order_id, client, \
             stock, requested, filled, trigger_id, event_ts, detected_at"
        );
        // Without jobs only the common fields are known.
        assert!(Template::parse("{seq} {alert_id} {kind}", &AlertFields::new()).is_ok());
        assert!(Template::parse("{order_id}", &AlertFields::new()).is_err());
    }

    #[test]
    fn a_table_error_names_the_entry() {
        let table = BTreeMap::from([
            ("A".to_owned(), "{kind}".to_owned()),
            ("B".to_owned(), "{nope}".to_owned()),
        ]);
        let e = parse_table("form", &table, &overfill_fields()).expect_err("B is bad");
        assert!(e.starts_with("form.B: unknown placeholder {nope}"), "{e}");
        let table = BTreeMap::from([("A".to_owned(), "{kind}".to_owned())]);
        let parsed = parse_table("form", &table, &overfill_fields()).expect("parses");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, "A");
        assert_eq!(parsed[0].1.render(&record()), "overfill");
    }
}
