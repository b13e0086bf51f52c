//! Findings exported to one encrypted bucket from every governed region, as the emulator models publishing
//! destinations from the API reference and the user guide ("Exporting generated findings to Amazon S3"): created
//! where missing, updated in place where they export elsewhere, never re-sent when they match, reported when broken,
//! and left out where the user guide's region rules forbid the bucket.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::{json, Value};
use system_tests::{cli, settings, tally, Emulator, Org};

const DESTINATION: &str = "arn:aws:s3:::guardduty-findings/guardduty";
const KEY: &str = "arn:aws:kms:us-east-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Two commercial regions and an opt-in one every account enabled; a bucket in us-east-1 of a log-archive account,
/// with the prefix's folder marker.
fn world(accounts: usize) -> (Emulator, Org) {
    let emulator = Emulator::start();
    emulator.regions(
        json!({"default": ["eu-west-1", "us-east-1"], "opt_in": ["af-south-1"], "enabled_everywhere": ["af-south-1"]}),
    );
    let org = emulator.organization(accounts, 0);
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"buckets": {"guardduty-findings": {"region": "us-east-1", "owner": "999988887777", "prefixes": ["guardduty/"]}},
                "verification_seconds": 0}),
    );
    (emulator, org)
}

fn export_vars() -> [(&'static str, &'static str); 2] {
    [("GUARDDUTY_FINDINGS_DESTINATION", DESTINATION), ("GUARDDUTY_FINDINGS_KMS_KEY", KEY)]
}

