//! `guardduty-enabler scp`, the built binary, against the emulator: the service control policy it prints (within the
//! SCP size limit, denying GuardDuty's writes but never a read, exempting the tool's admin role and the break-glass
//! roles given), its refusals before any AWS call, and `--apply`: create, enable the SCP policy type, attach; a
//! second run that writes nothing; an update when the content changed; a stop part way.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use aws_sdk_organizations::types::{PolicyType, PolicyTypeStatus};
use serde_json::{json, Value};
use system_tests::{cli, tally, Emulator};

/// What the issue asks the policy to deny, by service.
const GUARDDUTY_WRITES: [&str; 18] = [
    "DeleteDetector",
    "UpdateDetector",
    "DisassociateMembers",
    "DeleteMembers",
    "StopMonitoringMembers",
    "UpdateMemberDetectors",
    "UpdateOrganizationConfiguration",
    "DisableOrganizationAdminAccount",
    "DeletePublishingDestination",
    "UpdatePublishingDestination",
    "CreateFilter",
    "UpdateFilter",
    "CreateIPSet",
    "UpdateIPSet",
    "DeleteThreatIntelSet",
    "UpdateThreatIntelSet",
    "DisassociateFromAdministratorAccount",
    "DisassociateFromMasterAccount",
];
const ORGANIZATIONS_WRITES: [&str; 6] = [
    "DetachPolicy",
    "UpdatePolicy",
    "DeletePolicy",
    "DisablePolicyType",
    "DeregisterDelegatedAdministrator",
    "DisableAWSServiceAccess",
];

const ADMIN: &str = "222233334444";
const BREAK_GLASS: &str = "arn:aws:iam::111122223333:role/BreakGlass";
const NAME: &str = "guardduty-enabler-protect-guardduty";

/// The statements of a policy document.
fn statements(policy: &Value) -> Vec<Value> {
    assert_eq!(policy["Version"], "2012-10-17", "{policy}");
    policy["Statement"].as_array().unwrap().clone()
}

/// Every action a statement names.
fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
        other => panic!("Action {other}"),
    }
}

