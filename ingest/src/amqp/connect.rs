//! Connecting to the broker, for the tools and the source alike: the URL is
//! parsed first (a bad one is a permanent error that never quotes the
//! password) and given its TLS settings for `amqps://` ([`broker::target`]),
//! the connect is bounded by a timeout, and every failure is an
//! [`IngestError::Amqp`] classified by [`broker::classify_lapin`] (a failed
//! TLS handshake included), so a caller retries only what can succeed. The
//! source's connection also carries its name and, when asked, a heartbeat.

use std::time::Duration;

use broker::{
    Brokers, Classified, Failure, Rotation, Tls, classify, classify_lapin, describe,
    describe_connect, redact,
};
use lapin::{Channel, Connection, ConnectionProperties};

use crate::{IngestError, Result};

/// How long [`connect`] waits for the broker's handshake, and the source
/// for its channel's setup.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A current-thread tokio runtime for lapin (LAPIN-NOTES: one per process
/// part was enough; lapin runs its socket I/O on a thread of its own). A
/// failure to build one (out of threads or descriptors) is transient.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| IngestError::Amqp {
            message: format!("cannot start the tokio runtime: {e}"),
            // Out of threads or descriptors: may pass once some are freed.
            class: classify(Failure::Io(e.kind())),
        })
}

/// The source's runtime: the consume loop runs on the thread that blocks on
/// it, lapin's tasks (heartbeats, its RPC) and the liveness probe on one
/// worker thread (`aldebaran-amqp-io`). A consume loop waiting for room in
/// a full ring then blocks neither the heartbeats nor the probe: the broker
/// keeps hearing from a node that is only busy.
pub(crate) fn source_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("aldebaran-amqp-io")
        .enable_all()
        .build()
        .map_err(|e| IngestError::Amqp {
            message: format!("cannot start the tokio runtime: {e}"),
            class: classify(Failure::Io(e.kind())),
        })
}

/// Connects to one of `urls` (a comma-separated list, each with `tls` if it
/// is `amqps://`), one round of [`connect_any`] from the first; the error
/// names the brokers without their passwords and says whether it is worth
/// retrying.
pub(crate) async fn connect(urls: &str, tls: &Tls) -> Result<Connection> {
    let brokers = Brokers::parse(urls)?;
    let mut rotation = Rotation::new(brokers.len());
    connect_any(
        &brokers,
        &mut rotation,
        tls,
        None,
        ConnectionProperties::default(),
    )
    .await
}

/// One round of attempts over `brokers`: each node once, in `rotation`'s
/// order, each within [`CONNECT_TIMEOUT`]; the first that answers is
/// settled on. When none does, the error holds every node's reason; it is
/// transient if any node's failure was (a node down while its peers refuse
/// this client's login is still worth a retry).
///
/// For a client that fails over: after a lost link, call
/// [`Rotation::lost`] before the next round, so it starts past the node
/// that may be going down; the back-off between failed rounds is the
/// caller's. `heartbeat_secs` overrides the URL's, `props` names the
/// connection.
pub async fn connect_any(
    brokers: &Brokers,
    rotation: &mut Rotation,
    tls: &Tls,
    heartbeat_secs: Option<u16>,
    props: ConnectionProperties,
) -> Result<Connection> {
    let mut failures = Vec::new();
    for node in rotation.round() {
        let url = &brokers.urls()[node];
        match connect_with(url, tls, heartbeat_secs, props.clone()).await {
            Ok(conn) => {
                if node != rotation.preferred() || !failures.is_empty() {
                    tracing::info!(broker = %redact(url), "connected to the next broker of the list");
                }
                rotation.settle(node);
                return Ok(conn);
            }
            Err(e) if brokers.len() == 1 => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "broker of the list unreachable; trying the next");
                failures.push(e);
            }
        }
    }
    Err(none_answered(failures))
}

/// The failure of a round over several nodes: each node's reason, and
/// transient unless every one was permanent.
fn none_answered(failures: Vec<IngestError>) -> IngestError {
    let class = if failures.iter().all(|e| e.class() == Classified::Permanent) {
        Classified::Permanent
    } else {
        Classified::Transient
    };
    let reasons: Vec<String> = failures.iter().map(ToString::to_string).collect();
    IngestError::Amqp {
        message: format!(
            "no broker of the {} in the list answered: {}",
            failures.len(),
            reasons.join("; ")
        ),
        class,
    }
}

/// [`connect`] asking for a heartbeat of `heartbeat_secs` (over the URL's
/// `?heartbeat=`) and with `props` (the connection's name).
pub(crate) async fn connect_with(
    url: &str,
    tls: &Tls,
    heartbeat_secs: Option<u16>,
    props: ConnectionProperties,
) -> Result<Connection> {
    let broker::Target {
        mut uri,
        tls: lapin_tls,
    } = broker::target(url, tls)?;
    let tls_used = uri.scheme == lapin::uri::AMQPScheme::AMQPS;
    if let Some(secs) = heartbeat_secs {
        uri.query.heartbeat = Some(secs);
    }
    let lapin_runtime = lapin::runtime::default_runtime()
        .map_err(|e| amqp_err("cannot start lapin's runtime", &e))?;
    let connecting = Connection::connect_uri_with_config(uri, props, lapin_tls, lapin_runtime);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(IngestError::Amqp {
            message: format!(
                "cannot connect to {}: {}",
                redact(url),
                describe_connect(&e, tls_used, tls)
            ),
            class: classify_lapin(&e),
        }),
        Err(_) => Err(IngestError::Amqp {
            message: format!(
                "cannot connect to {}: no answer within {} s",
                redact(url),
                CONNECT_TIMEOUT.as_secs()
            ),
            class: classify(Failure::Timeout),
        }),
    }
}

