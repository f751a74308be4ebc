//! [`NodeStatus`]: what this node of a pair is and sees, shared by its
//! threads and read by `/metrics`, `/healthz` and `aldebaran status` (the
//! report a node sends when asked).

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering},
    },
    time::Instant,
};

use pair::wire::PeerStatus;

/// This node's role now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeRole {
    /// Looking for its peer, not yet following or active.
    Starting,
    Standby,
    Active,
}

impl NodeRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeRole::Starting => "starting",
            NodeRole::Standby => "standby",
            NodeRole::Active => "active",
        }
    }
}

/// Shared status.
pub(crate) struct NodeStatus {
    pub(crate) name: String,
    pub(crate) peer_addr: String,
    pub(crate) replication: &'static str,
    role: AtomicU8,
    epoch: AtomicU64,
    /// A standby is connected (active) / the active is connected (standby).
    peer_up: AtomicBool,
    /// Active: its standby is in sync; standby: its active said so.
    synced: AtomicBool,
    lag_events: AtomicU64,
    /// Standby: frames and journal seqs the active holds beyond this node.
    lag_frames: AtomicU64,
    lag_seqs: AtomicU64,
    started: Instant,
    /// When the peer was last heard, in ns since `started` (0: never).
    heard_ns: AtomicU64,
    input_head: AtomicU64,
    journal_head: AtomicU64,
    peer_name: Mutex<String>,
    /// The node holding the lease, as far as this node knows.
    lease_holder: Mutex<String>,
    /// What is wrong, said in status and health (stale standby, refused...).
    problem: Mutex<Option<String>>,
}

impl NodeStatus {
    pub(crate) fn new(name: &str, peer_addr: &str, replication: &'static str, epoch: u64) -> Self {
        NodeStatus {
            name: name.to_owned(),
            peer_addr: peer_addr.to_owned(),
            replication,
            role: AtomicU8::new(0),
            epoch: AtomicU64::new(epoch),
            peer_up: AtomicBool::new(false),
            synced: AtomicBool::new(false),
            lag_events: AtomicU64::new(0),
            lag_frames: AtomicU64::new(0),
            lag_seqs: AtomicU64::new(0),
            started: Instant::now(),
            heard_ns: AtomicU64::new(0),
            input_head: AtomicU64::new(0),
            journal_head: AtomicU64::new(0),
            peer_name: Mutex::new(String::new()),
            lease_holder: Mutex::new(String::new()),
            problem: Mutex::new(None),
        }
    }

    pub(crate) fn role(&self) -> NodeRole {
        match self.role.load(Ordering::Acquire) {
            2 => NodeRole::Active,
            1 => NodeRole::Standby,
            _ => NodeRole::Starting,
        }
    }

