//! The management template's observability reads what the functions publish: every GuardDutyEnabler metric its
//! dashboard and alarms name is one the runs emit (the evidence record's and the tamper calls' included) (with the dimensions the template asks for).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;

use enablement::detection::emf_detection;
use enablement::{emf, emf_evidence, emf_failure, emf_onboarding, emf_tamper, RunOptions, TamperOutcome};
use serde_json::{json, Value};
use system_tests::{root, settings, Emulator};

/// Every metric name, with its dimension names, of an EMF document.
fn emitted(doc: &Value, into: &mut BTreeSet<(String, Vec<String>)>) {
    for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
        for dimensions in directive["Dimensions"].as_array().unwrap() {
            let dimensions: Vec<String> =
                dimensions.as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
            for metric in directive["Metrics"].as_array().unwrap() {
                into.insert((metric["Name"].as_str().unwrap().to_owned(), dimensions.clone()));
            }
        }
    }
}

/// The GuardDutyEnabler metrics the template names: (metric, dimension names).
fn named_in_template() -> BTreeSet<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let mut named = BTreeSet::new();
    // dashboard metric arrays: ["GuardDutyEnabler", "Name", "Function", "responder", {...}]
    for piece in text.split("[\"GuardDutyEnabler\", \"").skip(1) {
        let name = piece.split('"').next().unwrap().to_owned();
        named.insert((name, vec!["Function".to_owned()]));
    }
    // dashboard searches: SEARCH('{GuardDutyEnabler,Function,Region} ... MetricName=\"Name\"', ...)
    for piece in text.split("SEARCH('{GuardDutyEnabler,").skip(1) {
        let dimensions: Vec<String> = piece.split('}').next().unwrap().split(',').map(str::to_owned).collect();
        let name = piece.split("MetricName=\\\"").nth(1).unwrap().split('\\').next().unwrap().to_owned();
        named.insert((name, dimensions));
    }
    // alarms: Namespace: GuardDutyEnabler, MetricName: Name, Dimensions: [{ Name: Function, ... }]
    for piece in text.split("Namespace: GuardDutyEnabler").skip(1) {
        let name = piece.split("MetricName: ").nth(1).unwrap().split([',', '\n', ' ']).next().unwrap().to_owned();
        named.insert((name, vec!["Function".to_owned()]));
    }
    named
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_the_alarms_read_is_one_the_functions_publish() {
    // given the documents a reconcile, an onboarding and a failed run publish
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["eu-west-1", "us-east-1"], "opt_in": []}));
    let org = emulator.organization(3, 0);
    // (with findings exported, whose health is published per region)
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"buckets": {"findings": {"region": "us-east-1", "owner": "999988887777"}}}),
    );
    let export = [
        ("GUARDDUTY_FINDINGS_DESTINATION", "arn:aws:s3:::findings"),
        ("GUARDDUTY_FINDINGS_KMS_KEY", "arn:aws:kms:us-east-1:999988887777:key/findings"),
    ];
    let enabler = emulator.enabler(settings(&org.accounts[0], &export)).await;
    let reconcile = enabler.reconcile().await.unwrap();
    let (account, _) = emulator.create_account("dashboard").await;
    let onboard = enabler.onboard(&account, &RunOptions::default()).await.unwrap();
    let mut published = BTreeSet::new();
    for function in ["responder", "bootstrapper"] {
        for doc in emf(function, &reconcile).iter().chain(&emf(function, &onboard)) {
            emitted(doc, &mut published);
        }
        emitted(&emf_onboarding(function, 3.5), &mut published);
        emitted(&emf_failure(function, "AwsError"), &mut published);
        emitted(&emf_evidence(function, true), &mut published);
        emitted(&emf_detection(function, false, &["eu-west-1: not forwarded".to_owned()]), &mut published);
        for outcome in [
            TamperOutcome::Raised,
            TamperOutcome::Repaired { seconds: Some(1.0) },
            TamperOutcome::NotRepaired,
            TamperOutcome::Flapping,
        ] {
            emitted(&emf_tamper(function, "DeleteMembers", outcome), &mut published);
        }
    }
    // then every metric the template reads is among them
    let named = named_in_template();
    assert!(named.len() >= 8, "the template's metrics were not found: {named:?}");
    let missing: Vec<_> = named.difference(&published).collect();
    assert!(missing.is_empty(), "the template reads metrics no run publishes: {missing:?}\npublished: {published:?}");
}
