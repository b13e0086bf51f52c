//! The evidence record of the schedule's run. Before the reconcile repairs anything, the organization as the run
//! finds it is observed (reads only: the document `guardduty-enabler report` writes as `evidence.json`) and kept in
//! GUARDDUTY_EVIDENCE_BUCKET under `evidence/YYYY/MM/DD/`, so that the record shows each failure the run then
//! repairs, with its start, and the next record its end (PCI DSS 10.7.2 and 10.7.3). At most a third of the
//! invocation's time goes to it: a record not kept is said (`EvidenceRecorded` 0, and why in the answer), and the
//! reconcile runs all the same.

use std::sync::Arc;
use std::time::Instant;

use enablement::evidence::{self, Evidence, EvidenceError, S3Records};
use enablement::{emf_evidence, guarded, Budget, Cloud, Enabler};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

/// Keeps a document in the record: the bucket's name and the document; the key it was kept under.
pub type Keep = Arc<dyn Fn(String, Evidence) -> BoxFuture<'static, Result<String, EvidenceError>> + Send + Sync>;

/// Keeps documents in Amazon S3 with the function's own credentials (its role in the management account).
pub fn in_s3(base: aws_config::SdkConfig) -> Keep {
    Arc::new(move |bucket, document| {
        let records = S3Records::connect(&base, bucket);
        Box::pin(async move { evidence::store(&records, &document).await })
    })
}

/// The share of the invocation's time the record may take: a third of what is left.
fn share(budget: Option<Budget>) -> Option<Budget> {
    budget.map(|b| Budget::from_remaining(b.cutoff.saturating_duration_since(Instant::now()) / 3))
}

/// Observes the organization and keeps the document in `bucket`; what happened, for the run's answer. `ran_by`
/// names the run in the document's header.
pub(crate) async fn keep<C: Cloud>(
    enabler: &Enabler<C>,
    keep: &Keep,
    bucket: &str,
    ran_by: String,
    budget: Option<Budget>,
) -> Value {
    let started = Instant::now();
    let work = async {
        let document = evidence::collect(enabler, Some(ran_by)).await?;
        let clean = document.summary.clean;
        keep(bucket.to_owned(), document).await.map(|key| (key, clean))
    };
    let outcome = match guarded(share(budget), Box::pin(work)).await {
        Ok(Ok((key, clean))) => Ok(json!({"bucket": bucket, "key": key, "clean": clean})),
        Ok(Err(e)) => Err(e.to_string()),
        Err(interrupted) => Err(format!("not kept: {interrupted} (a third of the invocation's time)")),
    };
    let millis = started.elapsed().as_millis() as u64;
    println!("{}", emf_evidence("bootstrapper", outcome.is_ok()));
    match outcome {
        Ok(kept) => {
            tracing::info!(%kept, millis, "evidence recorded");
            kept
        }
        Err(error) => {
            tracing::warn!(%error, bucket, millis, "evidence not recorded");
            json!({"bucket": bucket, "failed": error})
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_record_takes_at_most_a_third_of_the_time_left() {
        let budget = Budget::from_remaining(Duration::from_secs(900));
        let third = share(Some(budget)).expect("a budget");
        let left = budget.cutoff.saturating_duration_since(Instant::now());
        assert!(third.cutoff <= Instant::now() + left / 3, "{third:?}");
        assert!(third.cutoff + Duration::from_secs(60) > Instant::now() + left / 3, "{third:?}");
        assert_eq!(share(None), None);
    }
}
