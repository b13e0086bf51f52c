//! The bootstrapper function: the whole organization's reconcile. Run by CloudFormation as a custom resource on every
//! deploy, it brings every governed region to the desired state and answers CloudFormation exactly once; on its
//! schedule it repairs drift and enrols any account an event missed; on a region's opt-in it reconciles that region.
//! Invoked directly, it reconciles, or with `{"dryRun": true}` returns the plan without writing. Its long runs are
//! kept off the responder, whose short timeout lets a failed account event come back from its queue quickly.

pub mod cfn;
pub mod detection;
pub mod events;
pub mod flapping;
pub mod forwarders;
mod record;
mod request;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponseStatus as Status,
};
use enablement::flaps::Ledger;
use enablement::{
    emf_failure, guarded, Budget, Cloud, ConfigError, Enabler, Error as RunError, Failure, FailureKind, Interrupted,
    Report, RunOptions, Settings, Summary, VARIABLES,
};
use futures_util::future::BoxFuture;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub use cfn::{ResponseSender, SendError};
pub use record::{in_s3, Keep};
pub use request::Direct;

/// The PhysicalResourceId given on Create; Update and Delete echo the one CloudFormation holds.
pub const PHYSICAL_RESOURCE_ID: &str = "guardduty-enabler";

/// What a custom resource's answer may take after the run: the PUT's window, retries included
/// ([`cfn::ResponseSender::send`]), and 2 s. Kept free of the run, so that CloudFormation always hears back before the
/// invocation's deadline; without an answer it would wait an hour, and Lambda would run the request again.
const RESPONSE_RESERVE: std::time::Duration = cfn::PUT_WINDOW.saturating_add(std::time::Duration::from_secs(2));

/// The budget of a custom resource's run: the invocation's, less the time its answer may take (at most a tenth of
/// the time left, so that a short invocation still runs).
fn custom_resource_budget(deadline_ms: u64) -> Option<Budget> {
    let left = Budget::time_left(deadline_ms)?;
    Some(Budget::from_remaining(left - RESPONSE_RESERVE.min(left / 10)))
}

/// A configuration variable's value by its `GUARDDUTY_*` name.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Builds an enabler for settings.
pub type Connect<C> = Arc<dyn Fn(Settings) -> BoxFuture<'static, Enabler<C>> + Send + Sync>;

/// Where the function reads its configuration (the process environment in Lambda), and how it connects.
pub struct Environment<C> {
    /// The configuration variables.
    pub lookup: Lookup,
    /// An enabler for settings.
    pub connect: Connect<C>,
    /// Where the schedule's run keeps its evidence record, when GUARDDUTY_EVIDENCE_BUCKET names a bucket.
    pub keep: Keep,
}

/// How long a Create waits for the admin role to become assumable: on the first deploy the role is created a moment
/// before (by this stack's StackSet), and IAM takes a while to let it be assumed everywhere. Waits from `first`,
/// growing, for at most `total` (and never past the invocation's deadline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleWait {
    /// The first wait.
    pub first: Duration,
    /// The most time spent waiting.
    pub total: Duration,
}

impl RoleWait {
    /// Its waits: doubling from `first`, for at most `total`.
    fn backoff(&self) -> enablement::Backoff {
        enablement::Backoff { first: self.first, longest: self.total, total: self.total }
    }
}

impl Default for RoleWait {
    fn default() -> Self {
        Self { first: Duration::from_secs(5), total: Duration::from_secs(90) }
    }
}

/// The function's state, built once per cold start.
pub struct Bootstrapper<C> {
    env: Environment<C>,
    enabler: Result<Arc<Enabler<C>>, ConfigError>,
    sender: ResponseSender,
    role_wait: RoleWait,
    /// The count of tamper repairs the schedule releases keys of ([`flapping`]).
    ledger: Ledger,
}

