//! Regions a service control policy denies (AWS Control Tower's Region deny control, or one like it) and a landing
//! zone's governed regions. A denied region the run found is left out with the reason, counted, and nothing is written
//! there; one the user listed is a failure; a run that reaches no region is an error. A landing zone's governed regions
//! are not a filter: every region the accounts have enabled is governed, and the report names those it does not
//! govern.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use enablement::{emf, Error, Outcome};
use responder::Responder;
use serde_json::json;
use system_tests::{cfn_request, event, fixture, members, settings, world_of, ResponseCatcher};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_an_scp_denies_the_admin_is_left_out_with_the_reason_and_nothing_is_written_there() {
    // given a service control policy that denies the admin every GuardDuty call in ap-southeast-2
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    emulator.world(json!({"scp_denied_regions": {admin.as_str(): ["ap-southeast-2"]}}));
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    emulator.clear_log();

    // when the organization is reconciled
    let report = enabler.reconcile().await.expect("a report");

    // then the region is left out, named with the SCP, not failed; the others converged; nothing was written there,
    // by the management account (which SCPs never restrict) or anyone else
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(report.summary.regions, 2);
    let left: Vec<&str> = report.regions_left_out.iter().map(|l| l.region.as_str()).collect();
    assert_eq!(left, ["ap-southeast-2"]);
    assert!(report.regions_left_out[0].reason.contains("service control policy"), "{:?}", report.regions_left_out);
    assert!(report.regions_left_out[0].scp_denied);
    assert_eq!(emf("bootstrapper", &report)[0]["RegionsDenied"], 1, "counted, for the alarm on a change");
    let written: Vec<String> = emulator
        .log()
        .iter()
        .filter(|c| c.region == "ap-southeast-2" && c.kind == "write")
        .map(|c| format!("{} as {}", c.operation, c.account))
        .collect();
    assert!(written.is_empty(), "{written:?}");
    let state = emulator.state();
    assert!(members(&state, "ap-southeast-2").is_empty());
    assert_eq!(members(&state, "eu-west-1").len(), 3, "two members and the management account");

    // and an onboarding there ends protected everywhere else, its event handled
    let (account, _) = emulator.create_account("new").await;
    let responder = Responder::new(Ok(emulator.enabler(settings(&admin, &[])).await));
    let answer = responder
        .handle(event(fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())])))
        .await
        .expect("protected where GuardDuty is allowed");
    assert_eq!(answer["report"]["regions_left_out"][0]["region"], "ap-southeast-2", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_region_the_user_listed_is_a_failure_with_its_coverage_and_all_regions_denied_is_an_error() {
    // given an SCP that denies the admin GuardDuty in ap-southeast-2, which GUARDDUTY_REGIONS names
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    emulator.world(json!({"scp_denied_regions": {admin.as_str(): ["ap-southeast-2"]}}));
    let listed = [("GUARDDUTY_REGIONS", "ap-southeast-2,us-east-1")];

    // when reconciled
    let report = emulator.enabler(settings(&admin, &listed)).await.reconcile().await.expect("a report");

    // then the region failed, saying the SCP denies it, with its accounts counted and none protected
    assert!(!report.is_success());
    assert!(report.regions_left_out.is_empty(), "{:?}", report.regions_left_out);
    let denied = report.regions.iter().find(|r| r.region == "ap-southeast-2").expect("the listed region");
    assert_eq!(denied.outcome, Outcome::Failed);
    let error = denied.error.as_deref().unwrap_or_default();
    assert!(error.contains("GUARDDUTY_REGIONS") && error.contains("service control policy"), "{error}");
    assert_eq!((denied.coverage.expected, denied.coverage.protected), (3, 0), "two members and the management");
    let docs = emf("bootstrapper", &report);
    assert_eq!(docs[0]["RegionsFailed"], 1);
    let coverage = docs.iter().find(|d| d["Region"] == "ap-southeast-2").expect("its coverage published");
    assert_eq!(coverage["AccountsUnprotected"], 3);

    // when every governed region is denied
    emulator.world(json!({"scp_denied_regions": {admin.as_str(): REGIONS}}));
    let outcome = emulator.enabler(settings(&admin, &[])).await.reconcile().await;

    // then the run is an error that names the SCP, and a Create answers FAILED with it
    match outcome {
        Err(Error::NoRegions(why)) => assert!(why.contains("service control policy"), "{why}"),
        other => panic!("{other:?}"),
    }
    let catcher = ResponseCatcher::start();
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await;
    function.handle(event(cfn_request("cfn-create.json", &catcher.url, &admin))).await.expect("answered");
    let body = &catcher.received()[0].2;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(body["Reason"].as_str().unwrap().contains("service control policy"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_tower_landing_zone_does_not_narrow_the_regions_and_the_report_names_what_it_does_not_govern() {
    // given a landing zone that governs two of the three regions both accounts have enabled
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    emulator.world(json!({"landing_zone": {"home": "us-east-1", "governed_regions": ["us-east-1", "eu-west-1"]}}));
    emulator.clear_log();

    // when reconciled with no GUARDDUTY_REGIONS
    let report = emulator.enabler(settings(&admin, &[])).await.reconcile().await.expect("a report");

    // then every region is governed and protected, and the report names the one the landing zone does not govern
    assert!(report.is_success(), "{:#?}", report.problems());
    let governed: Vec<&str> = report.regions.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(governed, REGIONS);
    assert!(report.regions_left_out.is_empty());
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].contains("ap-southeast-2") && report.notes[0].contains("Control Tower"),
        "{:?}",
        report.notes
    );
    assert_eq!(members(&emulator.state(), "ap-southeast-2").len(), 2);

    // and an explicit GUARDDUTY_REGIONS wins, without asking Control Tower
    emulator.clear_log();
    let report = emulator
        .enabler(settings(&admin, &[("GUARDDUTY_REGIONS", "ap-southeast-2")]))
        .await
        .reconcile()
        .await
        .expect("a report");
    assert_eq!(report.regions.len(), 1);
    assert_eq!(report.regions[0].region, "ap-southeast-2");
    assert!(report.notes.is_empty());
    assert!(!emulator.log().iter().any(|c| c.service == "controltower"));
}
