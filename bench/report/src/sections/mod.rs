//! One file per section of the report, each from its own CSV input.

mod amqp;
mod batches;
mod latency;
mod scale;
mod sweep;
mod throughput;

pub(crate) use amqp::amqp;
pub(crate) use batches::batches;
pub(crate) use latency::latency;
pub(crate) use scale::scale;
pub(crate) use sweep::sweep;
pub(crate) use throughput::throughput;