impl Bootstrapper<enablement::AwsCloud> {
    /// Reads the configuration from the process environment and builds the AWS clients. A bad configuration is
    /// kept, not fatal: every invocation then answers with it (CloudFormation gets FAILED with the reason).
    pub async fn from_env() -> Result<Self, std::io::Error> {
        let base = enablement::sdk_config_loader().load().await;
        let keep = in_s3(base.clone());
        let ledger_base = base.clone();
        let connect: Connect<enablement::AwsCloud> = Arc::new(move |settings| {
            let base = base.clone();
            Box::pin(async move { enablement::connect_with(&base, settings).await })
        });
        let lookup: Lookup = Arc::new(|name| std::env::var(name).ok());
        let ledger = flapping::ledger(&lookup, &ledger_base);
        Ok(Self::new(Environment { lookup, connect, keep }, ResponseSender::new()?).await.with_ledger(ledger))
    }
}

/// How a run for CloudFormation ended.
struct Verdict {
    status: Status,
    reason: String,
    data: Vec<(&'static str, String)>,
    report: Option<Report>,
    /// What keeping the management account's forwarders did, after a run that reported.
    forwarding: Option<Value>,
}

impl<C: Cloud + 'static> Bootstrapper<C> {
    /// A bootstrapper over `env`, with an enabler for the configuration it holds (or the error that prevents one).
    pub async fn new(env: Environment<C>, sender: ResponseSender) -> Self {
        let enabler = match Settings::from_lookup(&*env.lookup) {
            Ok(settings) => Ok(Arc::new((env.connect)(settings).await)),
            Err(e) => Err(e),
        };
        Self { env, enabler, sender, role_wait: RoleWait::default(), ledger: Ledger::in_process() }
    }

