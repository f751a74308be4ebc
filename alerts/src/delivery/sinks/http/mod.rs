//! HTTP sink: one POST per alert, to a webhook (the record as the JSON body),
//! to an SMS provider's form API such as Twilio's
//! (`application/x-www-form-urlencoded` built from templates, HTTP basic
//! auth), or to a chat webhook such as Slack's (`format = "json-template"`:
//! a JSON object of templates, e.g. `{"text": "..."}`). The body per format
//! is `body.rs`.
//!
//! Every request carries `Idempotency-Key: <alert_id>`, so a receiver that
//! deduplicates on it sees each alert once even when the shipper resends an
//! in-doubt one: hence `exactly-once` is the default mode. A shipper with a
//! ship gate (an active-standby pair, SPEC §6) adds `Aldebaran-Epoch:
//! <epoch>` when its epoch is above 0, so a receiver can tell which active
//! sent what (and refuse a lower epoch than it has seen). The outcome of a
//! request maps onto the shipper's retry policy by [`classify`](sink::classify), a pure
//! function of the status code.
//!
//! Blocking (`ureq`), on the shipper's thread. Construction validates the URL,
//! headers and templates but never connects: an endpoint that is down at start
//! is just a transient failure later.

mod body;
mod config;
mod sink;
#[cfg(test)]
mod tests;

pub(crate) use config::{DEFAULT_MODE, KIND, MODES};
pub use config::{HttpFormat, HttpSinkConfig};
pub(crate) use sink::HttpSink;
