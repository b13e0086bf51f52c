//! A burst of new accounts through the queue: the responder takes an SQS batch of EventBridge events, enrols the
//! accounts together, and names in `batchItemFailures` only the records whose accounts did not end protected.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::time::Duration;

use enablement::AccountId;
use responder::{CreationPolling, Responder};
use serde_json::{json, Value};
use system_tests::runtime::{Function, RuntimeApi};
use system_tests::{event, fixture, members, settings, sqs_batch, world_of, Emulator, Org};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

/// An emulator with 3 regions and an organization of `accounts`, its first account the admin, bootstrapped.
async fn bootstrapped(accounts: usize) -> (Emulator, Org) {
    let (emulator, org) = world_of(&REGIONS, accounts);
    emulator.enabler(settings(&org.accounts[0], &[])).await.reconcile().await.expect("bootstrap");
    (emulator, org)
}

/// The two events that announce a new account: the creation's result and its joining.
fn announced(account: &AccountId, management: &AccountId) -> [Value; 2] {
    let ids = [("444455556666", account.as_str()), ("111122223333", management.as_str())];
    [fixture("create-account-result-succeeded.json", &ids), fixture("account-joined-organization.json", &ids)]
}

/// `n` new accounts, and the records of the events that announce each (`m-<account>-<event>`).
async fn new_accounts(emulator: &Emulator, org: &Org, name: &str, n: usize) -> (Vec<AccountId>, Vec<(String, Value)>) {
    let mut records = Vec::new();
    let mut accounts = Vec::new();
    for i in 0..n {
        let (account, _) = emulator.create_account(&format!("{name}{i}")).await;
        for (e, body) in announced(&account, &org.management).into_iter().enumerate() {
            records.push((format!("m-{i}-{e}"), body));
        }
        accounts.push(account);
    }
    (accounts, records)
}

fn failures(answer: &Value) -> BTreeSet<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures: {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn enabled_everywhere(emulator: &Emulator, account: &AccountId) -> bool {
    let state = emulator.state();
    REGIONS.iter().all(|r| members(&state, r).get(account.as_str()).map(String::as_str) == Some("Enabled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_new_accounts_is_enrolled_with_one_create_members_per_region_and_bad_records_alone_go_back() {
    // given a bootstrapped organization and twelve new accounts, each announced twice, in one batch with an event
    // this function does not handle and a record whose body is not an event
    let (emulator, org) = bootstrapped(3).await;
    let (accounts, mut records) = new_accounts(&emulator, &org, "burst", 12).await;
    records.push(("m-ignored".into(), fixture("ec2-instance-state-change.json", &[])));
    records.push(("m-garbled".into(), Value::String("{\"source\": \"aws.organizations\"".into())));
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await));
    emulator.clear_log();

    // when the responder takes the batch
    let answer = responder.handle(event(sqs_batch(&records))).await.expect("a batch answer");

    // then only the garbled record goes back to the queue (to end in its dead-letter queue), every account is an
    // Enabled member everywhere, and each region took one CreateMembers and one GetMembers for all twelve
    assert_eq!(failures(&answer), BTreeSet::from(["m-garbled".to_owned()]), "{answer}");
    for account in &accounts {
        assert!(enabled_everywhere(&emulator, account), "{account}");
    }
    let log = emulator.log();
    for region in REGIONS {
        let count = |op: &str| log.iter().filter(|c| c.region == region && c.operation == op).count();
        assert_eq!(count("CreateMembers"), 1, "{region}");
        assert_eq!(count("GetMembers"), 1, "{region}");
    }
    let described: Vec<_> = log.iter().filter(|c| c.operation == "DescribeAccount").collect();
    assert_eq!(described.len(), 12, "each account's standing read once, whatever the number of its events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_records_of_accounts_that_did_not_end_protected_are_named() {
    // given three new accounts, one of which GuardDuty will not make a member, and a stranger to the organization
    let (emulator, org) = bootstrapped(3).await;
    let (accounts, mut records) = new_accounts(&emulator, &org, "new", 3).await;
    let stuck = accounts[1];
    emulator.world(
        json!({"refused_members": {stuck.as_str(): "The request is rejected because the account is being closed."}}),
    );
    let stranger: AccountId = "999988887777".parse().unwrap();
    records.push(("m-stranger".into(), announced(&stranger, &org.management)[0].clone()));
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await));

    // when the responder takes the batch
    let answer = responder.handle(event(sqs_batch(&records))).await.expect("a batch answer");

    // then the stuck account's two records and the stranger's go back, and no other
    let expected: BTreeSet<String> = ["m-1-0", "m-1-1", "m-stranger"].into_iter().map(str::to_owned).collect();
    assert_eq!(failures(&answer), expected, "{answer}");
    assert!(enabled_everywhere(&emulator, &accounts[0]) && enabled_everywhere(&emulator, &accounts[2]));
    assert!(!enabled_everywhere(&emulator, &stuck));
}

