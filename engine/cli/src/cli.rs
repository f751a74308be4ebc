//! The command-line surface (clap derive). Flag names are a contract: scripts
//! rely on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Aldebaran: real-time audit of trade streams for over-purchased orders.
#[derive(Debug, Parser)]
#[command(name = "aldebaran", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a captured trade file (or `-` for stdin) through the engine
    /// into the alert journal, then print a summary.
    Replay(ReplayArgs),
    /// Run the long-lived service: consume the source named in the config
    /// (AMQP or a file), journal alerts, serve metrics, stop on SIGTERM/SIGINT.
    Run(RunArgs),
    /// Declare the AMQP topology (exchanges, queues, bindings); idempotent.
    Declare(DeclareArgs),
    /// Publish a trade file to the AMQP trade exchange with publisher confirms.
    Publish(PublishArgs),
    /// Route the trade queue to the shard queues by order id (the consistent-hash exchange Aldebaran.Shards)
    Route(RouteArgs),
    /// Write a synthetic trade file.
    Gen(GenArgs),
    /// Show both nodes of an active-standby pair: role, epoch, lease
    /// holder, replication lag, last heartbeat, the sinks' cursors.
    Status(StatusArgs),
    /// Inspect an alert journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Print every alert record as JSON Lines.
    Dump {
        /// The journal directory.
        dir: PathBuf,
    },
    /// Check every record's frame, CRC and sequence; exit 1 if corrupt.
    Verify {
        /// The journal directory.
        dir: PathBuf,
    },
    /// Show the oldest seq the journal keeps and each sink's delivery
    /// cursor, what is in flight and its lag; or, with --reset, set one
    /// sink's cursor.
    Cursors {
        /// The journal directory.
        dir: PathBuf,
        /// Set the cursor of this sink (refused while the journal or the
        /// sink's cursor is in use) and say what was done.
        #[arg(long, value_name = "NAME", requires = "to")]
        reset: Option<String>,
        /// With --reset: SEQ (every seq up to it counts as delivered; the
        /// sink resumes after it), `head` (skip everything journaled so far)
        /// or `oldest` (send everything the journal still keeps again).
        #[arg(long, value_name = "SEQ|head|oldest", requires = "reset")]
        to: Option<alerts::delivery::ResetTo>,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The pair's configuration (its [ha] section names both addresses).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Print JSON ({"nodes": [...]}, each with node, role, epoch,
    /// lag_events, peer_up, ...) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The trade file (JSON Lines), or `-` for standard input.
    pub file: String,
    /// Configuration file layered over the embedded default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    // Job(s) to run; the help lists the registered jobs (`job_help`).
    #[arg(long, value_name = "NAME[,NAME]", help = job_help())]
    pub job: Option<String>,
    /// Journal directory [config: journal.dir, default ./aldebaran-data/journal].
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// Write rejected lines here as JSON Lines [config: replay.dead_letter].
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Book time-to-live in ms [config: overfill.book_ttl_ms, default 60000].
    #[arg(long, value_name = "N")]
    pub book_ttl_ms: Option<u64>,
    /// Tombstone time-to-live in ms [config: overfill.tombstone_ttl_ms, default 600000].
    #[arg(long, value_name = "N")]
    pub tombstone_ttl_ms: Option<u64>,
    /// Do not close open books at the end of the input [config: replay.drain = false].
    #[arg(long)]
    pub no_drain: bool,
    /// Events per micro-batch at most [config: engine.batch_events, default 16384].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_events: Option<u64>,
    /// Milliseconds per micro-batch at most, 0 = cut as soon as nothing more is waiting [config: engine.batch_ms, default 1].
    #[arg(long, value_name = "N")]
    pub batch_ms: Option<u64>,
    /// Worker threads; 0 = one per core less one for ingest [config: engine.threads, default 0].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Threads parsing the file, in 1 MiB segments read back in order [config: engine.parse_threads, default 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub parse_threads: Option<u64>,
    /// Pin the ingest, engine and worker threads to cores [config: engine.pin].
    #[arg(long)]
    pub pin: bool,
    /// Pace the replay at this many events per second [config: replay.rate, default 0 = unpaced].
    #[arg(long, value_name = "EVENTS_PER_S", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Write per-micro-batch stats: CSV, or Parquet if FILE ends in .parquet [config: replay.stats].
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Replay into a journal that already holds alerts, appending only those
    /// it does not hold (by alert_id) [config: replay.append].
    #[arg(long)]
    pub append: bool,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file layered over the embedded default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Consume shard K's queue Aldebaran.Trade_Data.K (made by `declare
    /// --shards N`) [config: source.amqp.shard, default -1 = not sharded].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(0..1024))]
    pub shard: Option<u32>,
}

