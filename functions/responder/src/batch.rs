//! Account events in batches. EventBridge sends every account event to an SQS queue; an event source mapping hands
//! the responder up to a batch of them at a time. The accounts the batch announces are read, deduplicated and
//! enrolled together (one CreateMembers and one read-back per 50 accounts per region), and the answer names, in
//! `batchItemFailures`, only the records whose accounts did not end protected: the queue gives those again, up to its
//! redrive policy's count, then moves them to the dead-letter queue. A record that is not an event this function
//! handles is acknowledged; one of a handled kind that is malformed is a failure, so that it ends in the dead-letter
//! queue where someone sees it.
//!
//! "Reporting batch item failures for Lambda functions with an Amazon SQS trigger"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>): the response is
//! `{"batchItemFailures": [{"itemIdentifier": messageId}]}`; an invocation error returns the whole batch.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use enablement::{
    emf_onboarding, guarded, AccountId, Budget, Cloud, Enabler, Entry, Error as RunError, Failure, FailureKind,
    Interrupted, Onboarding, Report, RunOptions,
};
use serde_json::Value;

use crate::event::{classify, Request};
use crate::Responder;

/// Whether `payload` is an SQS event: a `Records` list whose records come from `aws:sqs`.
pub(crate) fn is_sqs(payload: &Value) -> bool {
    payload.get("Records").and_then(Value::as_array).is_some_and(|records| {
        !records.is_empty() && records.iter().all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
    })
}

/// What serving some account requests came to: one outcome per request (`Ok(None)` protected, `Ok(Some(why))`
/// nothing to do, `Err` not handled now), and the reports of the onboardings that ran.
pub(crate) struct Served {
    pub(crate) outcomes: Vec<Outcome>,
    pub(crate) reports: Vec<Report>,
}

/// Where an onboarding left the accounts it was asked for.
struct Group {
    result: Result<Onboarding, Failure>,
}

impl Group {
    /// The outcome for `account`: protected, refused (an excluded account is nothing to do), or not protected.
    fn outcome(&self, account: &AccountId) -> Result<Option<String>, Failure> {
        let onboarding = match &self.result {
            Ok(onboarding) => onboarding,
            Err(failure) => return Err(failure.clone()),
        };
        if let Some((_, e)) = onboarding.refused.iter().find(|(a, _)| a == account) {
            return match e {
                RunError::Excluded(_) => Ok(Some(e.to_string())),
                other => Err(Failure::new(other.kind(), other.to_string())),
            };
        }
        match &onboarding.report {
            Some(report) => report.protection_of(account).map(|()| None).map_err(|why| {
                let kind = if report.is_success() || only_accounts(report) {
                    FailureKind::AccountNotProtected
                } else {
                    FailureKind::RegionsNotConverged
                };
                Failure::new(kind, why)
            }),
            None => Err(Failure::new(FailureKind::InternalError, format!("account {account} was not onboarded"))),
        }
    }
}

/// Whether every region of `report` converged or is short only of accounts.
fn only_accounts(report: &Report) -> bool {
    report.regions.iter().all(|r| r.outcome.is_converged() || r.outcome == enablement::Outcome::Partial)
}

