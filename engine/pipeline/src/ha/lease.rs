//! The lease: an exclusive consumer on the input queue, held by the active
//! for as long as its broker connection lives. Trying it is starting the
//! source with `exclusive`: the broker refuses a second exclusive consumer
//! (ACCESS_REFUSED) until the holder's connection is gone — the broker
//! cannot split from itself, so it is the arbiter. A won lease is the
//! running source of the new active phase; it does not reconnect (a lost
//! connection is a lost lease: the node demotes itself).

use super::pair_ctx::PairCtx;
use crate::{
    PipelineError,
    source::{self, Source},
};

/// What a try gave.
pub(crate) enum LeaseTry {
    /// This node holds the lease; the source consumes.
    Won(Box<(Source, ingest::Cutter)>),
    /// Another consumer holds it.
    Held,
    /// The broker could not be asked (down, unreachable): said, retried.
    Failed(String),
}

/// Tries the lease once; `processed` are the digests of the messages the
/// state holds (redelivered, they are not processed again).
pub(crate) fn try_lease(ctx: &PairCtx, processed: &[u64]) -> LeaseTry {
    let lease = source::Lease {
        heartbeat_secs: ctx.ha.broker_heartbeat_s,
        probe: ctx.ha.probe,
        connection_name: format!("aldebaran-pair {}", ctx.node.name),
    };
    match source::start_leased(
        &ctx.setup.source,
        &ctx.setup.stages.ingest,
        processed,
        lease,
    ) {
        Ok(won) => LeaseTry::Won(Box::new(won)),
        Err(PipelineError::Ingest(ingest::IngestError::LeaseHeld { .. })) => LeaseTry::Held,
        Err(e) => LeaseTry::Failed(e.to_string()),
    }
}
