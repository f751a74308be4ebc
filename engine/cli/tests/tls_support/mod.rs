//! Harness for the `amqps://` tests: the RabbitMQ node with a TLS listener
//! that `scripts/rabbitmq-tls.sh` makes (its certificates, its own node on
//! loopback, apart from the default broker), and a TLS client of the
//! test's own that reads its queues.
//!
//! The node is started once per test binary and stopped when the
//! [`TlsNode`] is dropped (a failing test included), unless
//! `RABBITMQ_TLS_KEEP=1` asks to leave it running for the next run (the
//! script reuses a node that answers: a rerun then skips its ~20 s boot).

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
};

use ingest::amqp::{Tls, TlsFiles};
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};

/// The node of the script, with what it printed (`url=…`, `ca_file=…`, …).
pub struct TlsNode {
    script: PathBuf,
    dir: PathBuf,
    env: HashMap<String, String>,
}

impl TlsNode {
    /// Runs `scripts/rabbitmq-tls.sh start` (certificates made if missing,
    /// the node started or reused, at most ~2 minutes); panics if it fails.
    pub fn start() -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-tls.sh");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rabbitmq-tls");
        let out = Command::new("bash")
            .arg(&script)
            .arg("--dir")
            .arg(&dir)
            .arg("start")
            .env("RABBITMQ_WAIT_SECS", "90")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} start failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        TlsNode { script, dir, env }
    }

    /// A value the script printed (`url`, `plain_url`, `ca_file`,
    /// `cert_file`, `key_file`, `wrong_ca_file`, `wrong_cert_file`,
    /// `wrong_key_file`).
    #[track_caller]
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("the script printed no {key}=: {:?}", self.env))
    }

    /// The TLS of a client with the test CA and the test client certificate.
    pub fn client_tls(&self) -> Tls {
        TlsFiles {
            ca_file: self.get("ca_file").into(),
            cert_file: self.get("cert_file").into(),
            key_file: self.get("key_file").into(),
        }
        .load()
        .expect("the script's certificates load")
    }

    /// `rabbitmqctl ARGS` against this node; its stdout, or `None`.
    pub fn ctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg("--dir")
            .arg(&self.dir)
            .arg("ctl")
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `(ready, unacknowledged)` of `queue`, from `rabbitmqctl`.
    pub fn counts(&self, queue: &str) -> Option<(u64, u64)> {
        let out = self.ctl(&[
            "-q",
            "list_queues",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ])?;
        out.lines().find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            match f.as_slice() {
                [name, ready, unacked] if *name == queue => {
                    Some((ready.trim().parse().ok()?, unacked.trim().parse().ok()?))
                }
                _ => None,
            }
        })
    }
}

impl Drop for TlsNode {
    fn drop(&mut self) {
        if std::env::var_os("RABBITMQ_TLS_KEEP").is_some_and(|v| v == "1") {
            return;
        }
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("--dir")
            .arg(&self.dir)
            .arg("stop")
            .status();
    }
}

/// One message read back.
#[derive(Debug)]
pub struct Message {
    /// `message_id` (the alert's id).
    pub message_id: String,
    /// The body.
    pub body: String,
}

/// The test's own client of the node, over amqps:// with the test CA and
/// client certificate.
pub struct TlsClient {
    rt: tokio::runtime::Runtime,
    conn: Connection,
}

impl TlsClient {
    /// Connects to `url` with `tls`; panics if it cannot.
    pub fn connect(url: &str, tls: &Tls) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let conn = rt
            .block_on(async {
                Connection::connect_with_config(
                    url,
                    ConnectionProperties::default(),
                    tls.lapin_config(),
                    lapin::runtime::default_runtime()?,
                )
                .await
            })
            .expect("the test's own amqps connection");
        TlsClient { rt, conn }
    }

    /// Declares `queue` as the AMQP sink does (durable) and returns how many
    /// messages are ready in it.
    pub fn ready(&self, queue: &str) -> u32 {
        self.rt.block_on(async {
            let ch = self.conn.create_channel().await.expect("channel");
            let q = ch
                .queue_declare(
                    queue.into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("queue_declare");
            let _ = ch.close(200, "OK".into()).await;
            q.message_count()
        })
    }

    /// Every message of `queue`, consumed and acknowledged, in queue order.
    pub fn drain(&self, queue: &str) -> Vec<Message> {
        self.rt.block_on(async {
            let ch = self.conn.create_channel().await.expect("channel");
            let mut got = Vec::new();
            while let Some(msg) = ch
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
                .expect("basic_get")
            {
                got.push(Message {
                    message_id: msg
                        .delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    body: String::from_utf8_lossy(&msg.delivery.data).into_owned(),
                });
                msg.delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .expect("ack");
            }
            let _ = ch.close(200, "OK".into()).await;
            got
        })
    }

    /// Deletes `queue` (for a node left running).
    pub fn delete(&self, queue: &str) {
        self.rt.block_on(async {
            if let Ok(ch) = self.conn.create_channel().await {
                let _ = ch
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await;
                let _ = ch.close(200, "OK".into()).await;
            }
        });
    }
}

impl Drop for TlsClient {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.conn.close(200, "OK".into()));
    }
}
