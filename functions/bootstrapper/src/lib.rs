//! The bootstrapper function: run by CloudFormation as a custom resource on every deploy (or invoked by hand with
//! any JSON object), it brings every governed region to the desired state and answers CloudFormation exactly once.

pub mod cfn;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponseStatus as Status,
};
use enablement::{
    guarded, json_type, AwsCloud, Budget, Cloud, ConfigError, Enabler, Interrupted, Report, RunOptions, Settings,
};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};

pub use cfn::{ResponseSender, SendError};

/// The PhysicalResourceId given on Create; Update and Delete echo the one CloudFormation holds.
pub const PHYSICAL_RESOURCE_ID: &str = "guardduty-enabler";

/// The function's state, built once per cold start.
pub struct Bootstrapper<C> {
    enabler: Result<Enabler<C>, ConfigError>,
    sender: ResponseSender,
}

impl Bootstrapper<AwsCloud> {
    /// Reads the configuration and builds the AWS clients. A bad configuration is kept, not fatal: every
    /// invocation then answers with it (CloudFormation gets FAILED with the reason).
    pub async fn from_env() -> Result<Self, std::io::Error> {
        let enabler = match Settings::from_env() {
            Ok(settings) => Ok(enablement::connect(settings).await),
            Err(e) => Err(e),
        };
        Ok(Self { enabler, sender: ResponseSender::new()? })
    }
}

/// How a reconcile for CloudFormation ended.
struct Verdict {
    status: Status,
    reason: String,
    data: Vec<(&'static str, String)>,
    report: Option<Report>,
}

impl<C: Cloud> Bootstrapper<C> {
    /// A bootstrapper over `enabler` (or the configuration error that prevented one).
    pub fn new(enabler: Result<Enabler<C>, ConfigError>, sender: ResponseSender) -> Self {
        Self { enabler, sender }
    }

    /// Handles one invocation: a custom-resource request, or any other JSON object (a full reconcile whose
    /// report is the result).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let (payload, context) = event.into_parts();
        let budget = Budget::from_epoch_millis(context.deadline);
        if payload.get("RequestType").is_some() || payload.get("ResponseURL").is_some() {
            return self.custom_resource(payload, budget).await;
        }
        if !payload.is_object() {
            return Err(format!(
                "expected a JSON object (a CloudFormation custom-resource request or {{}}), got {}",
                json_type(&payload)
            )
            .into());
        }
        tracing::info!(asked = "reconcile", "invoked directly");
        let verdict = self.reconcile(budget).await;
        match verdict.report {
            Some(report) if verdict.status == Status::Success => Ok(json!(report)),
            _ => Err(verdict.reason.into()),
        }
    }

    async fn custom_resource(&self, payload: Value, budget: Option<Budget>) -> Result<Value, Error> {
        let request: CloudFormationCustomResourceRequest = match serde_json::from_value(payload.clone()) {
            Ok(r) => r,
            Err(e) => return self.answer_malformed(&payload, &e.to_string()).await,
        };
        let (kind, url, stack, request_id, logical, physical) = match &request {
            CloudFormationCustomResourceRequest::Create(r) => {
                ("Create", &r.response_url, &r.stack_id, &r.request_id, &r.logical_resource_id, PHYSICAL_RESOURCE_ID)
            }
            CloudFormationCustomResourceRequest::Update(r) => (
                "Update",
                &r.response_url,
                &r.stack_id,
                &r.request_id,
                &r.logical_resource_id,
                r.physical_resource_id.as_str(),
            ),
            CloudFormationCustomResourceRequest::Delete(r) => (
                "Delete",
                &r.response_url,
                &r.stack_id,
                &r.request_id,
                &r.logical_resource_id,
                r.physical_resource_id.as_str(),
            ),
            _ => return self.answer_malformed(&payload, "unknown RequestType").await,
        };
        tracing::info!(asked = kind, stack = %stack, logical_resource = %logical, "custom resource request");
        let verdict = if kind == "Delete" {
            Verdict {
                status: Status::Success,
                reason: "GuardDuty is left as it is: removing this resource does not turn security off".into(),
                data: Vec::new(),
                report: None,
            }
        } else {
            self.reconcile(budget).await
        };
        let response =
            cfn::response(verdict.status.clone(), &verdict.reason, physical, stack, request_id, logical, verdict.data);
        self.sender.send(url, &response).await?;
        tracing::info!(status = ?verdict.status, reason = %verdict.reason, "answered CloudFormation");
        Ok(json!({"response": response, "report": verdict.report}))
    }

    /// Answers FAILED to a request that cannot be parsed, when it has enough to be answered at all.
    async fn answer_malformed(&self, payload: &Value, problem: &str) -> Result<Value, Error> {
        let field = |k: &str| payload.get(k).and_then(Value::as_str);
        let (Some(url), Some(stack), Some(request_id), Some(logical)) =
            (field("ResponseURL"), field("StackId"), field("RequestId"), field("LogicalResourceId"))
        else {
            return Err(
                format!("malformed custom resource request ({problem}), and it lacks what a response needs").into()
            );
        };
        let physical = field("PhysicalResourceId").unwrap_or(PHYSICAL_RESOURCE_ID);
        let reason = format!("malformed custom resource request: {problem}");
        let response = cfn::response(Status::Failed, &reason, physical, stack, request_id, logical, Vec::new());
        self.sender.send(url, &response).await?;
        tracing::warn!(%reason, "answered CloudFormation");
        Ok(json!({"response": response}))
    }

    /// A full reconcile within the budget. Never panics and never outlives the budget's hard stop.
    async fn reconcile(&self, budget: Option<Budget>) -> Verdict {
        let enabler = match &self.enabler {
            Ok(e) => e,
            Err(e) => return failed(e.to_string()),
        };
        let options = RunOptions::within(budget);
        let outcome = guarded(budget, Box::pin(enabler.reconcile_with(&options))).await;
        match outcome {
            Err(Interrupted::OutOfTime(ms)) => failed(format!(
                "the reconcile did not finish before the invocation's deadline ({ms} ms); the scheduled reconcile \
                 finishes the job"
            )),
            Err(interrupted) => failed(interrupted.to_string()),
            Ok(Err(e)) => failed(e.to_string()),
            Ok(Ok(report)) => {
                enablement::publish("bootstrapper", &report);
                let s = &report.summary;
                let data = vec![
                    ("Regions", s.regions.to_string()),
                    ("Changed", s.changed.to_string()),
                    ("InSync", s.in_sync.to_string()),
                    ("Failed", (s.failed + s.conflicts + s.unfinished).to_string()),
                    ("Writes", s.writes.to_string()),
                    ("MembersAdded", s.members_added.to_string()),
                ];
                if report.is_success() {
                    let reason = format!(
                        "{} regions: {} changed, {} already in sync; {} writes, {} memberships added",
                        s.regions, s.changed, s.in_sync, s.writes, s.members_added
                    );
                    Verdict { status: Status::Success, reason, data, report: Some(report) }
                } else {
                    let reason =
                        format!("not every region reached the desired state: {}", report.problems().join("; "));
                    Verdict { status: Status::Failed, reason, data, report: Some(report) }
                }
            }
        }
    }
}

fn failed(reason: String) -> Verdict {
    tracing::error!(%reason, "reconcile failed");
    Verdict { status: Status::Failed, reason, data: Vec::new(), report: None }
}
