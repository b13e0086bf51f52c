//! A new account as AWS creates it: only the default regions enabled ("Opt-in Regions ... are disabled by default",
//! AWS Account Management Reference Guide, "Enable or disable AWS Regions in your account"). Where the organization
//! governs an opt-in region, such an account is left out there at once, with the reason, and never waited for.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use enablement::AccountId;
use responder::Responder;
use serde_json::{json, Value};
use system_tests::{event, fixture, members, settings, Emulator, Org};

/// What the tests allow an onboarding or a small reconcile on the emulator, with room for a slow machine. The code
/// before this change waited out its whole patience (10 s in the tests, 30 s by default) for plans GuardDuty would
/// never show.
const BOUND: Duration = Duration::from_secs(4);

const OPT_IN: &str = "af-south-1";

/// An emulator with two default regions and one opt-in region that the management account, the admin and the
/// `accounts` members all have enabled, the first member the admin.
fn organization_with_an_opt_in_region(accounts: usize) -> (Emulator, Org) {
    let emulator = Emulator::start();
    let org = emulator.organization(accounts, 0);
    let enabled: serde_json::Map<String, Value> =
        std::iter::once(&org.management).chain(&org.accounts).map(|a| (a.to_string(), json!([OPT_IN]))).collect();
    emulator.regions(json!({"default": ["eu-west-1", "us-east-1"], "opt_in": [OPT_IN], "enabled": enabled}));
    (emulator, org)
}

fn status_in(emulator: &Emulator, region: &str, account: &AccountId) -> Option<String> {
    members(&emulator.state(), region).get(account.as_str()).cloned()
}

fn left_reason<'a>(report: &'a Value, region: &str, account: &AccountId) -> Option<&'a str> {
    let region = report["regions"].as_array()?.iter().find(|r| r["region"] == region)?;
    region["left"].as_array()?.iter().find(|l| l["account"] == account.as_str())?["reason"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_without_the_opt_in_region_is_onboarded_at_once_and_enrolled_there_when_it_enables_it() {
    // given a bootstrapped organization that governs an opt-in region, and an account CreateAccount just made (with
    // the default regions only)
    let (emulator, org) = organization_with_an_opt_in_region(2);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let (account, _) = emulator.create_account("fresh").await;
    let responder = Responder::new(Ok(emulator.enabler(settings(&admin, &[])).await));
    emulator.clear_log();

    // when its creation is announced
    let announced = fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]);
    let started = Instant::now();
    let answer = responder.handle(event(announced)).await.expect("onboarded where it can be");
    let took = started.elapsed();

    // then the answer comes within the bound, the account is Enabled in both default regions and left out of the
    // opt-in one with the reason, its plans there read at most once and never written
    assert!(took < BOUND, "the onboarding took {took:?}");
    for region in ["eu-west-1", "us-east-1"] {
        assert_eq!(status_in(&emulator, region, &account).as_deref(), Some("Enabled"), "{region}");
    }
    assert_eq!(status_in(&emulator, OPT_IN, &account).as_deref(), Some("RegionDisabled"));
    let reason = left_reason(&answer["report"], OPT_IN, &account).unwrap_or_else(|| panic!("{answer}"));
    assert!(reason.contains("has not enabled this opt-in region"), "{reason}");
    let log = emulator.log();
    let calls = |op: &str| log.iter().filter(|c| c.region == OPT_IN && c.operation == op).count();
    assert!(calls("GetMemberDetectors") <= 1, "{} plan reads in {OPT_IN}", calls("GetMemberDetectors"));
    assert_eq!(calls("UpdateMemberDetectors"), 0);

    // when the account later enables the region (Account Management trusted in the organization, so that the run can
    // read the account's opt-in status) and the opt-in event arrives
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    orgs.enable_aws_service_access().service_principal("account.amazonaws.com").send().await.unwrap();
    emulator.regions(json!({"enabled": {account.as_str(): [OPT_IN]}}));
    let opted_in = fixture(
        "region-opt-in-enabled.json",
        &[("111122223333", account.as_str()), ("\"af-south-1\"", &format!("\"{OPT_IN}\""))],
    );
    let bootstrapper = system_tests::reconciler(&emulator, &admin, &[]).await;
    let answer = bootstrapper.handle(event(opted_in)).await.expect("the region reconciled");

    // then it is enrolled there
    assert_eq!(status_in(&emulator, OPT_IN, &account).as_deref(), Some("Enabled"), "{answer}");
    assert_eq!(answer["report"]["summary"]["unprotected"], 0, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_with_a_member_that_has_not_enabled_the_opt_in_region_does_not_wait_for_it() {
    // given 60 members that have the opt-in region, one created later without it, and nothing bootstrapped yet
    let (emulator, org) = organization_with_an_opt_in_region(60);
    let admin = org.accounts[0];
    let (latecomer, _) = emulator.create_account("latecomer").await;
    let enabler = emulator.enabler(settings(&admin, &[])).await;

    // when the organization is bootstrapped
    let started = Instant::now();
    let report = enabler.reconcile().await.unwrap();
    let took = started.elapsed();

    // then within the bound every account is protected where it can be, and the latecomer is left out of the
    // opt-in region with the reason
    assert!(took < BOUND, "the bootstrap took {took:?}");
    assert!(report.is_success(), "{:#?}", report.problems());
    let json = serde_json::to_value(&report).unwrap();
    let reason = left_reason(&json, OPT_IN, &latecomer).unwrap_or_else(|| panic!("{json}"));
    assert!(reason.contains("has not enabled this opt-in region"), "{reason}");
    assert_eq!(json["summary"]["unprotected"], 0);
    assert_eq!(status_in(&emulator, "us-east-1", &latecomer).as_deref(), Some("Enabled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_takes_four_dependent_round_trips_in_a_fresh_process_and_three_in_a_warm_one() {
    // given a bootstrapped organization in three regions, two new accounts, and a process that has not run yet
    let (emulator, org) = system_tests::world_of(&["ap-southeast-2", "eu-west-1", "us-east-1"], 3);
    let admin = org.accounts[0];
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let (first, _) = emulator.create_account("first-of-two").await;
    let (second, _) = emulator.create_account("second-of-two").await;
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    // (300 ms a call, so that a call the loaded machine sends up to 150 ms late still counts in its round trip)
    let latency = Duration::from_millis(300);
    // when each call takes 300 ms and the process onboards one account, then the other
    let mut trips = Vec::new();
    for account in [first, second] {
        emulator.clear_log();
        emulator.faults(json!({"latency_ms": 300}));
        let report = enabler.onboard(&account, &enablement::RunOptions::default()).await.unwrap();
        emulator.faults(json!({}));
        assert!(report.protection_of(&account).is_ok(), "{:?}", report.problems());
        let log = emulator.log();
        trips.push((system_tests::round_trips(&log, latency), system_tests::waves(&log, latency)));
    }
    // then (run/onboard.rs): credentials, the admin's detector, the membership, its check; warm, without the first two
    // but with the account's standing
    assert!(trips[0].0 <= 4, "fresh: {:?}", trips[0].1);
    assert!(trips[1].0 <= 3, "warm: {:?}", trips[1].1);
    // (a write and its read-back cannot share a round trip: the count measures something)
    assert!(trips[1].0 >= 2 && trips[0].0 > trips[1].0, "{trips:?}");
}
