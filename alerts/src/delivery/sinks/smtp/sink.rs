//! The SMTP sink itself: the transport built once from the config, one
//! message per alert, and its Message-ID.

use std::time::Duration;

use lettre::Transport as _;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use serde_json::{Map, Value};

use super::config::{SmtpSinkConfig, SmtpTls};
use crate::delivery::fields::AlertFields;
use crate::delivery::secret::resolve_password;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::delivery::template::{Template, record_fields};
use crate::error::AlertsError;

/// A sink that mails each alert to a fixed list of recipients.
#[derive(Debug)]
pub(crate) struct SmtpSink {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Template,
    /// `None`: the default body ([`default_body`]).
    body: Option<Template>,
}

impl SmtpSink {
    /// Validates `cfg` (its templates against `fields`) and builds the sink,
    /// without connecting.
    pub(crate) fn new(cfg: SmtpSinkConfig, fields: &AlertFields) -> Result<SmtpSink, AlertsError> {
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
        let subject =
            Template::parse(&cfg.subject, fields).map_err(|e| bad(format!("subject: {e}")))?;
        let body = cfg
            .body
            .as_deref()
            .map(|src| Template::parse(src, fields).map_err(|e| bad(format!("body: {e}"))))
            .transpose()?;

        let (tls, default_port) = match cfg.tls {
            SmtpTls::None => (Tls::None, 25),
            SmtpTls::Starttls => (Tls::Required(tls_params(&cfg.host)?), 587),
            SmtpTls::Tls => (Tls::Wrapper(tls_params(&cfg.host)?), 465),
        };
        let mut builder = SmtpTransport::builder_dangerous(cfg.host.as_str())
            .port(cfg.port.unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(Duration::from_millis(cfg.timeout_ms)));
        let password =
            resolve_password("smtp", cfg.password.as_ref(), cfg.password_env.as_deref())?;
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
            body,
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
        if rec.epoch > 0 {
            builder = builder.header(Epoch(rec.epoch));
        }
        let body = match &self.body {
            Some(template) => template.render(&record),
            None => default_body(rec, &record),
        };
        let message = builder
            .body(body)
            .map_err(|e| SendError::Permanent(format!("building the e-mail: {e}")))?;
        self.transport.send(&message).map(drop).map_err(|e| {
            let code = e.status().map(u16::from);
            classify(code, e.is_permanent(), e.to_string())
        })
    }
}

/// What an SMTP failure means for the alert: an authentication or
/// encryption refusal (530, 534, 535, 538) is the relay refusing this
/// sink's credentials or settings, the same for every alert, so the sink
/// pauses; another 5xx reply will be the same for this alert next time (it
/// is dead-lettered); anything else (4xx, connection, timeout, TLS) may
/// clear up.
pub(super) fn classify(code: Option<u16>, permanent: bool, reason: String) -> SendError {
    match code {
        Some(530 | 534 | 535 | 538) => SendError::EndpointDown(reason),
        _ if permanent => SendError::Permanent(reason),
        _ => SendError::Transient(reason),
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

/// `X-Aldebaran-Epoch`: the fencing epoch of the node that shipped the
/// alert (an active-standby pair, SPEC §6), so a reader can tell which
/// active sent a duplicate. Absent without a pair (epoch 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Epoch(pub u64);

impl Header for Epoch {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Aldebaran-Epoch")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Epoch(s.trim().parse()?))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

fn tls_params(host: &str) -> Result<TlsParameters, AlertsError> {
    TlsParameters::new(host.to_owned()).map_err(|e| AlertsError::Sink {
        sink: "smtp",
        reason: format!("TLS for {host:?}: {e}"),
    })
}

/// The body without a `body` template: [`summary`], a blank line, the record.
fn default_body(rec: &Outgoing, record: &Map<String, Value>) -> String {
    format!(
        "{}\n\n{}\n",
        summary(&rec.alert_id, record),
        String::from_utf8_lossy(&rec.json)
    )
}

/// The human line that opens the default e-mail body; the record follows it.
pub(super) fn summary(alert_id: &str, record: &Map<String, Value>) -> String {
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
pub(super) fn message_id(alert_id: &str) -> String {
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
