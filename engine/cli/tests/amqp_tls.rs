//! `amqps://` end to end, against a RabbitMQ node with a TLS listener that
//! `scripts/rabbitmq-tls.sh` sets up (a test CA, a server certificate for
//! 127.0.0.1, a client certificate, and a second CA with a client
//! certificate that nothing trusts): `declare` and `publish` with the test
//! CA, `run` consuming over amqps with a client certificate and shipping its
//! alerts to an AMQP sink over amqps, and every way a handshake fails
//! refused with one line that names the broker and what to check.
//!
//! One test, in steps, so the node boots once and is stopped at the end
//! (see `tls_support`); each wait is bounded (the node's start by the
//! script, each tool by its 10 s connect timeout, the service by
//! [`WITHIN`]).

mod amqp_support;
mod tls_support;

use std::{
    fs,
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use amqp_support::*;
use serde_json::Value;
use tls_support::{TlsClient, TlsNode};

/// How long the service may take for each thing the test waits on.
const WITHIN: Duration = Duration::from_secs(120);

/// Runs the binary with `args`, without the variables of the caller's
/// environment that would change its broker or its log.
fn aldebaran(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("ALDEBARAN_SOURCE__AMQP__URL")
        .env_remove("ALDEBARAN_SOURCE__AMQP__TLS__CA_FILE")
        .env_remove("ALDEBARAN_SOURCE__AMQP__TLS__CERT_FILE")
        .env_remove("ALDEBARAN_SOURCE__AMQP__TLS__KEY_FILE")
        .output()
        .expect("run aldebaran")
}

/// Runs `declare` with `args`; asserts it fails with exit 2 and one line of
/// error that names the TLS broker, holds each of `says` and no password.
#[track_caller]
fn declare_refused(url: &str, args: &[&str], says: &[&str]) {
    let mut all = vec!["declare", "--url", url, "--queue", "aldebaran-tls-refused"];
    all.extend_from_slice(args);
    let out = aldebaran(&all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("guest:guest"), "the password shown: {err}");
    let shown = url.replace("guest:guest", "guest:***");
    assert!(err.contains(&shown), "names {shown}: {err}");
    for s in says {
        assert!(err.contains(s), "{args:?}: wanted {s:?} in: {err}");
    }
}

/// `[<table>]` with the CA file and, if given, a client certificate.
fn tls_table(table: &str, ca: &str, client: Option<(&str, &str)>) -> String {
    let q = |s: &str| Value::from(s).to_string();
    let mut t = format!("\n[{table}]\nca_file = {}\n", q(ca));
    if let Some((cert, key)) = client {
        t.push_str(&format!("cert_file = {}\nkey_file = {}\n", q(cert), q(key)));
    }
    t
}

fn append(config: &Path, text: &str) {
    let mut all = fs::read_to_string(config).expect("read config");
    all.push_str(text);
    fs::write(config, all).expect("write config");
}

#[test]
fn amqps_tools_source_and_sink_with_a_test_ca_and_refusals_that_say_why() {
    let node = TlsNode::start();
    let url = node.get("url").to_owned();
    let ca = node.get("ca_file").to_owned();
    let (cert, key) = (node.get("cert_file"), node.get("key_file"));

    // --- Refusals: each handshake failure is permanent, in one line.
    declare_refused(
        &url,
        &["--ca-file", node.get("wrong_ca_file")],
        &[
            "TLS handshake failed: invalid peer certificate: UnknownIssuer",
            "permanent: check tls.ca_file",
        ],
    );
    // Without a CA file the bundled public roots are trusted, and the test
    // CA is none of them.
    declare_refused(&url, &[], &["UnknownIssuer"]);
    // The broker checks a client certificate it is shown against its CA.
    // Over TLS 1.3 its alert often dies in the reset of the socket it
    // closes (the client's first bytes unread): either way the message
    // points at the certificate.
    declare_refused(
        &url,
        &[
            "--ca-file",
            &ca,
            "--cert-file",
            node.get("wrong_cert_file"),
            "--key-file",
            node.get("wrong_key_file"),
        ],
        &["check tls.cert_file and tls.key_file"],
    );
    // amqps:// to the plain AMQP port.
    let plain = node.get("plain_url");
    declare_refused(
        &plain.replace("amqp://", "amqps://"),
        &["--ca-file", &ca],
        &["is this the broker's TLS port?"],
    );
    // A CA file with an amqp:// URL would be ignored: refused instead.
    declare_refused(plain, &["--ca-file", &ca], &["use amqps://"]);

    // --- The tools over amqps with the test CA.
    let queue = TestQueue {
        name: format!("aldebaran-tls-{}-trades", std::process::id()),
    };
    let alerts = format!("aldebaran-tls-{}-alerts", std::process::id());
    let out = aldebaran(&[
        "declare",
        "--url",
        &url,
        "--ca-file",
        &ca,
        "--queue",
        &queue.name,
    ]);
    assert!(out.status.success(), "declare: {:?}", out);
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = gen_file(scratch.path(), 400, 23);
    let want = expected(&file, scratch.path());
    let file_arg = file.to_str().expect("utf-8 path");
    let out = aldebaran(&[
        "publish",
        file_arg,
        "--url",
        &url,
        "--ca-file",
        &ca,
        "--cert-file",
        cert,
        "--key-file",
        key,
        "--queue",
        &queue.name,
        "--batch",
        "10",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("published "),
        "publish: {out:?}"
    );

    // --- `run` consumes over amqps (client certificate shown) and ships
    // to an AMQP sink over amqps.
    let client = TlsClient::connect(&url, &node.client_tls());
    client.delete(&alerts);
    let dirs = ServiceDirs::new(&queue, 1_000, 1, false);
    append(
        &dirs.config,
        &tls_table("source.amqp.tls", &ca, Some((cert, key))),
    );
    append(
        &dirs.config,
        &format!(
            "\n[sinks.bus]\nkind = \"amqp\"\nurl = {u}\nexchange = {a}\nrouting_key = {a}\nqueue = {a}\n",
            u = Value::from(url.as_str()),
            a = Value::from(alerts.as_str()),
        ),
    );
    append(
        &dirs.config,
        &tls_table("sinks.bus.tls", &ca, Some((cert, key))),
    );
    let mut svc = dirs.start_with(1, &[("ALDEBARAN_SOURCE__AMQP__URL", &url)]);
    svc.wait_log_for("consuming", 1, WITHIN);
    let n = want.alerts.len();
    svc.wait_until("the AMQP sink holds every alert", WITHIN, |_| {
        client.ready(&alerts) as usize >= n
    });
    // Both of the service's connections are TLS and show the client
    // certificate (the broker verified it: verify_peer).
    let conns = node
        .ctl(&[
            "-q",
            "list_connections",
            "client_properties",
            "ssl",
            "peer_cert_subject",
        ])
        .unwrap_or_default();
    for who in ["aldebaran-source", "aldebaran alerts sink"] {
        assert!(
            conns
                .lines()
                .any(|l| l.contains(who) && l.contains("CN=aldebaran-test-client")),
            "{who} over TLS with the client certificate:\n{conns}"
        );
    }
    let summary = svc.terminate();
    assert_same_alerts(&journal_alerts(&dirs.journal), &want.alerts);
    assert_eq!(summary.events, want.summary.events, "events");
    assert_eq!(node.counts(&queue.name), Some((0, 0)), "all acknowledged");
    let shipped = client.drain(&alerts);
    let ids: Vec<&str> = shipped.iter().map(|m| m.message_id.as_str()).collect();
    let want_ids: Vec<&str> = want
        .alerts
        .iter()
        .map(|a| a["alert_id"].as_str().expect("alert_id"))
        .collect();
    assert_eq!(
        ids, want_ids,
        "the sink's messages are the alerts, in order, once"
    );
    assert!(shipped.iter().all(|m| m.body.contains("\"alert_id\"")));

    // --- `run` with the wrong CA stops at start (permanent), in one line.
    let bad = ServiceDirs::new(&queue, 1_000, 1, false);
    append(
        &bad.config,
        &tls_table("source.amqp.tls", node.get("wrong_ca_file"), None),
    );
    let mut svc = bad.start_with(1, &[("ALDEBARAN_SOURCE__AMQP__URL", &url)]);
    let status = svc.wait_exit(WITHIN).expect("run exits by itself");
    let log = svc.stderr();
    assert_eq!(status.code(), Some(2), "{log}");
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port in the URL");
    assert!(
        log.contains("UnknownIssuer") && log.contains(host_port),
        "{log}"
    );
    assert!(!log.contains("guest:guest"), "{log}");

    client.delete(&alerts);
    client.delete(&queue.name);
}
