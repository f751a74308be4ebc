//! `aldebaran publish`: a trade file to the AMQP trade exchange, with
//! publisher confirms; prints one line of figures.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ingest::amqp::{PublishOptions, Topology, publish_file};

use crate::cli::PublishArgs;

pub fn run(a: PublishArgs) -> Result<ExitCode> {
    // clap bounds both to small positive ranges; saturate rather than trust.
    let batch = usize::try_from(a.batch).unwrap_or(usize::MAX);
    let in_flight = usize::try_from(a.in_flight).unwrap_or(usize::MAX);
    let opts = PublishOptions {
        tls: a.broker.tls()?,
        url: a.broker.url,
        topology: Topology::with_trade_queue(a.broker.queue),
        rate: a.rate,
        batch,
        in_flight,
    };
    let r =
        publish_file(&a.file, &opts).with_context(|| format!("publishing {}", a.file.display()))?;
    let secs = r.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        r.events as f64 / secs
    } else {
        0.0
    };
    println!(
        "published {} events in {} messages ({} bytes) to {} in {:.3} s: {:.0} events/s",
        r.events, r.messages, r.bytes, opts.topology.trade_queue, secs, rate
    );
    Ok(ExitCode::SUCCESS)
}
