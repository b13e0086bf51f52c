//! Malformed and hostile input for both functions: each gets a clear error or a documented ignore, with zero
//! writes and no panic; a panic inside the work becomes an invocation error and the function keeps serving; and
//! no credential ever reaches the logs or the answers.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use bootstrapper::{Bootstrapper, Environment, ResponseSender};
use enablement::evidence::EvidenceError;
use enablement::{
    AccountId, AutoEnable, Cloud, CreateAccountStatus, DelegatedAdmin, Detector, EnabledRegion, Enabler, Error,
    FailureKind, FindingFrequency, FindingList, GuardDutyApi, ListKind, MemberAccount, MemberFeatures, Members,
    OrgAccount, OrgConfig, OrganizationApi, Plan, PolicyRecord, PublishingDestination, Root, SavedFilter, Side,
    Subtree, Unprocessed,
};
use responder::Responder;
use serde_json::{json, Value};
use system_tests::runtime::{Function, RuntimeApi};
use system_tests::{event, fixture, settings, tally, Emulator, ResponseCatcher};

/// A CreateAccountResult whose createAccountStatus is `status`.
fn created(status: Value) -> Value {
    let mut e = fixture("create-account-result-succeeded.json", &[]);
    e["detail"]["serviceEventDetails"]["createAccountStatus"] = status;
    e
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("444455556666"), |inner, _| json!({ "accountId": inner }))
}

/// The responder's corpus: (name, event, ignored) where ignored events succeed and the rest are errors.
fn responder_corpus() -> Vec<(&'static str, Value, bool)> {
    let handshake = |h: Value| {
        let mut e = fixture("accept-handshake-invite.json", &[]);
        e["detail"]["responseElements"]["handshake"] = h;
        e
    };
    let joined = |d: Value| {
        let mut e = fixture("account-joined-organization.json", &[]);
        e["detail"]["serviceEventDetails"] = d;
        e
    };
    let huge = "7".repeat(1 << 20);
    vec![
        ("null", json!(null), false),
        ("a number", json!(42), false),
        ("a string", json!("CreateAccountResult"), false),
        ("an array", json!([{"source": "aws.organizations"}]), false),
        ("a boolean", json!(true), false),
        ("an empty object", json!({}), false),
        ("source of the wrong type", json!({"source": 5, "detail-type": "x", "detail": {}}), false),
        ("no detail-type", json!({"source": "aws.organizations", "detail": {}}), false),
        (
            "a time that is not a time",
            {
                let mut e = fixture("scheduled-event.json", &[]);
                e["time"] = json!("yesterday");
                e
            },
            false,
        ),
        ("SUCCEEDED without an account id", created(json!({"state": "SUCCEEDED"})), false),
        ("an 11-digit account id", created(json!({"state": "SUCCEEDED", "accountId": "44445555666"})), false),
        ("an account id with letters", created(json!({"state": "SUCCEEDED", "accountId": "4444555566x6"})), false),
        ("an account id as a number", created(json!({"state": "SUCCEEDED", "accountId": 444455556666u64})), false),
        ("a 1 MiB account id", created(json!({"state": "SUCCEEDED", "accountId": huge})), false),
        ("an unknown state", created(json!({"state": "EXPLODED", "accountId": "444455556666"})), false),
        ("status that is a string", created(json!("SUCCEEDED")), false),
        (
            "an account outside the organization",
            created(json!({"state": "SUCCEEDED", "accountId": "999988887777"})),
            false,
        ),
        ("an invitation without parties", handshake(json!({"action": "INVITE", "state": "ACCEPTED"})), false),
        (
            "an invitation with two accounts",
            handshake(
                json!({"action": "INVITE", "state": "ACCEPTED", "parties": [{"type": "ACCOUNT", "id": "444455556666"}, {"type": "ACCOUNT", "id": "777788889999"}]}),
            ),
            false,
        ),
        (
            "a joined event with two ids",
            joined(json!({"a": {"accountId": "444455556666"}, "b": {"accountId": "777788889999"}})),
            false,
        ),
        ("a joined event without an id", joined(json!({"joinedMethod": "Created"})), false),
        ("a joined event nested 120 deep", joined(nested(120)), false),
        (
            "a managed account with a null id",
            {
                let mut e = fixture("controltower-create-managed-account.json", &[]);
                e["detail"]["serviceEventDetails"]["createManagedAccountStatus"]["account"]["accountId"] = json!(null);
                e
            },
            false,
        ),
        (
            "a CreateAccount request id that is not one",
            {
                let mut e = fixture("create-account-call.json", &[]);
                e["detail"]["responseElements"]["createAccountStatus"]["id"] = json!("car-1; DROP TABLE accounts");
                e
            },
            false,
        ),
        (
            "an S3 event",
            json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}),
            true,
        ),
        (
            "an unknown Organizations event",
            {
                let mut e = fixture("create-account-result-succeeded.json", &[]);
                e["detail"]["eventName"] = json!("LeaveOrganization");
                e
            },
            true,
        ),
        ("a region being disabled (the bootstrapper's)", fixture("region-opt-in-disabled.json", &[]), true),
        ("the schedule (the bootstrapper's)", fixture("scheduled-event.json", &[]), true),
    ]
}

