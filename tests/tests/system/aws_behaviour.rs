//! What a real organization does that a naive emulator does not, each modelled by the emulator as the API references
//! and user guides describe it, and what the functions do about it: protection plans that differ per region,
//! trusted access for Malware Protection, member records from the invitation era, auto-enable enrolling accounts by
//! itself, regions one account has not enabled, errors that are not settling, a designation being removed, an
//! Update that must not wedge the stack, and an account creation still in progress.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bootstrapper::RoleWait;
use enablement::{Outcome, RunOptions};
use lambda_runtime::{Context, LambdaEvent};
use responder::{CreationPolling, Responder};
use serde_json::json;
use system_tests::{
    cfn_request, detector, event, eventually, fixture, members, schedule, settings, tally, world_of, Emulator,
    ResponseCatcher,
};

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

fn org_config<'a>(state: &'a serde_json::Value, region: &str) -> &'a serde_json::Value {
    state["org_configs"].as_array().unwrap().iter().find(|c| c["region"] == region).unwrap()
}

// ---- 1. protection plans: what the region offers ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_every_plan_a_region_offers_is_on_and_a_region_without_one_converges_without_it() {
    // given a region that offers AI Protection and one that does not ("Region-specific feature availability")
    let (emulator, org) = world_of(&REGIONS, 3);
    emulator.world(json!({"withheld_plans": {"eu-west-1": ["AI_PROTECTION"]}}));
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;

    // when reconciled with the default plans
    let report = enabler.reconcile().await.unwrap();

    // then both regions converge; AI Protection is on where it is offered, on the detector and the configuration
    assert!(report.is_success(), "{:#?}", report.problems());
    let state = emulator.state();
    let us = detector(&state, "us-east-1", admin.as_str()).unwrap();
    assert_eq!(us["features"]["AI_PROTECTION"]["status"], "ENABLED");
    assert_eq!(org_config(&state, "us-east-1")["features"]["AI_PROTECTION"]["autoEnable"], "ALL");
    assert!(org_config(&state, "eu-west-1")["features"].get("AI_PROTECTION").is_none());
    // and the report says which plan was not offered where
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.plans_not_offered, ["AI_PROTECTION"]);
    assert!(report.regions.iter().find(|r| r.region == "us-east-1").unwrap().plans_not_offered.is_empty());

    // and a second run writes nothing
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    assert_eq!(again.summary.in_sync, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_plan_a_region_does_not_offer_is_left_out_there_with_a_note() {
    let (emulator, org) = world_of(&REGIONS, 2);
    emulator.world(json!({"withheld_plans": {"eu-west-1": ["AI_PROTECTION"]}}));
    let enabler =
        emulator.enabler(settings(&org.accounts[0], &[("GUARDDUTY_FEATURES", "S3_DATA_EVENTS,AI_PROTECTION")])).await;
    let report = enabler.reconcile().await.unwrap();
    assert!(report.is_success(), "{:#?}", report.problems());
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.plans, ["S3_DATA_EVENTS"]);
    assert_eq!(eu.plans_not_offered, ["AI_PROTECTION"]);
    emulator.clear_log();
    enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0);
}

