//! Regions a service control policy denies (AWS Control Tower's Region deny control, or one like it) and a landing
//! zone's governed regions: left out with the reason, never failed, and nothing written there.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use responder::Responder;
use serde_json::json;
use system_tests::{event, fixture, members, settings, world_of, Emulator, Org};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

fn world(accounts: usize) -> (Emulator, Org) {
    world_of(&REGIONS, accounts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_an_scp_denies_the_admin_is_left_out_with_the_reason_and_nothing_is_written_there() {
    // given a service control policy that denies the admin every GuardDuty call in ap-southeast-2
    let (emulator, org) = world(3);
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
async fn a_control_tower_landing_zone_s_governed_regions_are_the_default_and_an_explicit_list_wins() {
    // given a landing zone that governs two of the three regions both accounts have enabled
    let (emulator, org) = world(2);
    let admin = org.accounts[0];
    emulator.world(json!({"landing_zone": {"home": "us-east-1", "governed_regions": ["us-east-1", "eu-west-1"]}}));
    emulator.clear_log();

    // when reconciled with no GUARDDUTY_REGIONS
    let report = emulator.enabler(settings(&admin, &[])).await.reconcile().await.expect("a report");

    // then the landing zone's regions are governed, the other is left out saying why, and GuardDuty is not called there
    let governed: Vec<&str> = report.regions.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(governed, ["eu-west-1", "us-east-1"]);
    assert_eq!(report.regions_left_out.len(), 1);
    assert!(report.regions_left_out[0].reason.contains("Control Tower"), "{:?}", report.regions_left_out);
    let log = emulator.log();
    assert!(!log.iter().any(|c| c.service == "guardduty" && c.region == "ap-southeast-2"));
    assert!(log.iter().any(|c| c.operation == "GetLandingZone"));

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
    assert!(!emulator.log().iter().any(|c| c.service == "controltower"));
}
