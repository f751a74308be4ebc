//! The [`Sink`] trait every sink kind implements, and what passes through
//! it: [`Outgoing`] records in, [`SendFailure`]s out. A leaf: the shipper
//! and the sinks meet here without knowing each other.

/// One journal record on its way to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The journal seq.
    pub seq: u64,
    /// The idempotency key (SPEC §3 `alert_id`).
    pub alert_id: String,
    /// The SPEC §3 record as one JSON object with `seq` first, exactly the
    /// line `aldebaran journal dump` prints, without the newline.
    pub json: Vec<u8>,
    /// The fencing epoch of the node that shipped it (SPEC §6), read from
    /// the shipper's gate right before the send; 0 without one (a single
    /// node). A sink carries it when above 0 (AMQP header
    /// `x-aldebaran-epoch`, HTTP header `Aldebaran-Epoch`, e-mail header
    /// `X-Aldebaran-Epoch`, the command's `ALDEBARAN_EPOCH`), so a receiver
    /// can tell which active sent what. The file and stdout sinks write
    /// only `json`: their lines stay exactly the journal's records.
    pub epoch: u64,
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// May succeed later (timeout, refused connection, HTTP 5xx, broker
    /// nack): the shipper backs off and retries the same record.
    Transient(String),
    /// Will never succeed as it is (HTTP 400, 413, 422, a command's
    /// permanent failure): the record goes to the sink's dead-letter output
    /// with this reason and the shipper moves on.
    Permanent(String),
    /// The destination refuses every record, not this one: a wrong URL
    /// (HTTP 404, 405, 410, a redirect), wrong credentials (HTTP 401, 403,
    /// SMTP 535, AMQP ACCESS_REFUSED). Dead-lettering would empty the whole
    /// journal into the dead-letter file, so the shipper *pauses* instead:
    /// it keeps the record, retries slowly until an operator fixes the
    /// endpoint or the config, and shows the pause in its stats.
    EndpointDown(String),
}

/// A send that stopped part-way: the first `delivered` records of the batch
/// went through, the next one failed with `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// Records at the head of the batch that were delivered.
    pub delivered: usize,
    /// What happened to the record after them.
    pub error: SendError,
}

/// A destination for alerts. Implementations block; each runs on its
/// shipper's own thread.
pub trait Sink: Send {
    /// Called once before the first send. A sink that can read back what it
    /// already holds (the file sink reads its own tail) returns the highest
    /// seq present; the shipper then resumes after it even if its cursor is
    /// behind. Others return `Ok(None)`.
    fn recover(&mut self) -> Result<Option<u64>, SendError> {
        Ok(None)
    }

    /// The most records one [`Sink::send`] takes.
    fn max_batch(&self) -> usize {
        1
    }

    /// Delivers `batch` (in seq order, never empty) durably before
    /// returning `Ok`.
    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure>;
}