// ---- 2. Malware Protection needs trusted access -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_access_for_malware_protection_is_enabled_once_per_run_when_the_admin_is_a_member_account() {
    // given an organization where no service has trusted access yet
    let (emulator, org) = world_of(&REGIONS, 3);
    assert!(emulator.state()["trusted_access"].as_array().unwrap().is_empty());
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    emulator.clear_log();

    // when reconciled (two regions)
    let report = enabler.reconcile().await.unwrap();

    // then the principal has trusted access, enabled by exactly one call, and the report says so
    assert!(report.is_success(), "{:#?}", report.problems());
    let trusted = emulator.state()["trusted_access"].clone();
    assert!(trusted.as_array().unwrap().contains(&json!("malware-protection.guardduty.amazonaws.com")), "{trusted}");
    let enables = emulator.log().iter().filter(|c| c.operation == "EnableAWSServiceAccess").count();
    assert_eq!(enables, 1, "once per run, not per region");
    assert_eq!(report.organization.len(), 1);
    // and the next run of another process reads it and writes nothing
    let fresh = emulator.enabler(settings(&org.accounts[0], &[])).await;
    emulator.clear_log();
    fresh.reconcile().await.unwrap();
    let log = emulator.log();
    assert!(log.iter().any(|c| c.operation == "ListAWSServiceAccessForOrganization"));
    assert_eq!(tally(&log).writes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_malware_protection_or_with_the_management_account_as_admin_trusted_access_is_left_alone() {
    for (admin_is_management, vars) in
        [(false, [("GUARDDUTY_FEATURES", "S3_DATA_EVENTS")]), (true, [("GUARDDUTY_ALLOW_MANAGEMENT_ADMIN", "true")])]
    {
        // given a fresh organization, and a run without malware protection, or with the management account as admin
        let (emulator, org) = world_of(&REGIONS, 2);
        let admin = if admin_is_management { org.management } else { org.accounts[0] };
        let enabler = emulator.enabler(settings(&admin, &vars)).await;
        emulator.clear_log();
        // when reconciled
        let report = enabler.reconcile().await.unwrap();
        // then every account is protected, and trusted access was neither read nor written
        assert!(report.is_success(), "{vars:?}: {:#?}", report.problems());
        assert_eq!(report.summary.unprotected, 0, "{vars:?}");
        let log = emulator.log();
        assert!(!log.iter().any(|c| c.operation.contains("ServiceAccess")), "{vars:?}: {:?}", tally(&log).by_operation);
        assert!(report.organization.is_empty(), "{vars:?}: {:?}", report.organization);
    }
}

// ---- 3. members: counted only when GuardDuty says Enabled -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_era_and_stopped_members_are_made_enabled_and_counted_only_then() {
    // given a bootstrapped organization whose member records in eu-west-1 date from GuardDuty invitations
    let (emulator, org) = world_of(&REGIONS, 7);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    enabler.reconcile().await.unwrap();
    let records = [
        (&org.accounts[1], "Invited"),
        (&org.accounts[2], "EmailVerificationFailed"),
        (&org.accounts[3], "Created"),
        (&org.accounts[4], "Removed"),
        (&org.accounts[5], "Resigned"),
        (&org.accounts[6], "Disabled"),
    ];
    emulator.seed_members("eu-west-1", &admin, &records);

    // when reconciled
    let report = enabler.reconcile().await.unwrap();

    // then every one of them is an Enabled member, and the report counts exactly those as added
    assert!(report.is_success(), "{:#?}", report.problems());
    let eu = members(&emulator.state(), "eu-west-1");
    for (account, was) in records {
        assert_eq!(eu.get(account.as_str()).map(String::as_str), Some("Enabled"), "{account} was {was}");
    }
    let region = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(region.members_added, 6);
    assert_eq!((region.coverage.expected, region.coverage.protected), (7, 7), "six members and the management account");
    let ops: Vec<&str> = region.actions.iter().map(|a| a.step.operation()).collect();
    assert!(ops.contains(&"DeleteMembers"), "the stale records protect nothing and are replaced: {ops:?}");
    assert!(!ops.contains(&"DisassociateMembers"));
    // and nothing else was removed: the next run is in sync
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert_eq!(again.summary.in_sync, 2);
    assert_eq!(tally(&emulator.log()).writes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_guardduty_will_not_make_enabled_leaves_its_region_partial_and_fails_its_onboarding_not_the_schedule(
) {
    // given an invitation-era record that GuardDuty refuses to replace
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    let stuck = org.accounts[1];
    schedule(&emulator, &admin, &[]).await.expect("bootstrap");
    emulator.seed_members("eu-west-1", &admin, &[(&stuck, "Invited")]);
    emulator.world(
        json!({"refused_members": {stuck.as_str(): "The request is rejected because the account is being closed."}}),
    );

    // when the schedule runs
    let answer = schedule(&emulator, &admin, &[]).await.expect("the schedule's report");

    // then it answers its report (not an error: Lambda would run the whole reconcile twice more, then dead-letter
    // the schedule), which names the account and its status, and the region is reported partial
    let named = &answer["report"]["regions"][0]["unprotected"][0];
    assert_eq!(answer["report"]["regions"][0]["outcome"], "partial", "{answer}");
    assert_eq!(named["account"], stuck.as_str());
    assert_eq!(named["status"], "Invited");
    let report = emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Partial);
    assert_eq!(eu.unprotected.len(), 1);
    assert_eq!(eu.unprotected[0].account, stuck);
    assert_eq!(eu.coverage.protected + 1, eu.coverage.expected);
    assert_eq!(report.drift_unrepaired(), 1, "DriftUnrepaired counts the account");
    assert!(!report.is_success());

    // and an onboarding of that account is an invocation error too
    let announced = fixture("create-account-result-succeeded.json", &[("444455556666", stuck.as_str())]);
    let responder = Responder::new(Ok(emulator.enabler(settings(&admin, &[])).await));
    let err = responder.handle(event(announced)).await.expect_err("not protected in eu-west-1");
    assert_eq!(err.kind, enablement::FailureKind::AccountNotProtected);
}

// ---- 4. exclusions hold only with auto-enable NONE --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_new_guardduty_itself_enrols_a_new_account_whatever_its_organizational_unit() {
    // given an organization set to NEW, and GuardDuty enrolling new accounts a moment after they join
    let (emulator, org) = world_of(&REGIONS, 2);
    emulator.world(json!({"auto_enable_seconds": 0.3}));
    let enabler = emulator.enabler(settings(&org.accounts[0], &[("GUARDDUTY_AUTO_ENABLE", "NEW")])).await;
    enabler.reconcile().await.unwrap();
    // when an account joins and no one calls CreateMembers for it
    emulator.clear_log();
    let (joined, _) = emulator.create_account("sandbox-account").await;
    // then it is a member anyway, once GuardDuty has enrolled it: an exclusion could not have held
    let everywhere = || {
        let state = emulator.state();
        REGIONS.iter().all(|r| members(&state, r).get(joined.as_str()).map(String::as_str) == Some("Enabled"))
    };
    assert!(eventually(Duration::from_secs(10), everywhere).await, "{}", emulator.state());
    assert!(!emulator.log().iter().any(|c| c.operation == "CreateMembers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusions_with_new_are_refused_before_any_call_and_with_none_they_hold() {
    let (emulator, org) = world_of(&REGIONS, 2);
    emulator.world(json!({"auto_enable_seconds": 0.3}));
    let admin = org.accounts[0].to_string();
    // given exclusions with NEW: the bootstrapper refuses them, naming why, and calls nothing
    let function = emulator
        .bootstrapper(&[
            ("GUARDDUTY_ADMIN_ACCOUNT_ID", &admin),
            ("GUARDDUTY_EXCLUDED_ACCOUNTS", org.accounts[1].as_str()),
        ])
        .await;
    let catcher = ResponseCatcher::start();
    let mut request = cfn_request("cfn-create.json", &catcher.url, &org.accounts[0]);
    request["ResourceProperties"]["AutoEnable"] = json!("NEW");
    request["ResourceProperties"]["ExcludedAccounts"] = json!(org.accounts[1].to_string());
    emulator.clear_log();
    function.handle(event(request)).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"].as_str().unwrap().contains("GUARDDUTY_AUTO_ENABLE"), "{answer}");
    assert!(emulator.log().is_empty());

    // given NONE and an excluded organizational unit, when one account joins there and one elsewhere
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let ou = orgs.create_organizational_unit().parent_id(&root).name("sandbox").send().await.unwrap();
    let ou = ou.organizational_unit().unwrap().id().unwrap().to_owned();
    let vars = [("GUARDDUTY_AUTO_ENABLE", "NONE"), ("GUARDDUTY_EXCLUDED_OUS", ou.as_str())];
    schedule(&emulator, &org.accounts[0], &vars).await.expect("bootstrap");
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &vars)).await));
    let (excluded, _) = emulator.create_account("excluded").await;
    orgs.move_account()
        .account_id(excluded.as_str())
        .source_parent_id(&root)
        .destination_parent_id(&ou)
        .send()
        .await
        .unwrap();
    let (included, _) = emulator.create_account("included").await;
    // Past GuardDuty's own enrolment delay (0.3 s here), so that a member it would have made is there to see.
    tokio::time::sleep(Duration::from_millis(700)).await;
    for account in [&excluded, &included] {
        let announced = fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]);
        responder.handle(event(announced)).await.expect("handled");
    }
    // then the responder enrolled the one outside the OU, and nothing enrolled the excluded one
    let state = emulator.state();
    for region in REGIONS {
        let m = members(&state, region);
        assert_eq!(m.get(included.as_str()).map(String::as_str), Some("Enabled"), "{region}");
        assert!(!m.contains_key(excluded.as_str()), "{region}: the excluded account is a member");
    }
}

