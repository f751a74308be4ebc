//! `latency`: event → alert delivered, end to end through `aldebaran run`.
//!
//! The service follows a file this process writes, paced in 1 ms ticks (each
//! tick one `write` of its events, every event's `ts` the wall clock of the
//! tick). Per alert: a purchase request and an overfilling purchase; plus
//! background orders that never alert (a request of 100 and three purchases
//! of 10). The service's sinks `file` and `amqp` deliver the alerts; this
//! process tails the file and consumes the queue. Latency of an alert = its
//! arrival at the consumer (first `read` that returns its line / AMQP
//! delivery) − the moment its triggering purchase was written, both from one
//! monotonic clock, matched through the alert's `trigger_id` (no ms rounding
//! of `ts`). It includes the service's follow polling, parsing, batching,
//! the job, the journal append and fsync (durability "batch"), the shipper's
//! poll and send, and the consumer side (a file poll every `--poll-us`; the
//! broker's routing and push).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;

use crate::endpoints;
use crate::{median, unique_name};

/// Warm-up alerts written (and awaited at both sinks) before the measured
/// run, so the AMQP sink's connect and the first file open are not measured.
const WARM_UP: u64 = 10;

#[derive(clap::Args)]
pub struct Args {
    /// The service binary.
    #[arg(long = "bin", default_value = "target/release/aldebaran")]
    bin: PathBuf,
    /// Alerts per second written.
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    /// Events per second in total (2 per alert, the rest background orders
    /// that do not alert).
    #[arg(long, default_value_t = 20_000)]
    events: u64,
    /// Seconds of paced writing per run.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Runs (a fresh service, file and queue each); medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The file consumer's poll interval when it is at the end of the file.
    #[arg(long, default_value_t = 200)]
    poll_us: u64,
    /// How long to wait, after the writing, for every alert to arrive.
    #[arg(long, default_value_t = 60)]
    drain_timeout_secs: u64,
}

/// What one consumer saw.
struct Received {
    hist: Histogram<u64>,
    seen: Vec<bool>,
    measured: u64,
    duplicates: u64,
    unknown: u64,
}

/// Shared between the writer and the consumers.
struct Shared {
    base: Instant,
    /// ns since `base` (+1; 0 = not written yet) of the write of the
    /// triggering purchase `p-<k>`.
    written: Vec<AtomicU64>,
    /// Warm-up alerts received, per sink.
    warm: [AtomicU64; 2],
    /// Measured alerts received, per sink.
    count: [AtomicU64; 2],
    recv: [Mutex<Received>; 2],
}

const SINKS: [&str; 2] = ["file", "amqp"];

impl Shared {
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Accounts one alert record arriving at sink `s` at `at` (ns).
    fn arrived(&self, s: usize, at: u64, record: &[u8]) {
        let trigger = serde_json::from_slice::<serde_json::Value>(record)
            .ok()
            .and_then(|v| v.get("trigger_id")?.as_str().map(str::to_owned));
        let mut r = self.recv[s].lock().unwrap_or_else(|p| p.into_inner());
        let Some(trigger) = trigger else {
            r.unknown += 1;
            return;
        };
        if trigger.starts_with("wp-") {
            self.warm[s].fetch_add(1, Ordering::Release);
            return;
        }
        let k = trigger
            .strip_prefix("p-")
            .and_then(|k| k.parse::<usize>().ok())
            .filter(|&k| k < self.written.len());
        let Some(k) = k else {
            r.unknown += 1;
            return;
        };
        let w = self.written[k].load(Ordering::Acquire);
        if w == 0 {
            r.unknown += 1;
            return;
        }
        if r.seen[k] {
            r.duplicates += 1;
            return;
        }
        r.seen[k] = true;
        r.measured += 1;
        let _ = r.hist.record(at.saturating_sub(w - 1).max(1));
        self.count[s].fetch_add(1, Ordering::Release);
    }
}

/// Percentiles of one sink in one run, in ms.
struct Figures {
    received: u64,
    p: [f64; 5],
}

const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