fn destinations(emulator: &Emulator) -> Vec<Value> {
    emulator.state()["publishing_destinations"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_is_set_in_every_region_updated_in_place_and_a_second_run_writes_nothing() {
    // given a bootstrapped organization whose eu-west-1 already exports to another bucket
    let (emulator, org) = world(3);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"buckets": {"old-findings": {"region": "eu-west-1", "owner": admin.as_str()}}}),
    );
    let gd = emulator.admin_guardduty(&admin, "eu-west-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let properties = aws_sdk_guardduty::types::DestinationProperties::builder()
        .destination_arn("arn:aws:s3:::old-findings")
        .kms_key_arn("arn:aws:kms:eu-west-1:222222222222:key/old")
        .build();
    let old = gd
        .create_publishing_destination()
        .detector_id(&detector)
        .destination_type(aws_sdk_guardduty::types::DestinationType::S3)
        .destination_properties(properties)
        .send()
        .await
        .unwrap();
    let old_id = old.destination_id().unwrap().to_owned();

    // when reconciled with export configured
    let enabler = emulator.enabler(settings(&admin, &export_vars())).await;
    emulator.clear_log();
    let report = enabler.reconcile().await.unwrap();

    // then every governed region exports to the bucket: created in us-east-1 and af-south-1 (an opt-in region may
    // export to a commercial one), updated in place in eu-west-1 (not duplicated, not deleted and recreated)
    assert!(report.is_success(), "{:#?}", report.problems());
    let all = destinations(&emulator);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|d| d["destination_arn"] == DESTINATION && d["kms_key_arn"] == KEY), "{all:?}");
    let eu = all.iter().find(|d| d["region"] == "eu-west-1").unwrap();
    assert_eq!(eu["id"], old_id.as_str());
    let calls = tally(&emulator.log());
    assert_eq!(calls.by_operation.get("guardduty:CreatePublishingDestination"), Some(&2), "{:?}", calls.by_operation);
    assert_eq!(calls.by_operation.get("guardduty:UpdatePublishingDestination"), Some(&1));
    assert_eq!(calls.by_operation.get("guardduty:DeletePublishingDestination"), None);
    for region in &report.regions {
        let e = region.export.as_ref().unwrap();
        assert!(e.is_healthy(), "{}: {e:?}", region.region);
    }

    // and a second run writes nothing (an unchanged destination is never re-sent)
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    assert!(
        again.regions.iter().all(|r| r.export.as_ref().unwrap().status == enablement::ExportStatus::Publishing),
        "{again:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_destination_is_reported_with_its_status_and_the_command_line_exits_two() {
    let (emulator, org) = world(2);
    let admin = org.accounts[0].to_string();
    let env = [
        ("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str()),
        ("GUARDDUTY_FINDINGS_DESTINATION", DESTINATION),
        ("GUARDDUTY_FINDINGS_KMS_KEY", KEY),
    ];
    assert_eq!(cli(&emulator, &["apply"], &env).code, 0);
    // given eu-west-1's destination broken since a known time
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"broken": {"eu-west-1": {"status": "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY", "since": 1_795_939_200_000u64}}}),
    );
    // when the command line looks
    let status = cli(&emulator, &["status"], &env);
    // then it exits 2 and names the region, the status and since when
    assert_eq!(status.code, 2, "{status:?}");
    assert!(status.stdout.contains("UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"), "{}", status.stdout);
    let json = cli(&emulator, &["status", "--json"], &env);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let eu = report["regions"].as_array().unwrap().iter().find(|r| r["region"] == "eu-west-1").unwrap();
    assert_eq!(eu["export"]["status"], "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY");
    assert_eq!(eu["export"]["failing_since_ms"], 1_795_939_200_000u64);
    assert_eq!(eu["outcome"], "partial", "the region is not in sync");
    let us = report["regions"].as_array().unwrap().iter().find(|r| r["region"] == "us-east-1").unwrap();
    assert_eq!(us["export"]["status"], "PUBLISHING");
    // and the metrics say which region is unhealthy
    let apply =
        emulator.enabler(system_tests::settings(&org.accounts[0], &export_vars())).await.reconcile().await.unwrap();
    let docs = enablement::emf("responder", &apply);
    assert_eq!(docs[0]["FindingsExportUnhealthy"], 1);
    let eu_doc = docs.iter().find(|d| d["Region"] == "eu-west-1").unwrap();
    assert_eq!(eu_doc["FindingsExportHealthy"], 0);
    assert!(!apply.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_the_bucket_cannot_serve_is_left_out_of_export_not_failed() {
    // given a bucket in the opt-in region af-south-1: commercial regions cannot export there, af-south-1 itself can
    let (emulator, org) = world(2);
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"buckets": {"cape-findings": {"region": "af-south-1", "owner": "999988887777"}}}),
    );
    let vars = [
        ("GUARDDUTY_FINDINGS_DESTINATION", "arn:aws:s3:::cape-findings"),
        ("GUARDDUTY_FINDINGS_KMS_KEY", "arn:aws:kms:af-south-1:999988887777:key/abcd"),
    ];
    emulator.clear_log();
    let report = emulator.enabler(settings(&org.accounts[0], &vars)).await.reconcile().await.unwrap();
    assert!(report.is_success(), "{:#?}", report.problems());
    for region in &report.regions {
        let e = region.export.as_ref().unwrap();
        if region.region == "af-south-1" {
            assert_eq!(e.status, enablement::ExportStatus::Publishing, "{e:?}");
        } else {
            assert_eq!(e.status, enablement::ExportStatus::LeftOut, "{e:?}");
            assert!(e.detail.as_deref().unwrap().contains("opt-in region af-south-1"), "{e:?}");
        }
    }
    assert_eq!(destinations(&emulator).len(), 1);
    assert_eq!(tally(&emulator.log()).by_operation.get("guardduty:CreatePublishingDestination"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_export_values_are_refused_with_zero_calls() {
    let (emulator, org) = world(2);
    let admin = org.accounts[0].to_string();
    emulator.clear_log();
    for (vars, named) in [
        (vec![("GUARDDUTY_FINDINGS_DESTINATION", DESTINATION)], "GUARDDUTY_FINDINGS_KMS_KEY"),
        (vec![("GUARDDUTY_FINDINGS_KMS_KEY", KEY)], "GUARDDUTY_FINDINGS_DESTINATION"),
        (
            vec![("GUARDDUTY_FINDINGS_DESTINATION", "s3://guardduty-findings"), ("GUARDDUTY_FINDINGS_KMS_KEY", KEY)],
            "GUARDDUTY_FINDINGS_DESTINATION",
        ),
        (
            vec![("GUARDDUTY_FINDINGS_DESTINATION", DESTINATION), ("GUARDDUTY_FINDINGS_KMS_KEY", "alias/guardduty")],
            "GUARDDUTY_FINDINGS_KMS_KEY",
        ),
        (
            vec![
                ("GUARDDUTY_FINDINGS_DESTINATION", "arn:aws-cn:s3:::guardduty-findings"),
                ("GUARDDUTY_FINDINGS_KMS_KEY", "arn:aws-cn:kms:cn-north-1:999988887777:key/abcd"),
            ],
            "partition",
        ),
    ] {
        let mut env = vec![("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
        env.extend(vars);
        let ran = cli(&emulator, &["status"], &env);
        assert_eq!(ran.code, 1, "{env:?}: {ran:?}");
        assert!(ran.stderr.contains(named), "{env:?}: {}", ran.stderr);
    }
    assert!(emulator.log().is_empty(), "{:?}", tally(&emulator.log()).by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_still_unverified_since_an_earlier_run_is_not_healthy() {
    // given a bucket GuardDuty takes long to verify
    let (emulator, org) = world(2);
    emulator.control("POST", "/_emulator/export", &json!({"verification_seconds": 3600}));
    let enabler = emulator.enabler(settings(&org.accounts[0], &export_vars())).await;
    // when a run creates the destinations, then it counts them in progress: PENDING_VERIFICATION right after a write
    let first = enabler.reconcile().await.unwrap();
    assert!(first.is_success(), "{:#?}", first.problems());
    assert!(first
        .regions
        .iter()
        .all(|r| r.export.as_ref().unwrap().status == enablement::ExportStatus::PendingVerification));
    // and when the next run finds them still unverified, then they are a problem, not in sync, and nothing is written
    emulator.clear_log();
    let second = enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    assert!(!second.is_success());
    for region in &second.regions {
        let export = region.export.as_ref().unwrap();
        assert!(!export.is_healthy(), "{}: {export:?}", region.region);
        assert!(export.detail.as_deref().unwrap().contains("not verified"), "{export:?}");
    }
    assert_eq!(enablement::emf("responder", &second)[0]["FindingsExportUnhealthy"], second.regions.len());
}
