//! What the pair costs against a single node, side by side: the same input,
//! the same broker, one after the other in one run.
//!
//! - throughput: with the node(s) up and (for a pair) the standby in sync,
//!   a backlog file is published at full speed, 100 events per message;
//!   events/s from the publish's start to the active's last input ack
//!   (`aldebaran_source_acked_total` reaching the message count). With sync
//!   replication the active acks a message only once the standby has
//!   acknowledged it, so this is where sync costs. The publisher and the
//!   broker share the machine's cores with the node(s), as in production on
//!   one host they would not.
//! - latency: a paced stream (10 events per message) into the node(s) with
//!   an HTTP sink; per alert, its arrival at the receiver − its
//!   `detected_at` (the journal's fsync, the release gate, which under sync
//!   waits for the standby's ack, the cursor's in-flight mark — in a pair
//!   mirrored to the standby, which installs it durably, before the send —
//!   and the HTTP send). Run twice: steady (alerts slower than the sink can
//!   take them: the latency) and a burst (faster: the sink's shipping rate,
//!   alerts/s from the first arrival to the last).

use std::{
    path::Path,
    process::Command,
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;

use crate::{
    node::{Node, NodeSpec, Setup},
    queue::Queue,
    receiver::Receiver,
    takeover::wait_synced_standby,
};

pub struct Throughput {
    pub events_per_s: f64,
    pub publish_events_per_s: f64,
    pub peak_rss_mib: f64,
}

pub struct Latency {
    pub alerts: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Alerts/s at the receiver from its first arrival to its last: the
    /// shipping rate when alerts come faster than the sink takes them.
    pub ship_per_s: f64,
}

/// Starts the node(s) of `setup`: a pair's `a` first, until active, then
/// `b` until it is a synced standby.
fn start(bin: &Path, dir: &Path, q: &Queue, http: Option<&str>, setup: Setup) -> Result<Vec<Node>> {
    let spec = NodeSpec {
        queue: &q.name,
        http,
        setup,
    };
    let mut nodes = Node::create(bin, dir, &spec)?;
    nodes[0].start()?;
    if setup == Setup::Single {
        q.wait_consumer()?;
        return Ok(nodes);
    }
    nodes[0].wait("active", Duration::from_secs(60), |v| v["role"] == "active")?;
    nodes[1].start()?;
    wait_synced_standby(&mut nodes, 1)?;
    Ok(nodes)
}

fn stop(nodes: &mut [Node]) -> Result<()> {
    // The standby first, so the active does not fail over to it.
    for n in nodes.iter_mut().rev() {
        n.terminate()?;
    }
    Ok(())
}

pub fn throughput(
    bin: &Path,
    dir: &Path,
    file: &Path,
    events: u64,
    setup: Setup,
) -> Result<Throughput> {
    let q = Queue::declare(bin, "tput")?;
    let mut nodes = start(bin, dir, &q, None, setup)?;
    let messages = events.div_ceil(100) as f64;
    let t0 = Instant::now();
    publish(bin, file, &q, &["--batch", "100", "--in-flight", "512"])?;
    let published = t0.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while nodes[0]
        .metric("aldebaran_source_acked_total")
        .unwrap_or(0.0)
        < messages
    {
        nodes[0].check_running()?;
        if Instant::now() > deadline {
            bail!("the active did not ack the {messages} messages within 10 min");
        }
        sleep(Duration::from_millis(5));
    }
    let drained = t0.elapsed();
    let peak = nodes
        .iter()
        .filter_map(Node::peak_rss_mib)
        .fold(0.0, f64::max);
    stop(&mut nodes)?;
    Ok(Throughput {
        events_per_s: events as f64 / drained.as_secs_f64(),
        publish_events_per_s: events as f64 / published.as_secs_f64(),
        peak_rss_mib: peak,
    })
}

pub fn latency(bin: &Path, dir: &Path, file: &Path, rate: u64, setup: Setup) -> Result<Latency> {
    let rx = Receiver::start()?;
    let q = Queue::declare(bin, "lat")?;
    let mut nodes = start(bin, dir, &q, Some(&rx.url), setup)?;
    publish(
        bin,
        file,
        &q,
        &["--batch", "10", "--rate", &rate.to_string()],
    )?;
    // Let the last alerts arrive: until the receiver has been quiet 1 s.
    let mut seen = rx.len();
    loop {
        sleep(Duration::from_secs(1));
        let n = rx.len();
        if n == seen {
            break;
        }
        seen = n;
    }
    stop(&mut nodes)?;
    let mut h = Histogram::<u64>::new(3)?;
    for a in rx.arrivals() {
        if let Some(us) = a.latency_us {
            h.record(us.max(1))?;
        }
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
    let all = rx.arrivals();
    let span = match (all.first(), all.last()) {
        (Some(a), Some(b)) => b.at.duration_since(a.at).as_secs_f64(),
        _ => 0.0,
    };
    Ok(Latency {
        ship_per_s: if span > 0.0 {
            (all.len() - 1) as f64 / span
        } else {
            f64::NAN
        },
        alerts: h.len(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: h.max() as f64 / 1e3,
    })
}

/// `aldebaran publish FILE --queue Q` with `flags`, to its end.
fn publish(bin: &Path, file: &Path, q: &Queue, flags: &[&str]) -> Result<()> {
    let out = Command::new(bin)
        .arg("publish")
        .args(flags)
        .args(["--queue", &q.name])
        .arg(file)
        .output()
        .context("aldebaran publish")?;
    if !out.status.success() {
        bail!("publish failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