    /// The same bootstrapper, releasing the keys held in `ledger` that its scheduled runs find stable.
    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = ledger;
        self
    }

    /// The same bootstrapper with another wait for the admin role on Create.
    pub fn with_role_wait(mut self, role_wait: RoleWait) -> Self {
        self.role_wait = role_wait;
        self
    }

    /// Handles one invocation: a custom-resource request, or a direct one (`{}` reconciles; `{"dryRun": true}`
    /// plans; `"regions"` narrows either to some governed regions).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Failure> {
        let (payload, context) = event.into_parts();
        if payload.get("RequestType").is_some() || payload.get("ResponseURL").is_some() {
            return self.custom_resource(payload, custom_resource_budget(context.deadline)).await;
        }
        let budget = Budget::from_epoch_millis(context.deadline);
        if events::is_event(&payload) {
            let run = events::classify(&payload).map_err(|e| {
                tracing::warn!(error = %e, "rejected event");
                Failure::new(FailureKind::MalformedEvent, format!("malformed event: {e}"))
            })?;
            tracing::info!(asked = %json!(run), "event classified");
            return self.on_event(run, budget, &context.invoked_function_arn).await;
        }
        let direct = Direct::parse(&payload)?;
        tracing::info!(asked = %json!(direct), "invoked directly");
        let enabler = self.enabler.as_ref().map_err(|e| Failure::from(e.clone()))?;
        let options =
            RunOptions { dry_run: direct.dry_run, only_regions: direct.regions.clone(), ..RunOptions::within(budget) };
        let report = enablement::publish("bootstrapper", run(enabler, &options, budget).await?);
        if report.is_success() {
            Ok(json!(report))
        } else {
            Err(Failure::new(FailureKind::RegionsNotConverged, report.shortfall()))
        }
    }

    /// The schedule's reconcile, or a region's: its report, published, whatever it says (a failed region or an
    /// unprotected account goes to the DriftUnrepaired and coverage alarms, not to an invocation error that Lambda
    /// would retry and dead-letter); a run that could not start or finish (no report) publishes one unit of
    /// unrepaired drift and says why. Only a bad configuration and a panic are invocation errors. The schedule's
    /// run first keeps the evidence record, where GUARDDUTY_EVIDENCE_BUCKET names a bucket; `function` names the
    /// function in it. After a reconcile that reported, the schedule's run checks that tamper detection can work in
    /// its governed regions ([`detection`]; a run that did not report is the other alarms' and is not checked).
    async fn on_event(&self, run: events::Run, budget: Option<Budget>, function: &str) -> Result<Value, Failure> {
        let options = RunOptions::within(budget);
        let options = match &run {
            events::Run::Reconcile => options,
            events::Run::Region { region } => RunOptions { only_regions: Some(vec![region.clone()]), ..options },
            events::Run::Ignore { reason } => {
                tracing::info!(%reason, "ignored");
                return Ok(json!({"request": run}));
            }
        };
        let enabler = self.enabler.as_ref().map_err(|e| Failure::from(e.clone()))?;
        let settings = enabler.settings();
        let evidence = match (&run, settings.record_bucket()) {
            (events::Run::Reconcile, Some(bucket)) if !settings.dry_run => {
                let ran_by =
                    format!("the scheduled run of {}", if function.is_empty() { "the bootstrapper" } else { function });
                Some(Box::pin(record::keep(enabler, &self.env.keep, bucket, ran_by, budget)).await)
            }
            _ => None,
        };
        let started = Instant::now();
        let failure = match guarded(budget, Box::pin(enabler.reconcile_with(&options))).await {
            Ok(Ok(report)) => {
                let report = enablement::publish("bootstrapper", report);
                let mut answer = json!({"request": run, "report": report, "evidence": evidence});
                // The forwarders first, so that the check below finds those just written.
                answer["forwarding"] = Box::pin(forwarders::keep(enabler, &report, &self.env.lookup, budget)).await;
                if matches!(run, events::Run::Reconcile) {
                    answer["detection"] = Box::pin(detection::check(enabler, &report, &self.env.lookup, budget)).await;
                    answer["flapping"] = flapping::settle(&self.ledger, &report, budget).await;
                }
                return Ok(answer);
            }
            Ok(Err(e @ RunError::NoRegions(_))) if matches!(run, events::Run::Region { .. }) => {
                tracing::info!(reason = %e, "ignored");
                return Ok(json!({"request": run, "ignored": e.to_string()}));
            }
            // A bad configuration, and a bug, fail the invocation: loud, and no run will do better until fixed.
            Ok(Err(e @ RunError::Config(_))) => return Err(Failure::from(e)),
            Err(panicked @ Interrupted::Panicked(_)) => return Err(Failure::from(panicked)),
            Ok(Err(e)) => Failure::from(e),
            Err(interrupted) => Failure::from(interrupted),
        };
        let millis = started.elapsed().as_millis() as u64;
        tracing::warn!(kind = failure.kind.as_str(), error = %failure, millis, "run failed");
        println!("{}", emf_failure("bootstrapper", failure.kind.as_str()));
        Ok(json!({
            "request": run,
            "failed": {"errorType": failure.kind, "errorMessage": failure.message},
            "evidence": evidence
        }))
    }

    async fn custom_resource(&self, payload: Value, budget: Option<Budget>) -> Result<Value, Failure> {
        let request: CloudFormationCustomResourceRequest = match serde_json::from_value(payload.clone()) {
            Ok(r) => r,
            Err(e) => return self.answer_malformed(&payload, &e.to_string()).await,
        };
        // The three request types carry the same fields under different types.
        macro_rules! fields {
            ($kind:literal, $r:expr, $physical:expr) => {
                (
                    $kind,
                    &$r.response_url,
                    &$r.stack_id,
                    &$r.request_id,
                    &$r.logical_resource_id,
                    $physical,
                    &$r.resource_properties,
                )
            };
        }
        let (kind, url, stack, request_id, logical, physical, properties) = match &request {
            CloudFormationCustomResourceRequest::Create(r) => fields!("Create", r, PHYSICAL_RESOURCE_ID),
            CloudFormationCustomResourceRequest::Update(r) => fields!("Update", r, r.physical_resource_id.as_str()),
            CloudFormationCustomResourceRequest::Delete(r) => fields!("Delete", r, r.physical_resource_id.as_str()),
            _ => return self.answer_malformed(&payload, "unknown RequestType").await,
        };
        tracing::info!(asked = kind, stack = %stack, logical_resource = %logical, "custom resource request");
        let verdict = match kind {
            "Delete" => self.delete(budget).await,
            _ => self.deploy(kind == "Update", properties, budget).await,
        };
        let response =
            cfn::response(verdict.status.clone(), &verdict.reason, physical, stack, request_id, logical, verdict.data);
        self.sender
            .send(url, &response)
            .await
            .map_err(|e| Failure::new(FailureKind::ResponseNotDelivered, e.to_string()))?;
        tracing::info!(status = ?verdict.status, reason = %verdict.reason, "answered CloudFormation");
        Ok(json!({"response": response, "report": verdict.report, "forwarding": verdict.forwarding}))
    }

    /// Delete: GuardDuty is left as it is; the management account's forwarders, which no stack holds, are removed.
    /// Always SUCCESS: a forwarder left behind sends to a bus whose rule is gone with the stack, and is named.
    async fn delete(&self, budget: Option<Budget>) -> Verdict {
        let mut reason = "GuardDuty is left as it is: removing this resource does not turn security off".to_owned();
        if let Ok(enabler) = &self.enabler {
            let left = forwarders::remove(enabler, &self.env.lookup, budget).await;
            if !left.is_empty() {
                let left = enablement::shorten(&left.join("; "), 600);
                reason.push_str(&format!("; forwarders of GuardDuty calls left behind (delete them by hand): {left}"));
            }
        }
        Verdict { status: Status::Success, reason, data: Vec::new(), report: None, forwarding: None }
    }

    /// Create and Update: the full reconcile, with the configuration the request's properties carry (CloudFormation
    /// sends the old ones on a rollback, whichever version of this function handles it), after a pre-flight that
    /// refuses a configured admin other than the one designated (nothing written; see
    /// [`Enabler::check_designation`]).
    ///
    /// FAILED means CloudFormation rolls back, so it is kept for what no run can get past:
    /// - an invalid configuration, and an admin other than the designated one (a rolled back Update sends the old
    ///   properties, which converge: the stack does not wedge);
    /// - on Create, a foundation that cannot be laid: the admin role cannot be assumed, no region has the admin
    ///   designated at the end, or the run failed before any region (GuardDuty policies in force in api mode, no
    ///   region to govern, Organizations refusing its reads).
    ///
    /// Anything else answers SUCCESS with the counts and the problems in `Data`, and the alarms on: partial coverage
    /// on Create (an account an SCP keeps out of GuardDuty must not stop the tool from being installed), and any
    /// failure on Update (CloudFormation rolls a failed Update back by sending another Update with the old
    /// properties; if that one failed too for the same lasting reason, the stack would end in
    /// UPDATE_ROLLBACK_FAILED, which an operator must untangle by hand).
    async fn deploy(&self, update: bool, properties: &Value, budget: Option<Budget>) -> Verdict {
        let enabler = match self.enabler_for(properties).await {
            Ok(enabler) => enabler,
            Err(e) => return failed(Failure::from(e)),
        };
        let outcome = match guarded(budget, Box::pin(enabler.check_designation())).await {
            Ok(Err(e)) => Err(Failure::from(e)),
            Err(interrupted) => Err(Failure::from(interrupted)),
            Ok(Ok(())) if update => run(&enabler, &RunOptions::within(budget), budget).await,
            Ok(Ok(())) => self.run_when_the_role_is_assumable(&enabler, budget).await,
        };
        match outcome {
            Err(failure) if refused(&failure, update) => {
                println!("{}", emf_failure("bootstrapper", failure.kind.as_str()));
                failed(failure)
            }
            Err(failure) => {
                println!("{}", emf_failure("bootstrapper", failure.kind.as_str()));
                tracing::error!(kind = failure.kind.as_str(), error = %failure, "the reconcile failed; answering SUCCESS, the schedule finishes the job");
                let mut data = no_report_data();
                data.push(("Problems", enablement::shorten(&failure.to_string(), 1000)));
                let done = if update { "updated" } else { "created" };
                Verdict {
                    status: Status::Success,
                    reason: format!("{done}; the reconcile did not finish and the schedule retries it: {failure}"),
                    data,
                    report: None,
                    forwarding: None,
                }
            }
            Ok(report) => {
                let forwarding = Box::pin(forwarders::keep(&enabler, &report, &self.env.lookup, budget)).await;
                let mut verdict = report_verdict(enablement::publish("bootstrapper", report), update);
                verdict.forwarding = Some(forwarding);
                verdict
            }
        }
    }

    /// A run that, while assuming the admin role fails, waits and tries again (see [`RoleWait`]).
    async fn run_when_the_role_is_assumable(
        &self,
        enabler: &Enabler<C>,
        budget: Option<Budget>,
    ) -> Result<Report, Failure> {
        // (a second kept free of the last wait, for the run that follows it to start)
        let until = budget.map(|b| b.soft - Duration::from_secs(1));
        let mut waits = self.role_wait.backoff().waits(Instant::now(), until);
        loop {
            match run(enabler, &RunOptions::within(budget), budget).await {
                Err(f) if f.kind == FailureKind::AdminRoleNotAssumable => match waits.next_wait() {
                    Some(wait) => {
                        tracing::warn!(error = %f, wait_ms = wait.as_millis() as u64, "the admin role cannot be assumed yet; waiting");
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(f),
                },
                other => return other,
            }
        }
    }

    /// The enabler for a request's properties layered over the environment: the one built at cold start when they
    /// agree, a new one otherwise.
    async fn enabler_for(&self, properties: &Value) -> Result<Arc<Enabler<C>>, ConfigError> {
        let property = |name: &str| {
            let var = VARIABLES.iter().find(|v| v.name == name)?;
            properties.get(var.property).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
        };
        let settings = Settings::from_lookup(|name| property(name).or_else(|| (self.env.lookup)(name)))?;
        match &self.enabler {
            Ok(enabler) if enabler.settings() == &settings => Ok(enabler.clone()),
            _ => Ok(Arc::new((self.env.connect)(settings).await)),
        }
    }

    /// Answers FAILED to a request that cannot be parsed, when it has enough to be answered at all.
    async fn answer_malformed(&self, payload: &Value, problem: &str) -> Result<Value, Failure> {
        let field = |k: &str| payload.get(k).and_then(Value::as_str);
        let (Some(url), Some(stack), Some(request_id), Some(logical)) =
            (field("ResponseURL"), field("StackId"), field("RequestId"), field("LogicalResourceId"))
        else {
            return Err(Failure::new(
                FailureKind::MalformedRequest,
                format!("malformed custom resource request ({problem}), and it lacks what a response needs"),
            ));
        };
        let physical = field("PhysicalResourceId").unwrap_or(PHYSICAL_RESOURCE_ID);
        let reason = format!("malformed custom resource request: {problem}");
        let response = cfn::response(Status::Failed, &reason, physical, stack, request_id, logical, Vec::new());
        self.sender
            .send(url, &response)
            .await
            .map_err(|e| Failure::new(FailureKind::ResponseNotDelivered, e.to_string()))?;
        tracing::warn!(%reason, "answered CloudFormation");
        Ok(json!({"response": response}))
    }
}

