//! Tamper calls: a call someone else made to GuardDuty or to the organization's policy plane, answered within
//! seconds of its CloudTrail event. What [`enablement::tamper::decide`] says is repaired in exactly that account and
//! region and read back; what it raises is logged with who, what and where, and counted; the tool's own calls are
//! never answered. A key (account, region, kind) repaired [`flaps::LIMIT`] times within [`flaps::WINDOW`] is held
//! (raised as `TamperFlapping`, nothing written) until a scheduled run finds it stable; the count is the ledger's
//! ([`enablement::flaps`]), shared by every process where the template gives its table, and taken beside the
//! repair's first reads, so that it adds no round trip to a repair.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use enablement::flaps::{self, Key, Ledger};
use enablement::tamper::{decide, Call, Decision, Keeper, Repair, Silencing};
use enablement::{emf_tamper, Budget, Cloud, Enabler, Error, Failure, FailureKind, Gate, RunOptions, TamperOutcome};
use serde_json::{json, Value};

use crate::Responder;

/// Whether a repair of `key` may be made now: admitted by the ledger, or held (with why). A ledger that cannot be
/// read does not stop a repair (a repair is what protects): it is logged, and the repair goes on.
async fn admission(ledger: &Ledger, key: &Key) -> Result<(), String> {
    match ledger.admit(key, now_ms()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "{} was repaired {} times within {} minutes: held until a scheduled run finds it stable",
            key.id(),
            flaps::LIMIT,
            flaps::WINDOW.as_secs() / 60
        )),
        Err(e) => {
            tracing::warn!(key = %key.id(), error = %e, "the count of tamper repairs could not be read: repairing");
            Ok(())
        }
    }
}

impl<C: Cloud> Responder<C> {
    /// Answers one tamper call: `Ok` with what was decided and done, or `Err` when a repair did not read back as it
    /// should (so that the event is retried, then dead-lettered, and the errors alarm fires).
    pub(crate) async fn answer_tamper(
        &self,
        enabler: &Enabler<C>,
        call: &Call,
        budget: Option<Budget>,
    ) -> Result<Value, Failure> {
        let admin_role =
            format!("arn:aws:iam::{}:role/{}", enabler.settings().admin_account, enabler.settings().admin_role_name);
        let own_roles: Vec<String> = self.own_roles.iter().cloned().chain(std::iter::once(admin_role)).collect();
        // The management account is read only where it decides (a detector's call), so that the tool's own calls
        // and refused ones make no call at all.
        let management = match call.concerns_a_detector(&own_roles) {
            true => Some(enabler.management_account().await?),
            false => None,
        };
        let settings = enabler.settings();
        let paused_until = settings.tamper_paused(now_ms());
        let keeper = Keeper {
            admin: settings.admin_account,
            management,
            own_roles: &own_roles,
            revert: &settings.tamper_revert,
            allowed_filters: &settings.tamper_allowed_filters,
            paused_until,
        };
        let decision = decide(call, &keeper)
            .map_err(|e| Failure::new(FailureKind::MalformedEvent, format!("malformed event: {e}")))?;
        let who = json!({"principal": call.principal, "source_ip": call.source_ip});
        match &decision {
            Decision::Skip { why } => {
                tracing::info!(call = %call.name, account = %call.account, region = %call.region, %why, "tamper call skipped");
                Ok(json!({"call": call, "decision": decision}))
            }
            Decision::Raise { why, .. } => {
                println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Raised));
                tracing::warn!(call = %call.name, account = %call.account, region = %call.region, who = %who, %why, "tamper raised");
                Ok(json!({"call": call, "decision": decision}))
            }
            Decision::Revert { what, region, target, why } => {
                tracing::warn!(call = %call.name, account = %call.account, region = %call.region, who = %who, %why, "tamper raised");
                let reverted = self.revert(enabler, call, *what, region, target).await?;
                Ok(json!({"call": call, "decision": decision, "reverted": reverted}))
            }
            Decision::Repair(repair) => self
                .repair(enabler, call, repair, budget)
                .await
                .map(|done| json!({"call": call, "decision": decision, "repaired": done})),
        }
    }

    /// Reverts a silencing change where GUARDDUTY_TAMPER_REVERT asks for its kind, and reads it back: `Ok(true)`
    /// reverted, `Ok(false)` left (flapping, or a dry run), `Err` when it does not read back.
    async fn revert(
        &self,
        enabler: &Enabler<C>,
        call: &Call,
        what: Silencing,
        region: &str,
        target: &str,
    ) -> Result<bool, Failure> {
        if !enabler.settings().dry_run {
            if let Err(why) = admission(&self.ledger, &Key::new(call.account, Some(region), "revert")).await {
                println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Flapping));
                tracing::warn!(call = %call.name, account = %call.account, region = %call.region, %why, "not reverted");
                return Ok(false);
            }
        }
        let verified = enabler.revert(region, what, target).await?;
        if enabler.settings().dry_run {
            println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Raised));
            return Ok(false);
        }
        let seconds = call.time_ms.map(|at| (now_ms() - at).max(0) as f64 / 1000.0);
        let outcome = if verified { TamperOutcome::Repaired { seconds } } else { TamperOutcome::NotRepaired };
        println!("{}", emf_tamper("responder", &call.name, outcome));
        if !verified {
            return Err(Failure::new(
                FailureKind::TamperNotRepaired,
                format!("{} of {target} in {region}: the revert does not read back", call.name),
            ));
        }
        Ok(true)
    }

    async fn repair(
        &self,
        enabler: &Enabler<C>,
        call: &Call,
        repair: &Repair,
        budget: Option<Budget>,
    ) -> Result<Value, Failure> {
        let key = Key::new(call.account, repair.region(), repair.kind());
        // The count is the run's gate, so that it is taken beside the repair's first reads.
        let gate = (!enabler.settings().dry_run).then(|| {
            let ledger = Arc::clone(&self.ledger);
            Gate::new(async move { admission(&ledger, &key).await })
        });
        let options = RunOptions { gate, ..RunOptions::within(budget) };
        let repaired = match Box::pin(enabler.repair(repair, &options)).await {
            Ok(repaired) => repaired,
            Err(Error::Held(why)) => {
                println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Flapping));
                tracing::warn!(call = %call.name, account = %call.account, region = %call.region, %why, "not repaired");
                return Ok(json!({"flapping": true, "why": why}));
            }
            Err(e) => return Err(e.into()),
        };
        let writes: usize = repaired.report.regions.iter().map(|r| r.writes()).sum::<usize>()
            + repaired.report.organization.iter().filter(|a| a.status != enablement::ActionStatus::Planned).count();
        if !repaired.verified {
            println!("{}", emf_tamper("responder", &call.name, TamperOutcome::NotRepaired));
            let why = repaired.shortfall.join("; ");
            tracing::warn!(call = %call.name, account = %call.account, region = %call.region, %why, "tamper not repaired");
            return Err(Failure::new(
                FailureKind::TamperNotRepaired,
                format!("{} in {} {}: {why}", call.name, call.account, call.region),
            ));
        }
        let seconds = call.time_ms.map(|at| (now_ms() - at).max(0) as f64 / 1000.0);
        println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Repaired { seconds }));
        tracing::info!(call = %call.name, account = %call.account, region = %call.region, writes, seconds, "tamper repaired");
        Ok(json!({"writes": writes, "seconds": seconds, "report": enablement::publish("responder", repaired.report)}))
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
