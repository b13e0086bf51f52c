//! The IAM actions the templates grant are exactly the ones the code needs. Runs every code path of both functions
//! against the emulator, reads from its request log which identity called what, adds what AWS requires alongside
//! those calls, and compares with each role's policies. Fails on a call the policy does not allow, and on an
//! allowed action that nothing needs.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};

use enablement::flaps::Ledger;
use responder::Responder;
use serde_json::json;
use serde_yaml_ng::Value as Yaml;
use system_tests::{
    admin_sdk_config, cfn_request, event, fixture, ledger_table, logging_trail, root, settings, tamper_forwarders,
    tamper_rules, Emulator, Org, ResponseCatcher,
};

type Actions = BTreeSet<String>;

/// What AWS requires besides the action of the call itself (from the services' documentation).
fn implied(action: &str) -> &'static [&'static str] {
    match action {
        // "Permissions required to designate a delegated GuardDuty administrator account" (GuardDuty User Guide).
        "guardduty:EnableOrganizationAdminAccount" => &[
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:DescribeOrganizationalUnit",
            "organizations:DescribeAccount",
            "organizations:DescribeOrganization",
            "organizations:ListAccounts",
        ],
        // The first detector creates GuardDuty's service-linked roles.
        "guardduty:CreateDetector" => &["iam:CreateServiceLinkedRole"],
        // "If the request includes tags, then the requester must have the organizations:TagResource permission"
        // (CreatePolicy API reference): this tool tags the policies it owns.
        "organizations:CreatePolicy" => &["organizations:TagResource"],
        // "Exporting generated findings to Amazon S3", Step 1, and the dependent actions of the two operations.
        "guardduty:CreatePublishingDestination" | "guardduty:UpdatePublishingDestination" => {
            &["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"]
        }
        // "To have full access to work with trusted IP lists and threat lists (in addition to renaming and
        // deactivating, this includes adding, activating, ...)": iam:PutRolePolicy and iam:DeleteRolePolicy on
        // GuardDuty's service-linked role ("Setting up prerequisites for entity lists and IP address lists",
        // GuardDuty User Guide). The tool only activates a threat list (a revert); it deactivates trusted ones.
        "guardduty:UpdateThreatIntelSet" => &["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        // An upload to a bucket encrypted by default with a KMS key needs kms:GenerateDataKey ("Using server-side
        // encryption with AWS KMS keys", Amazon S3 User Guide): the evidence record's bucket may be one.
        "s3:PutObject" => &["kms:GenerateDataKey"],
        // A target with a role: "To pass a role to EventBridge, the caller needs iam:PassRole" (EventBridge User
        // Guide, "Using identity-based policies for Amazon EventBridge": PutTargets with RoleArn).
        "events:PutTargets" => &["iam:PassRole"],
        _ => &[],
    }
}

/// What the Lambda platform does with a function's role: write its logs, and (responder) dead-letter failed
/// asynchronous invocations.
const LOGS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];

fn with_implied(calls: &Actions) -> Actions {
    calls
        .iter()
        .flat_map(|a| std::iter::once(a.as_str()).chain(implied(a).iter().copied()))
        .map(str::to_owned)
        .collect()
}

/// The actions every statement of a role's policies allows: its inline policies, and the managed policies of the
/// same template it names in ManagedPolicyArns.
fn granted(template: &str, role: &str) -> Actions {
    let text = std::fs::read_to_string(root().join("infra").join(template)).expect("template");
    let doc: Yaml = serde_yaml_ng::from_str(&text).expect("YAML");
    let properties = &doc["Resources"][role]["Properties"];
    let mut documents: Vec<&Yaml> = properties["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{role} has no policies"))
        .iter()
        .map(|p| &p["PolicyDocument"])
        .collect();
    for arn in properties["ManagedPolicyArns"].as_sequence().into_iter().flatten() {
        let Yaml::Tagged(tagged) = arn else { panic!("{role}: a managed policy that is not a !Ref: {arn:?}") };
        let name = tagged.value.as_str().expect("a resource name");
        documents.push(&doc["Resources"][name]["Properties"]["PolicyDocument"]);
    }
    let mut actions = Actions::new();
    for statement in documents.iter().flat_map(|d| d["Statement"].as_sequence().expect("statements")) {
        // A statement granted on a condition (`!If [Condition, Statement, !Ref AWS::NoValue]`) counts as granted: the
        // scenario runs the configuration that grants it.
        let statement = match statement {
            Yaml::Tagged(t) if t.tag == "If" => &t.value.as_sequence().expect("!If takes a list")[1],
            other => other,
        };
        assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{role}: only Allow statements expected");
        match &statement["Action"] {
            Yaml::String(a) => {
                actions.insert(a.clone());
            }
            Yaml::Sequence(list) => actions.extend(list.iter().map(|a| a.as_str().expect("action").to_owned())),
            other => panic!("{role}: unexpected Action {other:?}"),
        }
    }
    assert!(actions.iter().all(|a| !a.contains('*')), "{role} grants a wildcard action: {actions:?}");
    actions
}

