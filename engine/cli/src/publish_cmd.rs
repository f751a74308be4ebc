//! `aldebaran publish`: a trade file to the AMQP trade exchange (or, with
//! `--shards`, to the shards by order id), with publisher confirms; prints
//! one line of figures.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ingest::amqp::{PublishOptions, Topology, publish_file};

use crate::cli::PublishArgs;

pub fn run(a: PublishArgs) -> Result<ExitCode> {
    if a.shards.is_some() && a.batch > 1 {
        bail!(
            "--batch {} with --shards: a message has one routing key, so each event goes to \
             the shards as a message of its own (leave --batch out)",
            a.batch
        );
    }
    // clap bounds both to small positive ranges; saturate rather than trust.
    let batch = usize::try_from(a.batch).unwrap_or(usize::MAX);
    let in_flight = usize::try_from(a.in_flight).unwrap_or(usize::MAX);
    let opts = PublishOptions {
        tls: a.broker.tls()?,
        url: a.broker.url,
        topology: Topology::with_trade_queue(a.broker.queue).with_queue_type(a.queue_type),
        rate: a.rate,
        batch,
        in_flight,
        shards: a.shards,
    };
    let r =
        publish_file(&a.file, &opts).with_context(|| format!("publishing {}", a.file.display()))?;
    let secs = r.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        r.events as f64 / secs
    } else {
        0.0
    };
    let to = match a.shards {
        Some(n) => format!("exchange {} ({n} shards)", broker::names::SHARD_EXCHANGE),
        None => opts.topology.trade_queue.clone(),
    };
    let failover = if r.reconnects > 0 {
        format!(
            "; {} links lost, {} republished",
            r.reconnects, r.republished
        )
    } else {
        String::new()
    };
    println!(
        "published {} events in {} messages ({} bytes) to {to} in {:.3} s: {:.0} events/s{failover}",
        r.events, r.messages, r.bytes, secs, rate
    );
    Ok(ExitCode::SUCCESS)
}
