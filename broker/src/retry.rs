//! What a client does after a failure: the pure decision [`next`] from the
//! failure's class and where the client is in its life ([`Stage`]).
//!
//! | class | starting | not yet connected | connected before |
//! |---|---|---|---|
//! | permanent | fail | retry ("unreachable at start") | reconnect ("connection lost") |
//! | transient | retry ("unreachable at start") | retry ("unreachable at start") | reconnect ("connection lost") |
//!
//! Only the attempt someone waits on can fail: `aldebaran run` before it
//! reports ready, a one-shot tool. Once a client has worked with a broker,
//! every failure is retried: a broker restarting may refuse logins for a
//! moment while it boots (its users not loaded yet, an external auth
//! backend not up). A client whose caller has stopped waiting without a
//! connection (the first attempt was refused or had no answer) is in the
//! same position — its broker was down, so it is booting — and keeps trying;
//! its log names each refusal.

use crate::Classified;

/// Where a client is in its life when an attempt fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its first attempt, which its caller waits on.
    Starting,
    /// It has never connected, and runs in the background now.
    NotYetConnected,
    /// It has connected (and worked) before.
    Connected,
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Give up: report the error to the caller that waits.
    Fail,
    /// Retry with backoff; the broker was never reached.
    RetryStart,
    /// Retry with backoff; a link that worked was lost.
    Reconnect,
}

/// The decision after a failure of class `class` at `stage` (the table in
/// the module's doc).
pub fn next(class: Classified, stage: Stage) -> Next {
    match (class, stage) {
        (Classified::Permanent, Stage::Starting) => Next::Fail,
        (_, Stage::Starting | Stage::NotYetConnected) => Next::RetryStart,
        (_, Stage::Connected) => Next::Reconnect,
    }
}

#[cfg(test)]
mod tests {
    use super::{Classified::*, Next, Stage, next};

    #[test]
    fn only_a_permanent_failure_at_start_fails() {
        assert_eq!(next(Permanent, Stage::Starting), Next::Fail);
        assert_eq!(next(Transient, Stage::Starting), Next::RetryStart);
        assert_eq!(next(Permanent, Stage::NotYetConnected), Next::RetryStart);
        assert_eq!(next(Transient, Stage::NotYetConnected), Next::RetryStart);
        assert_eq!(next(Permanent, Stage::Connected), Next::Reconnect);
        assert_eq!(next(Transient, Stage::Connected), Next::Reconnect);
    }
}
