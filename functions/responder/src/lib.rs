//! The responder function: reacts to EventBridge events that announce a new account (enrolling it in every
//! governed region), to a region being enabled (reconciling that region), and to its schedule (the full
//! reconcile that repairs drift and catches any account an event missed).

pub mod event;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enablement::{
    emf_failure, emf_onboarding, guarded, AccountId, AwsCloud, Budget, Cloud, ConfigError, CreateAccountStatus,
    Enabler, Error as RunError, Failure, Report, RunOptions, Settings,
};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub use event::{classify, EventError, Request};

/// How the responder waits for an account creation that is still in progress: DescribeCreateAccountStatus with
/// backoff from `first` to `longest`, until the account is created or failed, the invocation's deadline comes
/// near, or `total` has passed (when there is no deadline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreationPolling {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub longest: Duration,
    /// The most time spent waiting when the invocation has no deadline.
    pub total: Duration,
}

impl Default for CreationPolling {
    /// A few seconds growing to 30 s: account creation usually takes a minute or two, and Lambda retries a failed
    /// asynchronous invocation only twice (after about 1 and 2 minutes) before the event is dead-lettered.
    fn default() -> Self {
        Self { first: Duration::from_secs(3), longest: Duration::from_secs(30), total: Duration::from_secs(14 * 60) }
    }
}

/// The function's state, built once per cold start.
pub struct Responder<C> {
    enabler: Result<Enabler<C>, ConfigError>,
    polling: CreationPolling,
}

impl Responder<AwsCloud> {
    /// Reads the configuration and builds the AWS clients; a bad configuration fails every handled event.
    pub async fn from_env() -> Self {
        let enabler = match Settings::from_env() {
            Ok(settings) => Ok(enablement::connect(settings).await),
            Err(e) => Err(e),
        };
        Self::new(enabler)
    }
}

/// What serving a request produced.
enum Served {
    /// A run's report.
    Report(Box<Report>),
    /// Nothing to do after all (an excluded account, a failed creation, a region not governed).
    Ignored(String),
}

impl<C: Cloud> Responder<C> {
    /// A responder over `enabler` (or the configuration error that prevented one).
    pub fn new(enabler: Result<Enabler<C>, ConfigError>) -> Self {
        Self { enabler, polling: CreationPolling::default() }
    }

    /// The same responder with other waits for account creations.
    pub fn with_polling(mut self, polling: CreationPolling) -> Self {
        self.polling = polling;
        self
    }

