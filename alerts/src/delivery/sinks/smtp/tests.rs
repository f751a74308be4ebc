//! Tests of `SmtpSink` against a scripted SMTP server on 127.0.0.1 (enough of
//! RFC 5321 for one message), and of the Message-ID encoding.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::config::{DEFAULT_MODE, MODES, SmtpSinkConfig, SmtpTls};
use super::sink::{SmtpSink, classify, message_id, summary};
use crate::delivery::mode::DeliveryMode;
use crate::delivery::sink::{Outgoing, SendError, Sink};
use crate::delivery::template::record_fields;
use crate::delivery::test_fixtures::{overfill, overfill_fields, send_one};

/// What the server received on one connection.
#[derive(Debug, Default)]
struct Session {
    commands: Vec<String>,
    data: String,
}

/// Serves one SMTP connection. `overrides` replaces the reply to a verb
/// (`"RCPT"`, `"DATA"`, …) with a canned one, to script failures.
fn smtp_server(
    overrides: &'static [(&'static str, &'static str)],
) -> (u16, thread::JoinHandle<Session>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut out = stream.try_clone().expect("clone");
        let mut lines = BufReader::new(stream);
        let mut session = Session::default();
        let reply = |out: &mut std::net::TcpStream, text: &str| {
            out.write_all(format!("{text}\r\n").as_bytes())
                .expect("write");
        };
        reply(&mut out, "220 test.local ESMTP");
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).expect("read") == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            session.commands.push(line);
            if let Some((_, canned)) = overrides.iter().find(|(v, _)| *v == verb) {
                reply(&mut out, canned);
                continue;
            }
            match verb.as_str() {
                "EHLO" => reply(&mut out, "250-test.local\r\n250 8BITMIME"),
                "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => reply(&mut out, "250 OK"),
                "DATA" => {
                    reply(&mut out, "354 go ahead");
                    loop {
                        let mut data_line = String::new();
                        if lines.read_line(&mut data_line).expect("read data") == 0 {
                            return session;
                        }
                        if data_line == ".\r\n" {
                            break;
                        }
                        session.data.push_str(&data_line);
                    }
                    reply(&mut out, "250 queued");
                }
                "QUIT" => {
                    reply(&mut out, "221 bye");
                    break;
                }
                _ => reply(&mut out, "500 unknown command"),
            }
        }
        session
    });
    (port, handle)
}

fn config(port: u16) -> SmtpSinkConfig {
    serde_json::from_str(&format!(
        r#"{{"host": "127.0.0.1", "port": {port}, "from": "Aldebaran <alerts@example.com>",
            "to": ["ops@example.com", "Desk <desk@example.com>"], "timeout_ms": 2000}}"#
    ))
    .expect("config")
}

fn alert(order: &str) -> Outgoing {
    overfill(4, order)
}