/// A run within the budget. Never panics and never outlives the budget's cutoff.
async fn run<C: Cloud>(enabler: &Enabler<C>, options: &RunOptions, budget: Option<Budget>) -> Result<Report, Failure> {
    match guarded(budget, Box::pin(enabler.reconcile_with(options))).await {
        Err(Interrupted::OutOfTime(ms)) => Err(Failure::new(
            FailureKind::OutOfTime,
            format!(
                "the reconcile did not finish before the invocation's deadline ({ms} ms); the scheduled reconcile \
                 finishes the job"
            ),
        )),
        Err(interrupted) => Err(interrupted.into()),
        Ok(Err(RunError::NoRegions(why))) => {
            Err(Failure::new(FailureKind::NoRegionToGovern, format!("no region to govern: {why}")))
        }
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(report)) => Ok(report),
    }
}

/// Whether a failure with no report answers FAILED: an invalid configuration or another designated admin always;
/// on Create, anything that kept the foundation from being laid (all but running out of time, after which the
/// schedule finishes the job).
fn refused(failure: &Failure, update: bool) -> bool {
    match failure.kind {
        FailureKind::InvalidConfiguration | FailureKind::AdminAccountChanged => true,
        _ if update => false,
        FailureKind::OutOfTime => false,
        _ => true,
    }
}