/// Closes `conn` politely; a failure to close is not worth an error (the
/// broker drops what is left of a connection that goes away).
pub async fn close(conn: &Connection) {
    if let Err(e) = conn.close(200, "OK".into()).await {
        tracing::debug!(error = %e, "closing the AMQP connection failed");
    }
}

/// Closes `channel` before its connection: left to `Drop`, lapin closes it
/// asynchronously, races the connection close and logs a spurious ERROR.
/// A channel already closed (by the broker, or with its connection) is
/// left as it is.
pub async fn close_channel(channel: &Channel) {
    if channel.status().connected()
        && let Err(e) = channel.close(200, "OK".into()).await
    {
        tracing::debug!(error = %e, "closing the AMQP channel failed");
    }
}

/// Checks what [`connect`] would refuse before trying: a list of URLs with
/// one that does not parse, or TLS files with an `amqp://` URL (permanent
/// errors).
pub fn check_url(urls: &str, tls: &Tls) -> Result<()> {
    for url in Brokers::parse(urls)?.urls() {
        broker::target(url, tls)?;
    }
    Ok(())
}

/// An [`IngestError::Amqp`] with what was being done, lapin's reason (the
/// broker's own words for a refusal) and its class
/// ([`broker::classify_lapin`]): the error every AMQP step of a client
/// reports.
pub fn amqp_err(what: impl std::fmt::Display, e: &lapin::Error) -> IngestError {
    IngestError::Amqp {
        message: format!("{what}: {}", describe(e)),
        class: classify_lapin(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker::Classified;

    fn connect_now(url: &str) -> Result<Connection> {
        runtime()
            .expect("runtime")
            .block_on(connect(url, &Tls::default()))
    }

    #[test]
    fn a_url_that_does_not_parse_is_permanent_and_keeps_its_password() {
        for url in [
            "amqp:guest:S3cr3t-Pa55@127.0.0.1",
            "amqp//guest:S3cr3t-Pa55@127.0.0.1",
            "amqpx://guest:S3cr3t-Pa55@127.0.0.1:5672/%2f",
        ] {
            let e = connect_now(url).expect_err(url);
            assert_eq!(e.class(), Classified::Permanent, "{url}: {e}");
            assert!(!e.to_string().contains("S3cr3t"), "{url}: {e}");
        }
    }

    #[test]
    fn a_closed_port_is_transient() {
        // Port 1 (tcpmux) is closed on any machine that runs these tests.
        let e = connect_now("amqp://guest:S3cr3t-Pa55@127.0.0.1:1/%2f").expect_err("port 1");
        assert_eq!(e.class(), Classified::Transient, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("cannot connect to amqp://guest:***@127.0.0.1:1/%2f"),
            "{text}"
        );
        assert!(!text.contains("S3cr3t"), "{text}");
    }

    #[test]
    fn a_list_moves_past_a_node_that_is_down() {
        // Port 1 first: nothing listens there; the test broker second.
        let list = "amqp://guest:guest@127.0.0.1:1/%2f,amqp://guest:guest@127.0.0.1:5672/%2f";
        let brokers = Brokers::parse(list).expect("list");
        let mut rotation = Rotation::new(brokers.len());
        let rt = runtime().expect("runtime");
        let conn = rt
            .block_on(connect_any(
                &brokers,
                &mut rotation,
                &Tls::default(),
                None,
                ConnectionProperties::default(),
            ))
            .expect("the second node answers");
        assert_eq!(rotation.preferred(), 1, "settled on the node that answered");
        rt.block_on(close(&conn));
    }

    #[test]
    fn a_round_where_no_node_answers_names_each_and_is_transient() {
        let list = "amqp://guest:S3cr3t@127.0.0.1:1/%2f,amqp:guest:S3cr3t@127.0.0.1:2/%2f";
        assert!(
            Brokers::parse(list).is_err(),
            "the second URL does not parse"
        );
        let list = "amqp://guest:S3cr3t@127.0.0.1:1/%2f,amqp://guest:S3cr3t@127.0.0.1:2/%2f";
        let e = connect_now(list).expect_err("both closed");
        assert_eq!(e.class(), Classified::Transient, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("no broker of the 2 in the list answered"),
            "{text}"
        );
        assert!(
            text.contains("127.0.0.1:1/") && text.contains("127.0.0.1:2/"),
            "{text}"
        );
        assert!(!text.contains("S3cr3t"), "{text}");
    }

    #[test]
    fn amqps_speaks_tls_from_the_first_byte() {
        // Guards the build: lapin's TLS backend is a feature of a crate
        // below it, and without it an amqps:// URL connects in the clear.
        // A TLS client's first byte is a handshake record (22); a plain
        // AMQP client's is the `A` of its protocol header.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            use std::io::Read;
            let (mut s, _) = listener.accept().expect("accept");
            let mut first = [0u8; 1];
            s.read_exact(&mut first).expect("a first byte");
            first[0]
            // Dropping the socket ends the client's handshake.
        });
        let url = format!("amqps://guest:S3cr3t-Pa55@127.0.0.1:{port}/%2f");
        let e = connect_now(&url).expect_err("no broker there");
        assert_eq!(server.join().expect("server thread"), 22, "not TLS: {e}");
        assert!(!e.to_string().contains("S3cr3t"), "{e}");
    }
}
