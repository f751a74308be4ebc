//! Tests of the AMQP sink. Those marked *broker* run against the RabbitMQ at
//! 127.0.0.1:5672 (guest/guest), each on its own exchange and queue (named
//! with the process id), deleted at the end even if the test fails.

use std::{
    collections::HashSet,
    process::Command,
    time::{Duration, Instant},
};

use lapin::{
    Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable},
};

use super::config::{AmqpSinkConfig, MODES};
use super::publish::returned_index;
use super::sink::AmqpSink;
use crate::delivery::mode::DeliveryMode;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::error::AlertsError;
use lapin::BasicProperties;

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn record(seq: u64) -> Outgoing {
    let alert_id = format!("overfill:order-{seq}");
    Outgoing {
        seq,
        json: format!(r#"{{"seq":{seq},"alert_id":"{alert_id}","kind":"overfill"}}"#).into_bytes(),
        alert_id,
        epoch: 0,
    }
}

fn records(seqs: std::ops::RangeInclusive<u64>) -> Vec<Outgoing> {
    seqs.map(record).collect()
}

/// A config for the test `tag`: its own exchange, queue and routing key.
fn test_config(tag: &str) -> AmqpSinkConfig {
    let name = format!("aldebaran-test-alerts-{tag}-{}", std::process::id());
    AmqpSinkConfig {
        url: BROKER.to_owned(),
        exchange: name.clone(),
        routing_key: name.clone(),
        queue: name,
        confirm_timeout_ms: 5_000,
        ..AmqpSinkConfig::default()
    }
}

/// What the test consumer read of one message.
#[derive(Debug)]
struct Got {
    body: Vec<u8>,
    message_id: Option<String>,
    delivery_mode: Option<u8>,
    content_type: Option<String>,
    seq_header: Option<i64>,
    epoch_header: Option<AMQPValue>,
}

/// The test's own broker connection; deletes the test's exchange and queue
/// when dropped.
struct TestBroker {
    rt: tokio::runtime::Runtime,
    conn: Connection,
    channel: lapin::Channel,
    exchange: String,
    queue: String,
}

impl TestBroker {
    fn new(cfg: &AmqpSinkConfig) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (conn, channel) = rt.block_on(async {
            let conn = Connection::connect(BROKER, ConnectionProperties::default())
                .await
                .expect("the test broker at 127.0.0.1:5672 (rabbitmq-server -detached)");
            let channel = conn.create_channel().await.unwrap();
            (conn, channel)
        });
        let broker = TestBroker {
            rt,
            conn,
            channel,
            exchange: cfg.exchange.clone(),
            queue: cfg.queue.clone(),
        };
        broker.delete(); // leftovers of an earlier, killed run
        broker
    }

    /// Takes every message now in the queue (basic.get, no ack).
    fn drain(&self) -> Vec<Got> {
        self.rt.block_on(async {
            let mut got = Vec::new();
            while let Some(m) = self
                .channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                let p = &m.delivery.properties;
                let seq_header = p
                    .headers()
                    .as_ref()
                    .and_then(|h| match h.inner().get("seq") {
                        Some(AMQPValue::LongLongInt(n)) => Some(*n),
                        _ => None,
                    });
                let epoch_header = p
                    .headers()
                    .as_ref()
                    .and_then(|h| h.inner().get("x-aldebaran-epoch").cloned());
                got.push(Got {
                    epoch_header,
                    body: m.delivery.data.clone(),
                    message_id: p.message_id().as_ref().map(|s| s.to_string()),
                    delivery_mode: *p.delivery_mode(),
                    content_type: p.content_type().as_ref().map(|s| s.to_string()),
                    seq_header,
                });
            }
            got
        })
    }

    /// Declares the exchange and a queue that holds `max_len` messages and
    /// nacks publishes beyond that (`x-overflow: reject-publish`), bound with
    /// `routing_key`.
    fn declare_bounded(&self, routing_key: &str, max_len: i64) {
        self.rt.block_on(async {
            self.channel
                .exchange_declare(
                    self.exchange.as_str().into(),
                    ExchangeKind::Direct,
                    ExchangeDeclareOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let mut args = FieldTable::default();
            args.insert("x-max-length".into(), AMQPValue::LongLongInt(max_len));
            args.insert(
                "x-overflow".into(),
                AMQPValue::LongString("reject-publish".into()),
            );
            self.channel
                .queue_declare(
                    self.queue.as_str().into(),
                    QueueDeclareOptions::default(),
                    args,
                )
                .await
                .unwrap();
            self.channel
                .queue_bind(
                    self.queue.as_str().into(),
                    self.exchange.as_str().into(),
                    routing_key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
        });
    }

    fn delete(&self) {
        self.rt.block_on(async {
            if !self.queue.is_empty() {
                self.channel
                    .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
                    .await
                    .unwrap();
            }
            self.channel
                .exchange_delete(
                    self.exchange.as_str().into(),
                    ExchangeDeleteOptions::default(),
                )
                .await
                .unwrap();
        });
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if self.channel.status().connected() {
            self.delete();
        }
        self.rt.block_on(async {
            let _ = self.channel.close(200, "OK".into()).await;
            let _ = self.conn.close(200, "OK".into()).await;
        });
    }
}

/// Sends `batch` the way a shipper does: on a transient failure, waits a
/// little and resends what was not delivered. Returns the failures seen.
fn send_retrying(sink: &mut AmqpSink, batch: &[Outgoing]) -> Vec<SendFailure> {
    let mut failures = Vec::new();
    let mut rest = batch;
    while !rest.is_empty() {
        match sink.send(rest) {
            Ok(()) => rest = &[],
            Err(f) => {
                assert!(
                    matches!(f.error, SendError::Transient(_)),
                    "unexpected {f:?}"
                );
                assert!(failures.len() < 20, "no recovery: {failures:?}");
                rest = &rest[f.delivered..];
                failures.push(f);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    failures
}

/// Closes, broker-side, the connections whose name is `connection_name` (not
/// `close_all_connections`: other tests may be using the broker).
fn close_connections_named(connection_name: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl");
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8_lossy(&out.stdout);
    let needle = format!("\"{connection_name}\"");
    let mut closed = 0;
    for line in listing.lines().filter(|l| l.contains(&needle)) {
        let pid = line.split_whitespace().next().unwrap();
        let status = Command::new("rabbitmqctl")
            .args([
                "-q",
                "close_connection",
                pid,
                "test: dropping the sink's connection",
            ])
            .status()
            .expect("rabbitmqctl");
        assert!(status.success());
        closed += 1;
    }
    closed
}

#[test]
fn defaults_are_the_spec_topology() {
    let cfg = AmqpSinkConfig::default();
    assert_eq!(cfg.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
    assert_eq!(cfg.exchange, "Aldebaran.Alert");
    assert_eq!(cfg.queue, "Aldebaran.Alert");
    assert_eq!(cfg.routing_key, "Alert");
    assert!(cfg.declare);
    assert_eq!(cfg.confirm_timeout_ms, 10_000);
    assert_eq!(MODES[0], DeliveryMode::ExactlyOnce);
    assert_eq!(MODES.len(), 3);
}

#[test]
fn config_deserialises_with_defaults_and_rejects_unknown_keys() {
    let cfg: AmqpSinkConfig =
        serde_json::from_str(r#"{"queue": "", "confirm_timeout_ms": 250}"#).unwrap();
    assert_eq!(
        cfg,
        AmqpSinkConfig {
            queue: String::new(),
            confirm_timeout_ms: 250,
            ..AmqpSinkConfig::default()
        }
    );
    let err = serde_json::from_str::<AmqpSinkConfig>(r#"{"exchang": "x"}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn bad_configs_are_refused_at_construction() {
    let bad = [
        AmqpSinkConfig {
            url: "not a url".to_owned(),
            ..AmqpSinkConfig::default()
        },
        AmqpSinkConfig {
            url: "http://guest:secret@host/".to_owned(),
            ..AmqpSinkConfig::default()
        },
        // No `//`: amq-protocol's own message quotes the whole URL.
        AmqpSinkConfig {
            url: "amqp:guest:secret@host".to_owned(),
            ..AmqpSinkConfig::default()
        },
        // TLS files with a plain URL: they would be ignored, the password
        // sent in the clear.
        AmqpSinkConfig {
            url: "amqp://guest:secret@host/".to_owned(),
            tls: broker::TlsFiles {
                ca_file: tls_testdata("ca.pem"),
                ..broker::TlsFiles::default()
            },
            ..AmqpSinkConfig::default()
        },
        // A CA file that is not there.
        AmqpSinkConfig {
            url: "amqps://guest:secret@host/".to_owned(),
            tls: broker::TlsFiles {
                ca_file: "/nonexistent/ca.pem".into(),
                ..broker::TlsFiles::default()
            },
            ..AmqpSinkConfig::default()
        },
        // A client certificate without its key.
        AmqpSinkConfig {
            url: "amqps://guest:secret@host/".to_owned(),
            tls: broker::TlsFiles {
                cert_file: tls_testdata("client.pem"),
                ..broker::TlsFiles::default()
            },
            ..AmqpSinkConfig::default()
        },
        AmqpSinkConfig {
            confirm_timeout_ms: 0,
            ..AmqpSinkConfig::default()
        },
        AmqpSinkConfig {
            exchange: "x".repeat(256),
            ..AmqpSinkConfig::default()
        },
    ];
    for cfg in bad {
        let err = AmqpSink::new(cfg.clone()).unwrap_err();
        assert!(
            matches!(err, AlertsError::Sink { sink: "amqp", .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

/// The broker crate's test certificates.
fn tls_testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../broker/src/tls/testdata")
        .join(name)
}

#[test]
fn amqps_with_or_without_tls_files_is_accepted_at_construction() {
    for tls in [
        broker::TlsFiles::default(),
        broker::TlsFiles {
            ca_file: tls_testdata("ca.pem"),
            cert_file: tls_testdata("client.pem"),
            key_file: tls_testdata("client.key"),
        },
    ] {
        let cfg = AmqpSinkConfig {
            url: "amqps://guest:secret@broker.invalid/%2f".to_owned(),
            tls,
            ..AmqpSinkConfig::default()
        };
        let sink = AmqpSink::new(cfg).expect("amqps is built in");
        let shown = format!("{sink:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("PRIVATE"),
            "{shown}"
        );
    }
    let cfg: AmqpSinkConfig =
        serde_json::from_str(r#"{"url": "amqps://h/", "tls": {"ca_file": "/x/ca.pem"}}"#)
            .expect("a tls table");
    assert_eq!(cfg.tls.ca_file, std::path::PathBuf::from("/x/ca.pem"));
}

#[test]
fn the_sink_can_move_to_its_shipper_thread() {
    fn is_send<T: Send>() {}
    is_send::<AmqpSink>();
    let sink = AmqpSink::new(AmqpSinkConfig::default()).unwrap();
    assert_eq!(sink.max_batch(), 1024);
}

#[test]
fn nothing_listening_is_a_quick_transient_error() {
    // Construction never connects; port 1 refuses at once.
    let mut sink = AmqpSink::new(AmqpSinkConfig {
        url: "amqp://guest:secret@127.0.0.1:1/%2f".to_owned(),
        ..AmqpSinkConfig::default()
    })
    .unwrap();
    for _ in 0..2 {
        let start = Instant::now();
        let f = sink.send(&records(1..=3)).unwrap_err();
        assert_eq!(f.delivered, 0);
        let SendError::Transient(reason) = &f.error else {
            panic!("{f:?}");
        };
        assert!(reason.contains("127.0.0.1:1"), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}

#[test]
fn an_overlong_alert_id_fails_permanently_without_connecting() {
    let mut sink = AmqpSink::new(AmqpSinkConfig {
        url: "amqp://guest:guest@127.0.0.1:1/%2f".to_owned(),
        ..AmqpSinkConfig::default()
    })
    .unwrap();
    let mut r = record(7);
    r.alert_id = "a".repeat(256);
    let f = sink.send(&[r]).unwrap_err();
    assert_eq!(f.delivered, 0);
    assert!(
        matches!(&f.error, SendError::Permanent(m) if m.contains("seq 7")),
        "{f:?}"
    );
}

/// broker
#[test]
fn a_batch_lands_in_the_queue_in_order() {
    let cfg = test_config("batch");
    let broker = TestBroker::new(&cfg);
    let mut sink = AmqpSink::new(cfg).unwrap();
    let batch = records(1..=50);
    sink.send(&batch).unwrap();
    let got = broker.drain();
    assert_eq!(got.len(), 50);
    for (sent, got) in batch.iter().zip(&got) {
        assert_eq!(got.body, sent.json);
        assert_eq!(got.message_id.as_deref(), Some(sent.alert_id.as_str()));
        assert_eq!(got.delivery_mode, Some(2));
        assert_eq!(got.content_type.as_deref(), Some("application/json"));
        assert_eq!(got.seq_header, Some(sent.seq as i64));
        assert_eq!(got.epoch_header, None, "no epoch without a pair");
    }
    // The same connection serves the next batch, and a full-size one.
    let big = records(51..=1074);
    sink.send(&big).unwrap();
    let got = broker.drain();
    let ids: Vec<_> = got.iter().filter_map(|g| g.message_id.clone()).collect();
    let want: Vec<_> = big.iter().map(|r| r.alert_id.clone()).collect();
    assert_eq!(ids, want);
}

/// broker: a list whose first node is down (nothing listens on port 1)
/// delivers through the next; a list given as `urls` does the same.
#[test]
fn a_list_of_brokers_moves_past_a_node_that_is_down() {
    let down = "amqp://guest:guest@127.0.0.1:1/%2f";
    for (tag, cfg) in [
        (
            "list",
            AmqpSinkConfig {
                url: format!("{down},{BROKER}"),
                ..test_config("list")
            },
        ),
        (
            "urls",
            AmqpSinkConfig {
                urls: vec![down.to_owned(), BROKER.to_owned()],
                ..test_config("urls")
            },
        ),
    ] {
        let broker = TestBroker::new(&cfg);
        let mut sink = AmqpSink::new(cfg).unwrap();
        let batch = records(1..=5);
        sink.send(&batch).unwrap_or_else(|e| panic!("{tag}: {e:?}"));
        assert_eq!(broker.drain().len(), 5, "{tag}");
    }
    // Every node down: one transient error naming both.
    let mut sink = AmqpSink::new(AmqpSinkConfig {
        url: format!("{down},amqp://guest:guest@127.0.0.1:2/%2f"),
        ..test_config("none")
    })
    .unwrap();
    let e = sink.send(&records(1..=1)).unwrap_err();
    match e.error {
        SendError::Transient(reason) => {
            assert!(reason.contains("no broker of the 2"), "{reason}");
            assert!(reason.contains(":1/") && reason.contains(":2/"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// broker: the fencing epoch reaches the consumer as an AMQP long-long.
#[test]
fn the_epoch_rides_in_the_x_aldebaran_epoch_header() {
    let cfg = test_config("epoch");
    let broker = TestBroker::new(&cfg);
    let mut sink = AmqpSink::new(cfg).unwrap();
    let mut batch = records(1..=3);
    batch[1].epoch = 7;
    batch[2].epoch = u64::MAX;
    sink.send(&batch).unwrap();
    let got: Vec<_> = broker.drain().into_iter().map(|g| g.epoch_header).collect();
    assert_eq!(
        got,
        [
            None,
            Some(AMQPValue::LongLongInt(7)),
            Some(AMQPValue::LongLongInt(i64::MAX)),
        ]
    );
}

/// broker
#[test]
fn records_before_an_overlong_alert_id_are_delivered() {
    let cfg = test_config("overlong");
    let broker = TestBroker::new(&cfg);
    let mut sink = AmqpSink::new(cfg).unwrap();
    let mut batch = records(1..=3);
    batch[2].alert_id = "x".repeat(300);
    let f = sink.send(&batch).unwrap_err();
    assert_eq!(f.delivered, 2);
    assert!(matches!(f.error, SendError::Permanent(_)), "{f:?}");
    let ids: Vec<_> = broker.drain().into_iter().map(|g| g.message_id).collect();
    assert_eq!(
        ids,
        [
            Some("overfill:order-1".to_owned()),
            Some("overfill:order-2".to_owned())
        ]
    );
}

/// broker
#[test]
fn an_unroutable_alert_is_a_transient_error() {
    let cfg = AmqpSinkConfig {
        queue: String::new(), // the exchange is declared, nothing is bound to it
        ..test_config("unroutable")
    };
    let _broker = TestBroker::new(&cfg);
    let mut sink = AmqpSink::new(cfg).unwrap();
    for _ in 0..2 {
        let f = sink.send(&records(1..=3)).unwrap_err();
        assert_eq!(f.delivered, 0);
        let SendError::Transient(reason) = &f.error else {
            panic!("{f:?}");
        };
        assert!(reason.contains("unroutable"), "{reason}");
        assert!(reason.contains("seq 1"), "{reason}");
    }
}

/// broker
#[test]
fn a_missing_exchange_without_declare_is_a_transient_error() {
    let cfg = AmqpSinkConfig {
        declare: false,
        ..test_config("nodeclare")
    };
    let _broker = TestBroker::new(&cfg); // deletes leftovers: nothing exists
    let mut sink = AmqpSink::new(cfg).unwrap();
    let f = sink.send(&records(1..=3)).unwrap_err();
    assert_eq!(f.delivered, 0);
    assert!(
        matches!(&f.error, SendError::Transient(m) if m.contains("NOT_FOUND")),
        "{f:?}"
    );
}

/// broker: a login the broker refuses is the endpoint refusing every alert
/// (wrong credentials): the sink pauses rather than retry as if the broker
/// were merely down.
#[test]
fn a_refused_login_pauses_the_sink() {
    let cfg = AmqpSinkConfig {
        url: "amqp://guest:not-the-password@127.0.0.1:5672/%2f".to_owned(),
        ..test_config("refused")
    };
    let mut sink = AmqpSink::new(cfg).unwrap();
    let f = sink.send(&records(1..=3)).unwrap_err();
    assert_eq!(f.delivered, 0);
    let SendError::EndpointDown(reason) = &f.error else {
        panic!("{f:?}");
    };
    assert!(reason.contains("ACCESS_REFUSED"), "{reason}");
    assert!(!reason.contains("not-the-password"), "{reason}");
}

#[test]
fn amqps_to_a_plain_amqp_port_pauses_the_sink_saying_so() {
    // A peer that answers as a plain AMQP broker does to anything it cannot
    // read: its protocol header, then it closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut hello = [0u8; 64];
        let _ = s.read(&mut hello);
        let _ = s.write_all(b"AMQP\x00\x00\x09\x01");
    });
    let cfg = AmqpSinkConfig {
        url: format!("amqps://guest:secret@127.0.0.1:{port}/%2f"),
        ..test_config("plain-port")
    };
    let mut sink = AmqpSink::new(cfg).unwrap();
    let f = sink.send(&records(1..=2)).unwrap_err();
    peer.join().unwrap();
    assert_eq!(f.delivered, 0);
    let SendError::EndpointDown(reason) = &f.error else {
        panic!("{f:?}");
    };
    assert!(reason.contains("TLS handshake failed"), "{reason}");
    assert!(
        reason.contains("is this the broker's TLS port?"),
        "{reason}"
    );
    assert!(!reason.contains("secret"), "{reason}");
}

/// broker
#[test]
fn a_dropped_connection_is_reopened_and_nothing_is_lost() {
    let cfg = test_config("reconnect");
    let broker = TestBroker::new(&cfg);
    let mut sink = AmqpSink::new(cfg).unwrap();
    let name = sink.connection_name.clone();
    let mut sent = Vec::new();
    let mut failures = Vec::new();
    for round in 0..4u64 {
        let batch = records(round * 100 + 1..=round * 100 + 100);
        failures.extend(send_retrying(&mut sink, &batch));
        sent.extend(batch);
        if round < 3 {
            assert_eq!(close_connections_named(&name), 1, "round {round}");
        }
    }
    let got = broker.drain();
    assert!(got.len() >= sent.len(), "{} < {}", got.len(), sent.len());
    // The consumer deduplicates on message_id: each alert exactly once.
    let mut seen = HashSet::new();
    let unique: Vec<_> = got
        .iter()
        .filter(|g| seen.insert(g.message_id.clone()))
        .collect();
    assert_eq!(unique.len(), sent.len());
    for (sent, got) in sent.iter().zip(unique) {
        assert_eq!(got.message_id.as_deref(), Some(sent.alert_id.as_str()));
        assert_eq!(got.body, sent.json);
    }
    eprintln!(
        "reconnect test: {} failures before recovery ({failures:?}), {} duplicates",
        failures.len(),
        got.len() - sent.len()
    );
}

#[test]
fn a_silent_peer_is_a_transient_error_within_the_timeout() {
    // Accepts the TCP connection, never speaks AMQP.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let mut sink = AmqpSink::new(AmqpSinkConfig {
        url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
        confirm_timeout_ms: 300,
        ..AmqpSinkConfig::default()
    })
    .unwrap();
    let start = Instant::now();
    let f = sink.send(&records(1..=2)).unwrap_err();
    let took = start.elapsed();
    assert_eq!(f.delivered, 0);
    assert!(
        matches!(&f.error, SendError::Transient(m) if m.contains("no answer within 300 ms")),
        "{f:?}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    drop(holder.join().unwrap());
}

#[test]
fn a_returned_message_is_matched_by_its_own_seq_or_message_id() {
    let batch = records(10..=14);
    let mut headers = FieldTable::default();
    headers.insert("seq".into(), AMQPValue::LongLongInt(12));
    let by_seq = BasicProperties::default()
        .with_message_id("overfill:order-13".into())
        .with_headers(headers);
    assert_eq!(returned_index(&batch, &by_seq), Some(2));
    let by_id = BasicProperties::default().with_message_id("overfill:order-13".into());
    assert_eq!(returned_index(&batch, &by_id), Some(3));
    assert_eq!(returned_index(&batch, &BasicProperties::default()), None);
}

/// broker
#[test]
fn a_nack_reports_the_confirmed_prefix() {
    let cfg = AmqpSinkConfig {
        declare: false,
        ..test_config("nack")
    };
    let broker = TestBroker::new(&cfg);
    broker.declare_bounded(&cfg.routing_key, 5);
    let mut sink = AmqpSink::new(cfg).unwrap();
    let batch = records(1..=12);
    let f = sink.send(&batch).unwrap_err();
    assert_eq!(f.delivered, 5, "{f:?}");
    assert!(
        matches!(&f.error, SendError::Transient(m) if m.contains("seq 6") && m.contains("nack")),
        "{f:?}"
    );
    let got = broker.drain();
    let ids: Vec<_> = got.iter().filter_map(|g| g.message_id.clone()).collect();
    let want: Vec<_> = batch[..5].iter().map(|r| r.alert_id.clone()).collect();
    assert_eq!(ids, want);
    // Room again: the rest goes through on a new connection.
    sink.send(&batch[5..10]).unwrap();
    assert_eq!(broker.drain().len(), 5);
}