/// The answer for a finished run: SUCCESS, with the problems in `Data` where there are some, unless a Create ends
/// with the admin designated in no region (the foundation could not be laid anywhere).
fn report_verdict(report: Report, update: bool) -> Verdict {
    let s = &report.summary;
    let mut data = summary_data(s);
    let summary = format!(
        "{} regions: {} changed, {} already in sync; {} writes, {} memberships added; {} of {} account-regions protected",
        s.regions, s.changed, s.in_sync, s.writes, s.members_added, s.accounts_protected, s.accounts_expected
    );
    if report.is_success() {
        return Verdict { status: Status::Success, reason: summary, data, report: Some(report), forwarding: None };
    }
    if !update && !report.dry_run && !report.admin_designated_anywhere() {
        let reason = format!("the delegated admin could not be designated in any region: {}", report.shortfall());
        return Verdict { status: Status::Failed, reason, data, report: Some(report), forwarding: None };
    }
    let problems = report.problems().join("; ");
    data.push(("Problems", enablement::shorten(&problems, 1000)));
    let done = if update { "updated" } else { "created" };
    let reason = format!(
        "{done}, but not every region reached the desired state (the alarms say so; the schedule retries): {problems}"
    );
    Verdict { status: Status::Success, reason, data, report: Some(report), forwarding: None }
}

