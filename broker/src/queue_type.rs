//! The kind of queue a client declares: RabbitMQ's classic queue (one node
//! holds it; the default, as the original `declare.py` declares it) or the
//! quorum queue (replicated by Raft over three nodes of a cluster: it keeps
//! its messages, and serves, while a majority of its nodes runs).

use lapin::types::{AMQPValue, FieldTable, LongString};

/// A queue's `x-queue-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// One node's queue.
    #[default]
    Classic,
    /// Replicated over the cluster (Raft); durable by nature.
    Quorum,
}

impl QueueType {
    /// The value RabbitMQ knows it by.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
        }
    }

    /// `classic` or `quorum`.
    pub fn parse(s: &str) -> Option<QueueType> {
        match s {
            "classic" => Some(QueueType::Classic),
            "quorum" => Some(QueueType::Quorum),
            _ => None,
        }
    }

    /// The arguments of a `queue.declare`: the type always named, so that
    /// declaring a queue that exists with the other type is refused by the
    /// broker (PRECONDITION_FAILED, "inequivalent arg 'x-queue-type'")
    /// rather than taken for it.
    pub fn declare_args(self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from(self.as_str())),
        );
        args
    }
}

impl std::fmt::Display for QueueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_classic_is_the_default() {
        for t in [QueueType::Classic, QueueType::Quorum] {
            assert_eq!(QueueType::parse(t.as_str()), Some(t));
            assert!(t.declare_args().inner().contains_key("x-queue-type"));
        }
        assert_eq!(QueueType::default(), QueueType::Classic);
        assert_eq!(QueueType::parse("stream"), None);
    }
}
