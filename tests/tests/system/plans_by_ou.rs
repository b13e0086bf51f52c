//! Plans by organizational unit (GUARDDUTY_FEATURES_BY_OU): accounts under a listed unit, at any depth, get exactly
//! its plans. In api mode the tool writes them to each member and keeps the organization configuration from fighting
//! them; in policy mode it writes them into policies attached at those units, so that AWS itself keeps them. New and
//! moved accounts get their unit's plans from the responder in the same invocation.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use responder::Responder;
use serde_json::{json, Value};
use system_tests::{detector, event, fixture, members, schedule, settings, tally, Emulator, Org};

const REGION: &str = "us-east-1";
const PLANS: [&str; 7] = [
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
    "RUNTIME_MONITORING",
    "AI_PROTECTION",
];

/// An organization with accounts 0 (the admin) and 1 at the root, 2 in "prod", 3 in "prod/sandbox"; the units' ids.
async fn world() -> (Emulator, Org, String, String) {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": [REGION], "opt_in": []}));
    let org = emulator.organization(4, 0);
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let prod = orgs.create_organizational_unit().parent_id(&root).name("prod").send().await.unwrap();
    let prod = prod.organizational_unit().unwrap().id().unwrap().to_owned();
    let sandbox = orgs.create_organizational_unit().parent_id(&prod).name("sandbox").send().await.unwrap();
    let sandbox = sandbox.organizational_unit().unwrap().id().unwrap().to_owned();
    for (account, to) in [(2, &prod), (3, &sandbox)] {
        orgs.move_account()
            .account_id(org.accounts[account].as_str())
            .source_parent_id(&root)
            .destination_parent_id(to)
            .send()
            .await
            .unwrap();
    }
    (emulator, org, prod, sandbox)
}

/// The plans `account` shows ENABLED.
fn enabled(state: &Value, account: &str) -> Vec<String> {
    let features = &detector(state, REGION, account).unwrap()["features"];
    PLANS.iter().filter(|p| features[**p]["status"] == "ENABLED").map(|p| (*p).to_owned()).collect()
}

