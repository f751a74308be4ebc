//! `kind = "smtp"`: its settings, TLS choices and the modes it honours.

use crate::delivery::mode::DeliveryMode;
use crate::delivery::secret::Secret;

pub(crate) const KIND: &str = "smtp";

/// The delivery modes an SMTP sink may be configured with: no `exactly-once`,
/// since nothing on the receiving side deduplicates.
pub(crate) const MODES: &[DeliveryMode] = &[DeliveryMode::AtLeastOnce, DeliveryMode::AtMostOnce];

/// The mode used when the config names none: a duplicate e-mail is better
/// than a missed alert.
pub(crate) const DEFAULT_MODE: DeliveryMode = DeliveryMode::AtLeastOnce;

/// Configuration of one SMTP sink.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSinkConfig {
    /// The relay's host name (also the name its TLS certificate must match).
    pub host: String,
    /// The relay's port; by default 25, or 587 with `starttls`, 465 with `tls`.
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default)]
    pub tls: SmtpTls,
    /// SMTP AUTH user.
    pub username: Option<String>,
    /// SMTP AUTH password; prefer `password_env`.
    pub password: Option<Secret>,
    /// The name of an environment variable holding the SMTP AUTH password.
    pub password_env: Option<String>,
    /// Sender, e.g. `"Aldebaran <alerts@example.com>"`.
    pub from: String,
    /// Recipients (at least one).
    pub to: Vec<String>,
    /// Subject template with `{field}` placeholders from the alert record.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// Body template with `{field}` placeholders from the alert record. When
    /// unset: a line summing up an overfill or orphan alert, then the record
    /// as JSON.
    pub body: Option<String>,
    /// Timeout of each network operation (connect, each command), ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_subject() -> String {
    "Aldebaran alert {kind}: order {order_id}".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Transport security of an SMTP sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on localhost or a trusted network).
    #[default]
    None,
    /// Upgrade with STARTTLS, and refuse to send if the relay does not offer
    /// it (credentials and alerts never go out in clear by accident).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}
