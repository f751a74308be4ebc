//! Progress of a run, reported after each batch (the progress bar).

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Input bytes processed: the byte offset of the last line of the last
    /// batch (0 for AMQP, whose positions are not bytes).
    pub bytes: u64,
    /// Input size, if known.
    pub total: Option<u64>,
    /// Events so far.
    pub events: u64,
    /// Alerts so far.
    pub alerts: u64,
}
