//! What an HTTP sink POSTs for an alert, per `format`: the record as it is,
//! a form of rendered templates, or a JSON object of rendered templates.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::config::{HttpFormat, HttpSinkConfig};
use crate::delivery::fields::AlertFields;
use crate::delivery::sink::{Outgoing, SendError};
use crate::delivery::template::{Template, parse_table, record_fields};

/// The body, ready to fill per alert.
#[derive(Debug)]
pub(super) enum Body {
    Json,
    Form(Vec<(String, Template)>),
    JsonTemplate(Vec<(String, Template)>),
}

/// One alert's body.
pub(super) enum Payload<'a> {
    /// `application/json`.
    Json(Cow<'a, [u8]>),
    /// Form fields, for `application/x-www-form-urlencoded`.
    Form(Vec<(&'a str, String)>),
}

impl Body {
    /// The body `cfg` asks for, its templates checked against `fields`. A
    /// template table the format does not use is an error, not ignored.
    pub(super) fn new(cfg: &HttpSinkConfig, fields: &AlertFields) -> Result<Body, String> {
        if !cfg.form.is_empty() && cfg.format != HttpFormat::Form {
            return Err("`form` is set but `format` is not \"form\"".into());
        }
        if !cfg.json.is_empty() && cfg.format != HttpFormat::JsonTemplate {
            return Err("`json` is set but `format` is not \"json-template\"".into());
        }
        Ok(match cfg.format {
            HttpFormat::Json => Body::Json,
            HttpFormat::Form if cfg.form.is_empty() => {
                return Err("`format = \"form\"` needs a `form` table".into());
            }
            HttpFormat::Form => Body::Form(parse_table("form", &cfg.form, fields)?),
            HttpFormat::JsonTemplate if cfg.json.is_empty() => {
                return Err("`format = \"json-template\"` needs a `json` table".into());
            }
            HttpFormat::JsonTemplate => Body::JsonTemplate(parse_table("json", &cfg.json, fields)?),
        })
    }

    /// The body for `rec`. Only a record that is not a JSON object (never
    /// written by the engine) fails, permanently.
    pub(super) fn payload<'a>(&'a self, rec: &'a Outgoing) -> Result<Payload<'a>, SendError> {
        let render = |templates: &'a [(String, Template)]| {
            let record = record_fields(&rec.json).map_err(SendError::Permanent)?;
            Ok::<_, SendError>(
                templates
                    .iter()
                    .map(move |(key, t)| (key.as_str(), t.render(&record)))
                    .collect::<Vec<_>>(),
            )
        };
        Ok(match self {
            Body::Json => Payload::Json(Cow::Borrowed(&rec.json)),
            Body::Form(templates) => Payload::Form(render(templates)?),
            Body::JsonTemplate(templates) => {
                let object: Map<String, Value> = render(templates)?
                    .into_iter()
                    .map(|(key, text)| (key.to_owned(), Value::String(text)))
                    .collect();
                Payload::Json(Cow::Owned(Value::Object(object).to_string().into_bytes()))
            }
        })
    }
}
