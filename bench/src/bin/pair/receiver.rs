//! The HTTP receiver both nodes of the pair ship to: it answers 200 and
//! records, per request, when it arrived (one monotonic clock for the
//! takeover gaps, the wall clock against the alert's `detected_at` for the
//! delivery latency) and the `Aldebaran-Epoch` of the node that sent it.

use std::{
    sync::{Arc, Mutex, PoisonError},
    thread,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, anyhow};

/// One alert as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    /// `Aldebaran-Epoch` (0 when absent: a single node ships without one).
    pub epoch: u64,
    /// Wall clock at arrival − the alert's `detected_at`, in µs (None when
    /// the body has no `detected_at`).
    pub latency_us: Option<u64>,
}

pub struct Receiver {
    pub url: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl Receiver {
    pub fn start() -> Result<Self> {
        let server =
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow!("http receiver: {e}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .context("http receiver has no IP address")?
            .port();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&arrivals);
        thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let at = Instant::now();
                let wall_ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                let epoch = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Aldebaran-Epoch"))
                    .and_then(|h| h.value.as_str().parse().ok())
                    .unwrap_or(0);
                let mut body = String::new();
                let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
                let latency_us = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["detected_at"].as_u64())
                    .map(|d| wall_ns.saturating_sub(d) / 1_000);
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Arrival {
                        at,
                        epoch,
                        latency_us,
                    });
                let _ = req.respond(tiny_http::Response::empty(200));
            }
        });
        Ok(Receiver {
            url: format!("http://127.0.0.1:{port}/alerts"),
            arrivals,
        })
    }

    /// The arrivals so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn len(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The first arrival at or after index `from` shipped under an epoch
    /// above `epoch`, with its index.
    pub fn first_above(&self, from: usize, epoch: u64) -> Option<(usize, Arrival)> {
        let a = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        a.iter()
            .enumerate()
            .skip(from)
            .find(|(_, x)| x.epoch > epoch)
            .map(|(i, x)| (i, x.clone()))
    }
}
