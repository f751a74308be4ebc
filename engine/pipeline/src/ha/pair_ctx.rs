//! [`PairCtx`]: what every phase of a pair's node shares — its settings,
//! its status, the stop flag of the signals, and the epochs it has seen.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64},
    },
};

use super::{node::NodeStatus, setup::HaSetup};
use crate::options::ServiceSetup;

/// The node's shared context.
pub(crate) struct PairCtx {
    pub(crate) ha: HaSetup,
    pub(crate) setup: ServiceSetup,
    pub(crate) node: Arc<NodeStatus>,
    /// Set by the first SIGTERM/SIGINT.
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) state_dir: PathBuf,
    /// The highest epoch heard from the other node.
    pub(crate) peer_epoch: Arc<AtomicU64>,
}
