//! `throughput`: one shipper per run over a pre-filled journal; alerts/s
//! from `spawn_shipper` to the sink's cursor reaching N (the time includes
//! opening the cursor, connecting, every send and every cursor fsync; the
//! pre-fill does not count).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alerts::delivery::{SinkConfig, spawn_shipper};
use alerts::{Journal, JournalOptions};
use anyhow::{Context, Result, bail};

use crate::endpoints::{self, Server};
use crate::{median, unique_name};

const KINDS: [&str; 6] = ["file", "stdout", "amqp", "http", "command", "smtp"];

#[derive(clap::Args)]
pub struct Args {
    /// Sink kinds to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "file,stdout,amqp,http,command,smtp"
    )]
    kinds: Vec<String>,
    /// Alerts per run for file, stdout, amqp and http.
    #[arg(long, default_value_t = 100_000)]
    n: u64,
    /// Alerts per run for command (one process per alert).
    #[arg(long, default_value_t = 2_000)]
    n_command: u64,
    /// Alerts per run for smtp (one connection per alert, and a ~40 ms
    /// Nagle / delayed-ACK stall per message: lettre writes the DATA
    /// terminator in its own segment without TCP_NODELAY).
    #[arg(long, default_value_t = 500)]
    n_smtp: u64,
    /// Runs per kind (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Give up on a run after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

const STOCKS: [&str; 8] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "IBM",
];

/// A SPEC §3 overfill record (without `seq`), distinct per `i`.
pub fn payload(i: u64) -> String {
    let event_ts = 1_700_000_000_000 + i;
    format!(
        concat!(
            r#"{{"alert_id":"overfill:o-{i}","kind":"overfill","order_id":"o-{i}","#,
            r#""client":"c-{c}","stock":"{s}","requested":100,"filled":120,"#,
            r#""trigger_id":"p-{i}","event_ts":{ts},"detected_at":{d}}}"#
        ),
        i = i,
        c = i % 1000,
        s = STOCKS[(i % 8) as usize],
        ts = event_ts,
        d = 1_795_791_408_335_171_872u64 + i * 1_000,
    )
}

pub fn run(a: &Args, base: &Path, url: &str) -> Result<()> {
    for k in &a.kinds {
        if !KINDS.contains(&k.as_str()) {
            bail!("unknown kind {k:?}; known: {}", KINDS.join(", "));
        }
    }
    eprintln!(
        "# throughput: one shipper, journal pre-filled with N records, from an empty cursor; \
         time = spawn_shipper .. cursor == N (includes connect, sends, cursor fsyncs); {} runs each",
        a.runs
    );
    eprintln!(
        "{:<8} {:>7} {:>4} {:>9} {:>11}",
        "kind", "N", "run", "seconds", "alerts/s"
    );
    let mut table = Vec::new();
    for kind in &a.kinds {
        let n = match kind.as_str() {
            "command" => a.n_command,
            "smtp" => a.n_smtp,
            _ => a.n,
        };
        let mut rates = Vec::new();
        let mut secs = Vec::new();
        for r in 1..=a.runs {
            let s = one_run(kind, n, base, url, Duration::from_secs(a.timeout_secs))
                .with_context(|| format!("{kind} run {r}"))?;
            eprintln!("{kind:<8} {n:>7} {r:>4} {s:>9.3} {:>11.0}", n as f64 / s);
            secs.push(s);
            rates.push(n as f64 / s);
        }
        table.push((kind.clone(), n, median(&secs), median(&rates)));
    }
    eprintln!("\n## throughput, median of {} runs", a.runs);
    eprintln!(
        "| {:<8} | {:>7} | {:>9} | {:>11} |",
        "sink", "N", "seconds", "alerts/s"
    );
    eprintln!("|----------|---------|-----------|-------------|");
    for (kind, n, s, r) in table {
        eprintln!("| {kind:<8} | {n:>7} | {s:>9.3} | {r:>11.0} |");
    }
    Ok(())
}

/// Pre-fills a fresh journal, ships it to a fresh endpoint of `kind`;
/// returns the seconds the shipper took.
fn one_run(kind: &str, n: u64, base: &Path, url: &str, timeout: Duration) -> Result<f64> {
    let tmp = tempfile::Builder::new()
        .prefix("throughput-")
        .tempdir_in(base)?;
    let journal_dir = tmp.path().join("journal");
    {
        let (mut j, _) = Journal::open(&journal_dir, JournalOptions::default())?;
        for i in 1..=n {
            j.append(payload(i).as_bytes())?;
        }
        j.sync()?;
    }

    let mut server: Option<Server> = None;
    let mut amqp_name = None;
    let table = match kind {
        "file" => format!(
            "kind = \"file\"\npath = {:?}\n",
            tmp.path().join("alerts.jsonl")
        ),
        "stdout" => "kind = \"stdout\"\n".to_owned(),
        "amqp" => {
            let name = unique_name("tp");
            let t = format!(
                "kind = \"amqp\"\nurl = {url:?}\nexchange = {name:?}\nqueue = {name:?}\nrouting_key = \"Alert\"\n"
            );
            amqp_name = Some(name);
            t
        }
        "http" => {
            let s = endpoints::http_server()?;
            let t = format!(
                "kind = \"http\"\nurl = \"http://127.0.0.1:{}/alerts\"\n",
                s.port
            );
            server = Some(s);
            t
        }
        "command" => {
            "kind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\n".to_owned()
        }
        "smtp" => {
            let s = endpoints::smtp_server()?;
            let t = format!(
                "kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
                 from = \"aldebaran@example.com\"\nto = [\"desk@example.com\"]\n",
                s.port
            );
            server = Some(s);
            t
        }
        other => bail!("unknown kind {other}"),
    };
    let table: toml::Table = toml::from_str(&table)?;
    // The records are overfill alerts (`payload`).
    let fields = pipeline::alert_fields("overfill")?;
    let cfg = SinkConfig::from_toml(kind, &table, &fields)?;
    let sink = cfg.open_sink()?;
    let spec = cfg.shipper_spec(&journal_dir, Arc::new(alerts::DurableHead::new(n)));

    let start = Instant::now();
    let handle = spawn_shipper(spec, sink)?;
    let stats = handle.stats();
    let mut timed_out = false;
    while stats.cursor.load(Ordering::Acquire) < n {
        if !handle.is_running() {
            break;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let secs = start.elapsed().as_secs_f64();
    handle.finish(Instant::now() + Duration::from_secs(5));
    let report = handle.join()?;

    let received = server.map(|s| {
        let r = s.requests.load(Ordering::Relaxed);
        s.shutdown();
        r
    });
    if let Some(name) = &amqp_name
        && let Err(e) = endpoints::amqp_delete(url, name)
    {
        eprintln!("warning: deleting {name}: {e:#}");
    }
    if timed_out || report.cursor < n {
        bail!(
            "the shipper reached only {} of {n} (exit {:?})",
            report.cursor,
            report.exit
        );
    }
    if report.delivered != n || report.failed != 0 || report.retried != 0 {
        eprintln!(
            "warning: {kind}: delivered {}, failed {}, retried {} (expected {n}, 0, 0)",
            report.delivered, report.failed, report.retried
        );
    }
    if let Some(r) = received
        && r != n
    {
        eprintln!("warning: {kind}: the endpoint received {r} of {n}");
    }
    if kind == "file" {
        let lines = std::fs::read(tmp.path().join("alerts.jsonl"))?
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        if lines != n {
            eprintln!("warning: file: {lines} lines of {n}");
        }
    }
    Ok(secs)
}
