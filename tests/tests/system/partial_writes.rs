//! One account's failed write does not blind the rest of its region: the members' plans are read whatever a write
//! does, and a failed write costs only the accounts it was for, in coverage and in the report.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use enablement::{emf, Outcome};
use serde_json::json;
use system_tests::{settings, world_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_members_costs_only_the_new_account_and_the_others_are_counted_protected() {
    // given eight protected members in eu-west-1 (the management account and seven accounts), then a new account,
    // and eu-west-1 refusing every CreateMembers
    let (emulator, org) = world_of(&["eu-west-1", "us-east-1"], 8);
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    let (newcomer, _) = emulator.create_account("newcomer").await;
    emulator.faults(json!({"bad_request": {"eu-west-1": ["CreateMembers"]}}));

    // when reconciled
    let report = enabler.reconcile().await.unwrap();

    // then eu-west-1 fails with the write's error, but its eight members are counted protected, and only the new
    // account is not, named with why
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Failed);
    assert!(eu.error.as_deref().unwrap().contains("invalid or out-of-range"), "{:?}", eu.error);
    assert_eq!((eu.coverage.expected, eu.coverage.protected), (9, 8), "{:#?}", eu.unprotected);
    assert_eq!(eu.unprotected.len(), 1);
    assert_eq!(eu.unprotected[0].account, newcomer);
    assert!(eu.unprotected[0].reason.contains("CreateMembers failed"), "{}", eu.unprotected[0].reason);
    let docs = emf("bootstrapper", &report);
    let published = docs.iter().find(|d| d["Region"] == "eu-west-1").unwrap();
    assert_eq!((published["AccountsProtected"].as_u64(), published["AccountsExpected"].as_u64()), (Some(8), Some(9)));
    // and the other region enrolled it
    let us = report.regions.iter().find(|r| r.region == "us-east-1").unwrap();
    assert_eq!((us.coverage.expected, us.coverage.protected), (9, 9));
}