// ---- 5. regions both accounts have ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_regions_both_the_management_account_and_the_admin_enabled_are_governed() {
    // given an opt-in region only the admin enabled and one only the management account enabled
    let emulator = Emulator::start();
    let org = emulator.organization(3, 0);
    let admin = org.accounts[0];
    let everyone: Vec<String> =
        std::iter::once(&org.management).chain(&org.accounts).map(ToString::to_string).collect();
    let mut enabled = serde_json::Map::new();
    for account in &everyone {
        let mut regions = vec![];
        if account != org.management.as_str() {
            regions.push("af-south-1");
        }
        if account != admin.as_str() {
            regions.push("me-south-1");
        }
        enabled.insert(account.clone(), json!(regions));
    }
    emulator.regions(json!({"default": ["us-east-1"], "opt_in": ["af-south-1", "me-south-1"], "enabled": enabled}));

    for vars in [vec![], vec![("GUARDDUTY_REGIONS", "us-east-1,af-south-1,me-south-1")]] {
        let enabler = emulator.enabler(settings(&admin, &vars)).await;
        emulator.clear_log();
        // when reconciled (by discovery, then with an explicit list)
        let report = enabler.reconcile().await.unwrap();
        // then only us-east-1 is governed, the run succeeds, and each other region names the account without it
        assert!(report.is_success(), "{vars:?}: {:#?}", report.problems());
        let governed: Vec<&str> = report.regions.iter().map(|r| r.region.as_str()).collect();
        assert_eq!(governed, ["us-east-1"], "{vars:?}");
        let left: Vec<(&str, &str)> =
            report.regions_left_out.iter().map(|l| (l.region.as_str(), l.reason.as_str())).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left[0].0 == "af-south-1" && left[0].1.contains(org.management.as_str()), "{left:?}");
        assert!(left[1].0 == "me-south-1" && left[1].1.contains(admin.as_str()), "{left:?}");
        // and no GuardDuty call went to them
        let log = emulator.log();
        assert!(
            !log.iter().any(|c| c.service == "guardduty" && c.region != "us-east-1"),
            "{:?}",
            tally(&log).by_operation
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_onboarding_starts_on_the_regions_every_account_has_and_adds_opt_in_ones_after_the_admins_list() {
    // given a default region, an opt-in region every account enabled, and one only the admin enabled
    let emulator = Emulator::start();
    let org = emulator.organization(2, 0);
    let admin = org.accounts[0];
    emulator.regions(json!({
        "default": ["us-east-1"], "opt_in": ["af-south-1", "me-south-1"],
        "enabled_everywhere": ["af-south-1"], "enabled": {admin.as_str(): ["me-south-1"]}
    }));
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let (account, _) = emulator.create_account("fresh").await;
    // (a new account has the default regions only; this one has enabled af-south-1 too)
    emulator.regions(json!({"enabled": {account.as_str(): ["af-south-1"]}}));
    // when a fresh process onboards a new account
    let responder = Responder::new(Ok(emulator.enabler(settings(&admin, &[])).await));
    emulator.clear_log();
    let announced = fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]);
    let answer = responder.handle(event(announced)).await.expect("onboarded");
    // then it is Enabled in both governed regions, and me-south-1 is left out, named
    let regions: Vec<&str> =
        answer["report"]["regions"].as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert_eq!(regions, ["af-south-1", "us-east-1"]);
    let state = emulator.state();
    for region in regions {
        assert_eq!(members(&state, region).get(account.as_str()).map(String::as_str), Some("Enabled"), "{region}");
    }
    assert_eq!(answer["report"]["regions_left_out"][0]["region"], "me-south-1");
    // and the opt-in region was worked on only once the admin's own region list was in
    let log = emulator.log();
    let admin_list = log.iter().position(|c| c.operation == "ListRegions" && c.account == admin.as_str()).unwrap();
    let first_af = log.iter().position(|c| c.region == "af-south-1").unwrap();
    assert!(first_af > admin_list, "af-south-1 before the admin's list: {first_af} < {admin_list}");
    assert!(!log.iter().any(|c| c.region == "me-south-1"));
}