/// Every AWS SDK operation the library calls for the functions, from its adapters' source: `client.<operation>()` call
/// sites (the call may continue on the next line).
fn operations_in_code() -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("shared/src/aws")).expect("adapters") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(path).expect("source");
        for piece in source.split("client").skip(1) {
            let Some(rest) = piece.trim_start().strip_prefix('.') else { continue };
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() && rest[name.len()..].starts_with("()") {
                ops.insert(name.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect::<String>());
            }
        }
    }
    ops
}

/// Adds the calls in the emulator's log, by identity ("management" | "admin"), as IAM actions.
fn add_calls(by: &mut BTreeMap<&'static str, Actions>, emulator: &Emulator, org: &Org) {
    for call in emulator.log() {
        let who = if call.account == org.management.as_str() {
            "management"
        } else if call.account == org.accounts[0].as_str() {
            "admin"
        } else {
            panic!("a call as an unexpected account: {call:?}");
        };
        by.entry(who).or_default().insert(format!("{}:{}", call.service, call.operation));
    }
}

/// The operations only the command line calls (`retire-policy`, `usage`): the functions never retire a policy, and
/// their roles are not granted these (the grants must equal what the functions call).
const COMMAND_LINE_ONLY: [&str; 3] = ["DeletePolicy", "DisablePolicyType", "GetUsageStatistics"];

/// What the admin role grants for the command line alone, which operators run through it (`OperatorRoleArns`):
/// `usage` reads GuardDuty's cost estimate as the delegated admin.
const ADMIN_ROLE_COMMAND_LINE: [&str; 1] = ["guardduty:GetUsageStatistics"];

/// A fresh organization whose management account has a disabled detector in us-east-1 (to be re-enabled), an
/// excluded organizational unit (to be walked) holding account 3, a unit with plans of its own holding account 2
/// (returned second), and an invitation-era member record (to be replaced).
async fn scenario() -> (Emulator, Org, String, String) {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["us-east-1", "eu-west-1"], "opt_in": ["af-south-1"]}));
    let org = emulator.organization(4, 0);
    // an opt-in region the members have not enabled: their RegionDisabled records are re-checked (with trusted access
    // for Account Management, GetRegionOptStatus with their AccountId)
    let both = json!({org.management.as_str(): ["af-south-1"], org.accounts[0].as_str(): ["af-south-1"]});
    emulator.regions(json!({"enabled": both}));
    let config = emulator.sdk_config().await;
    let gd = aws_sdk_guardduty::Client::new(&config);
    let id = gd.create_detector().enable(true).send().await.unwrap().detector_id().unwrap().to_owned();
    gd.update_detector().detector_id(&id).enable(false).send().await.unwrap();
    let orgs = aws_sdk_organizations::Client::new(&config);
    let root_id = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let ou = orgs.create_organizational_unit().parent_id(&root_id).name("excluded").send().await.unwrap();
    let ou = ou.organizational_unit().unwrap().id().unwrap().to_owned();
    orgs.enable_aws_service_access().service_principal("account.amazonaws.com").send().await.unwrap();
    let unit = orgs.create_organizational_unit().parent_id(&root_id).name("units").send().await.unwrap();
    let unit = unit.organizational_unit().unwrap().id().unwrap().to_owned();
    for (account, to) in [(3, &ou), (2, &unit)] {
        orgs.move_account()
            .account_id(org.accounts[account].as_str())
            .source_parent_id(&root_id)
            .destination_parent_id(to)
            .send()
            .await
            .unwrap();
    }
    emulator.seed_members("us-east-1", &org.accounts[0], &[(&org.accounts[2], "Invited")]);
    let buckets = json!({"findings": {"region": "us-east-1", "owner": "999988887777"}, "elsewhere": {"region": "us-east-1", "owner": "999988887777"}});
    // the bucket of the evidence record, which the schedule keeps
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    s3.create_bucket().bucket("evidence").send().await.unwrap();
    emulator.control("POST", "/_emulator/export", &json!({"buckets": buckets, "verification_seconds": 0}));
    // a Control Tower landing zone that governs both regions: its governed regions are read
    let governed = ["us-east-1", "eu-west-1", "af-south-1"];
    emulator.world(json!({"landing_zone": {"home": "us-east-1", "governed_regions": governed}}));
    emulator.clear_log();
    (emulator, org, ou, unit)
}

