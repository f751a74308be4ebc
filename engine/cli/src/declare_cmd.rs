//! `aldebaran declare`: the SPEC §5 AMQP topology, idempotently.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ingest::amqp::{Topology, declare_blocking};

use crate::cli::DeclareArgs;

pub fn run(a: DeclareArgs) -> Result<ExitCode> {
    let tls = a.broker.tls()?;
    let t = Topology::with_trade_queue(&a.broker.queue);
    declare_blocking(&a.broker.url, &tls, &t).context("declaring the AMQP topology")?;
    println!(
        "declared exchange {} -> queue {} (key {}); exchange {} -> queue {} (key {})",
        t.trade_exchange,
        t.trade_queue,
        t.trade_routing_key,
        t.alert_exchange,
        t.alert_queue,
        t.alert_routing_key
    );
    Ok(ExitCode::SUCCESS)
}
