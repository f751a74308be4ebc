//! **Router**: the Event Router of SPEC §8 (`aldebaran route`) — the trade
//! queue in, the shard queues out, by order id. It consumes the input queue
//! (`Aldebaran.Trade_Data`, declared idempotently with the SPEC §5
//! topology), splits each message body into its events (one per line,
//! blank lines skipped), and publishes each event as a persistent message
//! of its own to the consistent-hash exchange `Aldebaran.Shards`, routing
//! key its order id (`initial_order_id` for a purchase, `id` for a
//! request: [`ingest::amqp::order_key`], which `publish --shards` uses
//! too), so every event of an order reaches the same shard's engine. A line
//! the parser rejects goes, with its reason (SPEC §1 vocabulary), to the
//! durable dead-letter queue `<input queue>.dead` through the default
//! exchange, headers [`REASON_HEADER`], [`SOURCE_HEADER`], [`LINE_HEADER`].
//! Each output's `message_id` is `<input message_id>#<line>` (or
//! `tag:<link>:<delivery tag>#<line>` for an input without an id).
//!
//! Public surface: [`route`] with [`RouteOptions`] (and
//! [`dead_letter_queue`]), until the stop flag [`stop_on_signals`] gives
//! (or any flag) is set; it returns a [`RouteReport`], whose `Display` is
//! the one-line summary. Errors: [`RouterError`], classified permanent or
//! transient.
//!
//! **Shards are checked, never declared.** Before it routes, each link
//! checks that the `--shards N` queues exist and no more
//! (`ingest::amqp::check_shards`); only `aldebaran declare --shards N`
//! creates them, since the exchange places a key by the queues bound at
//! the moment. A missing shard at start is a permanent error.
//!
//! **Nothing is lost.** Publisher confirms, pipelined: up to
//! [`RouteOptions::in_flight`] outputs await their confirm at once. An
//! input message is acknowledged only once every output it carried is
//! confirmed, with `multiple` up to the highest tag whose message and all
//! before it are (the pure tracker in `tracker.rs`, property-tested against
//! a model); a tag is never acknowledged twice. When a link fails, its
//! unconfirmed outputs are abandoned and their inputs, unacknowledged, are
//! redelivered by the broker and routed again: at least once, the
//! duplicates dropped downstream.
//!
//! **Failover.** The broker list is tried in turn ([`broker::Rotation`]);
//! a lost link (node stopped, connection closed by an operator) is replaced
//! from the next node, at once if it had made progress, else after a
//! back-off, as is every round that found no node (100 ms doubling to
//! 5 s). Only the first attempt may fail the run, and only permanently.
//!
//! **Order.** One router publishes every output on one channel, in input
//! order, so each shard queue receives an order's events in the order the
//! router consumed them. Several routers may consume the input queue at
//! once (competing consumers, for throughput or availability), and then an
//! order's events may reach its shard out of input order: two routers can
//! swap two events of one order (each holds one, and the later one is
//! confirmed first), and a router that dies with unacknowledged messages
//! has them redelivered to another, possibly after later events of the same
//! orders (the same happens, more rarely, after one router's own lost
//! link). The jobs tolerate it (SPEC §2): a purchase id already counted is
//! dropped, so a redelivered purchase never counts twice; a second request
//! is dropped; a request arriving after its purchases is itself the trigger
//! of the overfill check. An overfilled order is alerted once whatever the
//! arrival order, though which event triggers it, and the filled count the
//! alert reports, may differ from input order's. With `ts` on every event
//! the books' clock is event time, so the expiry of books is unaffected by
//! a swap within the TTLs.
//!
//! Threads: the caller's, on a current-thread tokio runtime of its own,
//! plus lapin's I/O thread per connection.

mod error;
mod link;
mod options;
mod publish;
mod report;
mod run;
mod serve;
mod signals;
mod split;
mod tracker;

pub use error::{Result, RouterError};
pub use options::{RouteOptions, dead_letter_queue};
pub use publish::{LINE_HEADER, REASON_HEADER, SOURCE_HEADER};
pub use report::RouteReport;
pub use run::route;
pub use signals::stop_on_signals;
