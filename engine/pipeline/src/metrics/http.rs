//! The metrics endpoint: `GET /metrics` and `GET /healthz` (what
//! [`Health`] says, as JSON) on one thread.

use std::{
    io,
    net::{SocketAddr, TcpListener},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use tiny_http::{Header, Method, Request, Response, Server};

use super::{Health, Metrics, registry::CONTENT_TYPE};

/// A running metrics endpoint. [`MetricsServer::stop`] (or dropping it)
/// unblocks and joins its thread.
pub struct MetricsServer {
    addr: SocketAddr,
    server: Arc<Server>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the endpoint on `addr` (`host:port`; port 0 picks a free one).
/// A bad or busy address is an error naming it.
pub fn serve(addr: &str, metrics: Arc<Metrics>, health: Arc<Health>) -> io::Result<MetricsServer> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("metrics address {addr:?}: {e}"));
    let listener = TcpListener::bind(addr).map_err(named)?;
    let local = listener.local_addr().map_err(named)?;
    let server = Server::from_listener(listener, None)
        .map_err(|e| named(io::Error::other(e.to_string())))?;
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn({
            let server = Arc::clone(&server);
            let stopping = Arc::clone(&stopping);
            move || run(&server, &stopping, &metrics, &health)
        })?;
    tracing::info!(addr = %local, "Metrics endpoint listening.");
    Ok(MetricsServer {
        addr: local,
        server,
        stopping,
        thread: Some(thread),
    })
}

impl MetricsServer {
    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopping.store(true, Ordering::Release);
            self.server.unblock();
            if thread.join().is_err() {
                tracing::error!("the metrics thread panicked");
            }
        }
    }
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(server: &Server, stopping: &AtomicBool, metrics: &Metrics, health: &Health) {
    loop {
        let request = server.recv();
        if stopping.load(Ordering::Acquire) {
            return;
        }
        match request {
            Ok(request) => answer(request, metrics, health),
            Err(e) => tracing::debug!(error = %e, "Metrics endpoint accept failed."),
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("static header is valid")
}

fn answer(request: Request, metrics: &Metrics, health: &Health) {
    let path = request.url().split('?').next().unwrap_or_default();
    let get = *request.method() == Method::Get;
    let response = match (get, path) {
        (true, "/metrics") => {
            Response::from_data(metrics.render()).with_header(header("Content-Type", CONTENT_TYPE))
        }
        (true, "/healthz") => {
            let verdict = health.verdict();
            Response::from_string(verdict.to_json())
                .with_status_code(verdict.status())
                .with_header(header("Content-Type", "application/json"))
        }
        _ => Response::from_string("not found").with_status_code(404),
    };
    if let Err(e) = request.respond(response) {
        tracing::debug!(error = %e, "Metrics client went away.");
    }
}