/// The bootstrapper's events besides CloudFormation's: (name, event, ignored) where ignored events succeed with no
/// run and the rest are errors.
fn bootstrapper_events() -> Vec<(&'static str, Value, bool)> {
    let opt_in = |d: Value| {
        let mut e = fixture("region-opt-in-enabled.json", &[]);
        e["detail"] = d;
        e
    };
    vec![
        ("a region name that is a path", opt_in(json!({"regionName": "../../etc", "status": "ENABLED"})), false),
        ("a region opt-in without status", opt_in(json!({"regionName": "af-south-1"})), false),
        ("a region name that is a number", opt_in(json!({"regionName": 7, "status": "ENABLED"})), false),
        ("source of the wrong type", json!({"source": 5, "detail-type": "x", "detail": {}}), false),
        ("a region being disabled", fixture("region-opt-in-disabled.json", &[]), true),
        ("an account event (the responder's)", fixture("create-account-result-succeeded.json", &[]), true),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_a_clear_error_or_a_documented_ignore_with_zero_writes() {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["us-east-1"], "opt_in": []}));
    let org = emulator.organization(2, 0);
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await));
    let bootstrapper = emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", org.accounts[0].as_str())]).await;
    emulator.clear_log();
    let mut count = 0;

    for (name, payload, ignored) in responder_corpus() {
        let answer = responder.handle(event(payload)).await;
        match (ignored, &answer) {
            (true, Ok(v)) => assert!(v["request"]["request"] == "ignore" || v.get("ignored").is_some(), "{name}: {v}"),
            (false, Err(e)) => {
                let message = e.to_string();
                assert!(message.len() < 400, "{name}: an error that long is not clear: {} bytes", message.len());
                assert!(!message.is_empty(), "{name}");
            }
            _ => panic!("{name}: expected {}, got {answer:?}", if ignored { "an ignore" } else { "an error" }),
        }
        count += 1;
    }

    let catcher = ResponseCatcher::start();
    let ids = json!({"StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1", "RequestId": "r-1", "LogicalResourceId": "Bootstrap"});
    let with = |extra: Value| {
        let mut v = ids.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    // (name, request, None where it is answered FAILED to the ResponseURL, else the kind of its invocation error)
    let bootstrapper_corpus = vec![
        ("null", json!(null), Some(FailureKind::InvalidRequest)),
        ("an array", json!([1, 2, 3]), Some(FailureKind::InvalidRequest)),
        ("a string", json!("Create"), Some(FailureKind::InvalidRequest)),
        ("a number", json!(7), Some(FailureKind::InvalidRequest)),
        ("Create without a ResponseURL", json!({"RequestType": "Create"}), Some(FailureKind::MalformedRequest)),
        (
            "an unknown RequestType",
            with(json!({"RequestType": "Explode", "ResponseURL": catcher.url, "ResourceType": "Custom::X"})),
            None,
        ),
        ("a RequestType that is a number", with(json!({"RequestType": 1, "ResponseURL": catcher.url})), None),
        ("a ResponseURL but no RequestType", with(json!({"ResponseURL": catcher.url})), None),
        (
            "Create without a StackId",
            json!({"RequestType": "Create", "ResponseURL": catcher.url, "RequestId": "r", "LogicalResourceId": "l"}),
            Some(FailureKind::MalformedRequest),
        ),
        (
            "a ResponseURL that is not a URL",
            with(
                json!({"RequestType": "Delete", "ResponseURL": "not a url", "ResourceType": "Custom::X", "PhysicalResourceId": "p", "ResourceProperties": {}}),
            ),
            Some(FailureKind::ResponseNotDelivered),
        ),
        (
            "an ftp ResponseURL",
            with(
                json!({"RequestType": "Delete", "ResponseURL": "ftp://example.com/x", "ResourceType": "Custom::X", "PhysicalResourceId": "p", "ResourceProperties": {}}),
            ),
            Some(FailureKind::ResponseNotDelivered),
        ),
    ];
    for (name, payload, ignored) in bootstrapper_events() {
        let answer = bootstrapper.handle(event(payload)).await;
        match (ignored, &answer) {
            (true, Ok(v)) => assert_eq!(v["request"]["request"], "ignore", "{name}: {v}"),
            (false, Err(e)) => assert_eq!(e.kind, FailureKind::MalformedEvent, "{name}: {e}"),
            _ => panic!("{name}: expected {}, got {answer:?}", if ignored { "an ignore" } else { "an error" }),
        }
        count += 1;
    }
    let mut answered = 0;
    for (name, payload, error) in bootstrapper_corpus {
        let before = catcher.received().len();
        let answer = bootstrapper.handle(event(payload)).await;
        let after = catcher.received();
        if let Some(kind) = error {
            assert_eq!(answer.as_ref().map_err(|e| e.kind).err(), Some(kind), "{name}: {answer:?}");
            assert_eq!(after.len(), before, "{name}: nothing to answer");
        } else {
            assert!(answer.is_ok(), "{name}: {answer:?}");
            assert_eq!(after.len(), before + 1, "{name}: one answer");
            assert_eq!(after[before].2["Status"], "FAILED", "{name}");
            assert!(after[before].2["Reason"].as_str().unwrap().contains("malformed"), "{name}");
            answered += 1;
        }
        count += 1;
    }

    assert!(count >= 30, "{count} inputs");
    assert_eq!(answered, 3);
    let calls = tally(&emulator.log());
    assert_eq!(calls.writes, 0, "{:?}", calls.by_operation);
    println!("{count} bad inputs: 0 writes, 0 panics; AWS calls made: {:?}", calls.by_operation);
}