/// Findings exported to a bucket (the policy-mode phases turn it on).
const EXPORT: [(&str, &str); 2] = [
    ("GUARDDUTY_FINDINGS_DESTINATION", "arn:aws:s3:::findings"),
    ("GUARDDUTY_FINDINGS_KMS_KEY", "arn:aws:kms:us-east-1:999988887777:key/findings"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_granted_exactly_what_the_code_calls_and_what_those_calls_require() {
    // (boxed: each scenario's future is large for a test thread's stack)
    let bootstrapper_calls = Box::pin(bootstrapper_calls()).await;
    let responder_calls = Box::pin(responder_calls()).await;

    // every operation in the code was exercised (but those only the command line calls)
    let exercised: BTreeSet<String> = bootstrapper_calls
        .values()
        .chain(responder_calls.values())
        .flatten()
        .map(|a| a.split(':').nth(1).unwrap().to_ascii_lowercase())
        .chain(COMMAND_LINE_ONLY.iter().map(|o| o.to_ascii_lowercase()))
        .collect();
    // (the SDK spells EnableAWSServiceAccess enable_aws_service_access: compared without case)
    let in_code: BTreeSet<String> = operations_in_code().iter().map(|o| o.to_ascii_lowercase()).collect();
    let missing: Vec<_> = in_code.difference(&exercised).cloned().collect();
    assert!(missing.is_empty(), "the scenario does not exercise {missing:?}; extend it so that the check covers them");

    // the function roles: their management-side calls, what those require, and the platform's needs
    for (role, calls, extra) in [
        // its on-failure destination
        ("BootstrapperRole", &bootstrapper_calls, &[LOGS[0], LOGS[1], "sqs:SendMessage"][..]),
        // the function's own dead letters, and what the account events' event source mapping needs of its queue
        (
            "ResponderRole",
            &responder_calls,
            &[LOGS[0], LOGS[1], "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
                [..],
        ),
    ] {
        let mut expected = with_implied(&calls["management"]);
        expected.extend(extra.iter().map(|s| s.to_string()));
        assert_grants("template.yaml", role, &expected);
    }

    // the admin role: every call made as the admin account, by either function
    let mut admin_calls: Actions = bootstrapper_calls["admin"].union(&responder_calls["admin"]).cloned().collect();
    admin_calls.extend(ADMIN_ROLE_COMMAND_LINE.iter().map(|a| a.to_string()));
    assert_grants("admin-role.yaml", "AdminRole", &with_implied(&admin_calls));

    // the admin account's opt-in forwarder may only put events on the management account's default bus
    assert_grants("admin-role.yaml", "RegionOptInForwarderRole", &["events:PutEvents".to_owned()].into());
}

/// The bootstrapper's calls: a Create on a fresh organization; in policy mode a Create that writes the policy and
/// an Update that puts an edited, stray policy back; its schedule on a fresh organization, drift and its repair (with
/// what its check that tamper detection can work reads); in policy mode the schedule twice around tampering; a
/// region's opt-in; and the stack's Delete (which removes the management account's forwarders).
async fn bootstrapper_calls() -> BTreeMap<&'static str, Actions> {
    let mut calls = BTreeMap::new();
    let (emulator, org, ou, unit) = scenario().await;
    let admin = org.accounts[0].to_string();
    let by_ou = format!("{unit}=FOUNDATIONAL");
    let rules = detectable(&emulator, &org).await;
    let forward_role = format!("arn:aws:iam::{}:role/guardduty-enabler-guardduty-calls", org.management);
    let vars = [
        ("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str()),
        ("GUARDDUTY_AUTO_ENABLE", "NONE"),
        ("GUARDDUTY_EXCLUDED_OUS", ou.as_str()),
        ("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str()),
        ("GUARDDUTY_EVIDENCE_BUCKET", "evidence"),
        ("TAMPER_RULE_NAMES", rules.as_str()),
        ("TAMPER_FORWARDER", "guardduty-enabler-guardduty-calls"),
        ("TAMPER_FORWARD_ROLE_ARN", forward_role.as_str()),
    ];
    let table = ledger_table(&emulator).await;
    emulator.clear_log(); // the table is the template's
    let function = emulator.bootstrapper(&vars).await.with_ledger(Ledger::table(&emulator.sdk_config().await, table));
    let catcher = ResponseCatcher::start();
    let mut request = cfn_request("cfn-create.json", &catcher.url, &org.accounts[0]);
    request["ResourceProperties"]["AutoEnable"] = json!("NONE");
    request["ResourceProperties"]["ExcludedOus"] = json!(ou);
    request["ResourceProperties"]["FeaturesByOu"] = json!(by_ou);
    function.handle(event(request)).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "SUCCESS", "{:?}", catcher.received());
    add_calls(&mut calls, &emulator, &org);
    break_the_state(&emulator, &org).await;
    // (a key held for flapping in a region no longer governed: the schedule releases it)
    hold_a_key(&emulator, table, &org.accounts[0]).await;
    let scheduled = function.handle(event(fixture("scheduled-event.json", &[]))).await.unwrap();
    assert_eq!(scheduled["flapping"]["released"].as_array().map(Vec::len), Some(1), "{}", scheduled["flapping"]);
    let opt_in = fixture("region-opt-in-enabled.json", &[("af-south-1", "us-east-1")]);
    function.handle(event(opt_in)).await.unwrap();
    let catcher = ResponseCatcher::start();
    function.handle(event(cfn_request("cfn-delete.json", &catcher.url, &org.accounts[0]))).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "SUCCESS", "{:?}", catcher.received());
    add_calls(&mut calls, &emulator, &org);

    let (emulator, org, ou, _) = scenario().await;
    let admin = org.accounts[0].to_string();
    let vars = [
        ("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str()),
        ("GUARDDUTY_ENABLEMENT", "policy"),
        ("GUARDDUTY_EXCLUDED_OUS", ou.as_str()),
        EXPORT[0],
        EXPORT[1],
    ];
    // (a part of a policy an earlier release wrote, untagged: adopted, which tags it)
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let earlier =
        json!({"guardduty": {"enablement": {"us-east-1": {"foundational": {"status": {"@@assign": "enabled"}}}}}});
    orgs.create_policy()
        .r#type(aws_sdk_organizations::types::PolicyType::GuarddutyPolicy)
        .name("guardduty-enabler-2")
        .description("GuardDuty and its protection plans in every governed region (guardduty-enabler)")
        .content(earlier.to_string())
        .send()
        .await
        .unwrap();
    emulator.clear_log();
    let function = emulator.bootstrapper(&vars).await;
    for kind in ["cfn-create.json", "cfn-update.json"] {
        let catcher = ResponseCatcher::start();
        let mut request = cfn_request(kind, &catcher.url, &org.accounts[0]);
        request["ResourceProperties"]["Enablement"] = json!("policy");
        request["ResourceProperties"]["ExcludedOus"] = json!(ou);
        request["ResourceProperties"]["FindingsDestination"] = json!(EXPORT[0].1);
        request["ResourceProperties"]["FindingsKmsKey"] = json!(EXPORT[1].1);
        function.handle(event(request)).await.unwrap();
        assert_eq!(catcher.received()[0].2["Status"], "SUCCESS", "{kind}: {:?}", catcher.received());
        add_calls(&mut calls, &emulator, &org);
        tamper_with_the_policy(&emulator, &org, &ou).await;
    }
    for _ in 0..2 {
        function.handle(event(fixture("scheduled-event.json", &[]))).await.unwrap();
        add_calls(&mut calls, &emulator, &org);
        tamper_with_the_policy(&emulator, &org, &ou).await;
    }

    calls
}

/// A key held in the table of tamper repairs, for a region the scenarios do not govern; the log forgets the call.
async fn hold_a_key(emulator: &Emulator, table: &str, account: &enablement::AccountId) {
    use aws_sdk_dynamodb::types::AttributeValue;
    aws_sdk_dynamodb::Client::new(&emulator.sdk_config().await)
        .put_item()
        .table_name(table)
        .item("id", AttributeValue::S(format!("{account}/ap-east-2/members")))
        .item("held", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    emulator.clear_log();
}

/// What the schedule's check that tamper detection can work reads, made so that every read of it happens: the
/// management account's own trail (not an organization trail, so the admin account's trails are read too), the
/// admin account's trail and GuardDuty forwarder, and the two tamper rules; the log forgets the calls that made them.
/// Returns the rules' names, as `TAMPER_RULE_NAMES` carries them.
async fn detectable(emulator: &Emulator, org: &Org) -> String {
    logging_trail(&emulator.sdk_config().await, "management", true, false).await;
    logging_trail(&admin_sdk_config(emulator, &org.accounts[0]).await, "admin", true, false).await;
    tamper_forwarders(emulator, &org.accounts[0], &org.management, &["us-east-1"]).await;
    let rules = tamper_rules(emulator).await;
    emulator.clear_log();
    rules
}

/// Someone stops monitoring a member, turns a plan off on the admin's detector and on a member; the log forgets
/// their calls.
async fn break_the_state(emulator: &Emulator, org: &Org) {
    let admin_gd = emulator.admin_guardduty(&org.accounts[0], "us-east-1").await;
    let detector = admin_gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    admin_gd
        .stop_monitoring_members()
        .detector_id(&detector)
        .account_ids(org.accounts[1].as_str())
        .send()
        .await
        .unwrap();
    admin_gd
        .update_detector()
        .detector_id(&detector)
        .features(
            aws_sdk_guardduty::types::DetectorFeatureConfiguration::builder()
                .name(aws_sdk_guardduty::types::DetectorFeature::S3DataEvents)
                .status(aws_sdk_guardduty::types::FeatureStatus::Disabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    admin_gd
        .update_member_detectors()
        .detector_id(&detector)
        .account_ids(org.accounts[1].as_str())
        .features(
            aws_sdk_guardduty::types::MemberFeaturesConfiguration::builder()
                .name(aws_sdk_guardduty::types::OrgFeature::S3DataEvents)
                .status(aws_sdk_guardduty::types::FeatureStatus::Disabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // and the places where findings can be silenced, one of each, for the evidence record to read
    let criterion = aws_sdk_guardduty::types::Condition::builder().equals("Recon:EC2/Portscan").build();
    let criteria = aws_sdk_guardduty::types::FindingCriteria::builder().criterion("type", criterion).build();
    let filter = admin_gd.create_filter().detector_id(&detector).name("quiet").finding_criteria(criteria);
    filter.action(aws_sdk_guardduty::types::FilterAction::Archive).send().await.unwrap();
    let location = "https://s3.amazonaws.com/lists/list.txt";
    admin_gd
        .create_ip_set()
        .detector_id(&detector)
        .name("ips")
        .format(aws_sdk_guardduty::types::IpSetFormat::Txt)
        .location(location)
        .activate(true)
        .send()
        .await
        .unwrap();
    admin_gd
        .create_threat_intel_set()
        .detector_id(&detector)
        .name("feed")
        .format(aws_sdk_guardduty::types::ThreatIntelSetFormat::Txt)
        .location(location)
        .activate(true)
        .send()
        .await
        .unwrap();
    admin_gd
        .create_trusted_entity_set()
        .detector_id(&detector)
        .name("trusted")
        .format(aws_sdk_guardduty::types::TrustedEntitySetFormat::Txt)
        .location(location)
        .activate(true)
        .send()
        .await
        .unwrap();
    admin_gd
        .create_threat_entity_set()
        .detector_id(&detector)
        .name("threats")
        .format(aws_sdk_guardduty::types::ThreatEntitySetFormat::Txt)
        .location(location)
        .activate(true)
        .send()
        .await
        .unwrap();
    emulator.clear_log(); // the test's own calls that broke the state are not the function's
}

/// The responder's calls: on a fresh organization, an account creation announced by its CreateAccount call
/// (resolved, then onboarded into its unit's plans, every region's foundation laid first); and in policy mode, an
/// onboarding on a fresh organization (the policy written) and one after someone edited the policy (put back); and
/// two tamper calls repaired (a member's monitoring stopped, the admin's detector turned off).
async fn responder_calls() -> BTreeMap<&'static str, Actions> {
    let mut calls = BTreeMap::new();
    let (emulator, org, ou, unit) = scenario().await;
    let by_ou = format!("{unit}=FOUNDATIONAL");
    let vars = [
        ("GUARDDUTY_AUTO_ENABLE", "NONE"),
        ("GUARDDUTY_EXCLUDED_OUS", ou.as_str()),
        ("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str()),
    ];
    let function = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &vars)).await));
    let (account, request_id) = emulator.create_account("iam-check").await;
    // (a record left from an earlier membership, RegionDisabled where it has not enabled the region: re-checked)
    emulator.seed_members("af-south-1", &org.accounts[0], &[(&account, "RegionDisabled")]);
    emulator.clear_log(); // the account creation is not the responder's
    let created = fixture("create-account-call.json", &[("car-4b1f3e2cf2fa11ed8b6e0a41b5dcf48f", &request_id)]);
    let answer = function.handle(event(created)).await.unwrap();
    assert_eq!(answer["report"]["account"], account.as_str());
    add_calls(&mut calls, &emulator, &org);

    let (emulator, org, ou, _) = scenario().await;
    let vars = [("GUARDDUTY_ENABLEMENT", "policy"), ("GUARDDUTY_EXCLUDED_OUS", ou.as_str()), EXPORT[0], EXPORT[1]];
    let function = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &vars)).await));
    for name in ["iam-policy-fresh", "iam-policy-edited"] {
        let (account, _) = emulator.create_account(name).await;
        emulator.clear_log();
        let created = fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]);
        let answer = function.handle(event(created)).await.unwrap();
        let actions = &answer["report"]["organization"];
        assert!(actions.as_array().unwrap().iter().any(|a| a["status"] == "done"), "{name}: {answer}");
        assert!(!emulator.state()["policies"].as_array().unwrap().is_empty(), "{name}: {answer}");
        add_calls(&mut calls, &emulator, &org);
        tamper_with_the_policy(&emulator, &org, &ou).await;
    }

    Box::pin(tamper_calls(&mut calls)).await;
    calls
}

