//! CloudWatch metrics from a run, in the Embedded Metric Format: JSON lines on stdout, which Lambda's log
//! pipeline turns into metrics in the `GuardDutyEnabler` namespace without an API call.
//!
//! Per run (dimension `Function`): AccountsOnboarded, DriftRepaired, RegionsFailed, Conflicts, MembersLeftOut,
//! AccountsUnprotected, DriftUnrepaired, and for a full reconcile RegionsBelowFullCoverage, FindingsExportUnhealthy
//! and RegionsDenied (discovered regions a service control policy denies the admin GuardDuty in, left out). Per governed region of a full reconcile (dimensions `Function`, `Region`):
//! AccountsExpected, AccountsProtected, AccountsUnprotected, and, where findings are exported, FindingsExportHealthy.
//! Per onboarding: OnboardingSeconds, from the event's own time to the account being Enabled everywhere. Per
//! scheduled run that keeps an evidence record: EvidenceRecorded (1 kept, 0 not). Per tamper call the responder
//! answers: TamperDetected, TamperRepaired, TamperRepairSeconds, TamperFlapping. Per scheduled run:
//! TamperDetectionHealthy (1 when a trail and the forwarding rules let tamper calls reach the responder everywhere),
//! and, where the count of tamper repairs is shared, TamperFlapping (the keys still held).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::report::{Report, RunKind, NAMED_PER_REGION};

/// The metrics namespace.
pub(crate) const NAMESPACE: &str = "GuardDutyEnabler";

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// One EMF document: `metrics` (name, unit) with their values among `properties`, under `dimensions`.
fn document(dimensions: &[&str], metrics: &[(&str, &str)], properties: Value) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": now_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }]
        }
    });
    if let (Some(doc), Value::Object(properties)) = (doc.as_object_mut(), properties) {
        doc.extend(properties);
    }
    doc
}

/// The EMF documents for `report`: the run's, then one per governed region for a full reconcile (or a run of some
/// regions, which publishes their coverage).
pub fn emf(function: &str, report: &Report) -> Vec<Value> {
    let mut docs = vec![run_document(function, report)];
    if report.kind.is_reconcile() {
        docs.extend(report.regions.iter().filter(|r| r.measured).map(|r| region_document(function, r)));
    }
    docs
}

/// The run's document. A full reconcile speaks for the whole organization; a run of some regions (a region's
/// opt-in) for those only: it never publishes the count of regions below full coverage (which it could clear).
fn run_document(function: &str, report: &Report) -> Value {
    let s = &report.summary;
    let full = report.kind == RunKind::Reconcile;
    let reconcile = report.kind.is_reconcile();
    // The accounts an onboarding made members: the most any one region added (a new account is added in each).
    let onboarded = if report.kind == RunKind::Onboard && !report.dry_run {
        let protected = report.enrolled.iter().filter(|a| report.protection_of(a).is_ok()).count();
        report.regions.iter().map(|r| r.members_added).max().unwrap_or(0).min(protected)
    } else {
        0
    };
    let repaired = if reconcile && !report.dry_run { s.writes } else { 0 };
    // Coverage is measured where a region's members were read, also where a write failed after; a region that ended
    // before its members were read (failed, conflicted, blocked, cut short) is not proven full: it counts as below.
    let below = report.regions.iter().filter(|r| !r.measured || !r.coverage.is_full()).count();
    let left: Vec<Value> = report
        .regions
        .iter()
        .flat_map(|r| r.left.iter().map(move |l| json!({"region": r.region, "account": l.account, "reason": l.reason})))
        .take(50)
        .collect();
    let mut metrics = vec![
        ("AccountsOnboarded", "Count"),
        ("DriftRepaired", "Count"),
        ("RegionsFailed", "Count"),
        ("Conflicts", "Count"),
        ("MembersLeftOut", "Count"),
        ("AccountsUnprotected", "Count"),
        ("DriftUnrepaired", "Count"),
    ];
    if full {
        metrics.extend([("RegionsBelowFullCoverage", "Count"), ("FindingsExportUnhealthy", "Count")]);
        metrics.push(("RegionsDenied", "Count"));
    }
    let export_unhealthy =
        report.regions.iter().filter_map(|r| r.export.as_ref()).filter(|e| e.is_expected() && !e.is_healthy()).count();
    document(
        &["Function"],
        &metrics,
        json!({
            "Function": function,
            "Kind": report.kind,
            "Enablement": report.enablement,
            "AccountsOnboarded": onboarded,
            "DriftRepaired": repaired,
            "RegionsFailed": s.failed + s.unfinished + s.blocked,
            "Conflicts": s.conflicts,
            "MembersLeftOut": s.left,
            "AccountsUnprotected": s.unprotected,
            "DriftUnrepaired": report.drift_unrepaired(),
            "RegionsBelowFullCoverage": below,
            "FindingsExportUnhealthy": export_unhealthy,
            "RegionsDenied": report.regions_left_out.iter().filter(|l| l.scp_denied).count(),
            "LeftOut": left,
        }),
    )
}

