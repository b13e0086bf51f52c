//! Convergence under the faults AWS produces, injected by the emulator: throttling and server errors, GuardDuty's
//! settling windows, a region that is down, a short deadline, and a panic. Each test prints one row of the fault
//! table: the outcome, the retries it took (answers other than 200 in the emulator's log) and what was left.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enablement::{Outcome, RetryPolicy, RunOptions};
use lambda_runtime::{Context, LambdaEvent};
use responder::Responder;
use serde_json::json;
use system_tests::{cfn_request, event, fixture, members, schedule, settings, Call, Emulator, Org, ResponseCatcher};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

fn world(accounts: usize) -> (Emulator, Org) {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": REGIONS, "opt_in": []}));
    let org = emulator.organization(accounts, 0);
    (emulator, org)
}

fn retries(log: &[Call]) -> usize {
    log.iter().filter(|c| c.status != 200).count()
}

fn converged(emulator: &Emulator, org: &Org) -> bool {
    let state = emulator.state();
    REGIONS.iter().all(|r| {
        let m = members(&state, r);
        m.len() == org.accounts.len() && m.values().all(|s| s == "Enabled")
    })
}

fn row(fault: &str, outcome: &str, log: &[Call], left: &str) {
    println!("| {fault} | {outcome} | {} retries in {} calls | {left} |", retries(log), log.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_reconcile_converges_through_throttling_and_server_errors() {
    // given 3 regions, 120 accounts, and a quarter of GuardDuty and Organizations calls throttled, 5% failing
    let (emulator, org) = world(121);
    emulator.faults(
        json!({"throttle_rate": 0.25, "error_rate": 0.05, "services": ["guardduty", "organizations"], "seed": 7}),
    );
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    emulator.clear_log();
    // when one reconcile runs
    let report = enabler.reconcile().await.expect("reconcile");
    // then it reaches the complete desired state in that one invocation
    let log = emulator.log();
    assert!(report.is_success(), "{:#?}", report.problems());
    assert!(converged(&emulator, &org));
    assert!(retries(&log) > 20, "the faults were injected ({} retries)", retries(&log));
    row("25% HTTP 429 + 5% HTTP 500, reconcile of 3 regions x 120 accounts", "converged", &log, "nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_enrols_the_account_everywhere_through_throttling() {
    let (emulator, org) = world(4);
    schedule(&emulator, &org.accounts[0], &[]).await.expect("bootstrap");
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await));
    let (account, _) = emulator.create_account("throttled").await;
    emulator.faults(
        json!({"throttle_rate": 0.25, "error_rate": 0.05, "services": ["guardduty", "organizations"], "seed": 3}),
    );
    emulator.clear_log();
    let answer = responder
        .handle(event(fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())])))
        .await;
    let log = emulator.log();
    assert!(answer.is_ok(), "{answer:?}");
    let state = emulator.state();
    assert!(REGIONS.iter().all(|r| members(&state, r).get(account.as_str()).map(String::as_str) == Some("Enabled")));
    row("25% HTTP 429 + 5% HTTP 500, onboarding across 3 regions", "enrolled everywhere", &log, "nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_windows_after_designation_and_creation_are_waited_out_without_fixed_sleeps() {
    // given GuardDuty rejecting a new admin's calls for 1.5 s after designation, and hiding new members for 1 s
    let (emulator, org) = world(10);
    emulator.faults(json!({"admin_consistency_seconds": 1.5, "member_consistency_seconds": 1.0}));
    // backoff from 100 ms up to 1 s: about 3 s of patience over 10 attempts, twice the window
    let patient = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        settling_window: Duration::from_secs(30),
    };
    let enabler = emulator.enabler_with(settings(&org.accounts[0], &[]), patient).await;
    emulator.clear_log();
    // when a fresh organization is reconciled
    let started = Instant::now();
    let report = enabler.reconcile().await.expect("reconcile");
    let elapsed = started.elapsed();
    // then it converges soon after the window closes (backoff, not a fixed sleep of a minute)
    let log = emulator.log();
    assert!(report.is_success(), "{:#?}", report.problems());
    assert!(converged(&emulator, &org));
    assert!(retries(&log) > 0, "the window was hit");
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?} (a fixed sleep would take a minute)");
    // and a duplicate event right after an onboarding (the member not yet visible) writes nothing harmful
    let (account, _) = emulator.create_account("settling").await;
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &[])).await));
    let payload = fixture("create-account-result-succeeded.json", &[("444455556666", account.as_str())]);
    responder.handle(event(payload.clone())).await.expect("first delivery");
    let again = responder.handle(event(payload)).await.expect("duplicate delivery within the window");
    assert_eq!(again["report"]["summary"]["failed"], 0);
    row(
        &format!(
            "settling: admin 1.5 s after designation, members 1 s after creation ({} ms to converge)",
            elapsed.as_millis()
        ),
        "converged; duplicate event harmless",
        &log,
        "nothing",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_that_is_down_fails_alone_and_the_schedule_reports_it_without_an_invocation_error() {
    // given one region where every call fails
    let (emulator, org) = world(5);
    emulator.faults(json!({"down_regions": ["eu-west-1"]}));
    emulator.clear_log();
    // when the schedule fires
    let answer = schedule(&emulator, &org.accounts[0], &[]).await.expect("the schedule's report");
    // then the other regions converged, and the report names the region and the cause (the drift alarm sees it; an
    // invocation error would make Lambda run the whole reconcile twice more, then dead-letter the schedule)
    let log = emulator.log();
    let failed: Vec<&serde_json::Value> =
        answer["report"]["regions"].as_array().unwrap().iter().filter(|r| r["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{answer}");
    assert_eq!(failed[0]["region"], "eu-west-1");
    assert!(failed[0]["error"].as_str().unwrap().contains("ServiceUnavailable"), "{answer}");
    let state = emulator.state();
    for region in ["ap-southeast-2", "us-east-1"] {
        assert_eq!(members(&state, region).len(), 5, "{region}");
    }
    assert!(members(&state, "eu-west-1").is_empty());
    row(
        "eu-west-1 down (HTTP 503 on every call)",
        "2 regions converged; report names eu-west-1",
        &log,
        "eu-west-1 until it is back",
    );
    // and once it is back, the next schedule finishes the job
    emulator.faults(json!({}));
    schedule(&emulator, &org.accounts[0], &[]).await.expect("recovered");
    assert!(converged(&emulator, &org));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_deadline_gets_cloudformation_an_answer_in_time_and_the_schedule_finishes() {
    // given slow calls, one region at a time, and an invocation with 4 s left
    let emulator = Emulator::start();
    let regions = ["ap-northeast-1", "ap-southeast-2", "eu-central-1", "eu-west-1", "sa-east-1", "us-east-1"];
    emulator.regions(json!({"default": regions, "opt_in": []}));
    let org = emulator.organization(4, 0);
    emulator.faults(json!({"latency_ms": 60}));
    let admin = org.accounts[0].to_string();
    let function =
        emulator.bootstrapper(&[("GUARDDUTY_ADMIN_ACCOUNT_ID", &admin), ("GUARDDUTY_REGION_CONCURRENCY", "1")]).await;
    let catcher = ResponseCatcher::start();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut context = Context::default();
    context.deadline = now + 4_000;
    let payload = cfn_request("cfn-create.json", &catcher.url, &org.accounts[0]);
    // when CloudFormation asks
    function.handle(LambdaEvent::new(payload, context)).await.expect("answered");
    let answered = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    // then the answer came before the deadline: SUCCESS (the admin is designated where regions finished; a rollback
    // would not undo the GuardDuty writes), listing the regions not finished, which the schedule finishes
    assert!(answered < now + 4_000, "answered {} ms after the deadline", answered as i64 - (now + 4_000) as i64);
    let received = catcher.received();
    assert_eq!(received.len(), 1);
    let body = &received[0].2;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(body["Data"]["Unfinished"].as_str().unwrap() != "0", "{body}");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.contains("unfinished") && reason.contains("running out of time"), "{reason}");
    let unfinished = regions.iter().filter(|r| reason.contains(*r)).count();
    assert!(unfinished >= 1, "{reason}");
    row(
        "a 4 s deadline, 6 regions one at a time at 60 ms per call",
        "SUCCESS answered before the deadline",
        &emulator.log(),
        &format!("{unfinished} regions, listed in the reason"),
    );
    // and the next scheduled reconcile finishes the job
    emulator.faults(json!({}));
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    let report = enabler.reconcile_with(&RunOptions::default()).await.unwrap();
    assert!(report.is_success());
    assert!(report.regions.iter().filter(|r| r.outcome == Outcome::Changed).count() >= unfinished);
}
