//! CloudWatch metrics from a report, in the Embedded Metric Format: one JSON line on stdout, which Lambda's log
//! pipeline turns into metrics in the `GuardDutyEnabler` namespace without an API call.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::report::Report;

/// The metrics namespace.
pub const NAMESPACE: &str = "GuardDutyEnabler";

/// The EMF document for `report`, with the function's name as the one dimension. Metrics: AccountsOnboarded,
/// DriftRepaired (writes a reconcile made), RegionsFailed (failed or unfinished), Conflicts, MembersLeftOut, and
/// DriftUnrepaired (regions not brought to the desired state). The accounts left out, with their reasons, ride
/// along as a property (at most 50), for Logs Insights.
pub fn emf(function: &str, report: &Report) -> Value {
    let s = &report.summary;
    let onboarded = usize::from(report.kind == "onboard" && report.is_success() && s.members_added > 0);
    let repaired = if report.kind == "reconcile" && !report.dry_run { s.writes } else { 0 };
    let left: Vec<Value> = report
        .regions
        .iter()
        .flat_map(|r| r.left.iter().map(move |l| json!({"region": r.region, "account": l.account, "reason": l.reason})))
        .take(50)
        .collect();
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [
                    {"Name": "AccountsOnboarded", "Unit": "Count"},
                    {"Name": "DriftRepaired", "Unit": "Count"},
                    {"Name": "RegionsFailed", "Unit": "Count"},
                    {"Name": "Conflicts", "Unit": "Count"},
                    {"Name": "MembersLeftOut", "Unit": "Count"},
                    {"Name": "DriftUnrepaired", "Unit": "Count"}
                ]
            }]
        },
        "Function": function,
        "Kind": report.kind,
        "AccountsOnboarded": onboarded,
        "DriftRepaired": repaired,
        "RegionsFailed": s.failed + s.unfinished,
        "Conflicts": s.conflicts,
        "MembersLeftOut": s.left,
        "DriftUnrepaired": s.failed + s.unfinished + s.conflicts,
        "LeftOut": left,
    })
}

/// Publishes a finished run: its EMF metrics line on stdout, the whole report, and one summary log line (regions,
/// changes, failures, writes, memberships added, milliseconds) for Logs Insights.
pub fn publish(function: &str, report: &Report) {
    println!("{}", emf(function, report));
    tracing::info!(report = %json!(report), "report");
    let s = &report.summary;
    tracing::info!(
        function,
        kind = %report.kind,
        regions = s.regions,
        changed = s.changed,
        in_sync = s.in_sync,
        failed = s.failed,
        conflicts = s.conflicts,
        unfinished = s.unfinished,
        writes = s.writes,
        members_added = s.members_added,
        millis = s.millis,
        "summary"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Left;
    use crate::report::{Outcome, RegionReport};

    fn region(name: &str, outcome: Outcome, left: usize) -> RegionReport {
        let mut r = RegionReport::new(name);
        r.outcome = outcome;
        r.left = (0..left)
            .map(|i| Left {
                account: format!("{i:012}"),
                reason: "the account has not enabled this opt-in region".into(),
            })
            .collect();
        r
    }

    #[test]
    fn a_reconcile_with_a_failed_region_reports_unrepaired_drift_and_the_accounts_left_out() {
        let report = Report::new(
            "reconcile",
            false,
            "111111111111".into(),
            "222222222222".into(),
            vec![
                region("us-east-1", Outcome::Changed, 0),
                region("af-south-1", Outcome::Failed, 2),
                region("eu-west-1", Outcome::Conflict, 0),
            ],
            10,
        );
        let doc = emf("responder", &report);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(doc["Function"], "responder");
        assert_eq!(doc["RegionsFailed"], 1);
        assert_eq!(doc["Conflicts"], 1);
        assert_eq!(doc["DriftUnrepaired"], 2);
        assert_eq!(doc["MembersLeftOut"], 2);
        assert_eq!(doc["LeftOut"][1]["region"], "af-south-1");
        assert_eq!(doc["AccountsOnboarded"], 0);
        // every declared metric has a value at the top level, as EMF requires
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().expect("metrics") {
            assert!(doc[m["Name"].as_str().expect("name")].is_number(), "{m}");
        }
    }

    #[test]
    fn a_successful_onboarding_counts_one_account() {
        let mut r = region("us-east-1", Outcome::Changed, 0);
        r.members_added = 1;
        let report = Report::new("onboard", false, "111111111111".into(), "222222222222".into(), vec![r], 5);
        assert_eq!(emf("responder", &report)["AccountsOnboarded"], 1);
        assert_eq!(emf("responder", &report)["DriftRepaired"], 0);
    }
}
