//! The responder function: reacts to EventBridge events that announce a new account (enrolling it in every
//! governed region), to a region being enabled (reconciling that region), and to its schedule (the full
//! reconcile that repairs drift and catches any account an event missed).

pub mod event;

use std::time::Instant;

use enablement::{
    guarded, AccountId, AwsCloud, Budget, Cloud, ConfigError, CreateAccountStatus, Enabler, Error as RunError,
    Interrupted, Report, RunOptions, Settings,
};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};

pub use event::{classify, EventError, Request};

/// The function's state, built once per cold start.
pub struct Responder<C> {
    enabler: Result<Enabler<C>, ConfigError>,
}

impl Responder<AwsCloud> {
    /// Reads the configuration and builds the AWS clients; a bad configuration fails every handled event.
    pub async fn from_env() -> Self {
        let enabler = match Settings::from_env() {
            Ok(settings) => Ok(enablement::connect(settings).await),
            Err(e) => Err(e),
        };
        Self { enabler }
    }
}

impl<C: Cloud> Responder<C> {
    /// A responder over `enabler` (or the configuration error that prevented one).
    pub fn new(enabler: Result<Enabler<C>, ConfigError>) -> Self {
        Self { enabler }
    }

    /// Handles one event. Ignored events succeed with no AWS call; an event that cannot be handled now (malformed,
    /// an account outside the organization, a region that failed) is an error, so that EventBridge retries it and
    /// finally dead-letters it.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let (payload, context) = event.into_parts();
        let started = Instant::now();
        let request = match classify(&payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "rejected event");
                return Err(e.into());
            }
        };
        tracing::info!(asked = %json!(request), "event classified");
        if let Request::Ignore { reason } = &request {
            tracing::info!(%reason, "ignored");
            return Ok(json!({"request": request}));
        }
        let enabler = self.enabler.as_ref().map_err(|e| Error::from(e.to_string()))?;
        let budget = Budget::from_epoch_millis(context.deadline);
        let options = RunOptions::within(budget);
        let outcome = guarded(budget, Box::pin(serve(enabler, &request, options))).await.map_err(|e| match e {
            Interrupted::OutOfTime(_) => {
                Error::from("the invocation's deadline came first; EventBridge retries the event")
            }
            other => Error::from(other.to_string()),
        })?;
        let millis = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(Some(report)) => {
                enablement::publish("responder", &report);
                if report.is_success() {
                    Ok(json!({"request": request, "report": report}))
                } else {
                    Err(format!("not every region reached the desired state: {}", report.problems().join("; ")).into())
                }
            }
            Ok(None) => Ok(json!({"request": request, "ignored": "nothing to do"})),
            Err(Outcome::Ignored(reason)) => {
                tracing::info!(%reason, millis, "ignored");
                Ok(json!({"request": request, "ignored": reason}))
            }
            Err(Outcome::Failed(e)) => {
                tracing::warn!(error = %e, millis, "failed");
                Err(e.into())
            }
        }
    }
}

/// Why serving a request produced no report.
enum Outcome {
    /// Nothing to do after all (an excluded account, a failed creation, a region not governed).
    Ignored(String),
    /// The request cannot be served now.
    Failed(String),
}

impl From<RunError> for Outcome {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Excluded(_) => Self::Ignored(e.to_string()),
            RunError::NoRegions(_) => Self::Ignored(e.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

async fn serve<C: Cloud>(
    enabler: &Enabler<C>,
    request: &Request,
    options: RunOptions,
) -> Result<Option<Report>, Outcome> {
    let options = &options;
    let onboard = |account: AccountId| async move { enabler.onboard(&account, options).await };
    Ok(Some(match request {
        Request::Ignore { .. } => return Ok(None),
        Request::Onboard { account, .. } => onboard(account.clone()).await?,
        Request::ResolveCreateAccount { request_id } => match enabler.create_account_status(request_id).await? {
            CreateAccountStatus::Succeeded(account) => onboard(account).await?,
            CreateAccountStatus::Failed(reason) => {
                return Err(Outcome::Ignored(format!("the account creation failed: {reason}")))
            }
            CreateAccountStatus::InProgress => {
                return Err(Outcome::Failed(format!("account creation {request_id} is still in progress; retry later")))
            }
        },
        Request::Region { region } => {
            let options = RunOptions { only_regions: Some(vec![region.clone()]), ..options.clone() };
            enabler.reconcile_with(&options).await?
        }
        Request::Reconcile => enabler.reconcile_with(options).await?,
    }))
}
