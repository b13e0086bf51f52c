//! Time budgets for invocations with a deadline: when to stop starting new work, and when to stop waiting.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The instants a run with a deadline works to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// No new region is started after this.
    pub soft: Instant,
    /// Regions still running now are cut short and reported unfinished.
    pub hard: Instant,
    /// The caller stops waiting for the run at all, whatever it is doing, to answer before the deadline.
    pub cutoff: Instant,
}

impl Budget {
    /// A budget for a deadline given in milliseconds since the Unix epoch (the Lambda context's deadline). The
    /// margin kept free is a fifth of the time left, between half a second and ten seconds: regions are cut short
    /// one margin before the deadline, none is started two margins before it, and the caller gives up waiting
    /// half a margin before it. `None` where no deadline is known: 0, or a value too small to be a time
    /// since the epoch at all (before September 2001; some local runtime emulators send a duration there).
    pub fn from_epoch_millis(deadline_ms: u64) -> Option<Self> {
        Self::time_left(deadline_ms).map(Self::from_remaining)
    }

    /// The time left until a deadline given in milliseconds since the Unix epoch; `None` where no deadline is known
    /// (see [`from_epoch_millis`](Self::from_epoch_millis)).
    pub fn time_left(deadline_ms: u64) -> Option<Duration> {
        const EARLIEST_PLAUSIBLE: u64 = 1_000_000_000_000;
        if deadline_ms < EARLIEST_PLAUSIBLE {
            return None;
        }
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Some(Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    /// A budget for `remaining` time from now.
    pub fn from_remaining(remaining: Duration) -> Self {
        let margin = (remaining / 5).clamp(Duration::from_millis(500), Duration::from_secs(10));
        let now = Instant::now();
        let cutoff = now + remaining.saturating_sub(margin / 2);
        let hard = now + remaining.saturating_sub(margin);
        let soft = now + remaining.saturating_sub(margin * 2);
        Self { soft, hard, cutoff }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_invocation_keeps_ten_seconds_free_and_stops_starting_work_twenty_seconds_before() {
        let before = Instant::now();
        let b = Budget::from_remaining(Duration::from_secs(900));
        assert!(b.hard >= before + Duration::from_secs(890) && b.hard <= Instant::now() + Duration::from_secs(890));
        assert_eq!(b.hard - b.soft, Duration::from_secs(10));
        assert_eq!(b.cutoff - b.hard, Duration::from_secs(5));
    }

    #[test]
    fn a_short_invocation_keeps_at_least_half_a_second_free() {
        let b = Budget::from_remaining(Duration::from_secs(2));
        assert_eq!(b.hard - b.soft, Duration::from_millis(500));
        assert!(b.hard <= Instant::now() + Duration::from_millis(1500));
    }

    #[test]
    fn no_deadline_means_no_budget_and_a_past_one_means_no_time() {
        assert_eq!(Budget::from_epoch_millis(0), None);
        assert_eq!(Budget::from_epoch_millis(600_000), None, "a duration is not a deadline");
        let past = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64 - 60_000;
        let b = Budget::from_epoch_millis(past).expect("budget");
        assert!(b.hard <= Instant::now() && b.soft <= Instant::now());
    }
}