/// Where the AMQP tools connect.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Broker URL, or several separated by commas (the nodes of a cluster,
    /// tried in turn when one goes away; a comma inside a URL is %2C) (the
    /// service's `source.amqp.url` reads the same variable).
    // The variable's value holds the password: help names it, never shows it.
    #[arg(
        long,
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        env = "ALDEBARAN_SOURCE__AMQP__URL",
        hide_env_values = true
    )]
    pub url: String,
    /// Trade queue to declare and bind (exchange Aldebaran.Trade_Data, routing
    /// key the queue's name, or Aldebaran.Trade_Data for this default queue).
    #[arg(long, default_value = "Aldebaran.Trade_Data")]
    pub queue: String,
    /// For amqps://: PEM file of the CA certificates to trust instead of the
    /// Mozilla roots built in [config: source.amqp.tls.ca_file].
    #[arg(
        long,
        value_name = "FILE",
        env = "ALDEBARAN_SOURCE__AMQP__TLS__CA_FILE",
        hide_env_values = true
    )]
    pub ca_file: Option<PathBuf>,
    /// For amqps://: PEM file of a client certificate, with --key-file
    /// [config: source.amqp.tls.cert_file].
    #[arg(
        long,
        value_name = "FILE",
        env = "ALDEBARAN_SOURCE__AMQP__TLS__CERT_FILE",
        hide_env_values = true
    )]
    pub cert_file: Option<PathBuf>,
    /// For amqps://: PEM file of the client certificate's key (unencrypted)
    /// [config: source.amqp.tls.key_file].
    #[arg(
        long,
        value_name = "FILE",
        env = "ALDEBARAN_SOURCE__AMQP__TLS__KEY_FILE",
        hide_env_values = true
    )]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeclareArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Queue type: classic (one node's queue, the default) or quorum
    /// (replicated over a cluster's nodes).
    #[arg(long, value_name = "TYPE", default_value = "classic", value_parser = queue_type)]
    pub queue_type: broker::QueueType,
    /// Also declare N shard queues Aldebaran.Trade_Data.0..N-1, bound with
    /// equal weights to the consistent-hash exchange Aldebaran.Shards.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: Option<u32>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The trade file (JSON Lines).
    pub file: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Events per second at most.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Events per message (a JSON Lines body).
    #[arg(long, value_name = "B", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    /// Publishes awaiting a broker confirm at most.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_535))]
    pub in_flight: u64,
    /// Publish to the N shards instead of the trade queue: check that
    /// queues Aldebaran.Trade_Data.0..N-1 exist (declare --shards makes
    /// them), then send each event as a message of its own to the
    /// consistent-hash exchange Aldebaran.Shards keyed by its order id,
    /// as `route` does; a line the parser rejects is keyed by a hash of its
    /// bytes, so it reaches some shard whose engine dead-letters it. One
    /// event per message (no --batch); --queue is not used.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: Option<u32>,
    /// The type the trade and alert queues are declared with, as `declare
    /// --queue-type` made them: classic or quorum.
    #[arg(long, value_name = "TYPE", default_value = "classic", value_parser = queue_type)]
    pub queue_type: broker::QueueType,
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The broker (--url: a list fails over node to node) and the input
    /// queue (--queue), declared with the SPEC topology like `declare`'s.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The number of shards: queues Aldebaran.Trade_Data.0..N-1 must exist
    /// (declare --shards N makes them) and no more; checked, never declared.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: u32,
    /// Type of the input queue and of its dead-letter queue: classic (the
    /// default) or quorum.
    #[arg(long, value_name = "TYPE", default_value = "classic", value_parser = queue_type)]
    pub queue_type: broker::QueueType,
    /// Input messages the broker may deliver ahead, unacknowledged.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..))]
    pub prefetch: u16,
    /// Outputs (events and dead letters) awaiting a broker confirm at most.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=65_535))]
    pub in_flight: u64,
    /// Where lines the parser rejects go, with their reason in header
    /// x-aldebaran-reason (a durable queue, declared; default: the input
    /// queue's name with `.dead`, e.g. Aldebaran.Trade_Data.dead).
    #[arg(long, value_name = "QUEUE")]
    pub dead_letter_queue: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Number of orders (purchase requests).
    #[arg(long, default_value_t = 1000)]
    pub orders: u64,
    /// Purchases per order.
    #[arg(long, default_value_t = 4)]
    pub purchases: u32,
    /// Interleave window: orders in flight at once.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub open: u32,
    /// Fraction of orders whose request comes after their first purchase(s).
    #[arg(long, default_value_t = 0.05, value_parser = fraction)]
    pub late: f64,
    /// Fraction of events re-emitted as exact duplicates.
    #[arg(long, default_value_t = 0.01, value_parser = fraction)]
    pub duplicates: f64,
    /// Fraction of malformed lines.
    #[arg(long, default_value_t = 0.001, value_parser = fraction)]
    pub malformed: f64,
    /// Fraction of orders whose purchases exceed the request.
    #[arg(long, default_value_t = 0.1, value_parser = fraction)]
    pub overfill: f64,
    /// Leave out the `ts` field.
    #[arg(long)]
    pub no_ts: bool,
    /// First `ts` (epoch ms).
    #[arg(long, default_value_t = 1_700_000_000_000)]
    pub ts_start: u64,
    /// `ts` step per event (ms).
    #[arg(long, default_value_t = 1)]
    pub ts_step: u64,
    /// Random seed; the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `--job`'s help: the registered jobs, so a new job needs no edit here.
fn job_help() -> String {
    format!(
        "Job(s) to run, comma-separated: {} [config: job, default overfill]",
        pipeline::job_names()
    )
}

fn queue_type(s: &str) -> Result<broker::QueueType, String> {
    broker::QueueType::parse(s)
        .ok_or_else(|| format!("`{s}` is not a queue type: classic or quorum"))
}

fn fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not a fraction between 0 and 1"))
    }
}