/// A cloud whose every call panics.
struct Exploding;

fn boom<T>() -> T {
    panic!("injected failure")
}

impl GuardDutyApi for Exploding {
    async fn detector_id(&self) -> Result<Option<String>, Error> {
        boom()
    }
    async fn get_detector(&self, _: &str) -> Result<Detector, Error> {
        boom()
    }
    async fn create_detector(&self, _: &[Plan], _: Option<FindingFrequency>) -> Result<String, Error> {
        boom()
    }
    async fn update_detector(&self, _: &str, _: &[Plan], _: Option<FindingFrequency>) -> Result<(), Error> {
        boom()
    }
    async fn delegated_admins(&self) -> Result<Vec<DelegatedAdmin>, Error> {
        boom()
    }
    async fn designate_admin(&self, _: &AccountId) -> Result<(), Error> {
        boom()
    }
    async fn org_config(&self, _: &str) -> Result<OrgConfig, Error> {
        boom()
    }
    async fn update_org_config(&self, _: &str, _: AutoEnable, _: &[Plan], _: &[String]) -> Result<(), Error> {
        boom()
    }
    async fn list_members(&self, _: &str) -> Result<Members, Error> {
        boom()
    }
    async fn get_members(&self, _: &str, _: &[AccountId]) -> Result<Members, Error> {
        boom()
    }
    async fn member_features(&self, _: &str, _: &[AccountId]) -> Result<MemberFeatures, Error> {
        boom()
    }
    async fn update_member_features(
        &self,
        _: &str,
        _: &[AccountId],
        _: &[Plan],
        _: &[String],
    ) -> Result<Unprocessed, Error> {
        boom()
    }
    async fn publishing_destinations(&self, _: &str) -> Result<Vec<(String, String)>, Error> {
        boom()
    }
    async fn publishing_destination(&self, _: &str, _: &str) -> Result<PublishingDestination, Error> {
        boom()
    }
    async fn create_publishing_destination(&self, _: &str, _: &str, _: &str, _: &str) -> Result<String, Error> {
        boom()
    }
    async fn update_publishing_destination(&self, _: &str, _: &str, _: &str, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn create_members(&self, _: &str, _: &[MemberAccount]) -> Result<Unprocessed, Error> {
        boom()
    }
    async fn start_monitoring(&self, _: &str, _: &[AccountId]) -> Result<Unprocessed, Error> {
        boom()
    }
    async fn delete_members(&self, _: &str, _: &[AccountId]) -> Result<Unprocessed, Error> {
        boom()
    }
    async fn filter_names(&self, _: &str) -> Result<Vec<String>, Error> {
        boom()
    }
    async fn filter(&self, _: &str, _: &str) -> Result<SavedFilter, Error> {
        boom()
    }
    async fn list_ids(&self, _: &str, _: ListKind) -> Result<Vec<String>, Error> {
        boom()
    }
    async fn list(&self, _: &str, _: ListKind, _: &str) -> Result<FindingList, Error> {
        boom()
    }
    async fn set_filter_action(&self, _: &str, _: &str, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn set_list_active(&self, _: &str, _: ListKind, _: &str, _: bool) -> Result<(), Error> {
        boom()
    }

    async fn usage_by_feature(&self, _: &str, _: &[AccountId]) -> Result<Vec<enablement::Cost>, Error> {
        boom()
    }
}

impl OrganizationApi for Exploding {
    async fn management_account(&self) -> Result<AccountId, Error> {
        boom()
    }
    async fn organization_id(&self) -> Result<String, Error> {
        boom()
    }
    async fn accounts(&self) -> Result<Vec<OrgAccount>, Error> {
        boom()
    }
    async fn account(&self, _: &AccountId) -> Result<Option<OrgAccount>, Error> {
        boom()
    }
    async fn subtree(&self, _: &str) -> Result<Subtree, Error> {
        boom()
    }
    async fn parent(&self, _: &str) -> Result<String, Error> {
        boom()
    }
    async fn root(&self) -> Result<Root, Error> {
        boom()
    }
    async fn guardduty_policies(&self) -> Result<Vec<PolicyRecord>, Error> {
        boom()
    }
    async fn policy_content(&self, _: &str) -> Result<String, Error> {
        boom()
    }
    async fn policy_targets(&self, _: &str) -> Result<Vec<String>, Error> {
        boom()
    }
    async fn effective_policy(&self, _: &AccountId) -> Result<Option<String>, Error> {
        boom()
    }
    async fn invalid_policy_accounts(&self) -> Result<Vec<AccountId>, Error> {
        boom()
    }
    async fn policy_tags(&self, _: &str) -> Result<std::collections::BTreeMap<String, String>, Error> {
        boom()
    }
    async fn tag_policy(&self, _: &str, _: &str, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn create_policy(&self, _: &str, _: &str, _: &str, _: (&str, &str)) -> Result<String, Error> {
        boom()
    }
    async fn delete_policy(&self, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn disable_policy_type(&self, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn update_policy(&self, _: &str, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn enable_policy_type(&self, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn attach_policy(&self, _: &str, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn detach_policy(&self, _: &str, _: &str) -> Result<(), Error> {
        boom()
    }
    async fn create_account_status(&self, _: &str) -> Result<CreateAccountStatus, Error> {
        boom()
    }
    async fn trusted_services(&self) -> Result<Vec<String>, Error> {
        boom()
    }
    async fn enable_trusted_service(&self, _: &str) -> Result<(), Error> {
        boom()
    }
}

impl Cloud for Exploding {
    type GuardDuty = Exploding;
    type Organization = Exploding;
    fn home_region(&self) -> &str {
        "us-east-1"
    }
    fn guardduty(&self, _: Side, _: &str) -> Exploding {
        Exploding
    }
    fn organization(&self) -> &Exploding {
        &Exploding
    }
    async fn enabled_regions(&self, _: Side) -> Result<Vec<EnabledRegion>, Error> {
        boom()
    }
}

fn exploding_enabler() -> Enabler<Exploding> {
    Enabler::new(Exploding, enablement::Settings::with_admin("222233334444".parse().unwrap()))
}

#[tokio::test]
async fn a_panic_becomes_an_invocation_error_and_the_next_invocation_is_served() {
    // the responder: an error for the panicking event, then an ignored event served, then an error again
    let responder = Responder::new(Ok(exploding_enabler()));
    let created = fixture("create-account-result-succeeded.json", &[]);
    let err = responder.handle(event(created.clone())).await.expect_err("the panic is an error");
    assert!(err.to_string().contains("internal error"), "{err}");
    assert_eq!(err.kind, FailureKind::InternalError);
    assert!(responder.handle(event(fixture("ec2-instance-state-change.json", &[]))).await.is_ok());
    let again = responder.handle(event(created)).await.expect_err("the panic is an error again");
    assert_eq!(again.kind, FailureKind::InternalError);

    // the bootstrapper: CloudFormation still gets exactly one FAILED, with the panic's message
    let env = Environment {
        lookup: Arc::new(|name| (name == "GUARDDUTY_ADMIN_ACCOUNT_ID").then(|| "222233334444".to_owned())),
        connect: Arc::new(|settings| Box::pin(async move { Enabler::new(Exploding, settings) })),
        keep: Arc::new(|_, _| Box::pin(async { Err(EvidenceError::Dates("no record is kept here".into())) })),
    };
    let bootstrapper = Bootstrapper::new(env, ResponseSender::new().unwrap()).await;
    let catcher = ResponseCatcher::start();
    bootstrapper
        .handle(event(fixture("cfn-create.json", &[("http://127.0.0.1:1/response", &catcher.url)])))
        .await
        .expect("answered");
    let received = catcher.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].2["Status"], "FAILED");
    assert!(received[0].2["Reason"].as_str().unwrap().contains("injected failure"), "{}", received[0].2);
    // and its schedule: an invocation error, the next invocation served
    let err =
        bootstrapper.handle(event(fixture("scheduled-event.json", &[]))).await.expect_err("the panic is an error");
    assert_eq!(err.kind, FailureKind::InternalError, "{err}");
    assert!(bootstrapper.handle(event(fixture("region-opt-in-disabled.json", &[]))).await.is_ok());
}

#[test]
fn no_credential_reaches_the_logs_or_the_answers_even_at_trace_level() {
    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzSECRETzzKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEzzSESSIONzzTOKENzz";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["us-east-1", "eu-west-1"], "opt_in": []}));
    let org = emulator.organization(3, 0);
    let api = RuntimeApi::start();
    let admin = org.accounts[0].to_string();
    let function = Function::start(
        "responder",
        &api,
        &[
            ("AWS_ENDPOINT_URL", &emulator.url),
            ("GUARDDUTY_ADMIN_ACCOUNT_ID", &admin),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", TOKEN),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("RUST_LOG", "trace"),
        ],
    );
    let mut answers = Vec::new();
    let bootstrapper_api = RuntimeApi::start();
    let bootstrapper = Function::start(
        "bootstrapper",
        &bootstrapper_api,
        &[
            ("AWS_ENDPOINT_URL", &emulator.url),
            ("GUARDDUTY_ADMIN_ACCOUNT_ID", &admin),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", TOKEN),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("RUST_LOG", "trace"),
        ],
    );
    answers.push(bootstrapper_api.invoke(&fixture("scheduled-event.json", &[]), Duration::from_secs(60)));
    let bootstrapper_logs = bootstrapper.stop();
    let (account, _) = runtime.block_on(emulator.create_account("secretive"));
    answers.push(api.invoke(
        &fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]),
        Duration::from_secs(30),
    ));
    answers.push(api.invoke(&json!({"source": "aws.organizations"}), Duration::from_secs(10)));
    let logs = function.stop() + &bootstrapper_logs;
    let everything = format!("{logs}\n{answers:?}");
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    assert!(logs.len() > 10_000, "trace logging was on ({} bytes)", logs.len());
    for needle in [SECRET, TOKEN, "SecretAccessKey", "SessionToken", "FQoGZXIvYXdzE", "aws_secret_access_key"] {
        assert!(!everything.contains(needle), "{needle} appeared in the output");
    }
    println!("scanned {} bytes of logs and answers: no credential", everything.len());
}