#[test]
fn mail_carries_headers_summary_and_record() {
    let (port, server) = smtp_server(&[]);
    let mut sink = SmtpSink::new(config(port), &overfill_fields()).expect("sink");
    assert_eq!(sink.max_batch(), 1);
    let rec = alert("o-1");
    send_one(&mut sink, rec.clone()).expect("sent");

    let s = server.join().expect("server");
    assert!(
        s.commands
            .iter()
            .any(|c| c == "MAIL FROM:<alerts@example.com>"),
        "{:?}",
        s.commands
    );
    assert!(s.commands.iter().any(|c| c == "RCPT TO:<ops@example.com>"));
    assert!(s.commands.iter().any(|c| c == "RCPT TO:<desk@example.com>"));
    let d = &s.data;
    assert!(
        d.contains("Message-ID: <overfill=3Ao-1@aldebaran>\r\n"),
        "{d}"
    );
    assert!(
        d.contains("From: Aldebaran <alerts@example.com>\r\n"),
        "{d}"
    );
    assert!(
        d.contains("To: ops@example.com, Desk <desk@example.com>\r\n"),
        "{d}"
    );
    assert!(
        d.contains("Subject: Aldebaran alert overfill: order o-1\r\n"),
        "{d}"
    );
    // lettre picks the transfer encoding (quoted-printable for long lines);
    // what the reader sees is the decoded text.
    let body = decode_quoted_printable(d.split_once("\r\n\r\n").expect("body").1);
    assert!(
        body.starts_with("Aldebaran alert overfill:o-1: order o-1 (client c1, stock ACME): 150 shares bought of 100 requested.\r\n\r\n"),
        "{body}"
    );
    let json = String::from_utf8(rec.json).expect("utf8");
    assert!(
        body.contains(&format!("\r\n{json}\r\n")),
        "record missing from body:\n{body}"
    );
}

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX`.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=')
            .then(|| std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf8 body")
}

#[test]
fn resent_alert_keeps_its_message_id() {
    let (p1, s1) = smtp_server(&[]);
    send_one(
        &mut SmtpSink::new(config(p1), &overfill_fields()).expect("sink"),
        alert("o-2"),
    )
    .expect("first");
    let (p2, s2) = smtp_server(&[]);
    send_one(
        &mut SmtpSink::new(config(p2), &overfill_fields()).expect("sink"),
        alert("o-2"),
    )
    .expect("second");
    let id = |s: Session| {
        s.data
            .lines()
            .find(|l| l.starts_with("Message-ID:"))
            .map(str::to_owned)
    };
    let first = id(s1.join().expect("s1"));
    assert!(first.is_some());
    assert_eq!(first, id(s2.join().expect("s2")));
}

#[test]
fn the_epoch_rides_in_the_x_aldebaran_epoch_header() {
    let header = |epoch| {
        let (port, server) = smtp_server(&[]);
        let mut rec = alert("o-3");
        rec.epoch = epoch;
        let mut sink = SmtpSink::new(config(port), &overfill_fields()).expect("sink");
        send_one(&mut sink, rec).expect("sent");
        let data = server.join().expect("server").data;
        data.lines()
            .find(|l| l.starts_with("X-Aldebaran-Epoch:"))
            .map(str::to_owned)
    };
    assert_eq!(header(0), None, "none without a pair");
    assert_eq!(header(3).as_deref(), Some("X-Aldebaran-Epoch: 3"));
}

#[test]
fn reply_451_to_data_is_transient() {
    let (port, server) = smtp_server(&[("DATA", "451 4.3.0 try again later")]);
    let mut sink = SmtpSink::new(config(port), &overfill_fields()).expect("sink");
    let e = send_one(&mut sink, alert("o-3")).expect_err("451");
    assert!(
        matches!(&e, SendError::Transient(r) if r.contains("451")),
        "{e:?}"
    );
    server.join().expect("server");
}

#[test]
fn reply_550_to_rcpt_is_permanent_with_the_reply() {
    let (port, server) = smtp_server(&[("RCPT", "550 5.1.1 no such user")]);
    let mut sink = SmtpSink::new(config(port), &overfill_fields()).expect("sink");
    let e = send_one(&mut sink, alert("o-4")).expect_err("550");
    assert!(
        matches!(&e, SendError::Permanent(r) if r.contains("550") && r.contains("no such user")),
        "{e:?}"
    );
    server.join().expect("server");
}

#[test]
fn an_authentication_refusal_pauses_the_sink() {
    let (port, server) = smtp_server(&[("MAIL", "530 5.7.0 Authentication required")]);
    let mut sink = SmtpSink::new(config(port), &overfill_fields()).expect("sink");
    let e = send_one(&mut sink, alert("o-7")).expect_err("530");
    assert!(
        matches!(&e, SendError::EndpointDown(r) if r.contains("530")),
        "{e:?}"
    );
    server.join().expect("server");
}

#[test]
fn classify_maps_replies() {
    let r = || "reply".to_owned();
    for code in [530, 534, 535, 538] {
        assert_eq!(
            classify(Some(code), true, r()),
            SendError::EndpointDown(r())
        );
    }
    for code in [550, 552, 553, 554] {
        assert_eq!(classify(Some(code), true, r()), SendError::Permanent(r()));
    }
    for code in [421, 450, 451, 452] {
        assert_eq!(classify(Some(code), false, r()), SendError::Transient(r()));
    }
    assert_eq!(classify(None, false, r()), SendError::Transient(r()));
}

#[test]
fn refused_connection_is_transient() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut sink = SmtpSink::new(config(port), &overfill_fields()).expect("sink");
    let e = send_one(&mut sink, alert("o-5")).expect_err("refused");
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
}

#[test]
fn silent_server_times_out_as_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and never send the greeting.
    let holder = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        // Read (and ignore) until the client gives up and closes; the read
        // timeout only bounds a broken test.
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = std::io::copy(&mut conn, &mut std::io::sink());
    });
    let mut cfg = config(port);
    cfg.timeout_ms = 200;
    let mut sink = SmtpSink::new(cfg, &overfill_fields()).expect("sink");
    let start = Instant::now();
    let e = send_one(&mut sink, alert("o-6")).expect_err("timeout");
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    holder.join().expect("holder");
}

#[test]
fn construction_validates_without_connecting() {
    let build = |json: &str| {
        serde_json::from_str::<SmtpSinkConfig>(json)
            .map_err(|e| e.to_string())
            .and_then(|c| SmtpSink::new(c, &overfill_fields()).map_err(|e| e.to_string()))
    };
    // TLS settings for a relay nobody runs: building must not connect.
    let tls = r#"{"host": "smtp.invalid", "tls": "tls", "from": "a@b.c", "to": ["d@e.f"]}"#;
    assert!(build(tls).is_ok());
    let starttls =
        r#"{"host": "smtp.invalid", "tls": "starttls", "from": "a@b.c", "to": ["d@e.f"]}"#;
    assert!(build(starttls).is_ok());
    let cases = [
        (
            r#"{"host": "h", "from": "not an address", "to": ["d@e.f"]}"#,
            "from",
        ),
        (r#"{"host": "h", "from": "a@b.c", "to": []}"#, "to"),
        (r#"{"host": "h", "from": "a@b.c", "to": ["x"]}"#, "to"),
        (
            r#"{"host": "h", "from": "a@b.c", "to": ["d@e.f"], "subject": "{nope}"}"#,
            "{nope}",
        ),
        (
            r#"{"host": "h", "from": "a@b.c", "to": ["d@e.f"], "username": "u"}"#,
            "password",
        ),
        (
            r#"{"host": "h", "from": "a@b.c", "to": ["d@e.f"], "tls": "ssl"}"#,
            "ssl",
        ),
        (
            r#"{"host": "h", "from": "a@b.c", "to": ["d@e.f"], "prot": 25}"#,
            "prot",
        ),
    ];
    for (json, needle) in cases {
        let err = build(json).expect_err(json);
        assert!(err.contains(needle), "{json}: {err}");
    }
}

#[test]
fn defaults_and_modes() {
    let cfg: SmtpSinkConfig = serde_json::from_str(
        r#"{"host": "h", "from": "a@b.c", "to": ["d@e.f"], "password": "pw"}"#,
    )
    .expect("config");
    assert_eq!(cfg.tls, SmtpTls::None);
    assert_eq!(cfg.port, None);
    assert_eq!(cfg.subject, "Aldebaran alert {kind}: order {order_id}");
    assert!(!format!("{cfg:?}").contains("\"pw\""));
    assert_eq!(DEFAULT_MODE, DeliveryMode::AtLeastOnce);
    assert!(MODES.contains(&DEFAULT_MODE));
    assert!(!MODES.contains(&DeliveryMode::ExactlyOnce));
}

#[test]
fn orphan_summary_says_no_request() {
    let record = record_fields(
        br#"{"order_id":"o-7","client":"c","stock":"S","requested":null,"filled":5}"#,
    )
    .expect("record");
    assert_eq!(
        summary("orphan:o-7", &record),
        "Aldebaran alert orphan:o-7: order o-7 (client c, stock S): 5 shares bought without a purchase request."
    );
}

/// Inverse of [`message_id`], to prove it one-to-one.
fn decode(id: &str) -> Option<Vec<u8>> {
    let inner = id.strip_prefix('<')?.strip_suffix("@aldebaran>")?;
    if inner == "=" {
        return Some(Vec::new());
    }
    let bytes = inner.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// RFC 5322 atext (a dot-atom without dots is a run of these).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn assert_dot_atom(id: &str) {
    let inner = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix("@aldebaran>"))
        .expect("<…@aldebaran>");
    assert!(!inner.is_empty() && inner.chars().all(is_atext), "{id}");
}

#[test]
fn message_id_is_injective_on_tricky_ids() {
    let ids = [
        "overfill:o-1",
        "overfill=3Ao-1",
        "overfill_o-1",
        "overfill.o-1",
        "overfill o-1",
        "",
        "=",
        "=3D",
        "a:b",
        "a:b:",
        "é",
        "=C3=A9",
        "orphan:ORD-7",
        "orphan:ord-7",
        "<x@y>",
        "a\u{0}b",
    ];
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        let mid = message_id(id);
        assert_dot_atom(&mid);
        assert_eq!(
            decode(&mid).as_deref(),
            Some(id.as_bytes()),
            "{id:?} -> {mid}"
        );
        assert!(seen.insert(mid.clone()), "collision on {mid}");
    }
    assert_eq!(message_id("overfill:o-1"), "<overfill=3Ao-1@aldebaran>");
}

proptest! {
    #[test]
    fn message_id_round_trips(id in ".{0,40}") {
        let mid = message_id(&id);
        assert_dot_atom(&mid);
        prop_assert_eq!(decode(&mid), Some(id.into_bytes()));
    }
}

#[test]
fn a_body_template_replaces_the_default_body() {
    let (port, server) = smtp_server(&[]);
    let mut cfg = config(port);
    cfg.body = Some("Order {order_id} of {client}: {filled} of {requested} bought.".into());
    let mut sink = SmtpSink::new(cfg, &overfill_fields()).expect("sink");
    send_one(&mut sink, alert("o-9")).expect("sent");
    let s = server.join().expect("server");
    let body = decode_quoted_printable(s.data.split_once("\r\n\r\n").expect("body").1);
    assert_eq!(body.trim_end(), "Order o-9 of c1: 150 of 100 bought.");
}

#[test]
fn an_unknown_field_in_the_body_or_subject_is_refused() {
    for key in ["subject", "body"] {
        let json = format!(
            r#"{{"host": "h", "from": "a@b.c", "to": ["d@e.f"], "{key}": "{{shares}} sold"}}"#
        );
        let cfg: SmtpSinkConfig = serde_json::from_str(&json).expect("config");
        let e = SmtpSink::new(cfg, &overfill_fields())
            .expect_err("unknown field")
            .to_string();
        assert!(
            e.contains(&format!(
                "{key}: unknown placeholder {{shares}} in template \"{{shares}} sold\": the \
                 configured jobs (overfill) have no field shares; known: seq, alert_id"
            )),
            "{e}"
        );
    }
    let cfg: SmtpSinkConfig =
        serde_json::from_str(r#"{"host": "h", "from": "a@b.c", "to": ["d@e.f"]}"#).expect("config");
    assert_eq!(cfg.body, None);
}
