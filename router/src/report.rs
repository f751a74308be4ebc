//! What a run of the router did: the figures of its one-line summary.

use std::time::Duration;

/// Counts over the router's life, across links.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouteReport {
    /// Events published to the shards and confirmed (an event republished
    /// after a lost link counts again).
    pub events: u64,
    /// Rejected lines published to the dead-letter queue and confirmed.
    pub dead_letters: u64,
    /// Input messages acknowledged: every output of each was confirmed.
    pub messages: u64,
    /// Input messages the broker marked redelivered (another consumer, or
    /// an earlier link, had them unacknowledged).
    pub redelivered: u64,
    /// Links lost and replaced.
    pub reconnects: u64,
    /// From the start to the end.
    pub elapsed: Duration,
}

impl std::fmt::Display for RouteReport {
    /// `routed E events and D dead letters from M messages (R redelivered);
    /// C reconnects; S s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "routed {} events and {} dead letters from {} messages ({} redelivered); \
             {} reconnects; {:.3} s",
            self.events,
            self.dead_letters,
            self.messages,
            self.redelivered,
            self.reconnects,
            self.elapsed.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_one_line_with_every_figure() {
        let r = RouteReport {
            events: 10,
            dead_letters: 2,
            messages: 12,
            redelivered: 1,
            reconnects: 3,
            elapsed: Duration::from_millis(1500),
        };
        assert_eq!(
            r.to_string(),
            "routed 10 events and 2 dead letters from 12 messages (1 redelivered); \
             3 reconnects; 1.500 s"
        );
    }
}