/// One governed region's coverage, and its findings export where it is set up there (a region the user guide's
/// rules leave out has none).
fn region_document(function: &str, r: &crate::report::RegionReport) -> Value {
    let export = r.export.as_ref().filter(|e| e.is_expected());
    let mut metrics =
        vec![("AccountsExpected", "Count"), ("AccountsProtected", "Count"), ("AccountsUnprotected", "Count")];
    let mut values = json!({
        "Function": function,
        "Region": r.region,
        "AccountsExpected": r.coverage.expected,
        "AccountsProtected": r.coverage.protected,
        "AccountsUnprotected": r.coverage.expected.saturating_sub(r.coverage.protected),
    });
    if let Some(e) = export {
        metrics.push(("FindingsExportHealthy", "Count"));
        values["FindingsExportHealthy"] = json!(u8::from(e.is_healthy()));
    }
    document(&["Function", "Region"], &metrics, values)
}

/// The EMF document for a run that produced no report (it failed before any region was worked on): one unit of
/// unrepaired drift, so that the drift alarm sees it.
pub fn emf_failure(function: &str, kind: &str) -> Value {
    document(
        &["Function"],
        &[("RunsFailed", "Count"), ("DriftUnrepaired", "Count")],
        json!({"Function": function, "FailureKind": kind, "RunsFailed": 1, "DriftUnrepaired": 1}),
    )
}

/// The EMF document for the evidence record of a scheduled run: `EvidenceRecorded` 1 when the run's observation
/// was kept in the record's bucket, 0 when it was not (an error, or no time left for it).
pub fn emf_evidence(function: &str, recorded: bool) -> Value {
    document(
        &["Function"],
        &[("EvidenceRecorded", "Count")],
        json!({"Function": function, "EvidenceRecorded": u8::from(recorded)}),
    )
}

/// The EMF document for one onboarding: the seconds from the event that announced the account to the account
/// being an Enabled member in every governed region.
pub fn emf_onboarding(function: &str, seconds: f64) -> Value {
    document(
        &["Function"],
        &[("OnboardingSeconds", "Seconds")],
        json!({"Function": function, "OnboardingSeconds": seconds}),
    )
}

/// What became of one tamper call (see [`crate::tamper`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TamperOutcome {
    /// Raised (a silencing place, or an attempt), nothing written.
    Raised,
    /// Repaired and read back, `seconds` after the call.
    Repaired {
        /// From the call's time to the verified read-back.
        seconds: Option<f64>,
    },
    /// A repair that did not read back as it should.
    NotRepaired,
    /// Repaired too often lately: left alone until the schedule finds it stable.
    Flapping,
}

/// The EMF document for one tamper call: `TamperDetected` 1, with `TamperRepaired` (1 repaired and verified, 0 a
/// repair that failed), `TamperRepairSeconds` for a verified repair, `TamperFlapping` 1 for a key no longer
/// repaired. Dimension `Function`; the call's `Kind` is a property.
pub fn emf_tamper(function: &str, kind: &str, outcome: TamperOutcome) -> Value {
    let mut metrics = vec![("TamperDetected", "Count")];
    let mut values = json!({"Function": function, "Kind": kind, "TamperDetected": 1});
    match outcome {
        TamperOutcome::Raised => {}
        TamperOutcome::Repaired { seconds } => {
            metrics.push(("TamperRepaired", "Count"));
            values["TamperRepaired"] = json!(1);
            if let Some(seconds) = seconds {
                metrics.push(("TamperRepairSeconds", "Seconds"));
                values["TamperRepairSeconds"] = json!(seconds);
            }
        }
        TamperOutcome::NotRepaired => {
            metrics.push(("TamperRepaired", "Count"));
            values["TamperRepaired"] = json!(0);
        }
        TamperOutcome::Flapping => {
            metrics.push(("TamperFlapping", "Count"));
            values["TamperFlapping"] = json!(1);
        }
    }
    document(&["Function"], &metrics, values)
}

