//! The two functions' handlers, driven with the event fixtures against the emulator, and the real binaries run
//! under a local Lambda Runtime API.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use enablement::{AccountId, FailureKind};
use responder::Responder;
use serde_json::json;
use system_tests::runtime::{Function, RuntimeApi};
use system_tests::{
    cfn_request, event, fixture, fixtures_of, members, reconciler, schedule, settings, tally, world_of, Emulator, Org,
    ResponseCatcher,
};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

async fn responder(emulator: &Emulator, org: &Org) -> Responder<enablement::AwsCloud> {
    Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await))
}

fn is_member_everywhere(emulator: &Emulator, account: &AccountId) -> bool {
    let state = emulator.state();
    REGIONS.iter().all(|r| members(&state, r).get(account.as_str()).map(String::as_str) == Some("Enabled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_onboarding_event_makes_the_new_account_a_member_in_every_region() {
    // given a bootstrapped organization
    let (emulator, org) = world_of(&REGIONS, 4);
    let responder = responder(&emulator, &org).await;
    emulator.enabler(settings(&org.accounts[0], &[])).await.reconcile().await.expect("bootstrap");
    let management = org.management.to_string();

    let onboarding = fixtures_of("onboarding");
    assert_eq!(onboarding.len(), 6);
    for (i, file) in onboarding.iter().enumerate() {
        let file = file.as_str();
        // given a new account and the event that announces it
        let (account, request_id) = emulator.create_account(&file.replace(".json", "")).await;
        assert!(!is_member_everywhere(&emulator, &account));
        let payload = fixture(
            file,
            &[
                ("444455556666", account.as_str()),
                ("111122223333", &management),
                ("car-4b1f3e2cf2fa11ed8b6e0a41b5dcf48f", &request_id),
            ],
        );
        emulator.clear_log();
        // when the responder handles it
        let started = Instant::now();
        let answer = responder.handle(event(payload)).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        let elapsed = started.elapsed();
        // then the account is an enabled member in every region
        assert!(is_member_everywhere(&emulator, &account), "{file}: {answer}");
        assert_eq!(answer["report"]["account"], account.as_str(), "{file}");
        assert_eq!(answer["report"]["summary"]["members_added"], 3, "{file}");
        let log = emulator.log();
        let per_region: Vec<usize> =
            REGIONS.iter().map(|r| log.iter().filter(|c| c.service == "guardduty" && c.region == *r).count()).collect();
        println!(
            "{file}: {} ms, GuardDuty calls per region {per_region:?}, all calls {:?}",
            elapsed.as_millis(),
            tally(&log).by_operation
        );
        // and a warm process that remembers a root without the GuardDuty policy type runs in api mode: it reads
        // no effective policy (the first event reads the root with it)
        if i > 0 {
            let reads = tally(&log).by_operation.get("organizations:DescribeEffectivePolicy").copied();
            assert_eq!(reads, None, "{file}: {:?}", tally(&log).by_operation);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_events_succeed_without_a_single_aws_call() {
    let (emulator, org) = world_of(&REGIONS, 2);
    let responder = responder(&emulator, &org).await;
    emulator.clear_log();
    for file in [
        "create-account-result-failed.json",
        "accept-handshake-enable-all-features.json",
        "ec2-instance-state-change.json",
        "scheduled-event.json",
    ] {
        let answer = responder.handle(event(fixture(file, &[]))).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(answer["request"]["request"], "ignore", "{file}: {answer}");
    }
    assert!(emulator.log().is_empty(), "{:?}", tally(&emulator.log()).by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_and_strangers_are_errors_with_zero_writes_and_the_next_event_is_served() {
    let (emulator, org) = world_of(&REGIONS, 2);
    let responder = responder(&emulator, &org).await;
    let mut no_id = fixture("create-account-result-succeeded.json", &[]);
    no_id["detail"]["serviceEventDetails"]["createAccountStatus"].as_object_mut().unwrap().remove("accountId");
    let cases = [
        ("no account id", no_id, FailureKind::MalformedEvent),
        (
            "short id",
            fixture("create-account-result-succeeded.json", &[("444455556666", "4444")]),
            FailureKind::MalformedEvent,
        ),
        (
            "not in the organization",
            fixture("create-account-result-succeeded.json", &[("444455556666", "999988887777")]),
            FailureKind::NotInOrganization,
        ),
        ("not an object", json!(["CreateAccountResult"]), FailureKind::MalformedEvent),
    ];
    emulator.clear_log();
    for (name, payload, kind) in cases {
        let err = responder.handle(event(payload)).await.expect_err(name);
        assert_eq!(err.kind, kind, "{name}: {err}");
    }
    assert_eq!(tally(&emulator.log()).writes, 0);
    // and the same responder still serves a good event
    let (account, _) = emulator.create_account("after-errors").await;
    let good = fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]);
    let answer = responder.handle(event(good)).await.expect("an onboarding after errors");
    assert_eq!(answer["report"]["summary"]["failed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_event_repairs_drift_and_enrols_accounts_no_event_announced() {
    // given a bootstrapped organization whose state was then broken in every way the tool repairs
    let (emulator, org) = world_of(&REGIONS, 6);
    let admin = org.accounts[0];
    schedule(&emulator, &admin, &[]).await.expect("bootstrap through the schedule");
    let gd = emulator.admin_guardduty(&admin, "eu-west-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    // (with auto-enable ALL, DisassociateMembers refuses organization members, so the record is written as a
    // disassociation would leave it)
    emulator.seed_members("eu-west-1", &admin, &[(&org.accounts[1], "Removed")]);
    gd.stop_monitoring_members().detector_id(&detector).account_ids(org.accounts[2].as_str()).send().await.unwrap();
    gd.update_organization_configuration()
        .detector_id(&detector)
        .auto_enable_organization_members(aws_sdk_guardduty::types::AutoEnableMembers::None)
        .send()
        .await
        .unwrap();
    gd.update_detector()
        .detector_id(&detector)
        .features(
            aws_sdk_guardduty::types::DetectorFeatureConfiguration::builder()
                .name(aws_sdk_guardduty::types::DetectorFeature::RuntimeMonitoring)
                .status(aws_sdk_guardduty::types::FeatureStatus::Disabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (silent, _) = emulator.create_account("no-event-at-all").await;
    assert!(!is_member_everywhere(&emulator, &silent));

    // when the schedule fires
    let answer = schedule(&emulator, &admin, &[]).await.expect("self-heal");

    // then everything is back, and only eu-west-1 needed repairs besides the silent account's enrolment
    let state = emulator.state();
    let eu = members(&state, "eu-west-1");
    assert_eq!(eu.get(org.accounts[1].as_str()).map(String::as_str), Some("Enabled"));
    assert_eq!(eu.get(org.accounts[2].as_str()).map(String::as_str), Some("Enabled"));
    assert!(is_member_everywhere(&emulator, &silent));
    let cfg = state["org_configs"].as_array().unwrap().iter().find(|c| c["region"] == "eu-west-1").unwrap();
    assert_eq!(cfg["auto_enable"], "ALL");
    let det = state["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["region"] == "eu-west-1" && d["account"] == admin.as_str())
        .unwrap();
    assert_eq!(det["features"]["RUNTIME_MONITORING"]["status"], "ENABLED");
    let eu_actions: Vec<&str> =
        answer["report"]["regions"].as_array().unwrap().iter().find(|r| r["region"] == "eu-west-1").unwrap()["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
    assert_eq!(
        eu_actions,
        ["update_admin_detector", "update_organization_configuration", "create_members", "start_monitoring_members"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_enabled_later_is_brought_in_by_its_opt_in_event_alone() {
    // given an organization bootstrapped while af-south-1 was not enabled
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["us-east-1"], "opt_in": ["af-south-1"]}));
    let org = emulator.organization(3, 0);
    let bootstrapper = reconciler(&emulator, &org.accounts[0], &[]).await;
    bootstrapper.handle(event(fixture("scheduled-event.json", &[]))).await.expect("bootstrap");
    assert!(members(&emulator.state(), "af-south-1").is_empty());
    // when every account enables the region and the opt-in event arrives
    emulator.regions(json!({"enabled_everywhere": ["af-south-1"]}));
    emulator.clear_log();
    let answer = bootstrapper
        .handle(event(fixture("region-opt-in-enabled.json", &[("111122223333", org.management.as_str())])))
        .await
        .expect("opt-in");
    // then that region, and only it, is reconciled to the full state
    assert_eq!(members(&emulator.state(), "af-south-1").len(), 3, "{answer}");
    assert!(emulator.log().iter().filter(|c| c.service == "guardduty").all(|c| c.region == "af-south-1"));
    assert_eq!(answer["report"]["summary"]["regions"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_custom_resource_answers_create_update_and_delete_exactly_once_each() {
    let (emulator, org) = world_of(&REGIONS, 5);
    let admin = org.accounts[0];
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await;

    // Create: a full reconcile, then one SUCCESS with the stable physical id
    let catcher = ResponseCatcher::start();
    let answer = function.handle(event(cfn_request("cfn-create.json", &catcher.url, &admin))).await.expect("create");
    let received = catcher.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let (method, content_type, body) = &received[0];
    assert_eq!((method.as_str(), content_type.as_str()), ("PUT", ""));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["PhysicalResourceId"], "guardduty-enabler");
    assert_eq!(body["RequestId"], "d3a1b2c4-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
    assert_eq!(body["LogicalResourceId"], "Bootstrap");
    assert_eq!(body["Data"]["Regions"], "3");
    assert!(REGIONS.iter().all(|r| members(&emulator.state(), r).len() == 5), "{answer}");

    // Update: the physical id CloudFormation holds is echoed, and nothing needs writing
    let catcher = ResponseCatcher::start();
    let update = fixture(
        "cfn-update.json",
        &[
            ("http://127.0.0.1:1/response", &catcher.url),
            ("222233334444", admin.as_str()),
            ("\"PhysicalResourceId\": \"guardduty-enabler\"", "\"PhysicalResourceId\": \"kept-id\""),
        ],
    );
    emulator.clear_log();
    function.handle(event(update)).await.expect("update");
    let received = catcher.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].2["Status"], "SUCCESS");
    assert_eq!(received[0].2["PhysicalResourceId"], "kept-id");
    assert_eq!(received[0].2["Data"]["Writes"], "0");
    assert_eq!(tally(&emulator.log()).writes, 0);

    // Delete: SUCCESS, and no AWS call at all
    let catcher = ResponseCatcher::start();
    emulator.clear_log();
    function.handle(event(cfn_request("cfn-delete.json", &catcher.url, &admin))).await.expect("delete");
    let received = catcher.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].2["Status"], "SUCCESS");
    assert!(emulator.log().is_empty());
    assert!(REGIONS.iter().all(|r| members(&emulator.state(), r).len() == 5), "membership survives the delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_is_answered_failed_with_the_variable_named_and_nothing_called() {
    // given a function whose environment is invalid, and a request whose properties are invalid too
    let (emulator, _org) = world_of(&REGIONS, 2);
    let function = emulator.bootstrapper(&[("GUARDDUTY_AUTO_ENABLE", "SOMETIMES")]).await;
    let catcher = ResponseCatcher::start();
    let request = fixture(
        "cfn-create.json",
        &[
            ("http://127.0.0.1:1/response", &catcher.url),
            ("\"AdminAccountId\": \"222233334444\"", "\"AdminAccountId\": \"12345\""),
            ("\"AutoEnable\": \"ALL\"", "\"AutoEnable\": \"SOMETIMES\""),
        ],
    );
    emulator.clear_log();
    // when CloudFormation asks
    function.handle(event(request)).await.expect("answered");
    // then it gets FAILED naming both variables, and no AWS call was made
    let received = catcher.received();
    assert_eq!(received.len(), 1);
    let reason = received[0].2["Reason"].as_str().unwrap();
    assert_eq!(received[0].2["Status"], "FAILED");
    assert!(reason.contains("GUARDDUTY_ADMIN_ACCOUNT_ID") && reason.contains("GUARDDUTY_AUTO_ENABLE"), "{reason}");
    assert!(emulator.log().is_empty(), "{:?}", tally(&emulator.log()).by_operation);
    // and a direct invocation says what kind of failure it is
    let err = function.handle(event(json!({}))).await.expect_err("invalid");
    assert_eq!(err.kind, FailureKind::InvalidConfiguration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_invocation_returns_the_report() {
    let (emulator, org) = world_of(&REGIONS, 3);
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", org.accounts[0].as_str())]).await;
    let report = function.handle(event(json!({}))).await.expect("report");
    assert_eq!(report["kind"], "reconcile");
    assert_eq!(report["summary"]["changed"], 3);
    let err = function.handle(event(json!("reconcile"))).await.expect_err("a string is not a request");
    assert_eq!(err.kind, FailureKind::InvalidRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_on_demand_reads_and_plans_and_writes_nothing_whatever_the_configuration_says() {
    // given a bootstrapper configured to write (GUARDDUTY_DRY_RUN=false)
    let (emulator, org) = world_of(&REGIONS, 3);
    let vars = [("GUARDDUTY_ADMIN_ACCOUNT_ID", org.accounts[0].as_str()), ("GUARDDUTY_DRY_RUN", "false")];
    let function = emulator.bootstrapper(&vars).await;
    emulator.clear_log();
    // when invoked with {"dryRun": true} (and a key it does not know)
    let plan = function.handle(event(json!({"dryRun": true, "comment": "ignored"}))).await.expect("the plan");
    // then it returns the plan for every governed region, and nothing was written
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["summary"]["regions"], 3);
    assert!(plan["regions"].as_array().unwrap().iter().all(|r| r["outcome"] == "planned"), "{plan}");
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
    // and with "regions" it looks at those only
    emulator.clear_log();
    let some = function.handle(event(json!({"dryRun": true, "regions": ["eu-west-1"]}))).await.expect("the plan");
    assert_eq!(some["summary"]["regions"], 1);
    assert_eq!(some["regions"][0]["region"], "eu-west-1");
    assert!(emulator.log().iter().filter(|c| c.service == "guardduty").all(|c| c.region == "eu-west-1"));
    assert_eq!(tally(&emulator.log()).writes, 0);
    // a region that is not governed, or a value of the wrong type, is an error that says which
    let err =
        function.handle(event(json!({"dryRun": true, "regions": ["sa-east-1"]}))).await.expect_err("not governed");
    assert_eq!(err.kind, FailureKind::NoRegionToGovern, "{err}");
    let err = function.handle(event(json!({"dryRun": "yes"}))).await.expect_err("not a boolean");
    assert_eq!(err.kind, FailureKind::InvalidRequest);
    // and {} is still the full reconcile
    let report = function.handle(event(json!({}))).await.expect("reconcile");
    assert_eq!(report["dry_run"], false);
    assert!(REGIONS.iter().all(|r| members(&emulator.state(), r).len() == 3));
}

#[test]
fn the_real_responder_binary_serves_events_under_the_lambda_runtime_api() {
    // given the emulator, a bootstrapped organization and the responder binary polling a local runtime API
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (emulator, org) = world_of(&REGIONS, 3);
    runtime.block_on(schedule(&emulator, &org.accounts[0], &[])).expect("bootstrap");
    let api = RuntimeApi::start();
    let admin = org.accounts[0].to_string();
    let started = Instant::now();
    let mut function = Function::start(
        "responder",
        &api,
        &[("AWS_ENDPOINT_URL", &emulator.url), ("GUARDDUTY_ADMIN_ACCOUNT_ID", &admin)],
    );

    // when a malformed event, an ignored one and an onboarding arrive, one after another
    let malformed = api.invoke(&json!({"source": "aws.organizations"}), Duration::from_secs(10));
    let first_answer = started.elapsed();
    let ignored = api.invoke(&fixture("ec2-instance-state-change.json", &[]), Duration::from_secs(10));
    let (account, _) = runtime.block_on(emulator.create_account("late"));
    let onboarded = api.invoke(
        &fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]),
        Duration::from_secs(30),
    );

    // then each gets the right answer from the same process
    let error = malformed.expect_err("malformed");
    assert!(error["errorMessage"].as_str().unwrap_or_default().contains("malformed event"), "{error}");
    assert_eq!(error["errorType"], "MalformedEvent", "the kind of failure, as Lambda and the dead letters show it");
    assert_eq!(ignored.expect("ignored")["request"]["request"], "ignore");
    assert_eq!(onboarded.expect("onboarded")["report"]["summary"]["members_added"], 3);
    assert!(function.is_running(), "the process survived every invocation");
    assert!(is_member_everywhere(&emulator, &account));
    // and it logs JSON lines that say what was asked and what changed
    let logs = function.stop();
    assert!(logs.lines().any(|l| l.contains("\"event classified\"") || l.contains("event classified")), "{logs}");
    assert!(logs.contains("members_added"), "{logs}");
    println!("first answer after {} ms (start-up and a malformed event)", first_answer.as_millis());
}