    /// Handles one event. Ignored events succeed with no AWS call; an event that cannot be handled now (malformed,
    /// an account outside the organization, a region that failed, an account not protected) is an error whose
    /// `errorType` names the kind, so that EventBridge and Lambda retry it and finally dead-letter it.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Failure> {
        let (payload, context) = event.into_parts();
        let started = Instant::now();
        let request = classify(&payload).map_err(|e| {
            tracing::warn!(error = %e, "rejected event");
            Failure::new("MalformedEvent", e.to_string())
        })?;
        tracing::info!(asked = %json!(request), "event classified");
        if let Request::Ignore { reason } = &request {
            tracing::info!(%reason, "ignored");
            return Ok(json!({"request": request}));
        }
        let enabler = self.enabler.as_ref().map_err(|e| Failure::from(e.clone()))?;
        let budget = Budget::from_epoch_millis(context.deadline);
        let served = guarded(budget, Box::pin(self.serve(enabler, &request, budget)))
            .await
            .map_err(|interrupted| match interrupted {
                enablement::Interrupted::OutOfTime(_) => {
                    Failure::new("OutOfTime", "the invocation's deadline came first; EventBridge retries the event")
                }
                other => other.into(),
            })
            .and_then(|served| served);
        let millis = started.elapsed().as_millis() as u64;
        let served = match served {
            Ok(served) => served,
            Err(failure) => {
                tracing::warn!(kind = failure.kind, error = %failure, millis, "failed");
                println!("{}", emf_failure("responder", failure.kind));
                return Err(failure);
            }
        };
        match served {
            Served::Ignored(reason) => {
                tracing::info!(%reason, millis, "ignored");
                Ok(json!({"request": request, "ignored": reason}))
            }
            Served::Report(report) => verdict(&request, enablement::publish("responder", *report)),
        }
    }

    async fn serve(&self, enabler: &Enabler<C>, request: &Request, budget: Option<Budget>) -> Result<Served, Failure> {
        let options = RunOptions::within(budget);
        let run = |result: Result<Report, RunError>| match result {
            Ok(report) => Ok(Served::Report(Box::new(report))),
            Err(e @ (RunError::Excluded(_) | RunError::NoRegions(_))) => Ok(Served::Ignored(e.to_string())),
            Err(e) => Err(Failure::from(e)),
        };
        match request {
            Request::Ignore { reason } => Ok(Served::Ignored(reason.clone())),
            Request::Onboard { account, .. } => run(enabler.onboard(account, &options).await),
            Request::Replan { account, .. } => run(enabler.replan(account, &options).await),
            Request::ResolveCreateAccount { request_id, .. } => {
                match self.created(enabler, request_id, budget).await? {
                    Ok(account) => run(enabler.onboard(&account, &options).await),
                    Err(reason) => Ok(Served::Ignored(format!("the account creation failed: {reason}"))),
                }
            }
            Request::Region { region } => {
                let options = RunOptions { only_regions: Some(vec![region.clone()]), ..options };
                run(enabler.reconcile_with(&options).await)
            }
            Request::Reconcile => run(enabler.reconcile_with(&options).await),
        }
    }

    /// Waits for a CreateAccount request to end: the new account, or why it failed. Fails (to be retried) only
    /// when the invocation's deadline comes first.
    async fn created(
        &self,
        enabler: &Enabler<C>,
        request_id: &str,
        budget: Option<Budget>,
    ) -> Result<Result<AccountId, String>, Failure> {
        let started = Instant::now();
        let give_up = budget.map_or(started + self.polling.total, |b| b.soft);
        let mut wait = self.polling.first;
        loop {
            match enabler.create_account_status(request_id).await? {
                CreateAccountStatus::Succeeded(account) => return Ok(Ok(account)),
                CreateAccountStatus::Failed(reason) => return Ok(Err(reason)),
                CreateAccountStatus::InProgress if Instant::now() + wait >= give_up => {
                    return Err(Failure::new(
                        "AccountCreationInProgress",
                        format!(
                            "account creation {request_id} is still in progress after {} s; the invocation ends \
                             before it does, so the event is retried (and the schedule enrols the account anyway)",
                            started.elapsed().as_secs()
                        ),
                    ));
                }
                CreateAccountStatus::InProgress => {
                    tracing::info!(request_id, wait_ms = wait.as_millis() as u64, "account creation in progress");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.polling.longest);
                }
            }
        }
    }
}

/// The answer for a finished run: the report, or the failure that says what did not converge. A successful
/// onboarding also publishes how long the account took to be protected since the event announced it.
fn verdict(request: &Request, report: Report) -> Result<Value, Failure> {
    if report.is_success() {
        if let (
            Request::Onboard { announced_ms: Some(at), .. }
            | Request::ResolveCreateAccount { announced_ms: Some(at), .. },
            "onboard",
        ) = (request, report.kind.as_str())
        {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            let seconds = (now - at).max(0) as f64 / 1000.0;
            println!("{}", emf_onboarding("responder", seconds));
            tracing::info!(account = ?report.account, seconds, "onboarded");
        }
        return Ok(json!({"request": request, "report": report}));
    }
    let only_accounts =
        report.regions.iter().all(|r| r.outcome.is_converged() || r.outcome == enablement::Outcome::Partial);
    let kind = if only_accounts && report.organization.iter().all(|a| a.status != enablement::ActionStatus::Failed) {
        "AccountNotProtected"
    } else {
        "RegionsNotConverged"
    };
    Err(Failure::new(kind, report.shortfall()))
}
