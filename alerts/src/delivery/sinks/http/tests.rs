//! Tests of `HttpSink` against a real HTTP server on 127.0.0.1 (tiny_http),
//! a listener that never answers, and a closed port.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::config::{DEFAULT_MODE, HttpFormat, HttpSinkConfig, MODES};
use super::sink::{HttpSink, classify};
use crate::delivery::mode::DeliveryMode;
use crate::delivery::sink::{Outgoing, SendError, Sink};
use crate::delivery::test_fixtures::{overfill, overfill_fields, send_one};

/// One request as the server saw it.
#[derive(Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request per entry of `replies` (status, body), then returns
/// what it saw.
fn serve(replies: &[(u16, &str)]) -> (String, thread::JoinHandle<Vec<Seen>>) {
    let replies: Vec<(u16, String)> = replies.iter().map(|(s, b)| (*s, b.to_string())).collect();
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let port = server.server_addr().to_ip().expect("ip").port();
    let handle = thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, body) in replies {
            let mut req = server.recv().expect("recv");
            let mut buf = Vec::new();
            req.as_reader().read_to_end(&mut buf).expect("body");
            seen.push(Seen {
                method: req.method().to_string(),
                path: req.url().to_string(),
                headers: req
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string(), h.value.to_string()))
                    .collect(),
                body: buf,
            });
            let resp = tiny_http::Response::from_string(body).with_status_code(status);
            req.respond(resp).expect("respond");
        }
        seen
    });
    (format!("http://127.0.0.1:{port}/hooks/alerts?x=1"), handle)
}

fn config(url: &str) -> HttpSinkConfig {
    toml_like(&format!(r#"{{"url": "{url}"}}"#))
}

/// Configs are read with serde in production; tests go through the same
/// path (JSON here, since the crate has no TOML dependency).
fn toml_like(json: &str) -> HttpSinkConfig {
    serde_json::from_str(json).expect("config")
}

fn alert(seq: u64, order: &str) -> Outgoing {
    overfill(seq, order)
}

#[test]
fn json_post_carries_record_and_idempotency_key() {
    let (url, server) = serve(&[(200, "ok"), (204, "")]);
    let mut cfg = config(&url);
    cfg.headers.insert("X-Tenant".into(), "desk-7".into());
    let mut sink = HttpSink::new(cfg, &overfill_fields()).expect("sink");
    assert_eq!(sink.max_batch(), 1);
    let (a, b) = (alert(1, "o-1"), alert(2, "o-2"));
    sink.send(std::slice::from_ref(&a)).expect("first");
    sink.send(std::slice::from_ref(&b)).expect("second");

    let seen = server.join().expect("server");
    for (s, rec) in seen.iter().zip([&a, &b]) {
        assert_eq!(s.method, "POST");
        assert_eq!(s.path, "/hooks/alerts?x=1");
        assert_eq!(s.header("Idempotency-Key"), Some(rec.alert_id.as_str()));
        assert_eq!(s.header("Content-Type"), Some("application/json"));
        assert_eq!(s.header("X-Tenant"), Some("desk-7"));
        assert_eq!(s.body, rec.json);
    }
}

#[test]
fn the_epoch_rides_in_the_aldebaran_epoch_header() {
    let (url, server) = serve(&[(200, ""), (200, "")]);
    let mut sink = HttpSink::new(config(&url), &overfill_fields()).expect("sink");
    let mut fenced = alert(2, "o-2");
    fenced.epoch = 12;
    send_one(&mut sink, alert(1, "o-1")).expect("first");
    send_one(&mut sink, fenced).expect("second");
    let seen = server.join().expect("server");
    assert_eq!(
        seen[0].header("Aldebaran-Epoch"),
        None,
        "none without a pair"
    );
    assert_eq!(seen[1].header("Aldebaran-Epoch"), Some("12"));
    // The sink owns the header: a config cannot set one of its own.
    let mut cfg = config("http://127.0.0.1:1/");
    cfg.headers.insert("aldebaran-epoch".into(), "1".into());
    let err = HttpSink::new(cfg, &overfill_fields()).expect_err("refused");
    assert!(err.to_string().contains("set by the sink"), "{err}");
}

#[test]
fn twilio_style_form_with_basic_auth() {
    let (url, server) = serve(&[(201, r#"{"sid":"SM1"}"#)]);
    let cfg = toml_like(&format!(
        r#"{{"url": "{url}", "format": "form", "username": "AC123", "password": "tok en",
            "form": {{"To": "+15550001", "From": "+15550002",
                      "Body": "Aldebaran {{kind}} on order {{order_id}}: {{filled}} of {{requested}} filled{{event_ts}}"}}}}"#
    ));
    let mut sink = HttpSink::new(cfg, &overfill_fields()).expect("sink");
    send_one(&mut sink, alert(3, "o&3")).expect("sent");

    let seen = server.join().expect("server");
    let s = &seen[0];
    assert_eq!(
        s.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(s.header("Idempotency-Key"), Some("overfill:o&3"));
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("AC123:tok en")
    );
    assert_eq!(s.header("Authorization"), Some(expected_auth.as_str()));
    let body = String::from_utf8(s.body.clone()).expect("utf8");
    let mut fields: Vec<&str> = body.split('&').collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "Body=Aldebaran+overfill+on+order+o%263%3A+150+of+100+filled",
            "From=%2B15550002",
            "To=%2B15550001",
        ]
    );
}

#[test]
fn password_from_environment_variable() {
    // PATH is set wherever tests run; setting a variable of our own would
    // race with the other tests reading the environment.
    let path = std::env::var("PATH").expect("PATH");
    let (url, server) = serve(&[(200, "")]);
    let mut cfg = config(&url);
    cfg.username = Some("u".into());
    cfg.password_env = Some("PATH".into());
    let mut sink = HttpSink::new(cfg, &overfill_fields()).expect("sink");
    send_one(&mut sink, alert(1, "o")).expect("sent");
    let seen = server.join().expect("server");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("u:{path}"))
    );
    assert_eq!(seen[0].header("Authorization"), Some(expected.as_str()));
}

