//! Waiting with backoff, for what AWS does in the background (members settling, the policy type being enabled, an
//! account being created, a new role becoming assumable): waits that start at `first` and double up to `longest`,
//! for at most `total`, and never past a deadline. One type for every such wait of the library and the functions.

use std::time::{Duration, Instant};

/// How to wait: from `first`, doubling to `longest`, for at most `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub longest: Duration,
    /// The most time spent, from the start, waiting included.
    pub total: Duration,
}

impl Backoff {
    /// The waits of one poll that started at `started`, none that would end past `until` (a deadline), where given.
    pub fn waits(self, started: Instant, until: Option<Instant>) -> Waits {
        Waits { backoff: self, started, until, next: self.first }
    }
}

/// The waits of one poll (see [`Backoff::waits`]).
#[derive(Clone, Debug)]
pub struct Waits {
    backoff: Backoff,
    started: Instant,
    until: Option<Instant>,
    next: Duration,
}

impl Waits {
    /// The next wait, or `None` when it would end past the total or the deadline: then the poll gives up.
    pub fn next_wait(&mut self) -> Option<Duration> {
        let wait = self.next;
        if self.started.elapsed() + wait > self.backoff.total || self.until.is_some_and(|u| Instant::now() + wait >= u)
        {
            return None;
        }
        self.next = (wait * 2).min(self.backoff.longest);
        Some(wait)
    }

    /// Sleeps the next wait: `false`, at once, when there is none.
    pub async fn sleep(&mut self) -> bool {
        match self.next_wait() {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }

    /// The time since the poll started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_waits_double_to_the_longest_and_stop_before_the_total() {
        let backoff = Backoff { first: 100 * MS, longest: 400 * MS, total: 1_000 * MS };
        let mut waits = backoff.waits(Instant::now(), None);
        // (no time passes: the waits are only counted)
        let seen: Vec<u128> = (0..4).filter_map(|_| waits.next_wait()).map(|w| w.as_millis()).collect();
        assert_eq!(seen, [100, 200, 400, 400]);
        let mut late = backoff.waits(Instant::now() - 950 * MS, None);
        assert_eq!(late.next_wait(), None, "950 ms in, a wait of 100 ms passes the total");
    }

    #[test]
    fn no_wait_ends_past_the_deadline() {
        let backoff = Backoff { first: 100 * MS, longest: 100 * MS, total: Duration::from_secs(60) };
        let mut waits = backoff.waits(Instant::now(), Some(Instant::now() + 50 * MS));
        assert_eq!(waits.next_wait(), None);
        let mut waits = backoff.waits(Instant::now(), Some(Instant::now() + Duration::from_secs(1)));
        assert_eq!(waits.next_wait(), Some(100 * MS));
    }
}
