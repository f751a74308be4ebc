//! Pure decisions of a shipper's start: what the loaded cursor and the sink's
//! own view mean, executed by the shipper loop (I/O stays there).

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::cursor::CursorState;

/// A send interrupted by a crash: `from..=to` may or may not have arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InDoubt {
    pub from: u64,
    pub to: u64,
    /// What the shipper does about it, per the sink's mode.
    pub action: InDoubtAction,
    /// Why the range is in doubt.
    pub cause: InDoubtCause,
    /// The `alert_id` of `from` and of `to` (one record each to read,
    /// whatever the range's size); `None` if the journal could not say.
    pub first_alert_id: Option<String>,
    pub last_alert_id: Option<String>,
    /// Every `alert_id` of the range when it is small (16 records at most),
    /// else empty.
    pub alert_ids: Vec<String>,
}

/// Ranges up to this many records have every `alert_id` listed; past it
/// only the first and the last (an operator can `journal dump` the rest).
pub(crate) const IN_DOUBT_IDS: u64 = 16;

impl InDoubt {
    /// Records in the range.
    pub fn records(&self) -> u64 {
        self.to - self.from + 1
    }

    /// `seq 5..=40 (36 records, alert_id o:5 .. o:40)`, or for a small range
    /// `seq 5..=7 (3 records: o:5, o:6, o:7)`: what the log warning and the
    /// run summary say about the range.
    pub fn describe(&self) -> String {
        let (from, to, n) = (self.from, self.to, self.records());
        let noun = if n == 1 { "record" } else { "records" };
        if !self.alert_ids.is_empty() {
            return format!(
                "seq {from}..={to} ({n} {noun}: {})",
                self.alert_ids.join(", ")
            );
        }
        let id = |i: &Option<String>| i.clone().unwrap_or_else(|| "?".to_owned());
        format!(
            "seq {from}..={to} ({n} {noun}, alert_id {} .. {})",
            id(&self.first_alert_id),
            id(&self.last_alert_id)
        )
    }
}

/// Why a range is in doubt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InDoubtCause {
    /// The process stopped (a crash, SIGKILL) during the send.
    Crash,
    /// The cursor's newer slot is damaged, and the state before it records
    /// the send as started, not finished.
    DamagedCursor,
}