/// The role ARN patterns a statement does not apply to.
fn exempt(statement: &Value) -> Vec<String> {
    let list = &statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
    list.as_array()
        .unwrap_or_else(|| panic!("no ArnNotLike aws:PrincipalArn in {statement}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printing_makes_no_call_and_gives_a_policy_within_the_limit_that_denies_every_write_but_no_read() {
    let emulator = Emulator::start();
    emulator.clear_log();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", ADMIN)];

    // when the policy is printed with one break-glass role
    let ran = cli(&emulator, &["scp", "--except", BREAK_GLASS], &env);

    // then it is one line of JSON within the SCP limit, and one line after it about the management account
    assert_eq!(ran.code, 0, "{ran:?}");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", ran.stdout);
    assert!(lines[0].len() <= 5_120, "{} characters", lines[0].len());
    let policy: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(lines[1].contains("management account") && lines[1].contains("SCPs"), "{}", lines[1]);
    // and every statement denies, to all but the admin role and the break-glass role
    let statements = statements(&policy);
    let mut denied = Vec::new();
    for s in &statements {
        assert_eq!(s["Effect"], "Deny", "{s}");
        let roles = exempt(s);
        assert!(roles.contains(&BREAK_GLASS.to_owned()), "{s}");
        assert!(roles.iter().any(|r| r.ends_with(&format!(":{ADMIN}:role/GuardDutyEnablerAdmin"))), "{s}");
        denied.extend(actions(s));
    }
    for action in GUARDDUTY_WRITES {
        assert!(denied.contains(&format!("guardduty:{action}")), "guardduty:{action} not denied");
    }
    for action in ORGANIZATIONS_WRITES {
        assert!(denied.contains(&format!("organizations:{action}")), "organizations:{action} not denied");
    }
    // never a read, nor CreateSampleFindings, nor a wildcard that would cover them
    for action in &denied {
        let name = action.split_once(':').unwrap().1;
        assert!(!["Get", "List", "Describe"].iter().any(|p| name.starts_with(p)), "{action}");
        assert!(name != "CreateSampleFindings" && !action.contains('*'), "{action}");
    }
    // the Organizations writes only on GuardDuty's policy type and service principals
    for s in statements.iter().filter(|s| actions(s).iter().any(|a| a.starts_with("organizations:"))) {
        let on = &s["Condition"]["StringEquals"];
        let scoped = on["organizations:PolicyType"] == "GUARDDUTY_POLICY"
            || on["organizations:ServicePrincipal"]
                .as_array()
                .is_some_and(|p| p.contains(&json!("guardduty.amazonaws.com")));
        assert!(scoped, "an Organizations write denied beyond GuardDuty's: {s}");
    }

    // --json: the policy, its size, nothing applied
    let json = cli(&emulator, &["scp", "--json", "--except", BREAK_GLASS], &env);
    assert_eq!(json.code, 0, "{json:?}");
    let out: Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_eq!(out["policy"], policy);
    assert_eq!(out["characters"], lines[0].len());
    assert!(out["applied"].is_null(), "{out}");

    // and no AWS call at all, not even the credential check
    assert!(emulator.log().is_empty(), "{:?}", emulator.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_a_policy_over_the_limit_are_errors_before_any_call() {
    let emulator = Emulator::start();
    emulator.clear_log();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", ADMIN)];
    let target = ["--apply", "--target", "ou-ab12-cd34ef56"];

    for (args, says) in [
        (vec!["scp", "--except", "BreakGlass"], "is not an IAM role ARN"),
        (vec!["scp", "--except", "arn:aws:iam::*:role/BreakGlass"], "is not an IAM role ARN"),
        (vec!["scp", "--except", "arn:aws:sts::111122223333:assumed-role/BreakGlass/alice"], "session"),
        (vec!["scp", "--apply", "--target", "111122223333"], "is not an organizational unit id"),
        (vec!["scp", "--apply", "--target", "ou-bad"], "is not an organizational unit id"),
        (vec!["scp", "--apply"], "--target"),
        (vec!["scp", "--target", "ou-ab12-cd34ef56"], "--apply"),
        ([&["scp", "--except", "nope"][..], &target[..]].concat(), "is not an IAM role ARN"),
    ] {
        let ran = cli(&emulator, &args, &env);
        assert_eq!(ran.code, 1, "{args:?}: {ran:?}");
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{args:?}: {}", ran.stdout);
    }

    // too many break-glass roles for one SCP: the size and the limit said, nothing printed, with or without --apply
    let many: Vec<String> =
        (0..40).map(|i| format!("arn:aws:iam::111122223333:role/break-glass/BreakGlassOperator{i:03}")).collect();
    let mut args = vec!["scp"];
    for arn in &many {
        args.extend(["--except", arn.as_str()]);
    }
    for with in [&[][..], &target[..]] {
        let all = [&args[..], with].concat();
        let ran = cli(&emulator, &all, &env);
        assert_eq!(ran.code, 1, "{ran:?}");
        assert!(ran.stderr.contains("PolicyTooLarge") && ran.stderr.contains("5120"), "{}", ran.stderr);
        let size: usize = ran.stderr.split("would be ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(size > 5_120, "{}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{}", ran.stdout);
    }

    assert!(emulator.log().is_empty(), "no AWS call: {:?}", emulator.log());
}

/// The organization's SCP named [`NAME`]: its id, content and targets; and the SCP type's status on the root.
async fn scp_state(
    orgs: &aws_sdk_organizations::Client,
) -> (Option<(String, String, Vec<String>)>, Option<PolicyTypeStatus>) {
    let roots = orgs.list_roots().send().await.unwrap();
    let status = roots.roots()[0]
        .policy_types()
        .iter()
        .find(|t| t.r#type() == Some(&PolicyType::ServiceControlPolicy))
        .and_then(|t| t.status().cloned());
    let list = orgs.list_policies().filter(PolicyType::ServiceControlPolicy).send().await.unwrap();
    let Some(summary) = list.policies().iter().find(|p| p.name() == Some(NAME)) else { return (None, status) };
    let id = summary.id().unwrap().to_owned();
    let content =
        orgs.describe_policy().policy_id(&id).send().await.unwrap().policy().unwrap().content().unwrap().to_owned();
    let targets = orgs.list_targets_for_policy().policy_id(&id).send().await.unwrap();
    let targets = targets.targets().iter().map(|t| t.target_id().unwrap().to_owned()).collect();
    (Some((id, content, targets)), status)
}

/// The writes of the emulator's log, by operation.
fn writes(emulator: &Emulator) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for call in emulator.log().iter().filter(|c| c.kind == "write") {
        *out.entry(call.operation.clone()).or_default() += 1;
    }
    out
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_enables_and_attaches_then_writes_nothing_and_updates_only_a_changed_content() {
    // given an organization with a unit, SCPs not enabled on its root
    let emulator = Emulator::start();
    let org = emulator.organization(2, 0);
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let unit = orgs.create_organizational_unit().parent_id(&root).name("workloads").send().await.unwrap();
    let unit = unit.organizational_unit().unwrap().id().unwrap().to_owned();
    assert_eq!(scp_state(&orgs).await, (None, None));
    emulator.clear_log();

    // when the policy is applied to the unit
    let ran = cli(&emulator, &["scp", "--apply", "--target", &unit, "--except", BREAK_GLASS], &env);

    // then it is created, the SCP type enabled on the root (asynchronous: attached once ENABLED), and attached
    assert_eq!(ran.code, 0, "{ran:?}");
    let printed = ran.stdout.lines().next().unwrap().to_owned();
    let (policy, status) = scp_state(&orgs).await;
    let (id, content, targets) = policy.expect("the policy exists");
    assert_eq!(content, printed, "the content saved is the one printed");
    assert_eq!(targets, vec![unit.as_str()]);
    assert_eq!(status, Some(PolicyTypeStatus::Enabled));
    assert_eq!(writes(&emulator), counts(&[("CreatePolicy", 1), ("EnablePolicyType", 1), ("AttachPolicy", 1)]));
    assert!(emulator.log().iter().all(|c| c.status == 200), "{:?}", emulator.log());
    for said in ["created the policy", "enabled the SCP policy type", &format!("attached {NAME} ({id}) to {unit}")] {
        assert!(ran.stdout.contains(said), "{said}: {}", ran.stdout);
    }
    assert!(ran.stdout.lines().nth(1).unwrap().contains("management account"), "{}", ran.stdout);
    assert_eq!(tally(&emulator.log()).by_operation["sts:GetCallerIdentity"], 1, "the credential check, once");

    // when it is applied again with the same roles: reads only
    emulator.clear_log();
    let again = cli(&emulator, &["scp", "--apply", "--target", &unit, "--except", BREAK_GLASS], &env);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(writes(&emulator), counts(&[]), "a second apply writes nothing");
    assert!(again.stdout.contains("nothing was written"), "{}", again.stdout);

    // with another break-glass role and --dry-run: the update said, nothing written, exit 2 (writes to make)
    let other = "arn:aws:iam::111122223333:role/IncidentResponse";
    emulator.clear_log();
    let dry = cli(&emulator, &["scp", "--apply", "--dry-run", "--target", &unit, "--except", other], &env);
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(dry.stdout.contains("would update the content"), "{}", dry.stdout);
    assert_eq!(writes(&emulator), counts(&[]));

    // and for real: UpdatePolicy alone, the new role in, the old one out
    let updated = cli(&emulator, &["scp", "--json", "--apply", "--target", &unit, "--except", other], &env);
    assert_eq!(updated.code, 0, "{updated:?}");
    assert_eq!(writes(&emulator), counts(&[("UpdatePolicy", 1)]));
    let out: Value = serde_json::from_str(&updated.stdout).unwrap();
    assert_eq!(out["applied"]["policy_id"], id.as_str());
    assert_eq!(
        (&out["applied"]["created"], &out["applied"]["updated"], &out["applied"]["attached"]),
        (&json!(false), &json!(true), &json!(false)),
        "{out}"
    );
    let (policy, _) = scp_state(&orgs).await;
    let content: Value = serde_json::from_str(&policy.unwrap().1).unwrap();
    assert_eq!(content, out["policy"]);
    for s in statements(&content) {
        assert!(exempt(&s).contains(&other.to_owned()) && !exempt(&s).contains(&BREAK_GLASS.to_owned()), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_to_the_root_with_scps_enabled_attaches_without_enabling_and_a_target_elsewhere_writes_nothing() {
    let emulator = Emulator::start();
    let org = emulator.organization(1, 0);
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    orgs.enable_policy_type().root_id(&root).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    for _ in 0..100 {
        if scp_state(&orgs).await.1 == Some(PolicyTypeStatus::Enabled) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // a unit or root not in the organization: exit 1, reads only
    emulator.clear_log();
    for target in ["ou-zzzz-zzzzzzzz", "r-zzzz"] {
        let ran = cli(&emulator, &["scp", "--apply", "--target", target], &env);
        assert_eq!(ran.code, 1, "{ran:?}");
        assert!(ran.stderr.contains("TargetNotFound") && ran.stderr.contains(target), "{}", ran.stderr);
    }
    assert_eq!(writes(&emulator), counts(&[]));

    // the root: created and attached, the type left as it is
    let ran = cli(&emulator, &["scp", "--apply", "--target", &root], &env);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(writes(&emulator), counts(&[("CreatePolicy", 1), ("AttachPolicy", 1)]));
    assert_eq!(scp_state(&orgs).await.0.unwrap().2, [root]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_refused_after_an_earlier_one_is_exit_2_and_the_next_apply_finishes() {
    let emulator = Emulator::start();
    let org = emulator.organization(1, 0);
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();

    // the first write refused: exit 1, nothing written, nothing printed
    emulator.faults(json!({"bad_request": {"us-east-1": ["CreatePolicy"]}}));
    let first = cli(&emulator, &["scp", "--apply", "--target", &root], &env);
    assert_eq!(first.code, 1, "{first:?}");
    assert!(first.stdout.is_empty() && first.stderr.contains("CreatePolicy"), "{first:?}");
    assert_eq!(scp_state(&orgs).await, (None, None));

    // AttachPolicy refused after the policy was created and the type enabled: exit 2, what was done said
    emulator.faults(json!({"bad_request": {"us-east-1": ["AttachPolicy"]}}));
    let part = cli(&emulator, &["scp", "--apply", "--target", &root], &env);
    assert_eq!(part.code, 2, "{part:?}");
    assert!(part.stdout.contains("created the policy") && part.stdout.contains("enabled the SCP"), "{}", part.stdout);
    assert!(part.stderr.contains("AttachPolicy") && part.stderr.contains("run scp --apply again"), "{}", part.stderr);
    let (policy, status) = scp_state(&orgs).await;
    assert!(policy.unwrap().2.is_empty() && status == Some(PolicyTypeStatus::Enabled));

    // the next apply attaches, and only that
    emulator.faults(json!({}));
    emulator.clear_log();
    let done = cli(&emulator, &["scp", "--apply", "--target", &root], &env);
    assert_eq!(done.code, 0, "{done:?}");
    assert_eq!(writes(&emulator), counts(&[("AttachPolicy", 1)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_names_the_governed_accounts_the_preventive_policy_does_not_cover() {
    // given an organization with two members moved into a unit, in sync
    let (emulator, org) = system_tests::world_of(&["us-east-1"], 4);
    let admin = org.accounts[0].to_string();
    emulator.enabler(system_tests::settings(&org.accounts[0], &[])).await.reconcile().await.unwrap();
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let unit = orgs.create_organizational_unit().parent_id(&root).name("protected").send().await.unwrap();
    let unit = unit.organizational_unit().unwrap().id().unwrap().to_owned();
    for account in &org.accounts[2..4] {
        let moved = orgs.move_account().account_id(account.as_str()).source_parent_id(&root);
        moved.destination_parent_id(&unit).send().await.unwrap();
    }
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    let status = |emulator: &Emulator| {
        let ran = cli(emulator, &["status", "--json"], &env);
        assert_eq!(ran.code, 0, "{ran:?}");
        serde_json::from_str::<Value>(&ran.stdout).unwrap()["preventive_scp"].clone()
    };
    // when no policy exists: every governed account is uncovered
    let none = status(&emulator);
    assert_eq!(none["policy_id"], Value::Null, "{none}");
    assert_eq!(none["governed"], 4, "{none}");
    // when it is attached to the unit: the accounts outside it are named, the management account never counted
    assert_eq!(cli(&emulator, &["scp", "--apply", "--target", &unit], &env).code, 0);
    let unit_only = status(&emulator);
    let mut outside: Vec<String> = [org.accounts[0], org.accounts[1]].iter().map(|a| a.to_string()).collect();
    outside.sort();
    assert_eq!(unit_only["not_covered"], json!(outside), "{unit_only}");
    let text = cli(&emulator, &["status"], &env);
    assert!(text.stdout.contains("does not cover 2 of 4 governed accounts"), "{}", text.stdout);
    // and the evidence report says the same, in its document and on its page
    let dir = std::env::temp_dir().join(format!("scp-report-{}", std::process::id()));
    let out = dir.to_str().unwrap();
    let reported = cli(&emulator, &["report", "--out", out], &env);
    assert_ne!(reported.code, 1, "{reported:?}");
    let document: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("evidence.json")).unwrap()).unwrap();
    assert_eq!(document["preventive_scp"]["not_covered"], json!(outside), "{}", document["preventive_scp"]);
    assert_eq!(document["preventive_scp"]["governed"], 4);
    let page = std::fs::read_to_string(dir.join("evidence.html")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(page.contains("does not cover 2 of the 4 governed accounts"), "the page names the gap");
    // and attached to the root: it covers them all
    assert_eq!(cli(&emulator, &["scp", "--apply", "--target", &root], &env).code, 0);
    assert_eq!(status(&emulator)["not_covered"], json!([]));
}
