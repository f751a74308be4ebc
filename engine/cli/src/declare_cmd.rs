//! `aldebaran declare`: the SPEC §5 AMQP topology, idempotently.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ingest::amqp::{Topology, declare_blocking};

use crate::cli::DeclareArgs;

pub fn run(a: DeclareArgs) -> Result<ExitCode> {
    let tls = a.broker.tls()?;
    let t = Topology::with_trade_queue(&a.broker.queue).with_queue_type(a.queue_type);
    declare_blocking(&a.broker.url, &tls, &t, a.shards).context("declaring the AMQP topology")?;
    println!(
        "declared exchange {} -> queue {} (key {}); exchange {} -> queue {} (key {}); {} queues",
        t.trade_exchange,
        t.trade_queue,
        t.trade_routing_key,
        t.alert_exchange,
        t.alert_queue,
        t.alert_routing_key,
        t.queue_type,
    );
    if let Some(n) = a.shards {
        println!(
            "declared exchange {} (x-consistent-hash) -> queues {} .. {} (weight {} each)",
            broker::names::SHARD_EXCHANGE,
            broker::names::shard_queue(0),
            broker::names::shard_queue(n - 1),
            broker::names::SHARD_WEIGHT,
        );
    }
    Ok(ExitCode::SUCCESS)
}
