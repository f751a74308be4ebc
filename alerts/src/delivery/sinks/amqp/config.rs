//! `kind = "amqp"`: its settings (the SPEC §5 alert topology by default),
//! the checks that need no broker, and the modes it honours.

use std::time::Duration;

use crate::delivery::mode::DeliveryMode;
use crate::error::{AlertsError, Result};

pub(crate) const KIND: &str = "amqp";

/// The SPEC §5 alert exchange, queue and routing key, and the local broker.
pub(crate) use broker::names::{
    ALERT_EXCHANGE as DEFAULT_EXCHANGE, ALERT_QUEUE as DEFAULT_QUEUE,
    ALERT_ROUTING_KEY as DEFAULT_ROUTING_KEY, DEFAULT_URL,
};
pub(crate) use broker::redact;

/// The delivery modes an AMQP sink accepts, the default first. Exactly-once
/// holds when the consumer deduplicates on `message_id` (= `alert_id`).
pub(crate) const MODES: &[DeliveryMode] = &[
    DeliveryMode::ExactlyOnce,
    DeliveryMode::AtLeastOnce,
    DeliveryMode::AtMostOnce,
];

/// The mode used when the config names none.
pub(crate) const DEFAULT_MODE: DeliveryMode = DeliveryMode::ExactlyOnce;

/// The longest AMQP short string (exchange, routing key, queue, message id).
pub(super) const MAX_SHORT_STRING: usize = 255;

/// Settings of an AMQP sink (its section of the engine config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpSinkConfig {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`, or several
    /// separated by commas (the nodes of a cluster, tried in turn).
    pub url: String,
    /// The nodes of a cluster as a list; when given, it replaces `url`.
    pub urls: Vec<String>,
    /// The type the queue is declared with (`classic`, or `quorum` on a
    /// cluster); a queue that exists with the other type is refused.
    pub queue_type: broker::QueueType,
    /// Exchange the alerts are published to; `""` is the default exchange
    /// (then `routing_key` names the queue and no exchange is declared).
    pub exchange: String,
    /// Routing key of every publish, and of the queue's binding.
    pub routing_key: String,
    /// Queue bound to the exchange with `routing_key`; `""` declares no queue
    /// (something else must bind one, or every publish comes back unroutable).
    pub queue: String,
    /// Declare the exchange, the queue and the binding on every connect
    /// (idempotent). Off: they must exist.
    pub declare: bool,
    /// How long the broker may take to confirm a batch, and to accept a
    /// connection and set up its channel. Must be > 0.
    pub confirm_timeout_ms: u64,
    /// `[sinks.<name>.tls]`: the CA file and client certificate of an
    /// `amqps://` URL (none set: the bundled Mozilla roots, no client
    /// certificate).
    pub tls: broker::TlsFiles,
}

impl Default for AmqpSinkConfig {
    fn default() -> Self {
        AmqpSinkConfig {
            url: DEFAULT_URL.to_owned(),
            urls: Vec::new(),
            queue_type: broker::QueueType::Classic,
            exchange: DEFAULT_EXCHANGE.to_owned(),
            routing_key: DEFAULT_ROUTING_KEY.to_owned(),
            queue: DEFAULT_QUEUE.to_owned(),
            declare: true,
            confirm_timeout_ms: 10_000,
            tls: broker::TlsFiles::default(),
        }
    }
}

impl AmqpSinkConfig {
    /// Checks what can be checked without a broker.
    pub(super) fn validate(&self) -> Result<()> {
        // The broker crate's parse: its message never quotes the password
        // (amq-protocol's may).
        self.brokers()?;
        for (what, name) in [
            ("exchange", &self.exchange),
            ("routing_key", &self.routing_key),
            ("queue", &self.queue),
        ] {
            if name.len() > MAX_SHORT_STRING {
                return Err(config_err(format!(
                    "{what} is {} bytes long, AMQP allows {MAX_SHORT_STRING}",
                    name.len()
                )));
            }
        }
        if self.confirm_timeout_ms == 0 {
            return Err(config_err("confirm_timeout_ms must be > 0".to_owned()));
        }
        Ok(())
    }

    /// Reads and checks the TLS files, and refuses them with an `amqp://`
    /// URL (which would ignore them).
    pub(super) fn load_tls(&self) -> Result<broker::Tls> {
        let tls = self.tls.load().map_err(|e| config_err(e.to_string()))?;
        for url in self.brokers()?.urls() {
            broker::target(url, &tls).map_err(|e| config_err(e.to_string()))?;
        }
        Ok(tls)
    }

    /// The brokers of `urls`, or else of `url`'s list, each parsed.
    pub(super) fn brokers(&self) -> Result<broker::Brokers> {
        let parsed = if self.urls.is_empty() {
            broker::Brokers::parse(&self.url)
        } else {
            broker::Brokers::of(self.urls.iter().map(String::as_str))
        };
        parsed.map_err(|e| config_err(e.to_string()))
    }

    pub(super) fn confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.confirm_timeout_ms)
    }
}

pub(super) fn config_err(reason: String) -> AlertsError {
    AlertsError::Sink {
        sink: "amqp",
        reason,
    }
}
