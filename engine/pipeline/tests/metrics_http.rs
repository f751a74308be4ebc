//! The metrics endpoint over a real socket: `/metrics`, `/healthz`, 404s, a
//! bad address, and a clean stop. Requests are plain HTTP/1.0 over a std
//! `TcpStream`, as a minimal scraper would send them.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::Arc,
    time::Duration,
};

use pipeline::metrics::{BatchObservation, Health, Metrics, serve};

/// Sends `GET path` and returns (status code, headers, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn serves_metrics_and_health() {
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new());
    let server = serve("127.0.0.1:0", Arc::clone(&metrics), Arc::clone(&health)).expect("serve");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    metrics.record_batch(&BatchObservation {
        events_in: 5,
        accepted: 4,
        rejected: &[("bad_json", 1)],
        alerts: &[("overfill", 2)],
        batch_events: 4,
        process_ns: 120_000,
        open_keys: 3,
    });
    metrics.record_durable(500_000, &[600_000; 4]);

    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    // OpenMetrics text: the content type says so, and a counter's TYPE line
    // names the family without the `_total` its sample carries.
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert_eq!(head.matches("content-type:").count(), 1, "{head}");
    assert!(body.contains("# TYPE aldebaran_events_in counter\n"));
    assert!(body.contains("\naldebaran_events_in_total 5\n"), "{body}");
    assert!(body.contains("\naldebaran_events_rejected_total{reason=\"bad_json\"} 1\n"));
    assert!(body.contains("\naldebaran_alerts_total{kind=\"overfill\"} 2\n"));
    assert!(body.contains("\naldebaran_e2e_latency_seconds_count 4\n"));
    assert!(body.contains("\naldebaran_open_keys 3\n"));

    let (status, head, body) = get(addr, "/healthz");
    assert_eq!(status, 503);
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        body.contains(r#""status":"not ready""#) && body.contains("starting"),
        "{body}"
    );
    health.set_ready(true);
    let (status, _, body) = get(addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    health.set_ready(false);
    let (status, _, body) = get(addr, "/healthz");
    assert_eq!(status, 503);
    assert!(body.contains("shutting down"), "{body}");

    assert_eq!(get(addr, "/").0, 404);
    assert_eq!(get(addr, "/metrics/extra").0, 404);

    server.stop();
}

#[test]
fn a_bad_address_is_an_error_naming_it() {
    let m = Arc::new(Metrics::new());
    let h = Arc::new(Health::new());
    let e = serve("not-an-address", Arc::clone(&m), Arc::clone(&h)).expect_err("bad address");
    assert!(e.to_string().contains("not-an-address"), "{e}");

    let first = serve("127.0.0.1:0", Arc::clone(&m), Arc::clone(&h)).expect("serve");
    let busy = first.local_addr().to_string();
    let e = serve(&busy, m, h).expect_err("address in use");
    assert!(e.to_string().contains(&busy), "{e}");
    first.stop();
}

#[test]
fn dropping_the_server_stops_it() {
    let server = serve(
        "127.0.0.1:0",
        Arc::new(Metrics::new()),
        Arc::new(Health::new()),
    )
    .expect("serve");
    assert_eq!(get(server.local_addr(), "/healthz").0, 503);
    drop(server);
}