#[test]
fn server_errors_are_transient_client_errors_permanent() {
    let long = "x".repeat(500);
    let (url, server) = serve(&[
        (503, "busy"),
        (400, "bad To number"),
        (422, &long),
        (429, ""),
    ]);
    let mut sink = HttpSink::new(config(&url), &overfill_fields()).expect("sink");

    let e = send_one(&mut sink, alert(1, "a")).expect_err("503");
    assert_eq!(e, SendError::Transient("HTTP 503: busy".into()));
    let e = send_one(&mut sink, alert(1, "a")).expect_err("400");
    assert_eq!(e, SendError::Permanent("HTTP 400: bad To number".into()));
    let e = send_one(&mut sink, alert(1, "a")).expect_err("422");
    assert_eq!(
        e,
        SendError::Permanent(format!("HTTP 422: {}", &long[..200]))
    );
    let e = send_one(&mut sink, alert(1, "a")).expect_err("429");
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
    server.join().expect("server");
}

#[test]
fn a_redirect_is_not_followed_and_pauses_the_sink() {
    let (url, server) = serve(&[(302, ""), (404, "no such hook")]);
    let mut sink = HttpSink::new(config(&url), &overfill_fields()).expect("sink");
    let e = send_one(&mut sink, alert(1, "a")).expect_err("302");
    assert!(
        matches!(&e, SendError::EndpointDown(r) if r.starts_with("HTTP 302")),
        "{e:?}"
    );
    let e = send_one(&mut sink, alert(1, "a")).expect_err("404");
    assert_eq!(e, SendError::EndpointDown("HTTP 404: no such hook".into()));
    assert_eq!(server.join().expect("server").len(), 2);
}

#[test]
fn silent_server_times_out_as_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and hold the connection without ever answering.
    let holder = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        // Read (and ignore) until the client gives up and closes; the read
        // timeout only bounds a broken test.
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = std::io::copy(&mut conn, &mut std::io::sink());
    });
    let mut cfg = config(&format!("http://127.0.0.1:{port}/"));
    cfg.timeout_ms = 200;
    let mut sink = HttpSink::new(cfg, &overfill_fields()).expect("sink");
    let start = Instant::now();
    let e = send_one(&mut sink, alert(1, "a")).expect_err("timeout");
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    holder.join().expect("holder");
}

#[test]
fn refused_connection_is_transient() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut sink = HttpSink::new(
        config(&format!("http://127.0.0.1:{port}/")),
        &overfill_fields(),
    )
    .expect("sink");
    let e = send_one(&mut sink, alert(1, "a")).expect_err("refused");
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
}