// ---- 6. retries that fit the error ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_input_outside_a_settling_window_fails_its_region_at_once_and_the_others_go_on() {
    // given a bootstrapped organization, a fresh process (no designation of its own), configuration drift in both
    // regions, and eu-west-1 rejecting UpdateOrganizationConfiguration as invalid input every time
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    for region in REGIONS {
        let gd = emulator.admin_guardduty(&admin, region).await;
        let id = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
        gd.update_organization_configuration()
            .detector_id(&id)
            .auto_enable_organization_members(aws_sdk_guardduty::types::AutoEnableMembers::New)
            .send()
            .await
            .unwrap();
    }
    emulator.faults(json!({"bad_request": {"eu-west-1": ["UpdateOrganizationConfiguration"]}}));
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    emulator.clear_log();
    // when reconciled
    let report = enabler.reconcile().await.unwrap();
    // then eu-west-1 failed after at most two attempts, naming the error, and us-east-1 was repaired
    let attempts = emulator
        .log()
        .iter()
        .filter(|c| c.region == "eu-west-1" && c.operation == "UpdateOrganizationConfiguration")
        .count();
    assert!((1..=2).contains(&attempts), "{attempts} attempts");
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Failed);
    assert!(eu.error.as_deref().unwrap().contains("out-of-range"), "{:?}", eu.error);
    assert_eq!(report.regions.iter().find(|r| r.region == "us-east-1").unwrap().outcome, Outcome::Changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_designation_being_removed_is_not_built_on() {
    // given the admin's designation in eu-west-1 being removed (DISABLE_IN_PROGRESS for a minute)
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    emulator.world(json!({"admin_disable_seconds": 60}));
    let config = emulator.sdk_config().await;
    let gd = aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Builder::from(&config)
            .region(aws_sdk_guardduty::config::Region::new("eu-west-1"))
            .build(),
    );
    gd.disable_organization_admin_account().admin_account_id(admin.as_str()).send().await.unwrap();
    emulator.clear_log();
    // when reconciled
    let report = emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    // then nothing is written there, the region is reported blocked, and the run is not a success
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Blocked, "{eu:?}");
    assert!(eu.error.as_deref().unwrap().contains("DISABLE_IN_PROGRESS"));
    assert!(!emulator.log().iter().any(|c| c.region == "eu-west-1" && c.kind == "write"));
    assert!(!report.is_success());
    assert_eq!(report.regions.iter().find(|r| r.region == "us-east-1").unwrap().outcome, Outcome::InSync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_does_not_build_on_a_designation_being_removed_either() {
    // given the admin's designation in eu-west-1 being removed, and a new account
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let (account, _) = emulator.create_account("while-removing").await;
    emulator.world(json!({"admin_disable_seconds": 60}));
    let config = emulator.sdk_config().await;
    let gd = aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Builder::from(&config)
            .region(aws_sdk_guardduty::config::Region::new("eu-west-1"))
            .build(),
    );
    gd.disable_organization_admin_account().admin_account_id(admin.as_str()).send().await.unwrap();
    emulator.clear_log();
    // when a fresh process onboards the account
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    let report = enabler.onboard(&account, &enablement::RunOptions::default()).await.unwrap();
    // then, as a reconcile does, nothing is written there and the region is reported blocked
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Blocked, "{eu:?}");
    assert!(eu.error.as_deref().unwrap().contains("DISABLE_IN_PROGRESS"), "{:?}", eu.error);
    assert!(!emulator.log().iter().any(|c| c.region == "eu-west-1" && c.kind == "write"), "{:?}", emulator.log());
    assert_eq!(report.regions.iter().find(|r| r.region == "us-east-1").unwrap().outcome, Outcome::Changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_that_moves_the_admin_is_refused_while_the_old_one_is_designated_not_while_it_is_being_removed() {
    // given the organization's admin designated everywhere, and a configuration that names another account
    let (emulator, org) = world_of(&REGIONS, 3);
    let (old, new) = (org.accounts[0], org.accounts[1]);
    emulator.enabler(settings(&old, &[])).await.reconcile().await.unwrap();
    let moved = emulator.enabler(settings(&new, &[])).await;
    // then the deploy is refused while the old one is designated
    assert!(matches!(moved.check_designation().await, Err(enablement::Error::AdminChanged { .. })));
    // and when the old designation is being removed everywhere (the procedure's last step), it is not: each region
    // reports itself blocked until the removal has finished
    emulator.world(json!({"admin_disable_seconds": 60}));
    let management = emulator.sdk_config().await;
    for region in ["eu-west-1", "us-east-1"] {
        let gd = aws_sdk_guardduty::Client::from_conf(
            aws_sdk_guardduty::config::Builder::from(&management)
                .region(aws_sdk_guardduty::config::Region::new(region))
                .build(),
        );
        gd.disable_organization_admin_account().admin_account_id(old.as_str()).send().await.unwrap();
    }
    moved.check_designation().await.unwrap();
}

// ---- 7. CloudFormation never wedges the stack -------------------------------------------------------------------

/// The custom resource's attributes the template's outputs read (`${Bootstrap.X}`): a SUCCESS must carry each, or
/// the stack's update fails on the output.
fn attributes_the_outputs_read() -> Vec<String> {
    let template = std::fs::read_to_string(system_tests::root().join("infra/template.yaml")).unwrap();
    let outputs = &template[template.find("\nOutputs:").unwrap()..];
    outputs.split("${Bootstrap.").skip(1).map(|rest| rest.split('}').next().unwrap().to_owned()).collect()
}

fn assert_outputs_resolve(answer: &serde_json::Value) {
    let attributes = attributes_the_outputs_read();
    assert!(!attributes.is_empty());
    for attribute in attributes {
        assert!(answer["Data"][&attribute].is_string(), "{attribute} missing from {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_answers_failed_only_for_an_invalid_configuration() {
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await;
    let ask = |name: &str, catcher: &ResponseCatcher| cfn_request(name, &catcher.url, &admin);

    // given a region that is down: Create answers SUCCESS, the problem in Data (the foundation is laid elsewhere;
    // a rollback would remove the functions, queues and alarms and keep the GuardDuty writes)
    emulator.faults(json!({"down_regions": ["eu-west-1"]}));
    let catcher = ResponseCatcher::start();
    function.handle(event(ask("cfn-create.json", &catcher))).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(answer["Data"]["Problems"].as_str().unwrap().contains("eu-west-1"), "{answer}");
    assert_outputs_resolve(answer);

    // when an Update meets the same region down, then it answers SUCCESS, with the counts and the problem
    let catcher = ResponseCatcher::start();
    function.handle(event(ask("cfn-update.json", &catcher))).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["Failed"], "1");
    assert_eq!(answer["Data"]["Unfinished"], "0");
    assert!(answer["Data"]["Problems"].as_str().unwrap().contains("eu-west-1"), "{answer}");
    assert_outputs_resolve(answer);

    // and an Update whose organization cannot even be read answers SUCCESS too
    emulator.faults(json!({"down_regions": ["us-east-1"], "services": ["organizations"]}));
    let catcher = ResponseCatcher::start();
    function.handle(event(ask("cfn-update.json", &catcher))).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "SUCCESS", "{}", catcher.received()[0].2);
    assert_outputs_resolve(&catcher.received()[0].2);
    emulator.faults(json!({}));

    // and an Update with an invalid configuration answers FAILED, while its rollback (the old, valid properties)
    // succeeds even when this version's own environment is invalid
    let catcher = ResponseCatcher::start();
    let mut invalid = ask("cfn-update.json", &catcher);
    invalid["ResourceProperties"]["AutoEnable"] = json!("SOMETIMES");
    function.handle(event(invalid)).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "FAILED");
    let broken = emulator.bootstrapper(&[("GUARDDUTY_AUTO_ENABLE", "SOMETIMES")]).await;
    let catcher = ResponseCatcher::start();
    broken.handle(event(ask("cfn-update.json", &catcher))).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "SUCCESS", "{}", catcher.received()[0].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_create_waits_for_a_new_admin_role_to_become_assumable() {
    // given STS refusing AssumeRole for 1.5 s, as it does while the role the stack just created propagates
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    let wait = RoleWait { first: Duration::from_millis(300), total: Duration::from_secs(20) };
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await.with_role_wait(wait);
    emulator.faults(json!({"assume_role_denied_seconds": 1.5}));
    emulator.clear_log();
    // when CloudFormation creates the stack
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-create.json", &catcher.url, &admin))).await.unwrap();
    // then the bootstrap waited for the role and succeeded: no rollback
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let assumes: Vec<u16> = emulator.log().iter().filter(|c| c.operation == "AssumeRole").map(|c| c.status).collect();
    assert!(assumes.first() == Some(&403) && assumes.last() == Some(&200), "{assumes:?}");

    // and a role that never becomes assumable is a FAILED that says so, within the wait
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    let wait = RoleWait { first: Duration::from_millis(200), total: Duration::from_millis(600) };
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await.with_role_wait(wait);
    emulator.faults(json!({"assume_role_denied_seconds": 600}));
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-create.json", &catcher.url, &admin))).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"].as_str().unwrap().contains("AssumeRole"), "{answer}");
}