pub fn run(a: &Args, base: &Path, url: &str) -> Result<()> {
    if a.events < 2 * a.rate {
        bail!("--events must be at least 2 × --rate");
    }
    let bin = std::fs::canonicalize(&a.bin)
        .with_context(|| format!("the service binary {}", a.bin.display()))?;
    let expected = a.rate * a.secs;
    eprintln!(
        "# latency: aldebaran run, file source (follow), {} alerts/s in {} events/s for {} s \
         ({} alerts/run), written in 1 ms ticks; latency = consumer arrival - write of the \
         triggering purchase; {} runs",
        a.rate, a.events, a.secs, expected, a.runs
    );
    eprintln!(
        "{:<5} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}   (ms)",
        "sink", "run", "received", "p50", "p90", "p99", "p99.9", "max"
    );
    let mut all: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
    for r in 1..=a.runs {
        let figs = one_run(a, &bin, base, url).with_context(|| format!("latency run {r}"))?;
        for (s, f) in figs.into_iter().enumerate() {
            eprintln!(
                "{:<5} {r:>4} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                SINKS[s], f.received, f.p[0], f.p[1], f.p[2], f.p[3], f.p[4]
            );
            if f.received != expected {
                eprintln!(
                    "warning: {} received {} of the {expected} alerts written",
                    SINKS[s], f.received
                );
            }
            all[s].push(f);
        }
    }
    eprintln!("\n## latency (ms), median over {} runs", a.runs);
    eprintln!("| sink | received/run | p50 | p90 | p99 | p99.9 | max |");
    eprintln!("|------|--------------|-----|-----|-----|-------|-----|");
    for (s, figs) in all.iter().enumerate() {
        let col = |i: usize| median(&figs.iter().map(|f| f.p[i]).collect::<Vec<_>>());
        let rec = median(&figs.iter().map(|f| f.received as f64).collect::<Vec<_>>());
        eprintln!(
            "| {} | {rec:.0} of {expected} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            SINKS[s],
            col(0),
            col(1),
            col(2),
            col(3),
            col(4)
        );
    }
    Ok(())
}