impl<C: Cloud> Responder<C> {
    /// An SQS batch: every record classified, the accounts enrolled together, the failures named.
    pub(crate) async fn handle_batch(&self, payload: Value, budget: Option<Budget>) -> Result<Value, Failure> {
        let event: SqsEvent = serde_json::from_value(payload).map_err(|e| {
            Failure::new(FailureKind::MalformedEvent, format!("malformed event: not an SQS event: {e}"))
        })?;
        let enabler = self.enabler.as_ref().map_err(|e| Failure::from(e.clone()))?;
        let mut response = SqsBatchResponse::default();
        let mut ids = Vec::new();
        let mut requests = Vec::new();
        let mut calls = Vec::new();
        for record in &event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let request = match record.body.as_deref().map(serde_json::from_str::<Value>) {
                Some(Ok(body)) => classify(&body),
                Some(Err(e)) => Err(crate::EventError(format!("the record's body is not JSON: {e}"))),
                None => Err(crate::EventError("the record has no body".into())),
            };
            match request {
                Ok(Request::Ignore { reason }) => tracing::info!(message = %id, %reason, "ignored"),
                Ok(Request::Tamper { call }) => calls.push((id, call)),
                Ok(request) => {
                    ids.push(id);
                    requests.push(request);
                }
                Err(e) => {
                    tracing::warn!(message = %id, error = %e, "rejected record");
                    response.add_failure(id);
                }
            }
        }
        tracing::info!(records = event.records.len(), accounts = requests.len(), "batch classified");
        // Tamper calls are answered one after another (a repair reads back before the next call is judged), beside
        // the accounts.
        let answering = async {
            let mut failed = Vec::new();
            for (id, call) in &calls {
                if let Err(failure) = Box::pin(self.answer_tamper(enabler, call, budget)).await {
                    tracing::warn!(message = %id, kind = failure.kind.as_str(), error = %failure, "record not handled");
                    failed.push(id.clone());
                }
            }
            failed
        };
        let (served, failed) = tokio::join!(self.serve_accounts(enabler, &requests, budget), answering);
        for id in failed {
            response.add_failure(id);
        }
        for (id, outcome) in ids.into_iter().zip(served.outcomes) {
            if let Err(failure) = outcome {
                tracing::warn!(message = %id, kind = failure.kind.as_str(), error = %failure, "record not handled");
                response.add_failure(id);
            }
        }
        serde_json::to_value(response).map_err(|e| Failure::new(FailureKind::InternalError, e.to_string()))
    }

    /// Serves account requests together: the accounts they name enrolled in one onboarding (those that moved in a
    /// second, which reads their membership first) while CreateAccount calls are resolved to their accounts, which a
    /// third onboarding enrols as their creations end; then each request's outcome. Publishes each onboarding's
    /// report, and each protected account's OnboardingSeconds once, from the earliest event that announced it.
    pub(crate) async fn serve_accounts(
        &self,
        enabler: &Enabler<C>,
        requests: &[Request],
        budget: Option<Budget>,
    ) -> Served {
        let split = Split::of(requests);
        let (resolved, groups) = match guarded(budget, Box::pin(self.enrol(enabler, requests, &split, budget))).await {
            Ok(done) => done,
            Err(interrupted) => {
                let failure = match interrupted {
                    Interrupted::OutOfTime(_) => Failure::new(
                        FailureKind::OutOfTime,
                        "the invocation's deadline came first; the event is retried (and the schedule enrols the \
                         account anyway)",
                    ),
                    other => other.into(),
                };
                return Served {
                    outcomes: requests.iter().map(|_| Err(failure.clone())).collect(),
                    reports: Vec::new(),
                };
            }
        };
        let (outcomes, announced) = split.outcomes(requests, resolved, &groups);
        publish_onboarding_seconds(announced);
        let reports = groups
            .into_iter()
            .flatten()
            .filter_map(|g| g.result.ok().and_then(|o| o.report))
            .map(|report| enablement::publish("responder", report))
            .collect();
        Served { outcomes, reports }
    }

    /// The three onboardings (new, moved, and those whose creation is resolved meanwhile), and what each request
    /// resolved to.
    async fn enrol(
        &self,
        enabler: &Enabler<C>,
        requests: &[Request],
        split: &Split,
        budget: Option<Budget>,
    ) -> (Vec<Resolved>, [Option<Group>; 3]) {
        let options = RunOptions::within(budget);
        let onboard = |accounts: Vec<AccountId>, entry: Entry| {
            let options = options.clone();
            async move {
                if accounts.is_empty() {
                    return None;
                }
                let result = enabler.onboard_all(&accounts, entry, &options).await.map_err(|e| match e {
                    e @ RunError::NoRegions(_) => Failure::new(FailureKind::NoRegionToGovern, e.to_string()),
                    e => Failure::from(e),
                });
                Some(Group { result })
            }
        };
        let resolving = async {
            let resolved =
                futures_util::future::join_all(requests.iter().map(|request| self.resolve(enabler, request, budget)))
                    .await;
            let late: BTreeSet<AccountId> = resolved
                .iter()
                .filter_map(|r| r.as_ref().ok().copied().flatten())
                .filter(|a| !split.moved.contains(a) && !split.known.contains(a))
                .collect();
            (resolved, onboard(late.into_iter().collect(), Entry::New).await)
        };
        let (new_group, moved_group, (resolved, late_group)) = tokio::join!(
            onboard(split.known.iter().copied().collect(), Entry::New),
            onboard(split.moved.iter().copied().collect(), Entry::Moved),
            resolving
        );
        (resolved, [new_group, moved_group, late_group])
    }

    /// The account a request is for: named outright, or the one its CreateAccount call created (polled until the
    /// creation ends); an ignore (`Err(Ok(why))`) or a failure (`Err(Err(...))`) otherwise.
    async fn resolve(&self, enabler: &Enabler<C>, request: &Request, budget: Option<Budget>) -> Resolved {
        match request {
            Request::ResolveCreateAccount { request_id, .. } => match self.created(enabler, request_id, budget).await {
                Ok(Ok(account)) => Ok(Some(account)),
                Ok(Err(reason)) => Err(Ok(format!("the account creation failed: {reason}"))),
                Err(failure) => Err(Err(failure)),
            },
            Request::Onboard { account, .. } | Request::Replan { account, .. } => Ok(Some(*account)),
            _ => Ok(None),
        }
    }
}