#[test]
fn the_real_binary_takes_a_batch_and_publishes_one_onboarding_time_per_account() {
    // given the responder binary polling a local runtime API, and a new account announced by two events
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (emulator, org) = runtime.block_on(bootstrapped(2));
    let api = RuntimeApi::start();
    let admin = org.accounts[0].to_string();
    let function = Function::start(
        "responder",
        &api,
        &[("AWS_ENDPOINT_URL", &emulator.url), ("GUARDDUTY_ADMIN_ACCOUNT_ID", &admin)],
    );
    let (account, _) = runtime.block_on(emulator.create_account("twice"));
    let records: Vec<(String, Value)> = announced(&account, &org.management)
        .into_iter()
        .enumerate()
        .map(|(n, body)| (format!("m-{n}"), body))
        .collect();

    // when the batch arrives
    let answer = api.invoke(&sqs_batch(&records), Duration::from_secs(60)).expect("a batch answer");

    // then nothing goes back, the account is protected, and OnboardingSeconds is published once for it
    assert_eq!(failures(&answer), BTreeSet::new(), "{answer}");
    assert!(enabled_everywhere(&emulator, &account));
    let logs = function.stop();
    let timings = logs.lines().filter(|l| l.contains("\"OnboardingSeconds\":")).count();
    assert_eq!(timings, 1, "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_creation_still_in_progress_holds_up_no_other_account_of_its_batch() {
    // given a batch with a new account ready, and the CreateAccount call of another whose creation is still running
    let (emulator, org) = bootstrapped(2).await;
    let (ready, _) = emulator.create_account("ready").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (slow, request_id) = emulator.create_account("slow").await;
    emulator.world(json!({"create_account_seconds": 1.4}));
    let records = vec![
        (
            "m-slow".to_owned(),
            fixture("create-account-call.json", &[("car-4b1f3e2cf2fa11ed8b6e0a41b5dcf48f", &request_id)]),
        ),
        ("m-ready".to_owned(), announced(&ready, &org.management)[0].clone()),
    ];
    let fast = CreationPolling {
        first: Duration::from_millis(100),
        longest: Duration::from_millis(200),
        total: Duration::from_secs(30),
    };
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await)).with_polling(fast);
    emulator.clear_log();
    // when the responder takes the batch
    let answer = responder.handle(event(sqs_batch(&records))).await.expect("a batch answer");
    // then both accounts end protected, and the ready one was enrolled while the other's creation was still polled
    assert_eq!(failures(&answer), BTreeSet::new(), "{answer}");
    assert!(enabled_everywhere(&emulator, &ready) && enabled_everywhere(&emulator, &slow));
    let log = emulator.log();
    let first_enrolment =
        log.iter().filter(|c| c.operation == "CreateMembers").map(|c| c.time).fold(f64::MAX, f64::min);
    let last_poll =
        log.iter().filter(|c| c.operation == "DescribeCreateAccountStatus").map(|c| c.time).fold(f64::MIN, f64::max);
    assert!(
        first_enrolment < last_poll,
        "the first CreateMembers came {:.2} s after the last poll",
        first_enrolment - last_poll
    );
}