impl InDoubtCause {
    /// What the log and the summary say about it.
    pub fn as_str(self) -> &'static str {
        match self {
            InDoubtCause::Crash => "a crash interrupted its send",
            InDoubtCause::DamagedCursor => {
                "the cursor's newer slot is damaged, and the state before it has its send \
                 started, not finished"
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InDoubtAction {
    /// Sent again: the sink deduplicates (exactly-once) or accepts a duplicate
    /// (at-least-once).
    Resent,
    /// Skipped: a loss is possible, a duplicate is not (at-most-once).
    Skipped,
}

/// What to do with the cursor found at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StartPlan {
    /// The in-doubt range, if the last run crashed mid-send.
    pub in_doubt: Option<(u64, u64, InDoubtAction)>,
    /// The cursor to persist before shipping (`None`: keep what is on disk).
    pub store: Option<CursorState>,
    /// Resume after this seq.
    pub delivered: u64,
}

pub(crate) fn plan_start(cursor: CursorState, mode: DeliveryMode) -> StartPlan {
    if cursor.in_flight_to <= cursor.delivered {
        return StartPlan {
            in_doubt: None,
            store: None,
            delivered: cursor.delivered,
        };
    }
    let (from, to) = (cursor.delivered + 1, cursor.in_flight_to);
    match mode {
        // The in-flight mark stays on disk until the resend settles it, so a
        // second crash still reports the range.
        DeliveryMode::ExactlyOnce | DeliveryMode::AtLeastOnce => StartPlan {
            in_doubt: Some((from, to, InDoubtAction::Resent)),
            store: None,
            delivered: cursor.delivered,
        },
        DeliveryMode::AtMostOnce => StartPlan {
            in_doubt: Some((from, to, InDoubtAction::Skipped)),
            store: Some(CursorState::settled(to)),
            delivered: to,
        },
    }
}

/// After the sink's `recover` reported holding up to `held`: the seq to resume
/// after. The sink is the truth for what it holds, so only ever moves forward
/// (a sink behind the cursor was truncated by someone; resending would not
/// restore a guarantee the cursor already gave away).
pub(crate) fn apply_recovered(delivered: u64, held: Option<u64>) -> Option<u64> {
    held.filter(|&h| h > delivered)
}

/// The back-off after `failures` consecutive transient failures (1 = first):
/// `min * 2^(failures-1)`, capped at `max`.
pub(crate) fn backoff(
    failures: u32,
    min: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    min.saturating_mul(factor).min(max).max(min.min(max))
}

/// The wait after `attempts` consecutive sends (1 = first) to an endpoint
/// that refuses every record: `min` once (a deploy may have been
/// mid-restart), then `max`, for as long as the pause lasts (each attempt
/// costs the endpoint one refused request, nothing more).
pub(crate) fn pause_wait(
    attempts: u32,
    min: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    if attempts <= 1 { min.min(max) } else { max }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MODES: [DeliveryMode; 3] = [
        DeliveryMode::ExactlyOnce,
        DeliveryMode::AtLeastOnce,
        DeliveryMode::AtMostOnce,
    ];

    #[test]
    fn settled_cursor_resumes_in_every_mode() {
        for mode in MODES {
            for d in [0, 1, 42] {
                let plan = plan_start(CursorState::settled(d), mode);
                assert_eq!(
                    plan,
                    StartPlan {
                        in_doubt: None,
                        store: None,
                        delivered: d
                    }
                );
            }
        }
    }

    #[test]
    fn in_doubt_range_per_mode() {
        let cursor = CursorState {
            delivered: 4,
            in_flight_to: 8,
        };
        for mode in MODES {
            let plan = plan_start(cursor, mode);
            let (from, to, action) = plan.in_doubt.expect("in doubt");
            assert_eq!((from, to), (5, 8));
            match mode {
                DeliveryMode::AtMostOnce => {
                    assert_eq!(action, InDoubtAction::Skipped);
                    assert_eq!(plan.delivered, 8);
                    assert_eq!(plan.store, Some(CursorState::settled(8)));
                }
                _ => {
                    assert_eq!(action, InDoubtAction::Resent);
                    assert_eq!(plan.delivered, 4);
                    assert_eq!(plan.store, None);
                }
            }
        }
    }

    #[test]
    fn in_doubt_descriptions() {
        let d = |from, to, ids: &[&str], first: Option<&str>, last: Option<&str>| InDoubt {
            from,
            to,
            action: InDoubtAction::Resent,
            cause: InDoubtCause::Crash,
            first_alert_id: first.map(String::from),
            last_alert_id: last.map(String::from),
            alert_ids: ids.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            d(5, 7, &["a", "b", "c"], Some("a"), Some("c")).describe(),
            "seq 5..=7 (3 records: a, b, c)"
        );
        assert_eq!(
            d(9, 9, &["a"], Some("a"), Some("a")).describe(),
            "seq 9..=9 (1 record: a)"
        );
        assert_eq!(
            d(1, 40, &[], Some("o:1"), Some("o:40")).describe(),
            "seq 1..=40 (40 records, alert_id o:1 .. o:40)"
        );
        assert_eq!(
            d(1, 40, &[], None, Some("o:40")).describe(),
            "seq 1..=40 (40 records, alert_id ? .. o:40)"
        );
    }

    #[test]
    fn recovered_only_moves_forward() {
        assert_eq!(apply_recovered(4, None), None);
        assert_eq!(apply_recovered(4, Some(3)), None);
        assert_eq!(apply_recovered(4, Some(4)), None);
        assert_eq!(apply_recovered(4, Some(6)), Some(6));
    }

    #[test]
    fn a_pause_retries_soon_once_then_slowly() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(30));
        let got: Vec<_> = (0..=4).map(|a| pause_wait(a, min, max)).collect();
        assert_eq!(got, [min, min, max, max, max]);
        // A config with min == max waits that long every time.
        assert_eq!(pause_wait(1, max, max), max);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(30));
        let got: Vec<_> = (1..=4).map(|f| backoff(f, min, max).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800]);
        assert_eq!(
            backoff(10, min, max),
            Duration::from_millis(51_200).min(max)
        );
        assert_eq!(backoff(200, min, max), max);
        assert_eq!(backoff(0, min, max), min);
    }
}