/// A request's outcome: `Ok(None)` protected, `Ok(Some(why))` nothing to do, `Err` not handled now.
type Outcome = Result<Option<String>, Failure>;

/// What a request resolved to: its account (`None`: not an account event), or why not (an ignore, or a failure).
type Resolved = Result<Option<AccountId>, Result<String, Failure>>;

/// The accounts a batch names outright: moved ones (their membership read first), and the others. An account that is
/// new and moved (Account Factory places it in its unit) is served as moved. Those of CreateAccount calls whose
/// creation is still in progress follow when it ends, so that a slow creation holds up no other account.
struct Split {
    moved: BTreeSet<AccountId>,
    known: BTreeSet<AccountId>,
}

impl Split {
    fn of(requests: &[Request]) -> Self {
        let moved: BTreeSet<AccountId> = requests
            .iter()
            .filter_map(|r| match r {
                Request::Replan { account, .. } => Some(*account),
                _ => None,
            })
            .collect();
        let known = requests
            .iter()
            .filter_map(|r| match r {
                Request::Onboard { account, .. } => Some(*account),
                _ => None,
            })
            .filter(|a| !moved.contains(a))
            .collect();
        Self { moved, known }
    }

    /// Each request's outcome, from what it resolved to and the group that enrolled its account; and, for each
    /// account protected, the earliest event that announced it.
    fn outcomes(
        &self,
        requests: &[Request],
        resolved: Vec<Resolved>,
        groups: &[Option<Group>; 3],
    ) -> (Vec<Outcome>, BTreeMap<AccountId, i64>) {
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut announced: BTreeMap<AccountId, i64> = BTreeMap::new();
        for (request, resolved) in requests.iter().zip(resolved) {
            let account = match resolved {
                Ok(Some(account)) => account,
                Ok(None) => {
                    outcomes.push(Ok(Some("not an account event".to_owned())));
                    continue;
                }
                Err(ignored_or_failed) => {
                    outcomes.push(ignored_or_failed.map(Some));
                    continue;
                }
            };
            let [new_group, moved_group, late_group] = groups;
            let group = if self.moved.contains(&account) {
                moved_group.as_ref()
            } else if self.known.contains(&account) {
                new_group.as_ref()
            } else {
                late_group.as_ref()
            };
            let outcome = match group {
                Some(group) => match &group.result {
                    Err(f) if f.kind == FailureKind::NoRegionToGovern => Ok(Some(f.message.clone())),
                    _ => group.outcome(&account),
                },
                None => Err(Failure::new(FailureKind::InternalError, format!("account {account} was not onboarded"))),
            };
            if let (Ok(None), Some(at)) = (&outcome, announced_ms(request)) {
                let earliest = announced.entry(account).or_insert(at);
                *earliest = (*earliest).min(at);
            }
            outcomes.push(outcome);
        }
        (outcomes, announced)
    }
}

/// OnboardingSeconds for each account protected, from the earliest event that announced it.
fn publish_onboarding_seconds(announced: BTreeMap<AccountId, i64>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    for (account, at) in announced {
        let seconds = (now - at).max(0) as f64 / 1000.0;
        println!("{}", emf_onboarding("responder", seconds));
        tracing::info!(%account, seconds, "onboarded");
    }
}

/// When the event behind `request` happened, for the accounts an onboarding protects.
fn announced_ms(request: &Request) -> Option<i64> {
    match request {
        Request::Onboard { announced_ms, .. } | Request::ResolveCreateAccount { announced_ms, .. } => *announced_ms,
        _ => None,
    }
}
