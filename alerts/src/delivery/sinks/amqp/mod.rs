//! The AMQP sink: publishes each alert as one persistent message to a
//! RabbitMQ exchange (SPEC §4, §5) and returns only once the broker has
//! confirmed it.
//!
//! - **Topology** (declared idempotently on every connect unless `declare` is
//!   off): exchange `Aldebaran.Alert` (direct, durable) → queue
//!   `Aldebaran.Alert` (durable), routing key `Alert`. Only the alert part of
//!   the SPEC §5 topology: the trade side belongs to the ingest crate.
//! - **Message**: body = the SPEC §3 record (the journal dump line),
//!   `delivery_mode` 2, `content_type` `application/json`, `message_id` =
//!   `alert_id` (the consumer deduplicates on it: exactly-once), a `seq`
//!   header, an `x-aldebaran-epoch` header (long-long) when the shipper has
//!   a ship gate with an epoch above 0 (an active-standby pair, SPEC §6: a
//!   consumer can tell which active sent what), published `mandatory` so an
//!   unroutable alert comes back instead of vanishing.
//! - **Pipelining** (LAPIN-NOTES pitfalls 3, 4): every record of a batch is
//!   queued for the socket first, then the confirms are awaited in order under
//!   one deadline; the leading run of acks is what was delivered.
//! - **Failures** are [`SendError::Transient`](crate::delivery::SendError::Transient) (broker down, nack,
//!   timeout, lost connection, unroutable): the connection is dropped and the
//!   next send reconnects and redeclares. A login the broker refuses
//!   (ACCESS_REFUSED) is [`SendError::EndpointDown`](crate::delivery::SendError::EndpointDown):
//!   the sink pauses until the credentials are fixed. The only permanent
//!   failure is an `alert_id` too long to be an AMQP `message_id` (255 bytes).
//!
//! **Threads**: the sink owns a current-thread tokio runtime and blocks on it
//! in [`Sink::send`](crate::delivery::Sink::send), on the shipper's thread; lapin adds one I/O thread per
//! connection. [`AmqpSink::new`] does not connect: a broker that is down at
//! start is a transient error of the first send.

mod config;
mod publish;
mod sink;
#[cfg(test)]
mod tests;

pub use config::AmqpSinkConfig;
pub(crate) use config::{DEFAULT_MODE, KIND, MODES};
pub(crate) use sink::AmqpSink;
