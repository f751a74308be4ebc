//! **Broker**: what every RabbitMQ client of Aldebaran shares — the trade
//! source and the AMQP tools in `ingest`, the AMQP alert sink in `alerts` —
//! so that neither depends on the other for it.
//!
//! - **Names** ([`names`]): the SPEC §5 topology (exchanges, queues, routing
//!   keys) and the default broker URL.
//! - **URLs** ([`redact`], [`parse_url`]): a broker URL as it may be printed
//!   — with its password hidden, whatever shape the URL has, parseable or not
//!   — and parsed before lapin sees it, so that a bad URL is a permanent
//!   error whose message never quotes the password.
//! - **TLS** ([`tls`], [`target`]): for `amqps://`, the CA file (or the
//!   bundled Mozilla roots) and the optional client certificate, read and
//!   checked once ([`TlsFiles::load`] → [`Tls`]), and handed to lapin with
//!   the parsed URL on every connect ([`Target`]); a failed handshake is a
//!   [`Failure::Tls`] that says whose certificate was refused.
//! - **Several brokers** ([`Brokers`], [`Rotation`]): the nodes of a
//!   cluster as one list of URLs, and which node a client tries next;
//!   [`Backoff`], how long it waits between rounds that failed.
//! - **Queue types** ([`QueueType`]): classic or quorum, always named in a
//!   declare so a mismatch with what exists is refused.
//! - **Failures** ([`classify`], [`next`]): whether a failure can succeed if
//!   tried again ([`Classified::Permanent`] or [`Classified::Transient`], from
//!   the observed [`Failure`]: a reply code, an I/O error kind, …; a lapin
//!   error gives its facts through [`Failure::of`]), and what a client does
//!   about it at its [`Stage`] ([`Next`]: fail, retry at start, reconnect).
//! - **Refused consumes** ([`consume_refusal`]): a queue another consumer
//!   holds exclusively (the lease of an active-standby pair:
//!   [`ConsumeRefusal::LeaseHeld`]) told from a refusal that stays, though
//!   both are reply 403.
//!
//! No threads, and no I/O but reading the TLS files it is named: this crate
//! holds facts and pure functions (lapin is a dependency for its error, URL
//! and TLS config types only).

mod backoff;
mod brokers;
mod classify;
mod consume;
mod error;
mod lapin_error;
pub mod names;
mod queue_type;
mod redact;
mod retry;
mod target;
pub mod tls;
mod tls_error;
mod url;

pub use backoff::Backoff;
pub use brokers::{Brokers, Rotation};
pub use classify::{Classified, Failure, TlsFailure, classify, hint, reply};
pub use consume::{ConsumeRefusal, consume_refusal};
pub use error::{BrokerError, Result};
pub use lapin_error::{classify_lapin, consume_refusal_lapin, describe, describe_connect};
pub use queue_type::QueueType;
pub use redact::redact;
pub use retry::{Next, Stage, next};
pub use target::{Target, target};
pub use tls::{Tls, TlsFiles};
pub use url::parse_url;
