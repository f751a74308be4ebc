//! `aldebaran route`: the trade queue to the shard queues by order id, until
//! SIGTERM/SIGINT; prints its one-line summary on stderr.

use std::process::ExitCode;

use anyhow::{Context, Result};
use router::{RouteOptions, route, stop_on_signals};

use crate::cli::RouteArgs;

pub fn run(a: RouteArgs) -> Result<ExitCode> {
    // First, so a signal during a slow start stops the router cleanly.
    let stop = stop_on_signals()?;
    let brokers = broker::Brokers::parse(&a.broker.url)?;
    let mut opts = RouteOptions::new(brokers, &a.broker.queue, a.queue_type, a.shards);
    opts.tls = a.broker.tls()?;
    opts.prefetch = a.prefetch;
    // clap bounds it to a small positive range; saturate rather than trust.
    opts.in_flight = usize::try_from(a.in_flight).unwrap_or(usize::MAX);
    if let Some(q) = a.dead_letter_queue {
        opts.dead_letter_queue = q;
    }
    let report = route(&opts, &stop).with_context(|| {
        format!(
            "routing {} to {} shards",
            opts.input.trade_queue, opts.shards
        )
    })?;
    eprintln!("{report}");
    Ok(ExitCode::SUCCESS)
}