/// A run's counts as `Data`: every key the template's outputs read.
fn summary_data(s: &Summary) -> Vec<(&'static str, String)> {
    vec![
        ("Regions", s.regions.to_string()),
        ("Changed", s.changed.to_string()),
        ("InSync", s.in_sync.to_string()),
        ("Failed", (s.failed + s.conflicts + s.blocked + s.partial).to_string()),
        ("Unfinished", s.unfinished.to_string()),
        ("Writes", s.writes.to_string()),
        ("MembersAdded", s.members_added.to_string()),
        ("AccountsProtected", format!("{} of {}", s.accounts_protected, s.accounts_expected)),
    ]
}

/// `Data` for a run that produced no report: the same keys, so that an Update answered SUCCESS still resolves
/// them; one failure, nothing else counted, and the coverage unknown.
fn no_report_data() -> Vec<(&'static str, String)> {
    let mut data = summary_data(&Summary { failed: 1, ..Summary::default() });
    for (key, value) in &mut data {
        if *key == "AccountsProtected" {
            *value = "unknown".to_owned();
        }
    }
    data
}

fn failed(failure: Failure) -> Verdict {
    tracing::error!(kind = failure.kind.as_str(), reason = %failure, "reconcile failed");
    Verdict { status: Status::Failed, reason: failure.to_string(), data: Vec::new(), report: None, forwarding: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_resource_run_stops_waiting_early_enough_for_its_answer_to_be_sent() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(900);
        let budget = custom_resource_budget(now + 900_000).expect("a budget");
        assert!(deadline - budget.cutoff >= RESPONSE_RESERVE);
        assert_eq!(custom_resource_budget(0), None, "no deadline, no budget");
        // a short invocation keeps a tenth of its time for the answer
        let short = custom_resource_budget(now + 4_000).expect("a budget");
        let left = std::time::Instant::now() + std::time::Duration::from_millis(4_000);
        assert!(left - short.cutoff >= std::time::Duration::from_millis(350), "{:?}", left - short.cutoff);
        assert!(short.soft > std::time::Instant::now(), "it still runs");
    }

    #[test]
    fn a_run_without_a_report_answers_every_key_with_one_failure_and_the_coverage_unknown() {
        let data = no_report_data();
        let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            data,
            [
                ("Regions", "0"),
                ("Changed", "0"),
                ("InSync", "0"),
                ("Failed", "1"),
                ("Unfinished", "0"),
                ("Writes", "0"),
                ("MembersAdded", "0"),
                ("AccountsProtected", "unknown"),
            ]
        );
    }
}
