//! [`Mirror`]: the shippers' cursor writes, sent to the standby before the
//! send they announce. A shipper that marked a send in flight waits here
//! until the standby installed that mark — so a standby that takes over
//! knows the send may have happened and reports it — but never longer than
//! the link can be trusted: without an in-sync standby nothing waits (one
//! catching up is not eligible to take over), and a lost one is waited for
//! only while the gate holds.

use std::{sync::Arc, time::Duration};

use alerts::delivery::CursorMirror;
use pair::gate::Link;

use super::{cursors::CursorQueue, release::ReleaseGate};

/// The active's cursor mirror.
pub(crate) struct Mirror {
    queue: Arc<CursorQueue>,
    gate: Arc<ReleaseGate>,
    link_timeout: Duration,
    alone_after: Duration,
}

impl Mirror {
    pub(crate) fn new(
        queue: Arc<CursorQueue>,
        gate: Arc<ReleaseGate>,
        link_timeout: Duration,
        alone_after: Duration,
    ) -> Self {
        Mirror {
            queue,
            gate,
            link_timeout,
            alone_after,
        }
    }
}

impl CursorMirror for Mirror {
    fn written(&self, rel_path: &str, bytes: &[u8]) {
        let Some(id) = self.queue.push(rel_path, bytes) else {
            return;
        };
        let bound = match self.gate.link() {
            // In sync: the standby acknowledges within the link's timeout,
            // or the link is declared dead and the gate holds.
            Link::Synced => self.link_timeout * 2,
            Link::Hold { .. } => self.alone_after,
            Link::CatchingUp | Link::Alone => return,
        };
        if !self.queue.wait_acked(id, bound) && self.gate.link() == Link::Synced {
            tracing::warn!(
                path = rel_path,
                "ha: the standby did not acknowledge a cursor in time"
            );
        }
    }
}
