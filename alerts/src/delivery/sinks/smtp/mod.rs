//! SMTP sink: one e-mail per alert, through a relay (`lettre`, blocking, a
//! new connection per message: alerts are rare and a kept-open connection
//! would just time out between them).
//!
//! A mailbox cannot deduplicate, so only `at-least-once` (default) and
//! `at-most-once` are allowed. The `Message-ID` is derived from the alert_id
//! alone (`sink::message_id`), so a resent alert carries the same id and a mail
//! client that threads or hides duplicates by it can still help the reader.
//! A shipper with a ship gate (an active-standby pair, SPEC §6) adds
//! `X-Aldebaran-Epoch: <epoch>` when its epoch is above 0.
//!
//! Construction validates addresses, template and TLS settings but never
//! connects: a relay that is down at start is just a transient failure later.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub(crate) use config::{DEFAULT_MODE, KIND, MODES};
pub use config::{SmtpSinkConfig, SmtpTls};
pub(crate) use sink::SmtpSink;
