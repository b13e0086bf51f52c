//! Protected means every plan on every member. The emulator models members' plans as the API reference describes
//! them (GetMemberDetectors, UpdateMemberDetectors, a plan's auto-enable NEW reaching only new members, ALL reaching
//! existing ones only after a delay); the tests check that a member counts as protected only when it shows every
//! plan it should have, that the gaps are closed with UpdateMemberDetectors in calls of at most 50, and that a
//! second run writes nothing.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use aws_sdk_guardduty::types::{FeatureStatus, MemberFeaturesConfiguration, OrgFeature};
use enablement::{MemberStatus, Outcome, RunOptions};
use serde_json::{json, Value};
use system_tests::{cli, detector, members, settings, tally, world_of, Emulator, Org};

const REGION: &str = "us-east-1";

/// The status GuardDuty shows for `plan` on `account`'s detector.
fn plan_status(state: &Value, account: &str, plan: &str) -> String {
    detector(state, REGION, account).unwrap()["features"][plan]["status"].as_str().unwrap_or("absent").to_owned()
}

/// The member accounts of `org`: every account but the admin, and the management account.
fn member_ids(org: &Org) -> Vec<String> {
    org.accounts[1..].iter().chain([&org.management]).map(ToString::to_string).collect()
}

/// Switches `plan` off for `account`, as the admin would from the console or the API.
async fn switch_off(emulator: &Emulator, org: &Org, account: &str, plan: OrgFeature) {
    let gd = emulator.admin_guardduty(&org.accounts[0], REGION).await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let out = gd
        .update_member_detectors()
        .detector_id(detector)
        .account_ids(account)
        .features(MemberFeaturesConfiguration::builder().name(plan).status(FeatureStatus::Disabled).build())
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_accounts().is_empty(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_predate_a_plan_under_new_lack_it_are_not_counted_protected_and_get_it_in_calls_of_fifty() {
    // given 62 members (61 accounts and the management account) enrolled while only S3 Protection was configured
    let (emulator, org) = world_of(&[REGION], 62);
    let admin = org.accounts[0];
    let s3_only = [("GUARDDUTY_AUTO_ENABLE", "NEW"), ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS")];
    let report = emulator.enabler(settings(&admin, &s3_only)).await.reconcile().await.unwrap();
    assert!(report.is_success(), "{:#?}", report.problems());
    let state = emulator.state();
    let ids = member_ids(&org);
    assert!(ids.iter().all(|a| plan_status(&state, a, "RUNTIME_MONITORING") != "ENABLED"));

    // when the configuration turns to every plan the region offers, still with NEW (which reaches only members that
    // join from now on), and the run is first planned
    let defaults = [("GUARDDUTY_AUTO_ENABLE", "NEW")];
    let enabler = emulator.enabler(settings(&admin, &defaults)).await;
    emulator.clear_log();
    let plan = enabler.reconcile_with(&RunOptions { dry_run: Some(true), ..RunOptions::default() }).await.unwrap();

    // then the plan counts every member as not protected, says which plans each lacks, and plans the writes
    let region = &plan.regions[0];
    assert_eq!((region.coverage.expected, region.coverage.protected), (62, 0), "{:#?}", region.coverage);
    assert!(region.unprotected.iter().all(|u| u.status == Some(MemberStatus::Enabled)));
    assert!(
        region.unprotected[0].reason.starts_with("protection plans not enabled:")
            && region.unprotected[0].reason.contains("RUNTIME_MONITORING"),
        "{:?}",
        region.unprotected[0]
    );
    let planned: Vec<usize> = region
        .actions
        .iter()
        .filter(|a| a.step.operation() == "UpdateMemberDetectors")
        .map(|a| a.step.member_count())
        .collect();
    assert_eq!(planned, [50, 12]);
    assert_eq!(tally(&emulator.log()).writes, 0);
    assert!(emulator.log().iter().any(|c| c.operation == "GetMemberDetectors"));

    // when it runs
    emulator.clear_log();
    let report = enabler.reconcile().await.unwrap();

    // then every member shows every plan, written in two calls, and the run says so
    assert!(report.is_success(), "{:#?}", report.problems());
    let calls = tally(&emulator.log());
    assert_eq!(calls.by_operation.get("guardduty:UpdateMemberDetectors"), Some(&2), "{:?}", calls.by_operation);
    let state = emulator.state();
    for account in &ids {
        for plan in ["S3_DATA_EVENTS", "RUNTIME_MONITORING", "AI_PROTECTION", "RDS_LOGIN_EVENTS"] {
            assert_eq!(plan_status(&state, account, plan), "ENABLED", "{account} {plan}");
        }
        let rm = &detector(&state, REGION, account).unwrap()["features"]["RUNTIME_MONITORING"]["agents"];
        assert_eq!(rm["EC2_AGENT_MANAGEMENT"], "ENABLED", "{account}");
    }
    assert_eq!((report.summary.accounts_expected, report.summary.accounts_protected), (62, 62));

    // and a second run writes nothing
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    assert_eq!(again.summary.in_sync, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_switched_off_for_one_member_under_all_is_reported_and_turned_back_on() {
    // given an organization in sync with every plan at ALL, and one member whose S3 Protection is then switched off
    let (emulator, org) = world_of(&[REGION], 5);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    let victim = org.accounts[2].to_string();
    switch_off(&emulator, &org, &victim, OrgFeature::S3DataEvents).await;

    // when the command line looks: drift (exit 2), the member marked as a member without every plan, and named
    let admin_id = admin.to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin_id.as_str()), ("GUARDDUTY_REGIONS", REGION)];
    let status = cli(&emulator, &["status"], &env);
    assert_eq!(status.code, 2, "{status:?}");
    assert!(status.stdout.contains('◐'), "{}", status.stdout);
    assert!(
        status.stdout.contains(&format!("{victim} member-2 in {REGION}: protection plans not enabled: S3_DATA_EVENTS")),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("4 of 5 account-regions protected"), "{}", status.stdout);
    let plan = cli(&emulator, &["plan"], &env);
    assert!(plan.stdout.contains("UpdateMemberDetectors: enable S3_DATA_EVENTS: 1 account"), "{}", plan.stdout);

    // when reconciled
    emulator.clear_log();
    let report = enabler.reconcile().await.unwrap();

    // then exactly that member gets it back, and the next run is in sync with no write
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(report.regions[0].outcome, Outcome::Changed);
    let calls = tally(&emulator.log());
    assert_eq!(calls.writes, 1, "{:?}", calls.by_operation);
    assert_eq!(plan_status(&emulator.state(), &victim, "S3_DATA_EVENTS"), "ENABLED");
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0);
    assert_eq!(again.summary.accounts_protected, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_both_runtime_monitoring_flavours_is_protected_with_a_note_and_left_alone() {
    let (emulator, org) = world_of(&[REGION], 3);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    // given a member that also has the older EKS Runtime Monitoring on
    let gd = emulator.admin_guardduty(&admin, REGION).await;
    let detector_id = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.update_member_detectors()
        .detector_id(detector_id)
        .account_ids(org.accounts[1].as_str())
        .features(
            MemberFeaturesConfiguration::builder()
                .name(OrgFeature::EksRuntimeMonitoring)
                .status(FeatureStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // when reconciled
    emulator.clear_log();
    let report = enabler.reconcile().await.unwrap();
    // then it counts as protected, nothing is written, and the report says it is billed twice
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    assert_eq!(report.summary.accounts_protected, report.summary.accounts_expected);
    let notes = &report.regions[0].notes;
    assert!(notes.len() == 1 && notes[0].starts_with("1 members show both"), "{notes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_reads_the_new_members_plans_while_it_checks_the_membership() {
    // given a bootstrapped organization whose members take a moment to be readable after CreateMembers
    let (emulator, org) = world_of(&[REGION], 3);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    let (account, _) = emulator.create_account("fresh").await;
    emulator.faults(json!({"member_consistency_seconds": 0.5}));
    // when it is onboarded
    emulator.clear_log();
    let report = enabler.onboard(&account, &RunOptions::default()).await.unwrap();
    // then it is protected only once its plans were read, through the settling answers
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(report.summary.accounts_protected, 1);
    let log = emulator.log();
    let reads = log.iter().filter(|c| c.operation == "GetMemberDetectors").count();
    assert!(reads >= 2, "read again while the member settled: {:?}", tally(&log).by_operation);
    assert_eq!(members(&emulator.state(), REGION).get(account.as_str()).map(String::as_str), Some("Enabled"));
    assert_eq!(plan_status(&emulator.state(), account.as_str(), "RUNTIME_MONITORING"), "ENABLED");
}