/// The EMF document for a scheduled run's look at the keys held for flapping ([`crate::flaps::settle`]):
/// `TamperFlapping`, how many are still held (0 once every one is found stable). Dimension `Function`; the held
/// keys' ids as a property.
pub fn emf_flapping(function: &str, held: &[String]) -> Value {
    document(
        &["Function"],
        &[("TamperFlapping", "Count")],
        json!({"Function": function, "TamperFlapping": held.len(), "TamperHeld": held}),
    )
}

/// The EMF document for a scheduled run's check that tamper detection can work (see [`crate::detection`]):
/// `TamperDetectionHealthy` 1 when a trail logs management events and the forwarding rules are enabled in every
/// governed region, 0 when something is missing (each missing piece in `DetectionMissing`). Dimension `Function`.
pub fn emf_detection(function: &str, healthy: bool, missing: &[String]) -> Value {
    document(
        &["Function"],
        &[("TamperDetectionHealthy", "Count")],
        json!({"Function": function, "TamperDetectionHealthy": u8::from(healthy), "DetectionMissing": missing}),
    )
}

/// Publishes a finished run: its EMF lines on stdout, the report, one summary log line (regions, changes,
/// failures, writes, memberships added, coverage, milliseconds), and one line per region below full coverage that
/// names its unprotected accounts, for Logs Insights and the dashboard. Gives the report back as it was logged and
/// as a function returns it: capped to [`NAMED_PER_REGION`] accounts a region (every count kept).
pub fn publish(function: &str, report: Report) -> Report {
    let report = report.capped(NAMED_PER_REGION);
    for doc in emf(function, &report) {
        println!("{doc}");
    }
    tracing::info!(report = %json!(report), "report");
    for r in report.regions.iter().filter(|r| !r.unprotected.is_empty()) {
        let accounts = Value::Array(
            r.unprotected
                .iter()
                .take(50)
                .map(|u| json!({"account": u.account, "status": u.status, "reason": u.reason}))
                .collect(),
        );
        tracing::warn!(
            function,
            region = %r.region,
            expected = r.coverage.expected,
            protected = r.coverage.protected,
            unprotected = %accounts,
            "coverage gap"
        );
    }
    let s = &report.summary;
    tracing::info!(
        function,
        kind = %report.kind,
        enablement = report.enablement,
        regions = s.regions,
        changed = s.changed,
        in_sync = s.in_sync,
        failed = s.failed,
        conflicts = s.conflicts,
        unfinished = s.unfinished,
        writes = s.writes,
        members_added = s.members_added,
        accounts_expected = s.accounts_expected,
        accounts_protected = s.accounts_protected,
        millis = s.millis,
        "summary"
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Left;
    use crate::report::{Coverage, Header, Outcome, RegionLeftOut, RegionReport};

    fn region(name: &str, outcome: Outcome, left: usize, coverage: (usize, usize)) -> RegionReport {
        let mut r = RegionReport::new(name);
        r.outcome = outcome;
        r.left = (0..left)
            .map(|i| Left {
                account: format!("{i:012}").parse().expect("id"),
                reason: "the account has not enabled this opt-in region".into(),
            })
            .collect();
        r.coverage = Coverage { expected: coverage.0, protected: coverage.1 };
        r.measured = outcome.is_converged() || outcome == Outcome::Partial;
        r
    }

    fn report(kind: RunKind, regions: Vec<RegionReport>) -> Report {
        let header = Header {
            kind,
            enablement: "api",
            dry_run: false,
            management: "111111111111".into(),
            admin: "222222222222".into(),
        };
        Report::new(header, regions, vec![], vec![], 10)
    }

    /// Every declared metric of a document has a number at the top level, as EMF requires.
    fn assert_well_formed(doc: &Value) {
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().expect("metrics") {
            assert!(doc[m["Name"].as_str().expect("name")].is_number(), "{m} in {doc}");
        }
        for d in doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].as_array().expect("dimensions") {
            assert!(doc[d.as_str().expect("dimension")].is_string(), "{d} in {doc}");
        }
    }

    #[test]
    fn a_reconcile_reports_drift_and_coverage_per_region() {
        let report = report(
            RunKind::Reconcile,
            vec![
                region("us-east-1", Outcome::Changed, 0, (10, 10)),
                region("af-south-1", Outcome::Failed, 2, (8, 0)),
                region("eu-west-1", Outcome::Conflict, 0, (0, 0)),
            ],
        );
        let docs = emf("responder", &report);
        assert_eq!(docs.len(), 2, "the run's document and one per region whose coverage was measured");
        docs.iter().for_each(assert_well_formed);
        let run = &docs[0];
        assert_eq!(run["Function"], "responder");
        assert_eq!(run["RegionsFailed"], 1);
        assert_eq!(run["Conflicts"], 1);
        assert_eq!(run["DriftUnrepaired"], 2);
        assert_eq!(run["MembersLeftOut"], 2);
        assert_eq!(run["RegionsBelowFullCoverage"], 2, "the failed and conflicted regions are not proven full");
        assert_eq!(run["AccountsOnboarded"], 0);
        let us = docs.iter().find(|d| d["Region"] == "us-east-1").expect("us-east-1");
        assert_eq!((us["AccountsExpected"].as_u64(), us["AccountsProtected"].as_u64()), (Some(10), Some(10)));
        assert_eq!(us["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], json!(["Function", "Region"]));
        assert!(docs.iter().all(|d| d["Region"] != "af-south-1"));
    }

    #[test]
    fn a_region_that_failed_after_its_members_were_read_publishes_their_coverage() {
        // given a region whose organization configuration write failed after every member was read
        let mut failed = region("eu-west-1", Outcome::Failed, 0, (6, 4));
        failed.measured = true;
        let docs = emf("responder", &report(RunKind::Reconcile, vec![failed]));
        // then its coverage is published, and counted below full
        let eu = docs.iter().find(|d| d["Region"] == "eu-west-1").expect("eu-west-1's coverage");
        assert_eq!((eu["AccountsExpected"].as_u64(), eu["AccountsProtected"].as_u64()), (Some(6), Some(4)));
        assert_eq!(docs[0]["RegionsBelowFullCoverage"], 1);
    }

    #[test]
    fn a_run_of_some_regions_publishes_their_coverage_but_never_the_count_below_full() {
        let docs = emf("responder", &report(RunKind::Region, vec![region("eu-west-1", Outcome::Changed, 0, (5, 5))]));
        assert_eq!(docs.len(), 2);
        assert!(docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .all(|m| m["Name"] != "RegionsBelowFullCoverage"));
        assert_eq!(docs[1]["AccountsProtected"], 5);
    }

    #[test]
    fn discovered_regions_a_service_control_policy_denies_are_counted_in_a_full_reconcile() {
        let mut full = report(RunKind::Reconcile, vec![region("us-east-1", Outcome::InSync, 0, (3, 3))]);
        full.regions_left_out = vec![
            RegionLeftOut { scp_denied: true, ..RegionLeftOut::new("eu-north-1".into(), "denied".into()) },
            RegionLeftOut::new("af-south-1".into(), "not enabled".into()),
        ];
        let docs = emf("bootstrapper", &full);
        assert_well_formed(&docs[0]);
        assert_eq!(docs[0]["RegionsDenied"], 1, "only the denied one");
    }

    #[test]
    fn a_partial_region_is_below_full_coverage() {
        let report = report(RunKind::Reconcile, vec![region("eu-west-1", Outcome::Partial, 0, (5, 3))]);
        let docs = emf("responder", &report);
        assert_eq!(docs[0]["RegionsBelowFullCoverage"], 1);
        assert_eq!(docs[1]["AccountsUnprotected"], 2);
    }

    #[test]
    fn a_successful_onboarding_counts_one_account_and_publishes_no_region_coverage() {
        let mut r = region("us-east-1", Outcome::Changed, 0, (1, 1));
        r.members_added = 1;
        let mut onboarding = report(RunKind::Onboard, vec![r]);
        onboarding.enrolled = vec!["333333333333".parse().expect("id")];
        let docs = emf("responder", &onboarding);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["AccountsOnboarded"], 1);
        assert_eq!(docs[0]["DriftRepaired"], 0);
        assert!(docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .all(|m| m["Name"] != "RegionsBelowFullCoverage"));
    }

    #[test]
    fn onboarding_seconds_and_run_failures_are_well_formed() {
        let doc = emf_onboarding("responder", 12.5);
        assert_well_formed(&doc);
        assert_eq!(doc["OnboardingSeconds"], 12.5);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Seconds");
        let failed = emf_failure("bootstrapper", "AwsError");
        assert_well_formed(&failed);
        assert_eq!(failed["DriftUnrepaired"], 1);
    }
}
