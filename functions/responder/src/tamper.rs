//! Tamper calls: a call someone else made to GuardDuty or to the organization's policy plane, answered within
//! seconds of its CloudTrail event. What [`enablement::tamper::decide`] says is repaired in exactly that account and
//! region and read back; what it raises is logged with who, what and where, and counted; the tool's own calls are
//! never answered. A key (account, region, kind) repaired more than [`FLAP_LIMIT`] times within [`FLAP_WINDOW`] is
//! no longer repaired by this process (raised as `TamperFlapping`) until the window has passed; the scheduled
//! reconcile still repairs it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enablement::tamper::{decide, Call, Decision, Keeper, Repair, Silencing};
use enablement::{emf_tamper, AccountId, Budget, Cloud, Enabler, Failure, RunOptions, TamperOutcome};
use serde_json::{json, Value};

use crate::Responder;

/// The most repairs of one key within [`FLAP_WINDOW`].
pub const FLAP_LIMIT: usize = 3;
/// The window repairs are counted in.
pub const FLAP_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What repairs are counted by: the account, the region (`*` for the whole organization) and the repair's kind.
type FlapKey = (AccountId, String, &'static str);

/// The repairs this process made lately, by key.
#[derive(Default)]
pub(crate) struct Flaps {
    made: Mutex<BTreeMap<FlapKey, VecDeque<Instant>>>,
}

impl Flaps {
    /// Counts a repair of `key` now, unless [`FLAP_LIMIT`] were made within the window: then `false`.
    fn admit(&self, key: FlapKey, now: Instant) -> bool {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        let times = made.entry(key).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) > FLAP_WINDOW) {
            times.pop_front();
        }
        if times.len() >= FLAP_LIMIT {
            return false;
        }
        times.push_back(now);
        true
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
        let decision =
            decide(call, &keeper).map_err(|e| Failure::new("MalformedEvent", format!("malformed event: {e}")))?;
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
        if !self.flaps.admit((call.account, region.to_owned(), "revert"), Instant::now()) {
            println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Flapping));
            return Ok(false);
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
                "TamperNotRepaired",
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
        let key = (call.account, repair.region().unwrap_or("*").to_owned(), repair.kind());
        if !self.flaps.admit(key, Instant::now()) {
            println!("{}", emf_tamper("responder", &call.name, TamperOutcome::Flapping));
            tracing::warn!(
                call = %call.name, account = %call.account, region = %call.region, kind = repair.kind(),
                "repaired {FLAP_LIMIT} times within {} minutes: left to the scheduled reconcile", FLAP_WINDOW.as_secs() / 60
            );
            return Ok(json!({"flapping": true}));
        }
        let repaired = Box::pin(enabler.repair(repair, &RunOptions::within(budget))).await?;
        let writes: usize = repaired.report.regions.iter().map(|r| r.writes()).sum::<usize>()
            + repaired.report.organization.iter().filter(|a| a.status != enablement::ActionStatus::Planned).count();
        if !repaired.verified {
            println!("{}", emf_tamper("responder", &call.name, TamperOutcome::NotRepaired));
            let why = repaired.shortfall.join("; ");
            tracing::warn!(call = %call.name, account = %call.account, region = %call.region, %why, "tamper not repaired");
            return Err(Failure::new(
                "TamperNotRepaired",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_repaired_three_times_in_fifteen_minutes_then_left_until_the_window_passes() {
        let flaps = Flaps::default();
        let key = || ("111122223333".parse().expect("id"), "eu-west-1".to_owned(), "members");
        let start = Instant::now();
        for minute in [0, 1, 2] {
            assert!(flaps.admit(key(), start + Duration::from_secs(60 * minute)));
        }
        assert!(!flaps.admit(key(), start + Duration::from_secs(60 * 3)));
        // another key is counted apart
        assert!(flaps.admit(("111122223333".parse().expect("id"), "us-east-1".to_owned(), "members"), start));
        // once the first repair is older than the window, one more is admitted
        assert!(flaps.admit(key(), start + FLAP_WINDOW + Duration::from_secs(61)));
    }
}
