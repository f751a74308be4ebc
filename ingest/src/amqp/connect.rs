//! Connecting to the broker, for the tools and the source alike: the URL is
//! parsed first (a bad one is a permanent error that never quotes the
//! password), the connect is bounded by a timeout, and every failure is an
//! [`IngestError::Amqp`] classified by [`broker::classify_lapin`], so a
//! caller retries only what can succeed. The source's connection also
//! carries its name and, when asked, a heartbeat.

use std::time::Duration;

use broker::{Failure, classify, classify_lapin, describe, redact};
use lapin::{Channel, Connection, ConnectionProperties};

use crate::{IngestError, Result};

/// How long [`connect`] waits for the broker's handshake, and the source
/// for its channel's setup.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A current-thread tokio runtime for lapin (LAPIN-NOTES: one per process
/// part was enough; lapin runs its socket I/O on a thread of its own).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
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

/// Connects to `url` within [`CONNECT_TIMEOUT`]; the error names the broker
/// without its password and says whether it is worth retrying.
pub(crate) async fn connect(url: &str) -> Result<Connection> {
    connect_with(url, None, ConnectionProperties::default()).await
}

/// [`connect`] asking for a heartbeat of `heartbeat_secs` (over the URL's
/// `?heartbeat=`) and with `props` (the connection's name).
pub(crate) async fn connect_with(
    url: &str,
    heartbeat_secs: Option<u16>,
    props: ConnectionProperties,
) -> Result<Connection> {
    let mut uri = broker::parse_url(url)?;
    if let Some(secs) = heartbeat_secs {
        uri.query.heartbeat = Some(secs);
    }
    let connecting = Connection::connect_uri(uri, props);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(amqp_err(format!("cannot connect to {}", redact(url)), &e)),
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

/// Closes `conn` politely; a failure to close is not worth an error.
pub(crate) async fn close(conn: &Connection) {
    if let Err(e) = conn.close(200, "OK".into()).await {
        tracing::debug!(error = %e, "closing the AMQP connection failed");
    }
}

/// Closes `channel` before its connection: left to `Drop`, lapin closes it
/// asynchronously, races the connection close and logs a spurious ERROR.
pub(crate) async fn close_channel(channel: &Channel) {
    if channel.status().connected()
        && let Err(e) = channel.close(200, "OK".into()).await
    {
        tracing::debug!(error = %e, "closing the AMQP channel failed");
    }
}

/// An [`IngestError::Amqp`] with what was being done, lapin's reason (the
/// broker's own words for a refusal) and its class.
pub(crate) fn amqp_err(what: impl std::fmt::Display, e: &lapin::Error) -> IngestError {
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
        runtime().expect("runtime").block_on(connect(url))
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
}
