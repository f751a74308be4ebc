//! Delivery modes: what a sink does about the one send a crash can
//! interrupt ([`DeliveryMode`]), and which modes a sink kind can honour
//! ([`Modes`]). A leaf: the sinks, the config and the shipper all use it.

/// How a sink treats the one send a crash can interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryMode {
    /// Resend the in-doubt range; the sink deduplicates on `alert_id` (file by
    /// reading its own tail, AMQP by `message_id`, HTTP by `Idempotency-Key`).
    ExactlyOnce,
    /// Resend the in-doubt range: a duplicate is possible, a loss is not.
    AtLeastOnce,
    /// Skip the in-doubt range: a loss is possible, a duplicate is not.
    AtMostOnce,
}

impl DeliveryMode {
    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::ExactlyOnce => "exactly-once",
            DeliveryMode::AtLeastOnce => "at-least-once",
            DeliveryMode::AtMostOnce => "at-most-once",
        }
    }
}

/// The delivery modes a kind can honour, and the one it gets by default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Modes {
    pub default: DeliveryMode,
    pub allowed: &'static [DeliveryMode],
}