/// Tamper calls: someone stops a member and turns the admin's detector off; each call's event is repaired.
async fn tamper_calls(calls: &mut BTreeMap<&'static str, Actions>) {
    let (emulator, org, _, _) = scenario().await;
    let vars = [("GUARDDUTY_AUTO_ENABLE", "NEW")];
    emulator.enabler(settings(&org.accounts[0], &vars)).await.reconcile().await.unwrap();
    let table = ledger_table(&emulator).await;
    let function = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &vars)).await))
        .with_ledger(Ledger::table(&emulator.sdk_config().await, table));
    let gd = emulator.admin_guardduty(&org.accounts[0], "us-east-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.stop_monitoring_members().detector_id(&detector).account_ids(org.accounts[1].as_str()).send().await.unwrap();
    gd.update_detector().detector_id(&detector).enable(false).send().await.unwrap();
    emulator.clear_log();
    let ids = [("777788889999", org.accounts[0].as_str()), ("444455556666", org.accounts[1].as_str())];
    for sample in ["tamper-guardduty-stop-monitoring-members.json", "tamper-guardduty-update-detector.json"] {
        let mut call = fixture(sample, &ids);
        call["detail"]["recipientAccountId"] = json!(org.accounts[0].as_str());
        let answer = function.handle(event(call)).await.unwrap();
        assert!(answer["repaired"]["writes"].as_u64().unwrap() >= 1, "{sample}: {answer}");
    }
    // and the admin removed in one region (that region reconciled whole)
    let management_gd = aws_sdk_guardduty::Client::new(&emulator.sdk_config().await);
    management_gd.disable_organization_admin_account().admin_account_id(org.accounts[0].as_str()).send().await.unwrap();
    emulator.clear_log();
    let ids = [("777788889999", org.accounts[0].as_str()), ("111122223333", org.management.as_str())];
    let call = fixture("tamper-guardduty-disable-organization-admin-account.json", &ids);
    let answer = function.handle(event(call)).await.unwrap();
    assert!(answer["repaired"]["writes"].as_u64().unwrap() >= 1, "{answer}");
    add_calls(calls, &emulator, &org);
    // and, asked to revert each kind, an ARCHIVE filter, an activated trusted list and a threat list turned off
    let reverts = [("GUARDDUTY_AUTO_ENABLE", "NEW"), ("GUARDDUTY_TAMPER_REVERT", "filters,ip_sets,threat_lists")];
    let function = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &reverts)).await));
    let filter =
        gd.create_filter().detector_id(&detector).name("quiet").action(aws_sdk_guardduty::types::FilterAction::Archive);
    let filter = filter.finding_criteria(
        aws_sdk_guardduty::types::FindingCriteria::builder()
            .criterion("severity", aws_sdk_guardduty::types::Condition::builder().greater_than_or_equal(0).build())
            .build(),
    );
    filter.send().await.unwrap();
    let format = aws_sdk_guardduty::types::IpSetFormat::Txt;
    let location = "https://amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com/list.txt";
    let ip_set = gd.create_ip_set().detector_id(&detector).name("trusted").format(format).location(location);
    let ip_set = ip_set.activate(true).send().await.unwrap().ip_set_id().unwrap().to_owned();
    let threat_format = aws_sdk_guardduty::types::ThreatIntelSetFormat::Txt;
    let threats = gd.create_threat_intel_set().detector_id(&detector).name("threats").format(threat_format);
    let threats = threats.location(location).activate(true).send().await.unwrap();
    let threats = threats.threat_intel_set_id().unwrap().to_owned();
    gd.update_threat_intel_set()
        .detector_id(&detector)
        .threat_intel_set_id(&threats)
        .activate(false)
        .send()
        .await
        .unwrap();
    emulator.clear_log();
    for sample in [
        "tamper-guardduty-create-filter.json",
        "tamper-guardduty-create-ip-set.json",
        "tamper-guardduty-update-threat-intel-set.json",
    ] {
        let ids = [
            ("777788889999", org.accounts[0].as_str()),
            ("5eb2a6c1d9f84b7e8a3c1d5f7b9e2a40", ip_set.as_str()),
            ("1ab200428351c99d859bf61992460d24", threats.as_str()),
        ];
        let answer = function.handle(event(fixture(sample, &ids))).await.unwrap();
        assert_eq!(answer["reverted"], true, "{sample}: {answer}");
    }
    add_calls(calls, &emulator, &org);
}

