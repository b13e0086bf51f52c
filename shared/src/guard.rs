//! Running a handler's work safely: a panic becomes an error and a budget's cutoff is never overstepped; plus a
//! plain description of untrusted JSON for error messages.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;
use serde_json::Value;

use crate::budget::Budget;

/// Why guarded work produced no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Interrupted {
    /// The work panicked; the message is the panic's.
    #[error("internal error: {0}")]
    Panicked(String),
    /// The budget's cutoff came first.
    #[error("the invocation's deadline came first, after {0} ms")]
    OutOfTime(u128),
}

/// Runs `work` to completion, or until the budget's cutoff; a panic inside it is caught and returned.
pub async fn guarded<F: Future>(budget: Option<Budget>, work: F) -> Result<F::Output, Interrupted> {
    let started = Instant::now();
    let work = AssertUnwindSafe(work).catch_unwind();
    let outcome = match budget {
        Some(b) => tokio::time::timeout_at(b.cutoff.into(), work)
            .await
            .map_err(|_| Interrupted::OutOfTime(started.elapsed().as_millis()))?,
        None => work.await,
    };
    outcome.map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Interrupted::Panicked(message)
    })
}

/// What kind of JSON value `v` is, for messages ("an array", "null", ...).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_panic_is_returned_with_its_message() {
        let out = guarded(None, async { panic!("kaput") }).await;
        assert_eq!(out, Err::<(), _>(Interrupted::Panicked("kaput".into())));
    }

    #[tokio::test]
    async fn work_past_the_cutoff_is_abandoned() {
        let budget = Budget::from_remaining(Duration::from_millis(600));
        let started = Instant::now();
        let out = guarded(Some(budget), tokio::time::sleep(Duration::from_secs(5))).await;
        assert!(matches!(out, Err(Interrupted::OutOfTime(_))), "{out:?}");
        assert!(started.elapsed() < Duration::from_millis(600));
    }

    #[tokio::test]
    async fn work_within_the_budget_returns_its_result() {
        assert_eq!(guarded(Some(Budget::from_remaining(Duration::from_secs(5))), async { 7 }).await, Ok(7));
    }
}
