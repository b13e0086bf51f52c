//! GuardDuty organization policies (the Organizations policy type GUARDDUTY_POLICY), as the emulator models them
//! from the user guides: with `auto` the tool works beside a policy someone else wrote and writes nothing a policy
//! owns; with `api` it refuses before any write; with `policy` it owns one policy, attached around the excluded
//! units, and keeps it so.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use aws_sdk_organizations::types::{EffectivePolicyType, PolicyType};
use enablement::{ActionStatus, Error, Outcome, RunOptions};
use responder::Responder;
use serde_json::{json, Value};
use system_tests::{
    cfn_request, enable_guardduty_policy_type, event, fixture, members, schedule, settings, tally, world_of, Emulator,
    ResponseCatcher,
};

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

async fn organizations(emulator: &Emulator) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&emulator.sdk_config().await)
}

async fn root_id(orgs: &aws_sdk_organizations::Client) -> String {
    orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned()
}

/// A block turning GuardDuty, S3 Protection and Runtime Monitoring (EC2 agent) on, in the policy syntax.
fn block() -> Value {
    let on = json!({"status": {"@@assign": "enabled"}});
    json!({
        "foundational": on,
        "s3_data_events": on,
        "runtime_monitoring": {"status": {"@@assign": "enabled"}, "additional_configuration": {"ec2_agent_management": on}}
    })
}

/// Someone else's GuardDuty policy for both regions, attached at the root, with the type enabled.
async fn foreign_policy(emulator: &Emulator) -> String {
    let orgs = organizations(emulator).await;
    let root = root_id(&orgs).await;
    enable_guardduty_policy_type(&orgs).await;
    let content = json!({"guardduty": {"enablement": {"eu-west-1": block(), "us-east-1": block()}}});
    let policy = orgs
        .create_policy()
        .r#type(PolicyType::GuarddutyPolicy)
        .name("security-team-baseline")
        .description("written by the security team")
        .content(content.to_string())
        .send()
        .await
        .unwrap();
    let id = policy.policy().unwrap().policy_summary().unwrap().id().unwrap().to_owned();
    orgs.attach_policy().policy_id(&id).target_id(&root).send().await.unwrap();
    id
}