/// Someone edits the tool's GuardDuty policy and attaches it to the excluded unit, and points eu-west-1's findings
/// export at another bucket; the log forgets their calls.
async fn tamper_with_the_policy(emulator: &Emulator, org: &Org, ou: &str) {
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let id = emulator.state()["policies"][0]["id"].as_str().unwrap().to_owned();
    let content =
        json!({"guardduty": {"enablement": {"us-east-1": {"foundational": {"status": {"@@assign": "enabled"}}}}}});
    orgs.update_policy().policy_id(&id).content(content.to_string()).send().await.unwrap();
    orgs.attach_policy().policy_id(&id).target_id(ou).send().await.unwrap();
    let gd = emulator.admin_guardduty(&org.accounts[0], "eu-west-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let listed = gd.list_publishing_destinations().detector_id(&detector).send().await.unwrap();
    let destination = listed.destinations()[0].destination_id().unwrap().to_owned();
    let elsewhere = aws_sdk_guardduty::types::DestinationProperties::builder()
        .destination_arn("arn:aws:s3:::elsewhere")
        .kms_key_arn(EXPORT[1].1)
        .build();
    gd.update_publishing_destination()
        .detector_id(detector)
        .destination_id(destination)
        .destination_properties(elsewhere)
        .send()
        .await
        .unwrap();
    emulator.clear_log();
}

/// Asserts that `role` in `template` grants exactly `expected`, naming the differences either way.
fn assert_grants(template: &str, role: &str, expected: &Actions) {
    let granted = granted(template, role);
    assert_eq!(
        &granted,
        expected,
        "{role}: granted but not needed {:?}; needed but not granted {:?}",
        granted.difference(expected).collect::<Vec<_>>(),
        expected.difference(&granted).collect::<Vec<_>>()
    );
    println!("{role}: {}", granted.iter().cloned().collect::<Vec<_>>().join(", "));
}
