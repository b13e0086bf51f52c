//! Smaller truths a real organization shows: a member record GuardDuty keeps from a time the account could not be a
//! member, a read-back that answers the status from before the write, and a region whose members were read before a
//! later write failed there.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use enablement::Outcome;
use serde_json::json;
use system_tests::{members, settings, world_of, Emulator};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_recorded_region_disabled_is_enrolled_once_the_account_enables_the_region() {
    // given an opt-in region the management account and the admin enabled and a member did not, and trusted access
    // for Account Management (so that the management account may read a member's opt-in status)
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["us-east-1"], "opt_in": ["af-south-1"]}));
    let org = emulator.organization(3, 0);
    let (admin, member) = (org.accounts[0], org.accounts[1]);
    let both = json!({org.management.as_str(): ["af-south-1"], admin.as_str(): ["af-south-1"]});
    emulator.regions(json!({"enabled": both}));
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    orgs.enable_aws_service_access().service_principal("account.amazonaws.com").send().await.unwrap();
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    let first = enabler.reconcile().await.unwrap();
    let af = first.regions.iter().find(|r| r.region == "af-south-1").unwrap();
    assert!(af.left.iter().any(|l| l.account == member), "{af:?}");

    // when the member enables the region, and the schedule runs
    emulator.regions(json!({"enabled": {member.as_str(): ["af-south-1"]}}));
    let report = enabler.reconcile().await.unwrap();

    // then its stale RegionDisabled record is replaced, and it is an Enabled member there
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(members(&emulator.state(), "af-south-1").get(member.as_str()).map(String::as_str), Some("Enabled"));
    let af = report.regions.iter().find(|r| r.region == "af-south-1").unwrap();
    let ops: Vec<&str> = af.actions.iter().map(|a| a.step.operation()).collect();
    assert_eq!(ops, ["DeleteMembers", "CreateMembers"], "{af:?}");
    assert!(!af.left.iter().any(|l| l.account == member));

    // and a member that still has it disabled stays left out, with no write
    let report = enabler.reconcile().await.unwrap();
    let af = report.regions.iter().find(|r| r.region == "af-south-1").unwrap();
    assert!(af.left.iter().any(|l| l.account == org.accounts[2]) && af.actions.is_empty(), "{af:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_is_read_back_until_it_no_longer_shows_its_old_status() {
    // given a member whose monitoring was stopped, and GuardDuty answering the old status for a second after a change
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    enabler.reconcile().await.unwrap();
    emulator.seed_members("eu-west-1", &admin, &[(&org.accounts[1], "Disabled")]);
    emulator.faults(json!({"status_lag_seconds": 1.0}));

    // when reconciled
    let report = enabler.reconcile().await.unwrap();

    // then the restart is confirmed by reading again, not reported as a failure from the stale answer
    assert!(report.is_success(), "{:#?}", report.problems());
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Changed);
    assert_eq!(eu.members_added, 1);
    let starts = eu.actions.iter().filter(|a| a.step.operation() == "StartMonitoringMembers").count();
    assert_eq!(starts, 1, "one write, read back until it shows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_whose_organization_configuration_write_fails_still_enrols_and_measures_its_members() {
    // given a bootstrapped organization, a new account, and GuardDuty refusing the organization configuration write in
    // eu-west-1 (the settings changed, so it is written)
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let (account, _) = emulator.create_account("late").await;
    emulator.faults(json!({"bad_request": {"eu-west-1": ["UpdateOrganizationConfiguration"]}}));
    let enabler = emulator.enabler(settings(&admin, &[("GUARDDUTY_AUTO_ENABLE", "NEW")])).await;

    // when reconciled
    let report = enabler.reconcile().await.unwrap();

    // then the region fails with the write's error, but its members were converged and measured, and its coverage is
    // published
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Failed);
    assert!(eu.error.as_deref().unwrap().contains("UpdateOrganizationConfiguration"), "{eu:?}");
    assert_eq!(members(&emulator.state(), "eu-west-1").get(account.as_str()).map(String::as_str), Some("Enabled"));
    assert_eq!((eu.coverage.expected, eu.coverage.protected), (4, 4), "three members and the management account");
    let docs = enablement::emf("responder", &report);
    let published = docs.iter().find(|d| d["Region"] == "eu-west-1").expect("eu-west-1's coverage published");
    assert_eq!(published["AccountsExpected"], 4);
    assert_eq!(published["AccountsProtected"], 4);
}
