//! The management account's forwarders of its own GuardDuty calls ([`enablement::forwarding`]): kept in every
//! governed region but the stack's after each reconcile that reported (Create, Update, the schedule, a region's
//! opt-in), and removed by the stack's Delete. Within what is left of the invocation; never fails the run: what
//! failed is in the answer and the log, and the schedule's check of tamper detection reports a region not forwarded.
//!
//! The template names the rule (`TAMPER_FORWARDER`) and the role EventBridge puts events with
//! (`TAMPER_FORWARD_ROLE_ARN`); without both, nothing is written and the answer says so.

use enablement::forwarding::{self, Wanted};
use enablement::{guarded, Budget, Cloud, Enabler, Report};
use serde_json::{json, Value};

use crate::Lookup;

/// The variable that names the forwarders' rule.
pub const NAME: &str = "TAMPER_FORWARDER";
/// The variable that gives the role EventBridge assumes to put the forwarded events on the stack region's bus.
pub const ROLE: &str = "TAMPER_FORWARD_ROLE_ARN";

/// The forwarders' rule name, where `TAMPER_FORWARDER` gives one.
pub(crate) fn name(lookup: &Lookup) -> Option<String> {
    lookup(NAME).map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
}

/// Brings the forwarders of the regions `report` governs to what they should be; what it did, for the answer.
pub(crate) async fn keep<C: Cloud>(
    enabler: &Enabler<C>,
    report: &Report,
    lookup: &Lookup,
    budget: Option<Budget>,
) -> Value {
    let (Some(name), Some(role)) = (name(lookup), lookup(ROLE).filter(|r| !r.trim().is_empty())) else {
        return json!({"skipped": format!("{NAME} and {ROLE} are not both set: no forwarder is kept")});
    };
    let management = report.management_account.to_string();
    let wanted = Wanted::new(&name, &management, enabler.cloud().home_region(), role.trim());
    let governed: Vec<String> = report.regions.iter().map(|r| r.region.clone()).collect();
    let kept = match guarded(budget, Box::pin(forwarding::ensure(enabler, &governed, &wanted))).await {
        Ok(kept) => kept,
        Err(interrupted) => {
            tracing::warn!(%interrupted, "forwarders not kept");
            return json!({"failed": [format!("not kept: {interrupted}")]});
        }
    };
    if kept.failed.is_empty() {
        tracing::info!(written = ?kept.written, dry_run = kept.dry_run, "forwarders of the management account's GuardDuty calls kept");
    } else {
        tracing::warn!(failed = ?kept.failed, written = ?kept.written, "forwarders of the management account's GuardDuty calls not all kept");
    }
    json!(kept)
}

/// Removes the forwarders (the stack's Delete); what could not be removed, for the reason CloudFormation shows.
pub(crate) async fn remove<C: Cloud>(enabler: &Enabler<C>, lookup: &Lookup, budget: Option<Budget>) -> Vec<String> {
    let Some(name) = name(lookup) else { return Vec::new() };
    if enabler.settings().dry_run {
        return Vec::new();
    }
    let left = match guarded(budget, Box::pin(forwarding::remove(enabler, &name))).await {
        Ok(left) => left,
        Err(interrupted) => vec![format!("not removed: {interrupted}")],
    };
    if left.is_empty() {
        tracing::info!(rule = %name, "forwarders removed");
    } else {
        tracing::warn!(rule = %name, ?left, "forwarders left behind");
    }
    left
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_name_is_trimmed_and_empty_means_none() {
        let lookup = |value: Option<&'static str>| -> Lookup { Arc::new(move |_| value.map(str::to_owned)) };
        assert_eq!(name(&lookup(Some(" gd-calls "))), Some("gd-calls".to_owned()));
        assert_eq!(name(&lookup(Some("  "))), None);
        assert_eq!(name(&lookup(None)), None);
    }
}
