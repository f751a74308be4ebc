//! The node's replication address: one thread accepting connections for the
//! life of the process, whatever the node's role. The first message says
//! what the caller wants: a `Query` (from `aldebaran status`) is answered
//! with the node's report; a `Hello` (a node that wants to follow) goes to
//! the replicator while this node is active, and is answered with this
//! node's status otherwise (so a starting peer learns it is not active).

use std::{
    net::TcpListener,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use pair::{Link, wire::Message};

use super::{
    node::{NodeRole, NodeStatus},
    replicator::Replicator,
};
use crate::{PipelineError, Result};

/// Where the listener hands a following node while this node is active.
pub(crate) type ActiveSlot = Arc<Mutex<Option<Arc<Replicator>>>>;

/// Binds `addr` and starts accepting; the thread ends with the process.
pub(crate) fn spawn(
    addr: &str,
    node: Arc<NodeStatus>,
    slot: ActiveSlot,
    journal_dir: PathBuf,
    link_timeout: Duration,
) -> Result<std::net::SocketAddr> {
    let l = TcpListener::bind(addr)
        .map_err(|e| PipelineError::Config(format!("ha.listen {addr}: {e}")))?;
    let local = l
        .local_addr()
        .map_err(|e| PipelineError::Config(format!("ha.listen {addr}: {e}")))?;
    std::thread::Builder::new()
        .name("aldebaran-ha-listen".into())
        .spawn(move || {
            for conn in l.incoming() {
                let Ok(stream) = conn else { continue };
                let (node, slot, dir) = (Arc::clone(&node), Arc::clone(&slot), journal_dir.clone());
                let _ = std::thread::Builder::new()
                    .name("aldebaran-ha-conn".into())
                    .spawn(move || {
                        if let Ok(link) = Link::over(stream, link_timeout) {
                            answer(link, &node, &slot, &dir);
                        }
                    });
            }
        })
        .map_err(|e| PipelineError::Internal(format!("cannot start the ha listener: {e}")))?;
    tracing::info!(addr = %local, "ha: replication and status at this address");
    Ok(local)
}

fn answer(mut link: Link, node: &NodeStatus, slot: &ActiveSlot, journal_dir: &std::path::Path) {
    match link.recv() {
        Ok(Message::Query) => {
            let cursors = alerts::read_cursors(journal_dir).unwrap_or_default();
            let _ = link.send(&Message::Report(node.report(&cursors)));
        }
        Ok(Message::Hello(h)) => {
            let active = if node.role() == NodeRole::Active {
                slot.lock().ok().and_then(|s| s.clone())
            } else {
                None
            };
            match active {
                Some(r) => r.accept(link, h),
                None => {
                    let _ = link.send(&Message::Status(node.peer_status()));
                }
            }
        }
        Ok(other) => {
            let _ = link.send(&Message::Refuse(format!(
                "expected a Hello or a Query, not {other:?}"
            )));
        }
        Err(_) => {}
    }
}
