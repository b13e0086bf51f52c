//! How calls are retried: the SDK's standard retries with a patient backoff and no shared quota, plus GuardDuty's
//! settling answers, which are retried only while a region is known to be settling.
//!
//! GuardDuty answers "The request is rejected because an invalid or out-of-range value is specified as an input
//! parameter." both for a real input error (it is the generic InvalidInputException text) and for a while after
//! EnableOrganizationAdminAccount; and "... is not an associated member ..." right after CreateMembers. So such an
//! answer is retried only inside a bounded window after this process's own designation or CreateMembers in that
//! region. Anywhere else a BadRequestException is not retried: its region fails at once and the others go on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_guardduty::config::interceptors::InterceptorContext;
use aws_sdk_guardduty::config::retry::{ClassifyRetry, RetryAction, RetryConfig, RetryPartition, TokenBucket};

/// How the SDK retries: attempts per call, the backoff bounds (jittered exponential between them), and how long a
/// region counts as settling after a designation or CreateMembers there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// How long GuardDuty's settling answers are retried in a region after this process designated the admin or
    /// created members there.
    pub settling_window: Duration,
}

impl Default for RetryPolicy {
    /// Ten attempts from 250 ms up to 20 s: about a minute and a half of patience at worst, inside a two-minute
    /// settling window (peers wait 60 to 120 s after a designation).
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            settling_window: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn config(self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }
}

/// A retry partition without the standard retry quota: every call gets its own bounded attempts, so a burst of
/// throttling across many parallel calls does not leave later calls with no retries at all.
pub(crate) fn unlimited_partition(name: &'static str) -> RetryPartition {
    RetryPartition::custom(name).token_bucket(TokenBucket::unlimited()).build()
}

/// The regions that are settling, and until when. Shared by every GuardDuty client of one [`super::AwsCloud`]:
/// the management client opens a region's window when it designates the admin there, the admin client when it
/// creates members there, and the admin client's [`SettlingRetry`] reads it.
#[derive(Clone, Debug, Default)]
pub struct SettlingWindows {
    until: Arc<Mutex<HashMap<String, Instant>>>,
    length: Duration,
}

impl SettlingWindows {
    /// Windows of `length`.
    pub fn new(length: Duration) -> Self {
        Self { until: Arc::default(), length }
    }

    /// Opens (or extends) `region`'s window from now.
    pub fn open(&self, region: &str) {
        let until = Instant::now() + self.length;
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(region.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Whether `region` is settling now.
    pub fn is_open(&self, region: &str) -> bool {
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        map.get(region).is_some_and(|until| Instant::now() < *until)
    }
}

/// The messages GuardDuty gives while a fresh delegated admin or member is settling.
pub const SETTLING_MESSAGES: [&str; 2] = ["invalid or out-of-range value", "not an associated member"];

/// Retries GuardDuty's settling answers (HTTP 400 with one of [`SETTLING_MESSAGES`]) while the region's window is
/// open; leaves every other answer to the standard classifiers, which do not retry a BadRequestException.
#[derive(Debug, Clone)]
pub struct SettlingRetry {
    region: String,
    windows: SettlingWindows,
}

impl SettlingRetry {
    /// The classifier for `region`'s admin client.
    pub fn new(region: &str, windows: SettlingWindows) -> Self {
        Self { region: region.to_owned(), windows }
    }
}

impl ClassifyRetry for SettlingRetry {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else { return RetryAction::NoActionIndicated };
        if response.status().as_u16() != 400 || !self.windows.is_open(&self.region) {
            return RetryAction::NoActionIndicated;
        }
        let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        if SETTLING_MESSAGES.iter().any(|m| body.contains(m)) {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "GuardDutySettling"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_per_region_and_closes() {
        let windows = SettlingWindows::new(Duration::from_millis(30));
        assert!(!windows.is_open("eu-west-1"));
        windows.open("eu-west-1");
        assert!(windows.is_open("eu-west-1"));
        assert!(!windows.is_open("us-east-1"), "only the region where the designation happened");
        std::thread::sleep(Duration::from_millis(40));
        assert!(!windows.is_open("eu-west-1"), "bounded");
    }
}
