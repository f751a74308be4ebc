//! The broker's own ceiling: a consumer that does nothing but acknowledge
//! (every 500 deliveries, with `multiple`) until the queue has been idle for
//! a second. Times from the first delivery to the last; prints deliveries/s
//! and, given `--events-per-message`, events/s.
//!
//! Run: `cargo run --release -p bench --bin amqp_drain -- --queue Q`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use futures_lite::StreamExt;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
};

#[derive(Parser)]
struct Args {
    /// Broker URL.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    url: String,
    /// Queue to drain.
    #[arg(long)]
    queue: String,
    /// Events per message, to report events/s.
    #[arg(long, default_value_t = 1)]
    events_per_message: u64,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let conn = Connection::connect(&a.url, ConnectionProperties::default())
            .await
            .context("connect")?;
        let ch = conn.create_channel().await?;
        ch.basic_qos(2000, BasicQosOptions { global: false })
            .await?;
        let mut consumer = ch
            .basic_consume(
                a.queue.as_str().into(),
                "drain".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let (mut n, mut first, mut last) = (0u64, None, Instant::now());
        let mut last_tag = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(1), consumer.next()).await {
                Ok(Some(Ok(d))) => {
                    first.get_or_insert_with(Instant::now);
                    last = Instant::now();
                    n += 1;
                    last_tag = d.delivery_tag;
                    if n % 500 == 0 {
                        ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                            .await?;
                    }
                }
                Ok(Some(Err(e))) => return Err(e.into()),
                Ok(None) | Err(_) => break,
            }
        }
        if n % 500 != 0 && last_tag > 0 {
            ch.basic_ack(last_tag, BasicAckOptions { multiple: true })
                .await?;
        }
        let secs = first.map_or(0.0, |f| (last - f).as_secs_f64()).max(1e-9);
        println!(
            "drained {n} messages in {secs:.3} s: {:.0} messages/s, {:.0} events/s",
            n as f64 / secs,
            (n * a.events_per_message) as f64 / secs
        );
        let _ = conn.close(200, "done".into()).await;
        Ok(())
    })
}
