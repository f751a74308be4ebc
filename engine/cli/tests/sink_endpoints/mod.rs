//! Real endpoints for the delivery tests, inside the test process: an HTTP
//! webhook receiver (tiny_http), a small SMTP server (RFC 5321's happy path)
//! and a reader of an AMQP queue. Each records what it received, duplicates
//! included, so the tests can tell exactly-once from at-least-once.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct HttpHit {
    pub idempotency_key: String,
    /// The `Aldebaran-Epoch` header (a pair's node sends it), if any.
    pub epoch: Option<String>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// A webhook receiver that answers 200, except every `fail_every`-th
/// request, which gets a 503 (the sender must retry it), and every request
/// while `answer` is set to another status (a wrong path: 404).
pub struct HttpEndpoint {
    pub url: String,
    pub hits: Arc<Mutex<Vec<HttpHit>>>,
    pub refused: Arc<AtomicU64>,
    /// The status every request gets while it is not 200 (not recorded).
    pub answer: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpEndpoint {
    pub fn start(fail_every: u64) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind http");
        let port = server.server_addr().to_ip().expect("ip addr").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicU64::new(0));
        let answer = Arc::new(AtomicU16::new(200));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, r, s) = (Arc::clone(&hits), Arc::clone(&refused), Arc::clone(&stop));
        let a = Arc::clone(&answer);
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                n += 1;
                let status = a.load(Ordering::Relaxed);
                if status != 200 {
                    r.fetch_add(1, Ordering::Relaxed);
                    let _ = req.respond(tiny_http::Response::empty(status));
                    continue;
                }
                if fail_every > 0 && n.is_multiple_of(fail_every) {
                    r.fetch_add(1, Ordering::Relaxed);
                    let _ = req.respond(tiny_http::Response::empty(503));
                    continue;
                }
                let key = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Idempotency-Key"))
                    .map(|h| h.value.as_str().to_owned())
                    .unwrap_or_default();
                let epoch = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Aldebaran-Epoch"))
                    .map(|h| h.value.as_str().to_owned());
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                h.lock().expect("hits").push(HttpHit {
                    idempotency_key: key,
                    epoch,
                    body,
                    at: std::time::Instant::now(),
                });
                let _ = req.respond(tiny_http::Response::empty(200));
            }
        });
        HttpEndpoint {
            url: format!("http://127.0.0.1:{port}/alerts"),
            hits,
            refused,
            answer,
            stop,
            thread: Some(thread),
        }
    }

    pub fn hits(&self) -> Vec<HttpHit> {
        self.hits.lock().expect("hits").clone()
    }
}

impl Drop for HttpEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A mail as received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: String,
    pub data: String,
}

/// An SMTP server accepting every mail.
pub struct SmtpEndpoint {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpEndpoint {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = Arc::clone(&mails);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    let _ = serve_smtp(conn, &m);
                });
            }
        });
        SmtpEndpoint { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }
}

fn serve_smtp(conn: TcpStream, mails: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    out.write_all(b"220 test ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
            out.write_all(b"250-test\r\n250 8BITMIME\r\n")?;
        } else if cmd.starts_with("DATA") {
            out.write_all(b"354 go on\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            let message_id = data
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("message-id")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default();
            mails.lock().expect("mails").push(Mail { message_id, data });
            out.write_all(b"250 queued\r\n")?;
        } else if cmd.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"250 ok\r\n")?;
        }
    }
}

/// One message read from an AMQP queue.
#[derive(Debug, Clone)]
pub struct AmqpMessage {
    pub message_id: String,
    /// The `x-aldebaran-epoch` header (a long-long; a pair's node sets it).
    pub epoch: Option<i64>,
    pub body: String,
}

/// Every message in `queue` (consumed and acknowledged), as
/// `(message_id, body)`.
pub fn drain_amqp_queue(queue: &str) -> Vec<(String, String)> {
    drain_amqp_messages(queue)
        .into_iter()
        .map(|m| (m.message_id, m.body))
        .collect()
}

/// Every message in `queue` (consumed and acknowledged), in queue order.
pub fn drain_amqp_messages(queue: &str) -> Vec<AmqpMessage> {
    use lapin::{
        BasicProperties, Connection, ConnectionProperties,
        options::{BasicAckOptions, BasicGetOptions},
        types::AMQPValue,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let conn = Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            ConnectionProperties::default(),
        )
        .await
        .expect("connect");
        let ch = conn.create_channel().await.expect("channel");
        let mut got = Vec::new();
        while let Some(msg) = ch
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .expect("basic_get")
        {
            let props: &BasicProperties = &msg.delivery.properties;
            let message_id = props
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            let epoch =
                props
                    .headers()
                    .as_ref()
                    .and_then(|h| match h.inner().get("x-aldebaran-epoch") {
                        Some(AMQPValue::LongLongInt(n)) => Some(*n),
                        _ => None,
                    });
            got.push(AmqpMessage {
                message_id,
                epoch,
                body: String::from_utf8_lossy(&msg.delivery.data).into_owned(),
            });
            msg.delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
        }
        let _ = conn.close(0, "done".into()).await;
        got
    })
}

/// The messages ready in `queue` (a passive declare), or `None` if the
/// broker cannot say (no such queue, no connection).
pub fn amqp_ready(queue: &str) -> Option<u32> {
    use lapin::{
        Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let conn = Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            ConnectionProperties::default(),
        )
        .await
        .ok()?;
        let ch = conn.create_channel().await.ok()?;
        let q = ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .ok();
        let _ = conn.close(0, "done".into()).await;
        q.map(|q| q.message_count())
    })
}
