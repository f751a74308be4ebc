//! The HTTP sink itself: building the request once from the config, one
//! POST per alert, and the status code → retry policy mapping.

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use ureq::http::{HeaderName, HeaderValue, Uri};

use super::body::{Body, Payload};
use super::config::HttpSinkConfig;
use crate::delivery::fields::AlertFields;
use crate::delivery::secret::resolve_password;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::error::AlertsError;

/// The header naming the fencing epoch of the node that shipped an alert.
pub(super) const EPOCH_HEADER: &str = "Aldebaran-Epoch";

/// How much of an error response's body goes into the failure reason.
const REASON_BODY_BYTES: u64 = 200;

/// How much of a success response's body is read (and dropped) so the
/// connection can be reused; a larger body just costs a new connection.
const DRAIN_BODY_BYTES: u64 = 64 * 1024;

/// A sink that POSTs each alert to one URL.
#[derive(Debug)]
pub(crate) struct HttpSink {
    agent: ureq::Agent,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
}

impl HttpSink {
    /// Validates `cfg` (its templates against `fields`) and builds the sink,
    /// without connecting.
    pub(crate) fn new(cfg: HttpSinkConfig, fields: &AlertFields) -> Result<HttpSink, AlertsError> {
        let bad = |reason: String| AlertsError::Sink {
            sink: "http",
            reason,
        };
        let uri: Uri = cfg
            .url
            .parse()
            .map_err(|e| bad(format!("url {:?}: {e}", cfg.url)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(bad(format!("url {:?} is not an http(s) URL", cfg.url)));
        }
        if cfg.timeout_ms == 0 {
            return Err(bad("timeout_ms must be above 0".into()));
        }

        let mut headers = Vec::with_capacity(cfg.headers.len() + 1);
        for (name, value) in &cfg.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad(format!("header name {name:?}: {e}")))?;
            // The sink owns these: a second copy would make the request
            // ambiguous to the receiver.
            let owned = ["idempotency-key", "content-type", "aldebaran-epoch"];
            if owned.contains(&name.as_str()) {
                return Err(bad(format!("header {name} is set by the sink")));
            }
            let mut value = HeaderValue::from_str(value)
                .map_err(|e| bad(format!("value of header {name}: {e}")))?;
            // Extra headers usually carry tokens: keep them out of `Debug`.
            value.set_sensitive(true);
            headers.push((name, value));
        }

        let password =
            resolve_password("http", cfg.password.as_ref(), cfg.password_env.as_deref())?;
        match (&cfg.username, password) {
            (Some(user), password) => {
                // RFC 7617: the first ':' ends the user-id.
                if user.contains(':') {
                    return Err(bad("`username` cannot contain ':'".into()));
                }
                if headers
                    .iter()
                    .any(|(n, _)| n == ureq::http::header::AUTHORIZATION)
                {
                    return Err(bad("both `username` and an Authorization header".into()));
                }
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.unwrap_or_default()));
                let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|e| bad(format!("basic auth: {e}")))?;
                value.set_sensitive(true);
                headers.push((ureq::http::header::AUTHORIZATION, value));
            }
            (None, Some(_)) => return Err(bad("a password without `username`".into())),
            (None, None) => {}
        }

        let body = Body::new(&cfg, fields).map_err(bad)?;

        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
            // Status codes are classified here, not turned into errors.
            .http_status_as_error(false)
            // A redirect of a POST is a config problem (wrong URL), and
            // following it could re-send the alert elsewhere without the body.
            .max_redirects(0)
            .build()
            .into();
        Ok(HttpSink {
            agent,
            uri,
            headers,
            body,
        })
    }

    /// One POST: the outcome of delivering `rec`.
    fn post(&self, rec: &Outgoing) -> Result<(), SendError> {
        // from_bytes, not from_str: an order id may hold UTF-8, which HTTP
        // allows as opaque bytes; only control characters cannot be sent.
        let key = HeaderValue::from_bytes(rec.alert_id.as_bytes()).map_err(|e| {
            SendError::Permanent(format!(
                "alert_id {:?} is not a valid header value: {e}",
                rec.alert_id
            ))
        })?;
        let mut req = self
            .agent
            .post(self.uri.clone())
            .header("Idempotency-Key", key);
        if rec.epoch > 0 {
            req = req.header(EPOCH_HEADER, rec.epoch.to_string());
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        let sent = match self.body.payload(rec)? {
            Payload::Json(json) => req.content_type("application/json").send(&json[..]),
            Payload::Form(pairs) => req.send_form(pairs),
        };
        let mut resp = sent.map_err(transport_error)?;
        let status = resp.status().as_u16();
        let limit = if (200..300).contains(&status) {
            DRAIN_BODY_BYTES
        } else {
            REASON_BODY_BYTES
        };
        let mut head = Vec::new();
        // The status already decided the outcome; the body only adds detail,
        // so a failure to read it is ignored.
        let _ = resp
            .body_mut()
            .as_reader()
            .take(limit)
            .read_to_end(&mut head);
        classify(status, &head)
    }
}

impl Sink for HttpSink {
    fn max_batch(&self) -> usize {
        1
    }

    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure> {
        for (delivered, rec) in batch.iter().enumerate() {
            self.post(rec)
                .map_err(|error| SendFailure { delivered, error })?;
        }
        Ok(())
    }
}

/// What a response status means for the alert: 2xx delivered; 408, 429 and
/// 5xx worth retrying; a status about the endpoint rather than the alert (a
/// wrong URL: 404, 405, 410, a redirect; wrong credentials: 401, 403, 407)
/// pauses the sink, since every other alert would get it too; any other 4xx
/// (400, 413, 422, ...) rejects this alert, which is dead-lettered. `body` is
/// the head of the response body, quoted in the reason.
pub(crate) fn classify(status: u16, body: &[u8]) -> Result<(), SendError> {
    let text = String::from_utf8_lossy(&body[..body.len().min(REASON_BODY_BYTES as usize)]);
    let reason = format!("HTTP {status}: {}", text.trim());
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(SendError::Transient(reason)),
        300..=399 => Err(SendError::EndpointDown(format!(
            "HTTP {status}: redirect not followed (point `url` at the final location)"
        ))),
        401 | 403 | 404 | 405 | 407 | 410 => Err(SendError::EndpointDown(reason)),
        400..=499 => Err(SendError::Permanent(reason)),
        // 1xx leftovers or codes outside the standard ranges: a confused
        // server or proxy, which may recover; never lose the alert over it.
        _ => Err(SendError::Transient(reason)),
    }
}

/// A request that got no response: timeouts, refused or dropped
/// connections, DNS and TLS trouble may all clear up, so they are transient.
/// Only a request the sink itself cannot form is permanent.
fn transport_error(e: ureq::Error) -> SendError {
    match e {
        ureq::Error::Http(_) | ureq::Error::BadUri(_) => SendError::Permanent(e.to_string()),
        e => SendError::Transient(e.to_string()),
    }
}
