//! Text templates with `{field}` placeholders filled from an alert record's
//! top-level fields (SPEC §3), shared by the sinks that build human text: an
//! HTTP form body (SMS providers), an e-mail subject.
//!
//! A template is parsed once, when its sink is built, and every placeholder is
//! checked against the §3 field names there: a typo is a config error at start,
//! not an alert that silently reads "order ".

use serde_json::{Map, Value};

/// The top-level fields of a SPEC §3 alert record, the only names a
/// placeholder may use.
pub(crate) const ALERT_FIELDS: &[&str] = &[
    "seq",
    "alert_id",
    "kind",
    "order_id",
    "client",
    "stock",
    "requested",
    "filled",
    "trigger_id",
    "event_ts",
    "detected_at",
];

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
    /// Parses `src`, rejecting unbalanced braces and unknown field names. The
    /// error is a sentence for the operator, without the config key (the
    /// caller adds it).
    pub(crate) fn parse(src: &str) -> Result<Template, String> {
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
                    if !ALERT_FIELDS.contains(&name.as_str()) {
                        return Err(format!(
                            "unknown placeholder {{{name}}} in template {src:?}; known fields: {}",
                            ALERT_FIELDS.join(", ")
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

/// Parses an [`Outgoing`](crate::delivery::Outgoing) record's JSON into its top-level
/// fields, for [`Template::render`].
pub(crate) fn record_fields(json: &[u8]) -> Result<Map<String, Value>, String> {
    serde_json::from_slice(json).map_err(|e| format!("alert record is not a JSON object: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Map<String, Value> {
        record_fields(
            br#"{"seq":7,"alert_id":"overfill:o-1","kind":"overfill","order_id":"o-1","client":"c","stock":"ACME","requested":null,"filled":150.5,"trigger_id":null,"event_ts":null,"detected_at":1}"#,
        )
        .expect("record")
    }

    #[test]
    fn fills_strings_numbers_and_nulls() {
        let t = Template::parse("{kind} on {order_id}: {filled} of {requested} (#{seq})")
            .expect("parse");
        assert_eq!(t.render(&record()), "overfill on o-1: 150.5 of  (#7)");
    }

    #[test]
    fn doubled_braces_are_literal() {
        let t = Template::parse("{{kind}} {kind} }}").expect("parse");
        assert_eq!(t.render(&record()), "{kind} overfill }");
    }

    #[test]
    fn rejects_unknown_and_unbalanced_placeholders() {
        let unknown = Template::parse("order {order}").expect_err("unknown field");
        assert!(unknown.contains("{order}"), "{unknown}");
        assert!(Template::parse("order {order_id").is_err());
        assert!(Template::parse("order } x").is_err());
    }

    #[test]
    fn plain_text_renders_as_is() {
        let t = Template::parse("no fields here").expect("parse");
        assert_eq!(t.render(&Map::new()), "no fields here");
    }
}
