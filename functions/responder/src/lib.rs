//! The responder function: reacts to EventBridge events that announce a new account, enrolling it in every governed
//! region within seconds. (The schedule's full reconcile and a region's opt-in are the bootstrapper's: their long
//! runs would hold the short timeout this function needs for its queue.)
//!
//! Account events arrive in batches from an SQS queue (an event source mapping with `ReportBatchItemFailures`):
//! the accounts a batch announces are enrolled together, and only the records whose accounts did not end protected
//! go back to the queue. An event can also be invoked directly, one at a time.

mod batch;
pub mod event;
mod tamper;

use std::sync::Arc;
use std::time::{Duration, Instant};

use enablement::flaps::Ledger;
use enablement::{
    AccountId, AwsCloud, Backoff, Budget, Cloud, ConfigError, CreateAccountStatus, Enabler, Failure, FailureKind,
    Settings,
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

impl CreationPolling {
    /// Its waits.
    fn backoff(&self) -> Backoff {
        Backoff { first: self.first, longest: self.longest, total: self.total }
    }
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
    /// The tool's own roles besides the admin's (the functions'): a call they made is never answered.
    own_roles: Vec<String>,
    /// The count of tamper repairs ([`enablement::flaps`]).
    ledger: Arc<Ledger>,
}

/// The variable that names the functions' roles (ARNs, comma-separated), set by the template.
pub const OWN_ROLES_VARIABLE: &str = "TOOL_ROLE_ARNS";

impl Responder<AwsCloud> {
    /// Reads the configuration and builds the AWS clients; a bad configuration fails every handled event.
    pub async fn from_env() -> Self {
        let base = enablement::sdk_config_loader().load().await;
        let enabler = match Settings::from_env() {
            Ok(settings) => Ok(enablement::connect_with(&base, settings).await),
            Err(e) => Err(e),
        };
        let own_roles = std::env::var(OWN_ROLES_VARIABLE).unwrap_or_default();
        let ledger = Ledger::named(&base, std::env::var(enablement::flaps::VARIABLE).ok().as_deref());
        Self::new(enabler)
            .with_own_roles(own_roles.split(',').map(str::trim).filter(|r| !r.is_empty()).map(String::from))
            .with_ledger(ledger)
    }
}

impl<C: Cloud> Responder<C> {
    /// A responder over `enabler` (or the configuration error that prevented one).
    pub fn new(enabler: Result<Enabler<C>, ConfigError>) -> Self {
        Self {
            enabler,
            polling: CreationPolling::default(),
            own_roles: Vec::new(),
            ledger: Arc::new(Ledger::in_process()),
        }
    }

    /// The same responder, counting tamper repairs in `ledger` (the table `TAMPER_LEDGER` names, [`enablement::flaps::VARIABLE`]).
    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Arc::new(ledger);
        self
    }

    /// The same responder, knowing the functions' roles (see [`OWN_ROLES_VARIABLE`]).
    pub fn with_own_roles(mut self, roles: impl IntoIterator<Item = String>) -> Self {
        self.own_roles = roles.into_iter().collect();
        self
    }

    /// The same responder with other waits for account creations.
    pub fn with_polling(mut self, polling: CreationPolling) -> Self {
        self.polling = polling;
        self
    }

    /// Handles one invocation: an SQS batch of events (see the crate's documentation), or one event. Ignored events
    /// succeed with no AWS call. An account event that cannot be handled now (malformed, an account outside the organization, an account
    /// not protected) is an error whose `errorType` names the kind, so that it is retried and finally dead-lettered.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Failure> {
        let (payload, context) = event.into_parts();
        if batch::is_sqs(&payload) {
            return self.handle_batch(payload, Budget::from_epoch_millis(context.deadline)).await;
        }
        let request = classify(&payload).map_err(|e| {
            tracing::warn!(error = %e, "rejected event");
            Failure::new(FailureKind::MalformedEvent, e.to_string())
        })?;
        tracing::info!(asked = %json!(request), "event classified");
        if let Request::Ignore { reason } = &request {
            tracing::info!(%reason, "ignored");
            return Ok(json!({"request": request}));
        }
        let enabler = self.enabler.as_ref().map_err(|e| Failure::from(e.clone()))?;
        let budget = Budget::from_epoch_millis(context.deadline);
        if let Request::Tamper { call } = &request {
            return Box::pin(self.answer_tamper(enabler, call, budget)).await;
        }
        let mut served = self.serve_accounts(enabler, std::slice::from_ref(&request), budget).await;
        match served.outcomes.pop() {
            Some(Ok(Some(reason))) => Ok(json!({"request": request, "ignored": reason})),
            Some(Ok(None)) => Ok(json!({"request": request, "report": served.reports.pop()})),
            Some(Err(failure)) => Err(failure),
            None => Err(Failure::new(FailureKind::InternalError, "an event was served without an outcome")),
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
        // Within the invocation's deadline where it has one, else within the polling's total.
        let mut waits = match budget {
            Some(b) => Backoff { total: Duration::MAX, ..self.polling.backoff() }.waits(Instant::now(), Some(b.soft)),
            None => self.polling.backoff().waits(Instant::now(), None),
        };
        loop {
            match enabler.create_account_status(request_id).await? {
                CreateAccountStatus::Succeeded(account) => return Ok(Ok(account)),
                CreateAccountStatus::Failed(reason) => return Ok(Err(reason)),
                CreateAccountStatus::InProgress => {
                    let Some(wait) = waits.next_wait() else {
                        return Err(Failure::new(
                            FailureKind::AccountCreationInProgress,
                            format!(
                                "account creation {request_id} is still in progress after {} s; the invocation ends \
                                 before it does, so the event is retried (and the schedule enrols the account anyway)",
                                waits.elapsed().as_secs()
                            ),
                        ));
                    };
                    tracing::info!(request_id, wait_ms = wait.as_millis() as u64, "account creation in progress");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