fn one_run(a: &Args, bin: &Path, base: &Path, url: &str) -> Result<Vec<Figures>> {
    let tmp = tempfile::Builder::new()
        .prefix("latency-")
        .tempdir_in(base)?;
    let dir = std::fs::canonicalize(tmp.path())?;
    let events = dir.join("events.jsonl");
    let alerts = dir.join("alerts.jsonl");
    let queue = unique_name("lat");
    let expected = (a.rate * a.secs) as usize;
    let new_recv = || -> Result<Mutex<Received>> {
        Ok(Mutex::new(Received {
            hist: Histogram::new_with_bounds(1, 600_000_000_000, 3)?,
            seen: vec![false; expected],
            measured: 0,
            duplicates: 0,
            unknown: 0,
        }))
    };
    let shared = Arc::new(Shared {
        base: Instant::now(),
        written: (0..expected).map(|_| AtomicU64::new(0)).collect(),
        warm: [AtomicU64::new(0), AtomicU64::new(0)],
        count: [AtomicU64::new(0), AtomicU64::new(0)],
        recv: [new_recv()?, new_recv()?],
    });
    let stop = Arc::new(AtomicBool::new(false));

    // Consumers first: the queue exists and is consumed before any alert.
    let sh = Arc::clone(&shared);
    let amqp = endpoints::amqp_consume(url, &queue, Arc::clone(&stop), move |body| {
        let at = sh.now_ns();
        sh.arrived(1, at, body);
    })?;
    let tail = spawn_tail(
        alerts.clone(),
        Arc::clone(&shared),
        Arc::clone(&stop),
        Duration::from_micros(a.poll_us),
    )?;

    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"job = "overfill"
[source]
kind = "file"
[source.file]
path = {events:?}
follow = true
[journal]
dir = {journal:?}
[state]
dir = {state:?}
[metrics]
listen = ""
[sinks.file]
kind = "file"
path = {alerts:?}
[sinks.amqp]
kind = "amqp"
url = {url:?}
exchange = {queue:?}
queue = {queue:?}
routing_key = "Alert"
"#,
            journal = dir.join("journal"),
            state = dir.join("state"),
        ),
    )?;
    let mut out = std::fs::File::create(&events)?;
    let mut child = Command::new(bin)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("service.out"))?)
        .stderr(std::fs::File::create(dir.join("service.err"))?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;

    let result = (|| -> Result<()> {
        // Warm-up: connections open, first sends done.
        let ts = wall_ms();
        for k in 0..WARM_UP {
            writeln!(
                out,
                r##"{{"id":"wo-{k}","#shares":100,"client":"c-w","stock":"W","ts":{ts}}}"##
            )?;
            writeln!(
                out,
                r##"{{"id":"wp-{k}","initial_order_id":"wo-{k}","#shares":120,"client":"c-w","stock":"W","ts":{ts}}}"##
            )?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while shared
            .warm
            .iter()
            .any(|w| w.load(Ordering::Acquire) < WARM_UP)
        {
            if Instant::now() > deadline {
                bail!(
                    "warm-up alerts did not arrive (file {}, amqp {}); see {}",
                    shared.warm[0].load(Ordering::Relaxed),
                    shared.warm[1].load(Ordering::Relaxed),
                    dir.join("service.err").display()
                );
            }
            if let Some(status) = child.try_wait()? {
                bail!("the service exited during the warm-up: {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }

        write_paced(a, &shared, &mut out)?;

        let deadline = Instant::now() + Duration::from_secs(a.drain_timeout_secs);
        while shared
            .count
            .iter()
            .any(|c| c.load(Ordering::Acquire) < expected as u64)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    })();

    stop_service(&mut child)?;
    stop.store(true, Ordering::SeqCst);
    let _ = tail.join();
    match amqp.join() {
        Ok(Err(e)) => eprintln!("warning: AMQP consumer: {e:#}"),
        Err(_) => eprintln!("warning: AMQP consumer panicked"),
        Ok(Ok(())) => {}
    }
    if let Err(e) = endpoints::amqp_delete(url, &queue) {
        eprintln!("warning: deleting {queue}: {e:#}");
    }
    result?;

    let mut figs = Vec::new();
    for (s, recv) in shared.recv.iter().enumerate() {
        let r = recv.lock().unwrap_or_else(|p| p.into_inner());
        if r.duplicates != 0 || r.unknown != 0 {
            eprintln!(
                "warning: {}: {} duplicates, {} unrecognised records",
                SINKS[s], r.duplicates, r.unknown
            );
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        let mut p = [0.0; 5];
        for (i, (_, q)) in QUANTILES.iter().enumerate() {
            p[i] = ms(r.hist.value_at_quantile(*q));
        }
        p[4] = ms(r.hist.max());
        figs.push(Figures {
            received: r.measured,
            p,
        });
    }
    Ok(figs)
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes `rate × secs` alerts and the background, one `write` per 1 ms
/// tick (ticks that fall behind are written at once, each with its own `ts`).
fn write_paced(a: &Args, shared: &Shared, out: &mut std::fs::File) -> Result<()> {
    let background = a.events - 2 * a.rate;
    let ticks = a.secs * 1000;
    let (mut alerts_done, mut bg_done) = (0u64, 0u64);
    let mut buf = Vec::with_capacity(64 * 1024);
    let start = Instant::now();
    for tick in 1..=ticks {
        let due = start + Duration::from_millis(tick);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let alerts_to = a.rate * tick / 1000;
        let bg_to = background * tick / 1000;
        let ts = wall_ms();
        buf.clear();
        while bg_done < bg_to {
            let (g, j) = (bg_done / 4, bg_done % 4);
            let (c, s) = (g % 997, g % 61);
            if j == 0 {
                writeln!(
                    buf,
                    r##"{{"id":"bo-{g}","#shares":100,"client":"c-{c}","stock":"S{s}","ts":{ts}}}"##
                )?;
            } else {
                writeln!(
                    buf,
                    r##"{{"id":"bp-{g}-{j}","initial_order_id":"bo-{g}","#shares":10,"client":"c-{c}","stock":"S{s}","ts":{ts}}}"##
                )?;
            }
            bg_done += 1;
        }
        let first = alerts_done;
        while alerts_done < alerts_to {
            let k = alerts_done;
            let (c, s) = (k % 991, k % 53);
            writeln!(
                buf,
                r##"{{"id":"o-{k}","#shares":100,"client":"c-{c}","stock":"S{s}","ts":{ts}}}"##
            )?;
            writeln!(
                buf,
                r##"{{"id":"p-{k}","initial_order_id":"o-{k}","#shares":120,"client":"c-{c}","stock":"S{s}","ts":{ts}}}"##
            )?;
            alerts_done += 1;
        }
        // The moment the bytes become visible to the service's reader.
        let at = shared.now_ns() + 1;
        for k in first..alerts_done {
            shared.written[k as usize].store(at, Ordering::Release);
        }
        out.write_all(&buf)?;
    }
    let late = start.elapsed().as_secs_f64() - a.secs as f64;
    if late > 0.05 {
        eprintln!("warning: the writer finished {late:.3} s behind schedule");
    }
    Ok(())
}

/// Tails `path` (waiting for it to appear), handing each complete line to
/// sink 0 with the time of the `read` that returned it.
fn spawn_tail(
    path: PathBuf,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    poll: Duration,
) -> Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("bench-tail".into())
        .spawn(move || {
            let mut file = None;
            let mut pending: Vec<u8> = Vec::with_capacity(1 << 20);
            let mut chunk = vec![0u8; 1 << 16];
            while !stop.load(Ordering::Relaxed) {
                let Some(f) = file.as_mut() else {
                    file = std::fs::File::open(&path).ok();
                    std::thread::sleep(poll);
                    continue;
                };
                let n = match f.read(&mut chunk) {
                    Ok(0) | Err(_) => {
                        std::thread::sleep(poll);
                        continue;
                    }
                    Ok(n) => n,
                };
                let at = shared.now_ns();
                pending.extend_from_slice(&chunk[..n]);
                let mut from = 0;
                while let Some(i) = pending[from..].iter().position(|&b| b == b'\n') {
                    shared.arrived(0, at, &pending[from..from + i]);
                    from += i + 1;
                }
                pending.drain(..from);
            }
        })?)
}

/// SIGTERM, then up to 20 s for a graceful exit, then SIGKILL.
fn stop_service(child: &mut Child) -> Result<()> {
    if child.try_wait()?.is_some() {
        eprintln!("warning: the service had already exited");
        return Ok(());
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()?;
    if !status.success() {
        eprintln!("warning: kill -TERM {} failed", child.id());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("warning: the service ignored SIGTERM for 20 s; killing it");
    child.kill()?;
    child.wait()?;
    Ok(())
}
