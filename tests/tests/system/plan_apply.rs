//! A plan names every write the apply makes: for a fresh organization and for the demo's (findings exported), the
//! writes `plan` lists are the writes `apply` then makes, the same operations in the same numbers, per region.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use enablement::{ActionStatus, Report, RunOptions, Step};
use serde_json::json;
use system_tests::{settings, Emulator};

/// (region, operation) -> calls; organization-wide writes under "organization".
type Writes = BTreeMap<(String, String), usize>;

fn planned(report: &Report) -> Writes {
    let mut writes = Writes::new();
    for r in &report.regions {
        for a in r.actions.iter().filter(|a| a.status == ActionStatus::Planned) {
            *writes.entry((r.region.clone(), a.step.operation().to_owned())).or_default() += 1;
        }
    }
    for a in report.organization.iter().filter(|a| a.status == ActionStatus::Planned) {
        *writes.entry(("organization".into(), organization_operation(&a.action.to_string()).into())).or_default() += 1;
    }
    writes
}

fn organization_operation(action: &str) -> &'static str {
    match action {
        "enable_trusted_access" => "EnableAWSServiceAccess",
        "create_policy" => "CreatePolicy",
        "update_policy" => "UpdatePolicy",
        "enable_policy_type" => "EnablePolicyType",
        "attach_policy" => "AttachPolicy",
        "detach_policy" => "DetachPolicy",
        other => panic!("an organization-wide action the test does not know: {other}"),
    }
}

/// The write calls of the emulator's log, GuardDuty's per region, the others (Organizations) as organization-wide.
fn made(emulator: &Emulator) -> Writes {
    let mut writes = Writes::new();
    for c in emulator.log().into_iter().filter(|c| c.kind == "write") {
        let region = if c.service == "guardduty" { c.region } else { "organization".into() };
        *writes.entry((region, c.operation)).or_default() += 1;
    }
    writes
}

async fn plan_then_apply(emulator: &Emulator, vars: &[(&str, &str)], admin: &enablement::AccountId) {
    let enabler = emulator.enabler(settings(admin, vars)).await;
    emulator.clear_log();
    let plan = enabler.reconcile_with(&RunOptions { dry_run: Some(true), ..RunOptions::default() }).await.unwrap();
    assert_eq!(made(emulator), Writes::new(), "the plan wrote something");
    let apply = enabler.reconcile().await.unwrap();
    assert!(apply.is_success(), "{:#?}", apply.problems());
    let (planned, made) = (planned(&plan), made(emulator));
    let differences: Vec<String> = planned
        .keys()
        .chain(made.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| planned.get(*k) != made.get(*k))
        .map(|k| format!("{} {}: planned {:?}, made {:?}", k.0, k.1, planned.get(k), made.get(k)))
        .collect();
    assert!(differences.is_empty(), "plan and apply differ:\n{}", differences.join("\n"));
    assert!(!planned.is_empty());
    // and the plan says where it guessed what a region offers
    if plan.regions.iter().any(|r| r.actions.iter().any(|a| matches!(a.step, Step::DesignateAdmin { .. }))) {
        assert!(
            plan.regions.iter().all(|r| r.notes.iter().any(|n| n.contains("guessed"))),
            "{:#?}",
            plan.regions[0].notes
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fresh_organization_the_plan_lists_the_writes_the_apply_makes() {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["eu-west-1", "us-east-1"], "opt_in": []}));
    emulator.world(json!({"withheld_plans": {"eu-west-1": ["AI_PROTECTION"]}}));
    let org = emulator.organization(4, 0);
    plan_then_apply(&emulator, &[], &org.accounts[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_organization_the_plan_lists_the_writes_the_apply_makes() {
    // the demo's organization: every default region, four members and the admin, findings exported to a bucket
    let emulator = Emulator::start();
    let org = emulator.organization(5, 0);
    let bucket = json!({"region": "us-east-1", "owner": "999988887777", "prefixes": ["guardduty/"]});
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"buckets": {"guardduty-findings-demo": bucket}, "verification_seconds": 0}),
    );
    let vars = [
        ("GUARDDUTY_FINDINGS_DESTINATION", "arn:aws:s3:::guardduty-findings-demo/guardduty"),
        ("GUARDDUTY_FINDINGS_KMS_KEY", "arn:aws:kms:us-east-1:999988887777:key/0c5f3a0e-6f7d-4c1a-9b3e-2f4d5e6a7b8c"),
    ];
    plan_then_apply(&emulator, &vars, &org.accounts[0]).await;
    // and on the organization as the apply left it, with drift: a member stopped and a plan turned off
    emulator.seed_members("eu-west-1", &org.accounts[0], &[(&org.accounts[2], "Disabled")]);
    plan_then_apply(&emulator, &vars, &org.accounts[0]).await;
}
