//! Takeover times of a sync pair under a paced stream: SIGKILL of the
//! active (the process dies, the kernel closes its sockets: the broker frees
//! the lease at once) and SIGSTOP of the active (a silent loss: no FIN, the
//! broker frees the lease only when heartbeats are missed).
//!
//! Per takeover: the gap between the last alert the old active shipped and
//! the first one the new active shipped (both at the HTTP receiver, told
//! apart by `Aldebaran-Epoch`), and the time from the signal to that first
//! alert. Between takeovers the dead node is restarted and the bench waits
//! until it is a synced standby again, then lets the stream run a second.

use std::{
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{node::Node, receiver::Receiver};

/// One takeover's figures, in ms.
pub struct Takeover {
    pub gap_ms: f64,
    pub signal_to_first_ms: f64,
}

/// Which node is the active now, and its epoch.
fn active(nodes: &mut [Node]) -> Result<(usize, u64)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (i, n) in nodes.iter_mut().enumerate() {
            n.check_running()?;
            if let Some(v) = n.status()
                && v["role"] == "active"
            {
                return Ok((i, v["epoch"].as_u64().context("an epoch")?));
            }
        }
        if Instant::now() > deadline {
            bail!("no node became active within 60 s");
        }
        sleep(Duration::from_millis(50));
    }
}

/// Waits until node `i` is a standby that is in sync.
pub fn wait_synced_standby(nodes: &mut [Node], i: usize) -> Result<()> {
    nodes[i].wait("a synced standby", Duration::from_secs(120), |v| {
        v["role"] == "standby" && v["synced"] == true
    })?;
    Ok(())
}

/// One takeover: `signal` ("KILL" or "STOP") to the active, measured at the
/// receiver; then the old active is killed (if stopped) and restarted as
/// the new standby. Returns None when no alert arrived within 30 s (the
/// stream has ended).
pub fn one(nodes: &mut [Node], rx: &Receiver, signal: &str) -> Result<Option<Takeover>> {
    let (a, epoch) = active(nodes)?;
    wait_synced_standby(nodes, 1 - a)?;
    sleep(Duration::from_secs(1));
    // The generated stream interleaves 10k orders: its first alerts come
    // some seconds after its start.
    let deadline = Instant::now() + Duration::from_secs(120);
    while rx.len() == 0 {
        if Instant::now() > deadline {
            bail!("no alert has arrived at the receiver within 120 s: is the stream flowing?");
        }
        sleep(Duration::from_millis(50));
    }
    let from = rx.len();
    let t0 = Instant::now();
    if signal == "KILL" {
        nodes[a].kill()?;
    } else {
        nodes[a].signal(signal)?;
    }
    let deadline = t0 + Duration::from_secs(30);
    let (i, first) = loop {
        if let Some(f) = rx.first_above(from.saturating_sub(1), epoch) {
            break f;
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        sleep(Duration::from_millis(1));
    };
    let all = rx.arrivals();
    let last_old = all[..i]
        .iter()
        .rev()
        .find(|x| x.epoch <= epoch)
        .context("an alert of the old active")?;
    let t = Takeover {
        gap_ms: first.at.duration_since(last_old.at).as_secs_f64() * 1e3,
        signal_to_first_ms: first.at.duration_since(t0).as_secs_f64() * 1e3,
    };
    nodes[a].kill()?;
    nodes[a].start()?;
    wait_synced_standby(nodes, a)?;
    Ok(Some(t))
}