#[test]
fn construction_validates_without_connecting() {
    // Nothing listens on port 9 of a TEST-NET address: building must not care.
    assert!(HttpSink::new(config("https://192.0.2.1:9/x"), &overfill_fields()).is_ok());
    let bad = |json: &str| {
        HttpSink::new(toml_like(json), &overfill_fields())
            .expect_err(json)
            .to_string()
    };
    assert!(bad(r#"{"url": "ftp://h/x"}"#).contains("not an http(s) URL"));
    assert!(bad(r#"{"url": "no url"}"#).contains("url"));
    assert!(
        bad(r#"{"url": "http://h/", "format": "form", "form": {"B": "{oops}"}}"#)
            .contains("{oops}")
    );
    assert!(bad(r#"{"url": "http://h/", "format": "form"}"#).contains("form"));
    assert!(bad(r#"{"url": "http://h/", "form": {"B": "x"}}"#).contains("format"));
    assert!(
        bad(r#"{"url": "http://h/", "headers": {"Idempotency-Key": "x"}}"#)
            .contains("set by the sink")
    );
    assert!(bad(r#"{"url": "http://h/", "password": "p"}"#).contains("username"));
    assert!(bad(r#"{"url": "http://h/", "username": "a:b"}"#).contains("':'"));
    assert!(bad(r#"{"url": "http://h/", "timeout_ms": 0}"#).contains("timeout_ms"));
    let unknown = serde_json::from_str::<HttpSinkConfig>(r#"{"url": "http://h/", "methd": "PUT"}"#);
    assert!(
        unknown
            .expect_err("unknown key")
            .to_string()
            .contains("methd")
    );
}

#[test]
fn config_defaults_and_redacted_debug() {
    let cfg = toml_like(r#"{"url": "http://h/", "username": "u", "password": "hunter2"}"#);
    assert_eq!(cfg.timeout_ms, 5000);
    assert_eq!(cfg.format, HttpFormat::Json);
    assert!(!format!("{cfg:?}").contains("hunter2"));
    assert_eq!(DEFAULT_MODE, DeliveryMode::ExactlyOnce);
    assert!(MODES.contains(&DEFAULT_MODE) && MODES.len() == 3);
}

#[test]
fn classify_maps_every_status_class() {
    assert_eq!(classify(200, b""), Ok(()));
    assert_eq!(classify(299, b""), Ok(()));
    for s in [408, 429, 500, 502, 599] {
        assert!(
            matches!(classify(s, b""), Err(SendError::Transient(_))),
            "{s}"
        );
    }
    // The alert itself is refused: dead-lettered, the shipper moves on.
    for s in [400, 402, 406, 409, 411, 413, 415, 422, 451, 499] {
        assert!(
            matches!(classify(s, b""), Err(SendError::Permanent(_))),
            "{s}"
        );
    }
    // The endpoint or the credentials are wrong: every alert would get the
    // same answer, so the sink pauses instead of dead-lettering them all.
    for s in [301, 302, 304, 307, 308, 401, 403, 404, 405, 407, 410] {
        assert!(
            matches!(classify(s, b""), Err(SendError::EndpointDown(_))),
            "{s}"
        );
    }
    let Err(SendError::EndpointDown(reason)) = classify(404, b"  no such hook\n") else {
        panic!("404 pauses");
    };
    assert_eq!(reason, "HTTP 404: no such hook");
}

#[test]
fn json_template_posts_an_object_of_rendered_strings() {
    let (url, server) = serve(&[(200, "ok")]);
    let cfg = toml_like(&format!(
        r##"{{"url": "{url}", "format": "json-template",
            "json": {{"text": "Aldebaran {{kind}}: order {{order_id}} ({{filled}} of {{requested}}) \"quoted\"",
                      "channel": "#desk", "ts": "{{event_ts}}"}}}}"##
    ));
    let mut sink = HttpSink::new(cfg, &overfill_fields()).expect("sink");
    let rec = alert(4, "o-4");
    send_one(&mut sink, rec.clone()).expect("sent");

    let seen = server.join().expect("server");
    let s = &seen[0];
    assert_eq!(s.header("Content-Type"), Some("application/json"));
    assert_eq!(s.header("Idempotency-Key"), Some(rec.alert_id.as_str()));
    let body: serde_json::Value = serde_json::from_slice(&s.body).expect("a JSON body");
    assert_eq!(
        body,
        serde_json::json!({
            "text": "Aldebaran overfill: order o-4 (150 of 100) \"quoted\"",
            "channel": "#desk",
            "ts": "",
        })
    );
}

#[test]
fn json_template_is_checked_at_construction() {
    let bad = |json: &str| {
        HttpSink::new(toml_like(json), &overfill_fields())
            .expect_err(json)
            .to_string()
    };
    let e = bad(
        r#"{"url": "http://h/", "format": "json-template", "json": {"text": "{shares} sold"}}"#,
    );
    assert!(
        e.contains(
            "json.text: unknown placeholder {shares} in template \"{shares} sold\": the \
             configured jobs (overfill) have no field shares; known: seq, alert_id, kind, order_id"
        ),
        "{e}"
    );
    let e = bad(r#"{"url": "http://h/", "format": "json-template"}"#);
    assert!(e.contains("needs a `json` table"), "{e}");
    let e = bad(r#"{"url": "http://h/", "json": {"text": "x"}}"#);
    assert!(e.contains("`json` is set but `format` is not"), "{e}");
    let e =
        bad(r#"{"url": "http://h/", "format": "form", "form": {"A": "x"}, "json": {"text": "x"}}"#);
    assert!(e.contains("`json` is set"), "{e}");
    let e = bad(
        r#"{"url": "http://h/", "format": "json-template", "json": {"t": "x"}, "form": {"A": "x"}}"#,
    );
    assert!(e.contains("`form` is set"), "{e}");
    assert_eq!(
        toml_like(r#"{"url": "http://h/", "format": "json-template"}"#).format,
        HttpFormat::JsonTemplate
    );
}

#[test]
fn a_form_template_naming_an_unknown_field_is_refused() {
    let e = HttpSink::new(
        toml_like(r#"{"url": "http://h/", "format": "form", "form": {"Body": "{shares}"}}"#),
        &overfill_fields(),
    )
    .expect_err("unknown field")
    .to_string();
    assert!(
        e.contains("form.Body: unknown placeholder {shares}")
            && e.contains("the configured jobs (overfill) have no field shares"),
        "{e}"
    );
}
