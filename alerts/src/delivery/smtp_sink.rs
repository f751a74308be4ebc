//! SMTP sink: one e-mail per alert, through a relay (`lettre`, blocking, a
//! new connection per message: alerts are rare and a kept-open connection
//! would just time out between them).
//!
//! A mailbox cannot deduplicate, so only `at-least-once` (default) and
//! `at-most-once` are allowed. The `Message-ID` is derived from the alert_id
//! alone ([`message_id`]), so a resent alert carries the same id and a mail
//! client that threads or hides duplicates by it can still help the reader.
//!
//! Construction validates addresses, template and TLS settings but never
//! connects: a relay that is down at start is just a transient failure later.

use std::time::Duration;

use lettre::Transport as _;
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use serde_json::{Map, Value};

use super::secret::{Secret, resolve_password};
use super::template::{Template, record_fields};
use super::{DeliveryMode, Outgoing, SendError, SendFailure, Sink};
use crate::AlertsError;

/// The delivery modes an SMTP sink may be configured with: no `exactly-once`,
/// since nothing on the receiving side deduplicates.
pub const MODES: &[DeliveryMode] = &[DeliveryMode::AtLeastOnce, DeliveryMode::AtMostOnce];

/// The mode used when the config names none: a duplicate e-mail is better
/// than a missed alert.
pub const DEFAULT_MODE: DeliveryMode = DeliveryMode::AtLeastOnce;

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

/// A sink that mails each alert to a fixed list of recipients.
#[derive(Debug)]
pub struct SmtpSink {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Template,
}

impl SmtpSink {
    /// Validates `cfg` and builds the sink, without connecting.
    pub fn new(cfg: SmtpSinkConfig) -> Result<SmtpSink, AlertsError> {
        let bad = |reason: String| AlertsError::Sink {
            sink: "smtp",
            reason,
        };
        if cfg.host.is_empty() {
            return Err(bad("`host` is empty".into()));
        }
        if cfg.timeout_ms == 0 {
            return Err(bad("timeout_ms must be above 0".into()));
        }
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| bad(format!("from {:?}: {e}", cfg.from)))?;
        if cfg.to.is_empty() {
            return Err(bad("`to` lists no recipient".into()));
        }
        let to = cfg
            .to
            .iter()
            .map(|t| t.parse().map_err(|e| bad(format!("to {t:?}: {e}"))))
            .collect::<Result<Vec<Mailbox>, _>>()?;
        let subject = Template::parse(&cfg.subject).map_err(|e| bad(format!("subject: {e}")))?;

        let (tls, default_port) = match cfg.tls {
            SmtpTls::None => (Tls::None, 25),
            SmtpTls::Starttls => (Tls::Required(tls_params(&cfg.host)?), 587),
            SmtpTls::Tls => (Tls::Wrapper(tls_params(&cfg.host)?), 465),
        };
        let mut builder = SmtpTransport::builder_dangerous(cfg.host.as_str())
            .port(cfg.port.unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(Duration::from_millis(cfg.timeout_ms)));
        let password = resolve_password(
            "smtp sink",
            cfg.password.as_ref(),
            cfg.password_env.as_deref(),
        )?;
        match (cfg.username, password) {
            (Some(user), Some(pw)) => builder = builder.credentials(Credentials::new(user, pw)),
            (None, None) => {}
            _ => return Err(bad("`username` and a password go together".into())),
        }
        Ok(SmtpSink {
            transport: builder.build(),
            from,
            to,
            subject,
        })
    }

    /// Builds and sends the e-mail for one alert.
    fn deliver(&self, rec: &Outgoing) -> Result<(), SendError> {
        let record = record_fields(&rec.json).map_err(SendError::Permanent)?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(self.subject.render(&record))
            .message_id(Some(message_id(&rec.alert_id)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let body = format!(
            "{}\n\n{}\n",
            summary(&rec.alert_id, &record),
            String::from_utf8_lossy(&rec.json)
        );
        let message = builder
            .body(body)
            .map_err(|e| SendError::Permanent(format!("building the e-mail: {e}")))?;
        self.transport.send(&message).map(drop).map_err(|e| {
            // A 5xx reply will be the same next time; anything else (4xx,
            // connection, timeout, TLS) may clear up.
            if e.is_permanent() {
                SendError::Permanent(e.to_string())
            } else {
                SendError::Transient(e.to_string())
            }
        })
    }
}

impl Sink for SmtpSink {
    fn max_batch(&self) -> usize {
        1
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        for (delivered, rec) in batch.iter().enumerate() {
            self.deliver(rec)
                .map_err(|error| SendFailure { delivered, error })?;
        }
        Ok(())
    }
}

fn tls_params(host: &str) -> Result<TlsParameters, AlertsError> {
    TlsParameters::new(host.to_owned()).map_err(|e| AlertsError::Sink {
        sink: "smtp",
        reason: format!("TLS for {host:?}: {e}"),
    })
}

/// The human line that opens the e-mail body; the record follows it.
fn summary(alert_id: &str, record: &Map<String, Value>) -> String {
    let field = |name: &str| match record.get(name) {
        None | Some(Value::Null) => "?".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    let what = match record.get("requested") {
        Some(Value::Null) | None => format!(
            "{} shares bought without a purchase request",
            field("filled")
        ),
        Some(_) => format!(
            "{} shares bought of {} requested",
            field("filled"),
            field("requested")
        ),
    };
    format!(
        "Aldebaran alert {alert_id}: order {} (client {}, stock {}): {what}.",
        field("order_id"),
        field("client"),
        field("stock")
    )
}

/// `<ENCODED@aldebaran>`: the alert_id made RFC 5322 dot-atom text, one-to-one.
/// ASCII letters, digits and `-` are kept; every other byte becomes `=XX`
/// (upper-case hex). `=` is atext and never kept as itself, so the encoding
/// decodes unambiguously, hence two alert_ids never share a Message-ID. An
/// empty id (never produced, but cheap to cover) becomes a lone `=`, which no
/// other id yields.
pub(crate) fn message_id(alert_id: &str) -> String {
    let mut out = String::with_capacity(alert_id.len() + 12);
    out.push('<');
    if alert_id.is_empty() {
        out.push('=');
    }
    for b in alert_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out.push_str("@aldebaran>");
    out
}

#[cfg(test)]
#[path = "smtp_sink_tests.rs"]
mod tests;
