use std::collections::BTreeMap;

/// Settings of the exposure job: its `[exposure]` section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExposureConfig {
    /// Length of the sliding window in event time.
    pub window_ms: u64,
    /// Shares a client may hold in one stock within the window.
    pub limit: u64,
    /// Per-client limits that replace `limit`.
    pub client_limits: BTreeMap<String, u64>,
    /// Purchases older than the clock minus this are dropped as late.
    pub allowed_lateness_ms: u64,
}

impl Default for ExposureConfig {
    fn default() -> Self {
        ExposureConfig {
            window_ms: 60_000,
            limit: 1_000_000,
            client_limits: BTreeMap::new(),
            allowed_lateness_ms: 5_000,
        }
    }
}

impl ExposureConfig {
    /// The limit of `client`.
    pub fn limit_of(&self, client: &str) -> u64 {
        self.client_limits
            .get(client)
            .copied()
            .unwrap_or(self.limit)
    }
}
