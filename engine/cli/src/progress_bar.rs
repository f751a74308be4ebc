//! `replay`'s progress bar, on stderr when it is a terminal: the bytes of
//! the input processed, their rate and the time left (when the input's size
//! is known), and events (with their rate) and alerts so far.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pipeline::Progress;

/// A file: a bar, the share done, the rate and the time left; short
/// enough to leave the bar room on 80 columns.
const SIZED: &str = "[{elapsed_precise}] {wide_bar} {percent:>3}% {bytes_per_sec} ETA {eta} {msg}";
/// Stdin (no size): how far, and the rate.
const UNSIZED: &str = "{spinner} [{elapsed_precise}] {bytes} {bytes_per_sec} {msg}";

/// The bar of one replay.
pub struct Bar {
    bar: ProgressBar,
    started: Instant,
    sized: bool,
}

impl Bar {
    pub fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(style(UNSIZED));
        Bar {
            bar,
            started: Instant::now(),
            sized: false,
        }
    }

    /// Shows `p` (after each batch; indicatif redraws at most 20 times a
    /// second and estimates the rate and the time left from the positions).
    pub fn update(&mut self, p: &Progress) {
        if let Some(total) = p.total {
            if !self.sized {
                self.bar.set_style(style(SIZED));
                self.sized = true;
            }
            self.bar.set_length(total);
        }
        self.bar.set_position(p.bytes);
        self.bar.set_message(message(p, self.started.elapsed()));
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants, checked by a test; a bad one would
    // fall back to a plain bar rather than fail the replay.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// `1200 events (600/s), 3 alerts`.
fn message(p: &Progress, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        p.events as f64 / secs
    } else {
        0.0
    };
    format!("{} events ({rate:.0}/s), {} alerts", p.events, p.alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_parse_and_show_the_rate_and_the_time_left() {
        for t in [SIZED, UNSIZED] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
            assert!(t.contains("{bytes_per_sec}"), "{t}");
        }
        assert!(SIZED.contains("{eta}"));
    }

    #[test]
    fn the_message_gives_the_event_rate() {
        let p = Progress {
            bytes: 10,
            total: Some(20),
            events: 1_200,
            alerts: 3,
        };
        assert_eq!(
            message(&p, Duration::from_secs(2)),
            "1200 events (600/s), 3 alerts"
        );
        assert_eq!(message(&p, Duration::ZERO), "1200 events (0/s), 3 alerts");
    }
}
