//! What a follower pays to poll the journal's live tail: a reader that has
//! read everything asks for the next record again and again, as the pair's
//! replicator and a caught-up shipper do. Prints microseconds per poll.
//!
//! Run: `cargo run --release -p bench --bin journal_poll -- --polls 100000`.

use std::time::Instant;

use alerts::{Journal, JournalOptions, JournalReader};
use anyhow::{Context, Result, ensure};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Polls timed.
    #[arg(long, default_value_t = 100_000)]
    polls: u32,
    /// Records written (and read) before the polls.
    #[arg(long, default_value_t = 1000)]
    records: u32,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let dir = tempfile::tempdir().context("temporary directory")?;
    let (mut journal, _) = Journal::open(dir.path(), JournalOptions::default())?;
    for _ in 0..a.records {
        journal.append(br#"{"alert_id":"overfill:o-1:p-1"}"#)?;
    }
    journal.sync()?;
    let mut reader = JournalReader::open(dir.path(), 1)?;
    let mut read = 0u32;
    for record in reader.by_ref() {
        record?;
        read += 1;
    }
    ensure!(read == a.records, "read {read} of {} records", a.records);
    let t0 = Instant::now();
    for _ in 0..a.polls {
        ensure!(reader.next().is_none(), "a record appeared at the tail");
    }
    let per_poll = t0.elapsed().as_secs_f64() * 1e6 / f64::from(a.polls.max(1));
    println!(
        "{per_poll:.2} us per poll at the live tail ({} polls)",
        a.polls
    );
    Ok(())
}
