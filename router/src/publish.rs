//! One output on its way: published persistent and mandatory on the
//! output channel, then its confirm awaited. Everything it needs is owned,
//! so the router keeps a window of them in flight (LAPIN-NOTES pitfall 3)
//! and settles them oldest first.

use std::pin::Pin;

use broker::names;
use lapin::{
    BasicProperties, Channel,
    types::{AMQPValue, FieldTable, LongString},
};

use crate::{
    Result,
    split::{Kind, Output, output_id},
};

/// Header of a dead letter: the parser's reason (SPEC §1 vocabulary).
pub const REASON_HEADER: &str = "x-aldebaran-reason";
/// Header of a dead letter: the input message it came in (its
/// `message_id`, or `tag:<generation>:<delivery tag>`).
pub const SOURCE_HEADER: &str = "x-aldebaran-source-message-id";
/// Header of a dead letter: the line's index in that message's body.
pub const LINE_HEADER: &str = "x-aldebaran-line";

/// A confirmed output: the input it belongs to, and whether it was a
/// dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settled {
    pub(crate) tag: u64,
    pub(crate) dead: bool,
}

/// An output in flight; resolves once the broker has confirmed it.
pub(crate) type InFlight = Pin<Box<dyn Future<Output = Result<Settled>>>>;

/// The publish of `out` (line of input `tag`, whose outputs are named
/// after `source`), to the shards or to `dead_queue`.
pub(crate) fn output(
    channel: &Channel,
    out: &Output<'_>,
    tag: u64,
    source: &str,
    dead_queue: &str,
) -> InFlight {
    let props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(output_id(source, out.line).into());
    let (exchange, key, props, dead) = match &out.kind {
        Kind::Event(order) => (names::SHARD_EXCHANGE, order.clone(), props, false),
        Kind::Dead(reason) => {
            let mut headers = FieldTable::default();
            headers.insert(
                REASON_HEADER.into(),
                AMQPValue::LongString(LongString::from(reason.as_str())),
            );
            headers.insert(
                SOURCE_HEADER.into(),
                AMQPValue::LongString(LongString::from(source)),
            );
            let line = i64::try_from(out.line).unwrap_or(i64::MAX);
            headers.insert(LINE_HEADER.into(), AMQPValue::LongLongInt(line));
            // The default exchange routes by queue name.
            ("", dead_queue.to_owned(), props.with_headers(headers), true)
        }
    };
    let channel = channel.clone();
    let body = out.bytes.to_vec();
    Box::pin(async move {
        ingest::amqp::publish_mandatory(
            &channel,
            exchange,
            &key,
            &body,
            props,
            "publishing an output",
        )
        .await?;
        Ok(Settled { tag, dead })
    })
}
