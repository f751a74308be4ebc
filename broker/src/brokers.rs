//! Several brokers for one client: the nodes of a RabbitMQ cluster, any of
//! which serves every queue (a quorum queue's leader is reached through
//! whichever node the client is connected to).
//!
//! A list is written as one string, URLs separated by commas (`--url`, the
//! `url` keys of the config, their environment variables), or as the
//! config's `urls = [...]`; a comma inside a URL (a password, say) is
//! written `%2C`. Every URL is parsed at once, so a bad one is refused at
//! start, not when its node is first needed.
//!
//! Which node a client tries is [`Rotation`]'s pure decision: one round of
//! attempts tries each node once, starting with the one that last worked;
//! a link that is lost moves the next round on to the following node (the
//! lost one may be going down, and still accept a connection for a moment).
//! The back-off between rounds is the client's own: a round that failed on
//! every node is one failure.

use crate::{BrokerError, Result, parse_url, redact};

/// The broker URLs a client may use, in order of preference; never empty,
/// each one parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brokers {
    urls: Vec<String>,
}

impl Brokers {
    /// The URLs of `list`, separated by commas (blanks around each trimmed).
    pub fn parse(list: &str) -> Result<Brokers> {
        Brokers::of(list.split(',').map(str::trim))
    }

    /// The URLs of `urls`, each parsed; refused if there is none or one is
    /// empty.
    pub fn of<'a>(urls: impl IntoIterator<Item = &'a str>) -> Result<Brokers> {
        let mut out = Vec::new();
        for (i, url) in urls.into_iter().enumerate() {
            if url.is_empty() {
                return Err(BrokerError::Url {
                    shown: String::new(),
                    reason: format!(
                        "broker URL {} of the list is empty (URLs are separated by commas; \
                         a comma inside one is written %2C)",
                        i + 1
                    ),
                });
            }
            parse_url(url)?;
            out.push(url.to_owned());
        }
        if out.is_empty() {
            return Err(BrokerError::Url {
                shown: String::new(),
                reason: "no broker URL given".to_owned(),
            });
        }
        Ok(Brokers { urls: out })
    }

    /// The URLs, in order.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// How many there are (at least one).
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Always false: a list holds at least one URL.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The list as it may be printed: every password hidden.
    pub fn shown(&self) -> String {
        self.urls
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Which node a client tries next: the pure state of its failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    nodes: usize,
    first: usize,
}

impl Rotation {
    /// A rotation over `nodes` nodes (at least one), starting with the first.
    pub fn new(nodes: usize) -> Rotation {
        Rotation {
            nodes: nodes.max(1),
            first: 0,
        }
    }

    /// The nodes one round of attempts tries, in order: each once, the
    /// preferred one first.
    pub fn round(&self) -> impl Iterator<Item = usize> + use<> {
        let (nodes, first) = (self.nodes, self.first);
        (0..nodes).map(move |i| (first + i) % nodes)
    }

    /// The node a round starts with.
    pub fn preferred(&self) -> usize {
        self.first
    }

    /// Node `node` answered: rounds start with it from now on.
    pub fn settle(&mut self, node: usize) {
        self.first = node % self.nodes;
    }

    /// The link to the preferred node was lost: the next round starts with
    /// the node after it.
    pub fn lost(&mut self) {
        self.first = (self.first + 1) % self.nodes;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Classified;

    #[test]
    fn a_list_is_split_at_commas_and_trimmed() {
        let b = Brokers::parse("amqp://a:p@h1:5701/%2f, amqp://a:p@h2:5702/%2f").expect("two");
        assert_eq!(b.len(), 2);
        assert_eq!(b.urls()[1], "amqp://a:p@h2:5702/%2f");
        assert_eq!(
            b.shown(),
            "amqp://a:***@h1:5701/%2f,amqp://a:***@h2:5702/%2f"
        );
        let one = Brokers::parse("amqp://guest:guest@127.0.0.1:5672/%2f").expect("one");
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn an_empty_entry_or_a_bad_url_is_refused_without_its_password() {
        for (list, says) in [
            ("", "URL 1 of the list is empty"),
            (
                "amqp://a:p@h1/%2f,,amqp://a:p@h2/%2f",
                "URL 2 of the list is empty",
            ),
            ("amqp://a:p@h1/%2f,", "URL 2 of the list is empty"),
            (
                "amqp://a:p@h1/%2f,amqp:u:S3cr3t@h2",
                "not a URL with a host",
            ),
        ] {
            let e = Brokers::parse(list).expect_err(list);
            assert_eq!(e.class(), Classified::Permanent);
            let text = e.to_string();
            assert!(text.contains(says), "{list}: {text}");
            assert!(!text.contains("S3cr3t"), "{text}");
        }
        assert!(Brokers::of([]).is_err());
    }

    /// The reference: a client that remembers the last node that answered
    /// and moves past a lost one.
    #[derive(Debug, Clone)]
    enum Event {
        Settle(usize),
        Lost,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![(0usize..8).prop_map(Event::Settle), Just(Event::Lost)]
    }

    proptest! {
        #[test]
        fn every_round_tries_each_node_once_preferred_first(
            nodes in 1usize..6,
            events in prop::collection::vec(event(), 0..40),
        ) {
            let mut r = Rotation::new(nodes);
            let mut model = 0usize;
            for e in events {
                match e {
                    Event::Settle(n) => {
                        r.settle(n % nodes);
                        model = n % nodes;
                    }
                    Event::Lost => {
                        r.lost();
                        model = (model + 1) % nodes;
                    }
                }
                let round: Vec<usize> = r.round().collect();
                prop_assert_eq!(round.len(), nodes);
                prop_assert_eq!(round[0], model);
                prop_assert_eq!(r.preferred(), model);
                let mut sorted = round.clone();
                sorted.sort_unstable();
                prop_assert_eq!(sorted, (0..nodes).collect::<Vec<_>>());
            }
        }
    }
}
