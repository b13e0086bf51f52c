//! The schedule's check that tamper detection can work ([`enablement::detection`]): after the reconcile, in every
//! governed region, a trail logs management events and the forwarding rules are enabled. Reads only, within what is
//! left of the invocation; it never fails the run. It publishes `TamperDetectionHealthy` (1, or 0 with what is
//! missing) and answers `{"healthy", "missing"}`.
//!
//! The management account's two tamper rules are named by `TAMPER_RULE_NAMES` (comma list), which the template sets
//! from the rules it creates (CloudFormation generates their names); without it they are reported as not checked.

use std::time::Instant;

use enablement::detection::{self, emf_detection, Detection};
use enablement::{guarded, Budget, Cloud, Enabler, Report};
use serde_json::{json, Value};

use crate::Lookup;

/// The variable that names the management account's tamper rules in the stack's region.
pub const RULE_NAMES: &str = "TAMPER_RULE_NAMES";

/// The rule names `TAMPER_RULE_NAMES` gives; `None` when it is unset or empty.
pub(crate) fn rule_names(lookup: &Lookup) -> Option<Vec<String>> {
    let names: Vec<String> =
        lookup(RULE_NAMES)?.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect();
    (!names.is_empty()).then_some(names)
}

/// Checks the governed regions of `report`, with the rules and the forwarders `lookup` names; what was found, for
/// the run's answer.
pub(crate) async fn check<C: Cloud>(
    enabler: &Enabler<C>,
    report: &Report,
    lookup: &Lookup,
    budget: Option<Budget>,
) -> Value {
    let started = Instant::now();
    let governed: Vec<String> = report.regions.iter().map(|r| r.region.clone()).collect();
    let rules = rule_names(lookup);
    let forwarder = crate::forwarders::name(lookup);
    let work = detection::check(enabler, &governed, rules.as_deref(), forwarder.as_deref());
    let detection = match guarded(budget, Box::pin(work)).await {
        Ok(detection) => detection,
        Err(interrupted) => Detection::from_missing(vec![format!("not checked: {interrupted}")]),
    };
    let millis = started.elapsed().as_millis() as u64;
    println!("{}", emf_detection("bootstrapper", detection.healthy, &detection.missing));
    if detection.healthy {
        tracing::info!(regions = governed.len(), millis, "tamper detection can work");
    } else {
        tracing::warn!(missing = ?detection.missing, millis, "tamper detection cannot work everywhere");
    }
    json!(detection)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_rule_names_are_a_comma_list_and_empty_means_unknown() {
        let lookup = |value: Option<&'static str>| -> Lookup { Arc::new(move |_| value.map(str::to_owned)) };
        assert_eq!(rule_names(&lookup(Some("a, b,"))), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(rule_names(&lookup(Some(" , "))), None);
        assert_eq!(rule_names(&lookup(None)), None);
    }
}