fn all() -> Vec<String> {
    PLANS.iter().map(|p| (*p).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_mode_gives_each_unit_exactly_its_plans_and_new_and_moved_accounts_theirs_at_once() {
    // given prod with S3 and Runtime Monitoring, its nested sandbox with GuardDuty alone, and every plan elsewhere
    let (emulator, org, prod, sandbox) = world().await;
    let by_ou = format!("{prod}=S3_DATA_EVENTS,RUNTIME_MONITORING;{sandbox}=FOUNDATIONAL");
    let admin = org.accounts[0];
    let vars = [("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str())];

    // when bootstrapped
    let answer = schedule(&emulator, &admin, &vars).await.unwrap_or_else(|e| panic!("{e}"));
    let responder = Responder::new(Ok(emulator.enabler(settings(&admin, &vars)).await));
    assert_eq!(answer["report"]["summary"]["unprotected"], 0, "{answer}");

    // then each member shows exactly its unit's plans, the deepest unit winning
    let state = emulator.state();
    assert_eq!(enabled(&state, org.accounts[1].as_str()), all(), "the root's account: every plan");
    assert_eq!(enabled(&state, org.management.as_str()), all());
    assert_eq!(enabled(&state, org.accounts[2].as_str()), ["S3_DATA_EVENTS", "RUNTIME_MONITORING"], "prod");
    assert!(enabled(&state, org.accounts[3].as_str()).is_empty(), "sandbox: GuardDuty alone");
    assert_eq!(members(&state, REGION).get(org.accounts[3].as_str()).map(String::as_str), Some("Enabled"));
    // and the organization configuration cannot fight it: a plan some unit does not want is NEW, never ALL
    let config = state["org_configs"].as_array().unwrap().iter().find(|c| c["region"] == REGION).unwrap();
    assert_eq!(config["auto_enable"], "ALL", "every account is still enrolled by GuardDuty");
    for plan in PLANS {
        assert_eq!(config["features"][plan]["autoEnable"], "NEW", "{plan}");
    }
    // and a second run writes nothing
    emulator.clear_log();
    schedule(&emulator, &admin, &vars).await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);

    // when a new account is created straight into the sandbox (as Account Factory does) and its event arrives
    let (newcomer, _) = emulator.create_account("sandbox-newcomer").await;
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    orgs.move_account()
        .account_id(newcomer.as_str())
        .source_parent_id(&root)
        .destination_parent_id(&sandbox)
        .send()
        .await
        .unwrap();
    let announced = fixture("create-account-result-succeeded.json", &[("444455556666", newcomer.as_str())]);
    responder.handle(event(announced)).await.unwrap_or_else(|e| panic!("{e}"));
    // then it leaves that one invocation with its unit's plans (none), though auto-enable NEW gave it every plan
    assert!(enabled(&emulator.state(), newcomer.as_str()).is_empty());

    // when the root's account moves into prod and its MoveAccount event arrives
    orgs.move_account()
        .account_id(org.accounts[1].as_str())
        .source_parent_id(&root)
        .destination_parent_id(&prod)
        .send()
        .await
        .unwrap();
    emulator.clear_log();
    let moved = fixture("move-account.json", &[("444455556666", org.accounts[1].as_str())]);
    let answer = responder.handle(event(moved)).await.unwrap_or_else(|e| panic!("{e}"));
    // then it has prod's plans at once, without a CreateMembers (which would apply the auto-enable settings)
    assert_eq!(answer["report"]["kind"], "replan", "{answer}");
    assert_eq!(enabled(&emulator.state(), org.accounts[1].as_str()), ["S3_DATA_EVENTS", "RUNTIME_MONITORING"]);
    let calls = tally(&emulator.log());
    assert_eq!(calls.by_operation.get("guardduty:CreateMembers"), None, "{:?}", calls.by_operation);
    assert_eq!(calls.by_operation.get("guardduty:UpdateMemberDetectors"), Some(&1), "{:?}", calls.by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_mode_writes_each_units_plans_into_a_policy_attached_at_the_unit() {
    // given the same units, in policy mode
    let (emulator, org, prod, sandbox) = world().await;
    let by_ou = format!("{prod}=S3_DATA_EVENTS,RUNTIME_MONITORING;{sandbox}=FOUNDATIONAL");
    let vars = [("GUARDDUTY_ENABLEMENT", "policy"), ("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str())];
    let enabler = emulator.enabler(settings(&org.accounts[0], &vars)).await;

    // when bootstrapped
    let report = enabler.reconcile().await.unwrap();

    // then three policies: the main one at the root, one per unit at the unit, each unit's naming every plan
    assert!(report.is_success(), "{:#?}", report.problems());
    let state = emulator.state();
    let policies: Vec<&Value> = state["policies"].as_array().unwrap().iter().collect();
    let named = |name: &str| *policies.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}: {state}"));
    let root = orgs_root(&emulator).await;
    assert_eq!(named("guardduty-enabler")["targets"], json!([root]));
    let prod_policy = named(&format!("guardduty-enabler-{prod}"));
    assert_eq!(prod_policy["targets"], json!([prod]));
    let block = &prod_policy["content"]["guardduty"]["enablement"][REGION];
    assert_eq!(block["s3_data_events"]["status"]["@@assign"], "enabled");
    assert_eq!(block["ai_protection"]["status"]["@@assign"], "disabled");
    let sandbox_block = &named(&format!("guardduty-enabler-{sandbox}"))["content"]["guardduty"]["enablement"][REGION];
    assert_eq!(sandbox_block["foundational"]["status"]["@@assign"], "enabled");
    assert_eq!(sandbox_block["runtime_monitoring"]["status"]["@@assign"], "disabled");
    // and what AWS enforces from them is each unit's plans, owned by the policy
    assert_eq!(enabled(&state, org.accounts[1].as_str()), all());
    assert_eq!(enabled(&state, org.accounts[2].as_str()), ["S3_DATA_EVENTS", "RUNTIME_MONITORING"]);
    assert!(enabled(&state, org.accounts[3].as_str()).is_empty());
    let sandbox_s3 = &detector(&state, REGION, org.accounts[3].as_str()).unwrap()["features"]["S3_DATA_EVENTS"];
    assert_eq!(sandbox_s3["managed_by"], "GUARDDUTY_POLICY", "{sandbox_s3}");
    // and a second run writes nothing
    emulator.clear_log();
    enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
}

async fn orgs_root(emulator: &Emulator) -> String {
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned()
}
