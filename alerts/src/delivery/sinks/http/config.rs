//! `kind = "http"`: its settings, body formats and the modes it honours.

use std::collections::BTreeMap;

use crate::delivery::mode::DeliveryMode;
use crate::delivery::secret::Secret;

pub(crate) const KIND: &str = "http";

/// The delivery modes an HTTP sink may be configured with. All three: the
/// receiver can deduplicate on `Idempotency-Key`.
pub(crate) const MODES: &[DeliveryMode] = &[
    DeliveryMode::ExactlyOnce,
    DeliveryMode::AtLeastOnce,
    DeliveryMode::AtMostOnce,
];

/// The mode used when the config names none.
pub(crate) const DEFAULT_MODE: DeliveryMode = DeliveryMode::ExactlyOnce;

/// Configuration of one HTTP sink.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// The `http://` or `https://` URL to POST to.
    pub url: String,
    /// Whole-request timeout (connect, send, response), milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra request headers, e.g. `Authorization = "Bearer …"`.
    /// `Idempotency-Key` and `Content-Type` are set by the sink.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// What the body is.
    #[serde(default)]
    pub format: HttpFormat,
    /// For `format = "form"`: form field → template with `{field}`
    /// placeholders from the alert record.
    #[serde(default)]
    pub form: BTreeMap<String, String>,
    /// For `format = "json-template"`: JSON key → template with `{field}`
    /// placeholders from the alert record; the body is an object of those
    /// keys with the rendered strings.
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// HTTP basic auth user.
    pub username: Option<String>,
    /// HTTP basic auth password; prefer `password_env`.
    pub password: Option<Secret>,
    /// The name of an environment variable holding the basic auth password.
    pub password_env: Option<String>,
}

fn default_timeout_ms() -> u64 {
    5000
}

/// The body an HTTP sink sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpFormat {
    /// The alert record itself, `Content-Type: application/json` (webhooks).
    #[default]
    Json,
    /// `application/x-www-form-urlencoded` from the `form` templates (SMS
    /// provider APIs). Such providers rarely deduplicate on
    /// `Idempotency-Key`: configure `at-least-once` or `at-most-once` there.
    Form,
    /// A JSON object of the `json` templates' keys and rendered strings,
    /// `Content-Type: application/json` (chat webhooks such as Slack's or
    /// Teams', which want `{"text": "..."}` rather than the record).
    JsonTemplate,
}
