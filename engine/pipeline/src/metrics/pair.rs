//! The four `aldebaran_ha_*` families of a pair's node, read from the node's
//! status when a scrape asks (a `Collector`); absent on a single node.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, gauge::ConstGauge},
};

/// What the metrics and the health check read of a pair's node.
pub(crate) trait PairView: Send + Sync + std::fmt::Debug {
    /// It holds the lease.
    fn is_active(&self) -> bool;
    fn epoch(&self) -> u64;
    /// Events the standby has not acknowledged (as the active says).
    fn lag_events(&self) -> u64;
    /// The other node is connected.
    fn peer_up(&self) -> bool;
    /// The node's status for `/healthz`'s `ha` object.
    fn health_json(&self) -> serde_json::Value;
    /// What is wrong with the pair, if anything (a standby that could not
    /// take over, a node the active refused).
    fn problem(&self) -> Option<String>;
}

/// The node, once the pair runs.
#[derive(Debug, Default)]
pub(super) struct Pair {
    node: Mutex<Option<Arc<dyn PairView>>>,
}

impl Pair {
    pub(super) fn watch(&self, node: Arc<dyn PairView>) {
        *self.node.lock().unwrap_or_else(PoisonError::into_inner) = Some(node);
    }
}

impl Collector for Pair {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let node = self
            .node
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(n) = node else {
            return Ok(());
        };
        for (name, help, value) in [
            (
                "aldebaran_ha_role",
                "1 while this node is the active of its pair (holds the lease), 0 as standby.",
                u64::from(n.is_active()),
            ),
            (
                "aldebaran_ha_epoch",
                "The node's epoch: raised by every takeover, carried on every shipped alert.",
                n.epoch(),
            ),
            (
                "aldebaran_ha_replication_lag_events",
                "Events the active logged that the standby has not acknowledged.",
                n.lag_events(),
            ),
            (
                "aldebaran_ha_peer_up",
                "1 while the other node of the pair is connected, else 0.",
                u64::from(n.peer_up()),
            ),
        ] {
            ConstGauge::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}
