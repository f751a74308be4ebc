//! **Broker**: what every RabbitMQ client of Aldebaran shares — the trade
//! source and the AMQP tools in `ingest`, the AMQP alert sink in `alerts` —
//! so that neither depends on the other for it.
//!
//! - **Names** ([`names`]): the SPEC §5 topology (exchanges, queues, routing
//!   keys) and the default broker URL.
//! - **URLs** ([`redact`]): a broker URL as it may be printed — with its
//!   password hidden, whatever shape the URL has, parseable or not.
//!
//! No I/O and no threads: this crate holds facts and pure functions.

pub mod names;
mod redact;

pub use redact::redact;
