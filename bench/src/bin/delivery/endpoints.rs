//! The endpoints the sinks deliver to, run inside the bench process: an HTTP
//! server answering 200, a minimal SMTP server, and RabbitMQ helpers
//! (declare, consume, delete).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_lite::StreamExt;
use lapin::{
    Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};

/// An endpoint server on its own thread; `requests` counts what it accepted.
pub struct Server {
    pub port: u16,
    pub requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    wake: Option<std::net::SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Stops the server thread and waits for it.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(addr) = self.wake {
            // Unblocks a blocking accept().
            let _ = TcpStream::connect(addr);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A tiny_http server answering every request 200 with an empty body, after
/// reading the request body.
pub fn http_server() -> Result<Server> {
    let server =
        tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("http server: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .context("http server has no IP address")?
        .port();
    let requests = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&requests), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name("bench-http".into())
        .spawn(move || {
            let mut body = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match server.recv_timeout(Duration::from_millis(50)) {
                    Ok(Some(mut req)) => {
                        body.clear();
                        let _ = req.as_reader().read_to_end(&mut body);
                        r.fetch_add(1, Ordering::Relaxed);
                        let _ = req.respond(tiny_http::Response::empty(200));
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        })?;
    Ok(Server {
        port,
        requests,
        stop,
        wake: None,
        thread: Some(thread),
    })
}

/// A minimal SMTP server: 220 greeting, EHLO/HELO → 250, MAIL/RCPT/RSET/NOOP
/// → 250, DATA → 354 then 250 after "\r\n.\r\n", QUIT → 221. One connection
/// at a time (the sink opens one per message, sequentially).
pub fn smtp_server() -> Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&requests), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name("bench-smtp".into())
        .spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let _ = c.set_nodelay(true);
                    let _ = smtp_session(c, &r);
                }
            }
        })?;
    Ok(Server {
        port: addr.port(),
        requests,
        stop,
        wake: Some(addr),
        thread: Some(thread),
    })
}

fn smtp_session(stream: TcpStream, messages: &AtomicU64) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 bench ESMTP\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let verb = line
            .get(..4)
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_default();
        match verb.as_slice() {
            b"EHLO" => out.write_all(b"250-bench\r\n250 8BITMIME\r\n")?,
            b"HELO" | b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => out.write_all(b"250 OK\r\n")?,
            b"DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                loop {
                    line.clear();
                    if input.read_until(b'\n', &mut line)? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                }
                messages.fetch_add(1, Ordering::Relaxed);
                out.write_all(b"250 queued\r\n")?;
            }
            b"QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 unknown command\r\n")?,
        }
    }
}

/// A current-thread tokio runtime for the lapin calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Declares exchange `name` (direct, durable), queue `name` (durable) and
/// the binding with `routing_key`, exactly as the AMQP sink does.
pub async fn amqp_declare(conn: &Connection, name: &str, routing_key: &str) -> Result<()> {
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        name.into(),
        name.into(),
        routing_key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let _ = ch.close(200, "OK".into()).await;
    Ok(())
}

/// Deletes queue and exchange `name` (whatever is in the queue goes too).
pub fn amqp_delete(url: &str, name: &str) -> Result<()> {
    runtime()?.block_on(async {
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .context("connecting to RabbitMQ")?;
        let ch = conn.create_channel().await?;
        ch.queue_delete(name.into(), QueueDeleteOptions::default())
            .await?;
        ch.exchange_delete(name.into(), ExchangeDeleteOptions::default())
            .await?;
        let _ = conn.close(200, "OK".into()).await;
        Ok(())
    })
}

/// Consumes queue `name` (auto-ack) on its own thread, handing each body to
/// `on_message` as it arrives, until `stop` is set. Returns once the
/// consumer is registered with the broker.
pub fn amqp_consume(
    url: &str,
    name: &str,
    stop: Arc<AtomicBool>,
    mut on_message: impl FnMut(&[u8]) + Send + 'static,
) -> Result<JoinHandle<Result<()>>> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    let (url, name) = (url.to_owned(), name.to_owned());
    let thread = std::thread::Builder::new()
        .name("bench-amqp-consumer".into())
        .spawn(move || -> Result<()> {
            let rt = runtime()?;
            rt.block_on(async {
                let setup = async {
                    let conn = Connection::connect(&url, ConnectionProperties::default())
                        .await
                        .context("connecting to RabbitMQ")?;
                    amqp_declare(&conn, &name, "Alert").await?;
                    let ch = conn.create_channel().await?;
                    let consumer = ch
                        .basic_consume(
                            name.as_str().into(),
                            "bench-latency".into(),
                            BasicConsumeOptions {
                                no_ack: true,
                                ..BasicConsumeOptions::default()
                            },
                            FieldTable::default(),
                        )
                        .await?;
                    anyhow::Ok((conn, consumer))
                };
                let (conn, mut consumer) = match setup.await {
                    Ok(v) => {
                        let _ = ready_tx.send(Ok(()));
                        v
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("{e:#}")));
                        return Err(e);
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    match tokio::time::timeout(Duration::from_millis(50), consumer.next()).await {
                        Ok(Some(Ok(d))) => on_message(&d.data),
                        Ok(Some(Err(e))) => return Err(e.into()),
                        Ok(None) => break,
                        Err(_) => {}
                    }
                }
                let _ = conn.close(200, "OK".into()).await;
                Ok(())
            })
        })?;
    ready_rx.recv().context("the AMQP consumer thread died")??;
    Ok(thread)
}