    pub(crate) fn set_role(&self, r: NodeRole) {
        let v = match r {
            NodeRole::Starting => 0,
            NodeRole::Standby => 1,
            NodeRole::Active => 2,
        };
        self.role.store(v, Ordering::Release);
        if r == NodeRole::Active {
            self.set_lease_holder(&self.name.clone());
        }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn set_epoch(&self, e: u64) {
        self.epoch.fetch_max(e, Ordering::AcqRel);
    }

    pub(crate) fn peer_up(&self) -> bool {
        self.peer_up.load(Ordering::Acquire)
    }

    pub(crate) fn set_peer(&self, up: bool, name: Option<&str>) {
        self.peer_up.store(up, Ordering::Release);
        if let (Some(n), Ok(mut p)) = (name, self.peer_name.lock()) {
            *p = n.to_owned();
        }
        if up {
            self.heard();
        }
    }

    pub(crate) fn peer_name(&self) -> String {
        self.peer_name.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub(crate) fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    pub(crate) fn set_synced(&self, s: bool) {
        self.synced.store(s, Ordering::Release);
    }

    pub(crate) fn lag_events(&self) -> u64 {
        self.lag_events.load(Ordering::Acquire)
    }

    pub(crate) fn set_lag(&self, events: u64, frames: u64, seqs: u64) {
        self.lag_events.store(events, Ordering::Release);
        self.lag_frames.store(frames, Ordering::Release);
        self.lag_seqs.store(seqs, Ordering::Release);
    }

    /// The peer was heard from just now.
    pub(crate) fn heard(&self) {
        let ns = self.started.elapsed().as_nanos() as u64;
        self.heard_ns.store(ns.max(1), Ordering::Release);
    }

    /// Milliseconds since the peer was last heard (`None`: never).
    pub(crate) fn heard_ms_ago(&self) -> Option<u64> {
        match self.heard_ns.load(Ordering::Acquire) {
            0 => None,
            at => Some((self.started.elapsed().as_nanos() as u64).saturating_sub(at) / 1_000_000),
        }
    }

    pub(crate) fn set_heads(&self, input: u64, journal: u64) {
        self.input_head.store(input, Ordering::Release);
        self.journal_head.store(journal, Ordering::Release);
    }

    pub(crate) fn heads(&self) -> (u64, u64) {
        (
            self.input_head.load(Ordering::Acquire),
            self.journal_head.load(Ordering::Acquire),
        )
    }

    pub(crate) fn set_lease_holder(&self, n: &str) {
        if let Ok(mut h) = self.lease_holder.lock() {
            *h = n.to_owned();
        }
    }

    pub(crate) fn lease_holder(&self) -> String {
        self.lease_holder
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Says what is wrong (`None`: nothing).
    pub(crate) fn set_problem(&self, p: Option<String>) {
        if let Ok(mut slot) = self.problem.lock() {
            *slot = p;
        }
    }

    pub(crate) fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }

    /// The heartbeat this node sends.
    pub(crate) fn peer_status(&self) -> PeerStatus {
        let (input_head, journal_head) = self.heads();
        PeerStatus {
            epoch: self.epoch(),
            active: self.role() == NodeRole::Active,
            synced: self.synced(),
            input_head,
            journal_head,
            lag_events: self.lag_events(),
        }
    }

    /// The report `aldebaran status` receives: a JSON object.
    pub(crate) fn report(&self, cursors: &[alerts::CursorInfo]) -> String {
        let (input_head, journal_head) = self.heads();
        serde_json::json!({
            "node": self.name,
            "role": self.role().as_str(),
            "epoch": self.epoch(),
            "replication": self.replication,
            "peer": self.peer_addr,
            "peer_node": self.peer_name(),
            "peer_up": self.peer_up(),
            "synced": self.synced(),
            "lease_holder": self.lease_holder(),
            "lag_events": self.lag_events(),
            "lag_frames": self.lag_frames.load(Ordering::Acquire),
            "lag_seqs": self.lag_seqs.load(Ordering::Acquire),
            "last_heartbeat_ms_ago": self.heard_ms_ago(),
            "input_head": input_head,
            "journal_head": journal_head,
            "problem": self.problem(),
            "sinks": cursors.iter().map(|c| serde_json::json!({
                "name": c.name,
                "delivered": c.delivered,
                "in_flight_to": c.in_flight_to,
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

impl std::fmt::Debug for NodeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStatus")
            .field("name", &self.name)
            .field("role", &self.role())
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

impl crate::metrics::PairView for NodeStatus {
    fn is_active(&self) -> bool {
        self.role() == NodeRole::Active
    }

    fn epoch(&self) -> u64 {
        NodeStatus::epoch(self)
    }

    fn lag_events(&self) -> u64 {
        NodeStatus::lag_events(self)
    }

    fn peer_up(&self) -> bool {
        NodeStatus::peer_up(self)
    }

    fn health_json(&self) -> serde_json::Value {
        serde_json::json!({
            "node": self.name,
            "role": self.role().as_str(),
            "epoch": NodeStatus::epoch(self),
            "peer_up": NodeStatus::peer_up(self),
            "synced": self.synced(),
            "lag_events": NodeStatus::lag_events(self),
            "lease_holder": self.lease_holder(),
        })
    }

    fn problem(&self) -> Option<String> {
        NodeStatus::problem(self)
    }
}