// ---- 8. a CreateAccount that is still in progress ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_creation_in_progress_is_waited_for_and_onboarded_in_the_same_invocation() {
    // given account creation that takes 1.5 s, and the CreateAccount call's event arriving at once
    let (emulator, org) = world_of(&REGIONS, 2);
    let fast = CreationPolling {
        first: Duration::from_millis(100),
        longest: Duration::from_millis(400),
        total: Duration::from_secs(30),
    };
    schedule(&emulator, &org.accounts[0], &[]).await.expect("bootstrap");
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await)).with_polling(fast);
    emulator.world(json!({"create_account_seconds": 1.5}));
    let (account, request_id) = emulator.create_account("slow").await;
    let called = fixture("create-account-call.json", &[("car-4b1f3e2cf2fa11ed8b6e0a41b5dcf48f", &request_id)]);

    // when it is handled
    let started = Instant::now();
    let answer = responder.handle(event(called.clone())).await.expect("onboarded after the creation finished");

    // then the account was onboarded in the same invocation, after DescribeCreateAccountStatus said SUCCEEDED
    assert!(started.elapsed() >= Duration::from_millis(1200), "it waited for the creation");
    assert_eq!(answer["report"]["account"], account.as_str());
    let state = emulator.state();
    assert!(REGIONS.iter().all(|r| members(&state, r).get(account.as_str()).map(String::as_str) == Some("Enabled")));
    let polls = emulator.log().iter().filter(|c| c.operation == "DescribeCreateAccountStatus").count();
    assert!(polls >= 2, "{polls} polls");

    // and when the invocation's deadline comes first, it fails to be retried, naming why
    emulator.world(json!({"create_account_seconds": 30}));
    let (_, request_id) = emulator.create_account("slower").await;
    let called = fixture("create-account-call.json", &[("car-4b1f3e2cf2fa11ed8b6e0a41b5dcf48f", &request_id)]);
    let mut context = Context::default();
    context.deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 + 3_000;
    let err = responder.handle(LambdaEvent::new(called, context)).await.expect_err("still in progress");
    assert_eq!(err.kind, enablement::FailureKind::AccountCreationInProgress, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_of_some_regions_leaves_the_others_alone() {
    let (emulator, org) = world_of(&REGIONS, 2);
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    emulator.clear_log();
    let options = RunOptions { only_regions: Some(vec!["eu-west-1".into()]), ..RunOptions::default() };
    let report = enabler.reconcile_with(&options).await.unwrap();
    assert_eq!(report.summary.regions, 1);
    assert!(!emulator.log().iter().any(|c| c.service == "guardduty" && c.region == "us-east-1"));
}