/// The calls of a log to Organizations' policy writes and to the organization configuration.
fn policy_and_org_config_writes(emulator: &Emulator) -> Vec<String> {
    const WRITES: [&str; 7] = [
        "CreatePolicy",
        "UpdatePolicy",
        "AttachPolicy",
        "DetachPolicy",
        "EnablePolicyType",
        "DisablePolicyType",
        "UpdateOrganizationConfiguration",
    ];
    emulator.log().into_iter().filter(|c| WRITES.contains(&c.operation.as_str())).map(|c| c.operation).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_beside_someone_elses_policy_writes_nothing_a_policy_owns_and_enrols_what_it_has_not_reached() {
    // given an organization whose security team enables GuardDuty with its own policy at the root
    let (emulator, org) = world_of(&REGIONS, 5);
    foreign_policy(&emulator).await;
    let admin = org.accounts[0];
    let vars = [("GUARDDUTY_FEATURES", "S3_DATA_EVENTS,RUNTIME_MONITORING")];
    let enabler = emulator.enabler(settings(&admin, &vars)).await;
    // when the tool (auto, the default) bootstraps it
    emulator.clear_log();
    let first = enabler.reconcile().await.unwrap();
    // then it ran in policy mode, designated the admin everywhere, and wrote no policy and no auto-enable setting
    assert_eq!(first.enablement, "policy");
    assert!(first.regions.iter().all(|r| r.outcome.is_converged() || r.outcome == Outcome::Partial), "{first:#?}");
    assert_eq!(policy_and_org_config_writes(&emulator), Vec::<String>::new());
    let policies = first.policies.as_ref().unwrap();
    assert_eq!(policies.uncovered_accounts, 0, "{policies:?}");
    assert!(policies.owned.is_empty());

    // given the policy slow to reach a new account, which joins
    emulator.world(json!({"policy_enforcement_seconds": 3600}));
    let (late, _) = emulator.create_account("not-reached-yet").await;
    // when the tool reconciles again
    emulator.clear_log();
    let report = enabler.reconcile().await.unwrap();
    // then still no policy write, no organization configuration, and no write to a plan a policy owns (here every
    // configured plan is the policy's: no UpdateDetector or UpdateMemberDetectors at all)
    let calls = tally(&emulator.log());
    assert_eq!(policy_and_org_config_writes(&emulator), Vec::<String>::new());
    for op in ["guardduty:UpdateMemberDetectors", "guardduty:UpdateDetector"] {
        assert_eq!(calls.by_operation.get(op), None, "{op}: {:?}", calls.by_operation);
    }
    // and the new account is an Enabled member in every region at once (the tool's own CreateMembers)
    let state = emulator.state();
    for region in REGIONS {
        assert_eq!(members(&state, region).get(late.as_str()).map(String::as_str), Some("Enabled"), "{region}");
    }
    assert_eq!(calls.by_operation.get("guardduty:CreateMembers"), Some(&2));
    // and it is reported not protected until the policy applies its plans, with that reason
    for region in &report.regions {
        let gap = region.unprotected.iter().find(|u| u.account == late).unwrap_or_else(|| panic!("{region:#?}"));
        assert!(gap.reason.contains("policy not yet applied: RUNTIME_MONITORING"), "{gap:?}");
    }
    assert!(!report.is_success());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["enablement"], "policy");
    assert_eq!(json["policies"]["policy_type"], "ENABLED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_no_policy_covers_are_named_as_left_to_this_tool() {
    // given the type enabled, and a policy attached to one unit only
    let (emulator, org) = world_of(&REGIONS, 4);
    let id = foreign_policy(&emulator).await;
    let orgs = organizations(&emulator).await;
    let root = root_id(&orgs).await;
    let ou = orgs.create_organizational_unit().parent_id(&root).name("covered").send().await.unwrap();
    let ou = ou.organizational_unit().unwrap().id().unwrap().to_owned();
    orgs.move_account()
        .account_id(org.accounts[1].as_str())
        .source_parent_id(&root)
        .destination_parent_id(&ou)
        .send()
        .await
        .unwrap();
    orgs.attach_policy().policy_id(&id).target_id(&ou).send().await.unwrap();
    orgs.detach_policy().policy_id(&id).target_id(&root).send().await.unwrap();
    // when reconciled
    let report = emulator.enabler(settings(&org.accounts[0], &[])).await.reconcile().await.unwrap();
    // then every account outside that unit is named as covered by no GuardDuty policy, and still enrolled
    let policies = report.policies.as_ref().unwrap();
    let mut expected: Vec<String> =
        [org.accounts[0], org.accounts[2], org.accounts[3], org.management].iter().map(ToString::to_string).collect();
    expected.sort();
    let mut named: Vec<String> = policies.uncovered.iter().map(ToString::to_string).collect();
    named.sort();
    assert_eq!(named, expected);
    assert_eq!(policies.uncovered_accounts, 4);
    let state = emulator.state();
    assert_eq!(members(&state, "us-east-1").get(org.accounts[2].as_str()).map(String::as_str), Some("Enabled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_is_refused_before_any_write_where_the_policy_type_is_enabled() {
    let (emulator, org) = world_of(&REGIONS, 3);
    foreign_policy(&emulator).await;
    let admin = org.accounts[0];
    // the library
    emulator.clear_log();
    let err = emulator
        .enabler(settings(&admin, &[("GUARDDUTY_ENABLEMENT", "api")]))
        .await
        .reconcile()
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::PoliciesInForce(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("GUARDDUTY_POLICY") && text.contains("GUARDDUTY_ENABLEMENT=auto"), "{text}");
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    // and the bootstrapper's Create answers FAILED with it
    let admin_id = admin.to_string();
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin_id.as_str())]).await;
    let catcher = ResponseCatcher::start();
    let mut request = cfn_request("cfn-create.json", &catcher.url, &admin);
    request["ResourceProperties"]["Enablement"] = json!("api");
    function.handle(event(request)).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(answer["Reason"].as_str().unwrap().contains("GUARDDUTY_POLICY"), "{answer}");
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_on_a_fresh_organization_owns_one_policy_attached_around_an_excluded_unit_nested_in_a_governed_one() {
    // given a fresh organization: accounts 0 (the admin) and 1 at the root, 2 and 3 in "workloads", 4 in
    // "workloads/sandbox", which is excluded
    let (emulator, org) = world_of(&REGIONS, 5);
    let orgs = organizations(&emulator).await;
    let root = root_id(&orgs).await;
    let unit = |parent: String, name: &'static str| {
        let orgs = orgs.clone();
        async move {
            let ou = orgs.create_organizational_unit().parent_id(parent).name(name).send().await.unwrap();
            ou.organizational_unit().unwrap().id().unwrap().to_owned()
        }
    };
    let workloads = unit(root.clone(), "workloads").await;
    let sandbox = unit(workloads.clone(), "sandbox").await;
    for (account, to) in [(2, &workloads), (3, &workloads), (4, &sandbox)] {
        orgs.move_account()
            .account_id(org.accounts[account].as_str())
            .source_parent_id(&root)
            .destination_parent_id(to)
            .send()
            .await
            .unwrap();
    }
    let admin = org.accounts[0];
    let vars = [
        ("GUARDDUTY_ENABLEMENT", "policy"),
        ("GUARDDUTY_EXCLUDED_OUS", sandbox.as_str()),
        ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS,RUNTIME_MONITORING"),
    ];
    let enabler = emulator.enabler(settings(&admin, &vars)).await;

    // when bootstrapped
    let report = enabler.reconcile().await.unwrap();

    // then the type is enabled, one policy holds a block per governed region (no default) with the plans
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(report.enablement, "policy");
    let state = emulator.state();
    assert!(state["policy_types"].as_array().unwrap().iter().any(|t| t["Type"] == "GUARDDUTY_POLICY"), "{state}");
    let ours: Vec<&Value> =
        state["policies"].as_array().unwrap().iter().filter(|p| p["name"] == "guardduty-enabler").collect();
    assert_eq!(ours.len(), 1, "{state}");
    let content = &ours[0]["content"]["guardduty"]["enablement"];
    assert_eq!(content.as_object().unwrap().keys().collect::<Vec<_>>(), ["eu-west-1", "us-east-1"]);
    assert_eq!(
        content["us-east-1"]["runtime_monitoring"]["additional_configuration"]["ec2_agent_management"]["status"]
            ["@@assign"],
        "enabled"
    );
    // attached around the excluded unit: the root's own accounts and workloads' own accounts, nothing above sandbox
    let mut targets: Vec<String> =
        ours[0]["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
    targets.sort();
    let mut expected: Vec<String> =
        [org.management, org.accounts[0], org.accounts[1], org.accounts[2], org.accounts[3]]
            .iter()
            .map(ToString::to_string)
            .collect();
    expected.sort();
    assert_eq!(targets, expected);
    // and the effective policies say exactly that: ours for every governed account, none for the excluded one
    for account in &expected {
        let e = orgs
            .describe_effective_policy()
            .policy_type(EffectivePolicyType::GuarddutyPolicy)
            .target_id(account)
            .send()
            .await
            .unwrap();
        let text = e.effective_policy().unwrap().policy_content().unwrap();
        let effective: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            effective["guardduty"]["enablement"]["eu-west-1"]["s3_data_events"]["status"], "enabled",
            "{account}"
        );
    }
    let none = orgs
        .describe_effective_policy()
        .policy_type(EffectivePolicyType::GuarddutyPolicy)
        .target_id(org.accounts[4].as_str())
        .send()
        .await;
    assert!(none.is_err(), "the excluded account has no effective GuardDuty policy: {none:?}");
    // and every governed account is an Enabled member at the end of the bootstrap, the excluded one is not
    for region in REGIONS {
        let m = members(&state, region);
        for account in [org.management, org.accounts[1], org.accounts[2], org.accounts[3]] {
            assert_eq!(m.get(account.as_str()).map(String::as_str), Some("Enabled"), "{region} {account}");
        }
        assert!(!m.contains_key(org.accounts[4].as_str()), "{region}: {m:?}");
    }
    assert!(policy_and_org_config_writes(&emulator).iter().all(|op| op != "UpdateOrganizationConfiguration"));

    // and a second run writes nothing at all
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    assert!(again.organization.is_empty(), "{:?}", again.organization);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_policy_is_put_back_by_the_responder_on_a_new_account_event() {
    // given an organization bootstrapped with an owned policy at the root, which someone then detaches
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    let vars = [("GUARDDUTY_ENABLEMENT", "policy"), ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS")];
    schedule(&emulator, &admin, &vars).await.expect("bootstrap");
    let responder = Responder::new(Ok(emulator.enabler(settings(&admin, &vars)).await));
    let orgs = organizations(&emulator).await;
    let root = root_id(&orgs).await;
    let id = emulator.state()["policies"].as_array().unwrap()[0]["id"].as_str().unwrap().to_owned();
    orgs.detach_policy().policy_id(&id).target_id(&root).send().await.unwrap();
    // when a new account's event arrives
    let (account, _) = emulator.create_account("newcomer").await;
    let announced = fixture(
        "create-account-result-succeeded.json",
        &[("444455556666", account.as_str()), ("111122223333", org.management.as_str())],
    );
    emulator.clear_log();
    let answer = responder.handle(event(announced)).await.unwrap_or_else(|e| panic!("{e}"));
    // then the policy is attached at the root again, and the account is a member everywhere
    let state = emulator.state();
    assert_eq!(state["policies"][0]["targets"], json!([root]), "{state}");
    assert!(emulator.log().iter().any(|c| c.operation == "AttachPolicy"));
    for region in REGIONS {
        assert_eq!(members(&state, region).get(account.as_str()).map(String::as_str), Some("Enabled"), "{region}");
    }
    assert_eq!(answer["report"]["enablement"], "policy");
    assert_eq!(answer["report"]["organization"][0]["action"], "attach_policy", "{answer}");
}

/// Our policy's blocks by region, as the emulator holds it.
fn our_blocks(emulator: &Emulator) -> Vec<String> {
    let state = emulator.state();
    let ours = state["policies"].as_array().unwrap().iter().find(|p| p["name"] == "guardduty-enabler");
    ours.map(|p| p["content"]["guardduty"]["enablement"].as_object().unwrap().keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_one_region_keeps_the_other_regions_blocks_of_the_policy() {
    // given an organization bootstrapped with an owned policy holding a block for each governed region
    let (emulator, org) = world_of(&REGIONS, 3);
    let vars = [("GUARDDUTY_ENABLEMENT", "policy"), ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS")];
    let enabler = emulator.enabler(settings(&org.accounts[0], &vars)).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    assert_eq!(our_blocks(&emulator), REGIONS);
    // when a run of one region (a region's opt-in event, the bootstrapper's `regions`) reconciles
    emulator.clear_log();
    let options = RunOptions { only_regions: Some(vec!["us-east-1".into()]), ..RunOptions::default() };
    let report = enabler.reconcile_with(&options).await.unwrap();
    // then the policy still enables GuardDuty in the other region: that run wrote nothing to it
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(our_blocks(&emulator), REGIONS);
    assert_eq!(policy_and_org_config_writes(&emulator), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_type_waits_for_every_governed_region_to_have_a_block() {
    // given a fresh organization in policy mode, and a region whose plans cannot be read (every call there fails)
    let (emulator, org) = world_of(&REGIONS, 3);
    let vars = [("GUARDDUTY_ENABLEMENT", "policy"), ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS")];
    let enabler = emulator.enabler(settings(&org.accounts[0], &vars)).await;
    emulator.faults(json!({"down_regions": ["eu-west-1"]}));
    // when bootstrapped
    let report = enabler.reconcile().await.unwrap();
    // then the policy type is not enabled: once it is, the auto-enable settings no longer apply anywhere, and no
    // block of the policy would replace them in eu-west-1; the report says why, and the run is not a success
    let types = emulator.state()["policy_types"].clone();
    assert!(!types.as_array().unwrap().iter().any(|t| t["Type"] == "GUARDDUTY_POLICY"), "{types}");
    let withheld =
        report.organization.iter().find(|a| a.action == enablement::OrgActionKind::EnablePolicyType).unwrap();
    assert_eq!(withheld.status, ActionStatus::Withheld, "{withheld:?}");
    assert!(withheld.error.as_deref().unwrap().contains("eu-west-1"), "{withheld:?}");
    assert!(!report.is_success());
    assert!(!policy_and_org_config_writes(&emulator).iter().any(|op| op == "EnablePolicyType" || op == "AttachPolicy"));
    // and when the region is back, the next run gives it its block, then enables the type and attaches the policy
    emulator.faults(json!({}));
    let report = enabler.reconcile().await.unwrap();
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(our_blocks(&emulator), REGIONS);
    let types = emulator.state()["policy_types"].clone();
    assert!(types.as_array().unwrap().iter().any(|t| t["Type"] == "GUARDDUTY_POLICY"), "{types}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_guardduty_refuses_createmembers_beside_a_policy_the_account_is_left_to_it_and_no_region_fails() {
    // given an organization under someone else's GuardDuty policy, bootstrapped, and a region where GuardDuty
    // refuses CreateMembers (nothing documents that a policy forbids it; the issue asks what to do if AWS does)
    let (emulator, org) = world_of(&REGIONS, 3);
    foreign_policy(&emulator).await;
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    enabler.reconcile().await.unwrap();
    emulator.faults(json!({"bad_request": {"eu-west-1": ["CreateMembers"]}}));
    emulator.world(json!({"policy_enforcement_seconds": 3600}));
    // when a new account, which the policy has not reached yet, is onboarded
    let (account, _) = emulator.create_account("refused-here").await;
    let report = enabler.onboard(&account, &RunOptions::default()).await.unwrap();
    // then no region failed: the account is a member where GuardDuty took it, and reported unprotected, with
    // GuardDuty's answer, where it did not
    assert!(report.regions.iter().all(|r| r.outcome != Outcome::Failed), "{report:#?}");
    let refused = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    let gap = refused.unprotected.iter().find(|u| u.account == account).unwrap_or_else(|| panic!("{refused:#?}"));
    assert!(gap.reason.contains("left to its GuardDuty policy"), "{gap:?}");
    assert!(gap.reason.contains("BadRequest"), "{gap:?}");
    let state = emulator.state();
    assert_eq!(members(&state, "us-east-1").get(account.as_str()).map(String::as_str), Some("Enabled"));
    assert!(!report.is_success());
}
