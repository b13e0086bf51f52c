//! Deploys in real organizations: the first one installs the tool even when some accounts cannot be protected yet,
//! and a deploy that names a new delegated admin is refused with nothing written (and its rollback converges),
//! while the responder never writes from an account that is not the designated admin.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use responder::Responder;
use serde_json::json;
use system_tests::{cfn_request, event, fixture, members, settings, world_of, ResponseCatcher};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_create_installs_when_an_account_cannot_be_protected_and_fails_when_no_region_can_be_founded() {
    // given an account GuardDuty refuses to make a member
    let (emulator, org) = world_of(&REGIONS, 3);
    let admin = org.accounts[0];
    let stuck = org.accounts[2];
    emulator.world(
        json!({"refused_members": {stuck.as_str(): "The request is rejected because the account is being closed."}}),
    );
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await;

    // when CloudFormation creates the stack
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-create.json", &catcher.url, &admin))).await.unwrap();

    // then it answers SUCCESS with the account named in Data's problems, and the others are protected
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(answer["Data"]["Problems"].as_str().unwrap().contains(stuck.as_str()), "{answer}");
    assert_eq!(answer["Data"]["AccountsProtected"], "6 of 9", "{answer}");
    let state = emulator.state();
    assert!(REGIONS
        .iter()
        .all(|r| members(&state, r).get(org.accounts[1].as_str()).map(String::as_str) == Some("Enabled")));

    // and given a fresh organization where GuardDuty refuses the designation everywhere, Create answers FAILED
    let (emulator, org) = world_of(&REGIONS, 2);
    let admin = org.accounts[0];
    let refused: serde_json::Map<String, serde_json::Value> =
        REGIONS.iter().map(|r| (r.to_string(), json!(["EnableOrganizationAdminAccount"]))).collect();
    emulator.faults(json!({"bad_request": refused}));
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())]).await;
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-create.json", &catcher.url, &admin))).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(answer["Reason"].as_str().unwrap().contains("could not be designated in any region"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_names_another_admin_is_refused_with_no_write_and_its_rollback_converges() {
    // given a deployed stack with account A as the delegated admin
    let (emulator, org) = world_of(&REGIONS, 3);
    let (old, new) = (org.accounts[0], org.accounts[1]);
    let function = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", old.as_str())]).await;
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-create.json", &catcher.url, &old))).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "SUCCESS");

    // when an Update names account B
    emulator.clear_log();
    let catcher = ResponseCatcher::start();
    let mut update = cfn_request("cfn-update.json", &catcher.url, &old);
    update["ResourceProperties"]["AdminAccountId"] = json!(new.to_string());
    function.handle(event(update)).await.unwrap();

    // then it answers FAILED, naming both accounts and the documented procedure, and nothing was written
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.contains(old.as_str()) && reason.contains(new.as_str()), "{reason}");
    assert!(reason.contains("DisableOrganizationAdminAccount"), "{reason}");
    let writes: Vec<String> =
        emulator.log().iter().filter(|c| c.kind == "write").map(|c| c.operation.clone()).collect();
    assert!(writes.is_empty(), "{writes:?}");

    // and CloudFormation's rollback (an Update with the old properties) succeeds
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-update.json", &catcher.url, &old))).await.unwrap();
    let answer = &catcher.received()[0].2;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["Failed"], "0", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_responder_never_writes_from_an_account_that_is_not_the_designated_admin() {
    // given a bootstrapped organization with account A designated, account B with a detector of its own in every
    // region, and a responder configured with account B
    let (emulator, org) = world_of(&REGIONS, 3);
    let (designated, configured) = (org.accounts[0], org.accounts[1]);
    emulator.enabler(settings(&designated, &[])).await.reconcile().await.expect("bootstrap");
    for region in REGIONS {
        let gd = emulator.admin_guardduty(&configured, region).await;
        if gd.list_detectors().send().await.unwrap().detector_ids().is_empty() {
            gd.create_detector().enable(true).send().await.unwrap();
        }
    }
    let responder = Responder::new(Ok(emulator.enabler(settings(&configured, &[])).await));
    let (account, _) = emulator.create_account("late").await;

    // when a new account's event arrives
    emulator.clear_log();
    let err = responder
        .handle(event(fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())])))
        .await
        .expect_err("not protected");

    // then no write was made as account B (or anyone), and the error names the designated admin
    let writes: Vec<String> =
        emulator.log().iter().filter(|c| c.kind == "write").map(|c| c.operation.clone()).collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(err.message.contains(designated.as_str()), "{err}");
}
