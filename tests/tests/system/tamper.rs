//! Tamper response: someone other than the tool changes GuardDuty, then CloudTrail's record of the call is delivered
//! to the responder (as EventBridge invokes it, or inside an SQS batch). What the tool owns is put back in that
//! account and region only, and read back; a silencing filter is raised, not reverted; a refused call and the tool's
//! own calls make no call at all; a key repaired too often is left to the schedule.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use enablement::flaps::Ledger;
use enablement::AccountId;
use responder::{classify, Request, Responder};
use serde_json::{json, Value};
use system_tests::{
    detector, event, fixture, fixtures_of, ledger_table, members, reconciler, settings, sqs_batch, world_of, Emulator,
    Org,
};

const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "us-west-2"];
/// The region the tamper happens in (the samples' is us-east-1: every sample is moved here, to show that the others
/// are not written).
const HERE: &str = "eu-west-1";

/// A bootstrapped organization of 4 accounts (the first the admin) in three regions, and a responder that knows the
/// functions' roles. Auto-enable is NEW: under ALL, GuardDuty refuses to delete or disassociate an organization's
/// members (DeleteMembers, DisassociateMembers: "With autoEnableOrganizationMembers configuration for your
/// organization set to ALL, you'll receive an error if you attempt to disable GuardDuty for a member account").
async fn bootstrapped() -> (Emulator, Org, Responder<enablement::AwsCloud>) {
    bootstrapped_with(&[]).await
}

/// As [`bootstrapped`], the responder with the variables `extra` besides.
async fn bootstrapped_with(extra: &[(&str, &str)]) -> (Emulator, Org, Responder<enablement::AwsCloud>) {
    let (emulator, org) = world_of(&REGIONS, 4);
    let vars = [("GUARDDUTY_AUTO_ENABLE", "NEW")];
    emulator.enabler(settings(&org.accounts[0], &vars)).await.reconcile().await.expect("bootstrap");
    let all: Vec<(&str, &str)> = vars.iter().chain(extra).copied().collect();
    let responder = Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &all)).await))
        .with_own_roles([format!("arn:aws:iam::{}:role/guardduty-enabler-responder", org.management)]);
    (emulator, org, responder)
}

/// The sample `name` for this organization: its admin, management account and member, in [`HERE`].
fn sample(name: &str, org: &Org, member: &AccountId) -> Value {
    fixture(
        name,
        &[
            ("777788889999", org.accounts[0].as_str()),
            ("111122223333", org.management.as_str()),
            ("444455556666", member.as_str()),
            ("us-east-1", HERE),
        ],
    )
}

/// The admin's GuardDuty in [`HERE`], and its detector there.
async fn admin_here(emulator: &Emulator, org: &Org) -> (aws_sdk_guardduty::Client, String) {
    let gd = emulator.admin_guardduty(&org.accounts[0], HERE).await;
    let detector_id = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    (gd, detector_id)
}

/// The writes the emulator saw, as `operation@region`; the count of repairs in its table aside.
fn writes(emulator: &Emulator) -> Vec<String> {
    let log = emulator.log();
    log.iter()
        .filter(|c| c.kind == "write" && c.service != "dynamodb")
        .map(|c| format!("{}@{}", c.operation, c.region))
        .collect()
}

fn status(emulator: &Emulator, region: &str, account: &AccountId) -> Option<String> {
    members(&emulator.state(), region).get(account.as_str()).cloned()
}

#[test]
fn every_tamper_sample_is_a_tamper_call_and_no_read_only_one_is() {
    for name in fixtures_of("tamper") {
        let request = classify(&fixture(&name, &[])).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(matches!(request, Request::Tamper { .. }), "{name}: {request:?}");
    }
    let read_only: Vec<String> = fixtures_of("ignored").into_iter().filter(|n| n.starts_with("readonly-")).collect();
    assert!(read_only.len() >= 4, "{read_only:?}");
    for name in read_only {
        let request = classify(&fixture(&name, &[])).unwrap();
        assert!(matches!(request, Request::Ignore { .. }), "{name}: {request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_or_stopped_members_are_made_members_again_in_that_region_only() {
    // given a bootstrapped organization
    let (emulator, org, responder) = bootstrapped().await;
    let member = org.accounts[2];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    for (sample_name, call) in [
        ("tamper-guardduty-delete-members.json", "delete"),
        ("tamper-guardduty-disassociate-members.json", "disassociate"),
        ("tamper-guardduty-stop-monitoring-members.json", "stop"),
    ] {
        // when someone removes or stops the member in one region
        match call {
            "delete" => {
                drop(gd.delete_members().detector_id(&detector_id).account_ids(member.as_str()).send().await.unwrap())
            }
            "disassociate" => drop(
                gd.disassociate_members().detector_id(&detector_id).account_ids(member.as_str()).send().await.unwrap(),
            ),
            _ => drop(
                gd.stop_monitoring_members()
                    .detector_id(&detector_id)
                    .account_ids(member.as_str())
                    .send()
                    .await
                    .unwrap(),
            ),
        }
        assert_ne!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"), "{sample_name}");
        emulator.clear_log();
        // and its call is delivered
        let answer = responder.handle(event(sample(sample_name, &org, &member))).await.unwrap();
        // then it is an Enabled member there again, written there only, and read back
        assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"), "{sample_name}: {answer}");
        let written = writes(&emulator);
        assert!(!written.is_empty(), "{sample_name}");
        assert!(written.iter().all(|w| w.ends_with(&format!("@{HERE}"))), "{sample_name}: {written:?}");
        assert!(emulator.log().iter().all(|c| c.service != "guardduty" || c.region == HERE), "{sample_name}");
        assert!(answer["repaired"]["writes"].as_u64().unwrap() >= 1, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_monitoring_is_restarted_by_one_write_in_three_round_trips_and_a_member_gone_since_is_created() {
    // given a bootstrapped organization, and a responder that counts its repairs in the table and has answered
    // once (a warm process)
    let (emulator, org, responder) = bootstrapped().await;
    let responder = responder.with_ledger(Ledger::table(&emulator.sdk_config().await, ledger_table(&emulator).await));
    let member = org.accounts[2];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    let stop = || gd.stop_monitoring_members().detector_id(&detector_id).account_ids(member.as_str()).send();
    let payload = sample("tamper-guardduty-stop-monitoring-members.json", &org, &member);
    stop().await.unwrap();
    responder.handle(event(payload.clone())).await.unwrap();
    // when someone stops monitoring the member again and the call arrives, each call taking 100 ms
    stop().await.unwrap();
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Disabled"));
    emulator.clear_log();
    let latency = std::time::Duration::from_millis(100);
    emulator.faults(json!({"latency_ms": 100}));
    let answer = responder.handle(event(payload.clone())).await.unwrap();
    emulator.faults(json!({}));
    // then monitoring is restarted by StartMonitoringMembers alone (no CreateMembers, which would apply the
    // organization's auto-enable settings to the member's plans), read back: the account's standing, the restart
    // with the configuration, the read-back
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"), "{answer}");
    assert_eq!(writes(&emulator), vec![format!("StartMonitoringMembers@{HERE}")], "{answer}");
    assert_eq!(answer["repaired"]["writes"], 1, "{answer}");
    // and the count, taken beside the first reads, adds no round trip
    let log = emulator.log();
    assert!(log.iter().any(|c| c.operation == "UpdateItem"), "the repair was not counted");
    assert!(system_tests::round_trips(&log, latency) <= 3, "{:?}", system_tests::waves(&log, latency));
    // and when the member was deleted since it was stopped, the restart finds no member and creates it
    stop().await.unwrap();
    gd.delete_members().detector_id(&detector_id).account_ids(member.as_str()).send().await.unwrap();
    emulator.clear_log();
    let answer = responder.handle(event(payload)).await.unwrap();
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"), "{answer}");
    assert_eq!(
        writes(&emulator),
        vec![format!("StartMonitoringMembers@{HERE}"), format!("CreateMembers@{HERE}")],
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_detector_turned_off_is_turned_on_again_there_and_no_member_is_written() {
    // given a bootstrapped organization whose admin detector someone disables in one region
    let (emulator, org, responder) = bootstrapped().await;
    let admin = org.accounts[0];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    gd.update_detector().detector_id(&detector_id).enable(false).send().await.unwrap();
    assert_eq!(detector(&emulator.state(), HERE, admin.as_str()).unwrap()["enabled"], false);
    emulator.clear_log();
    // when the call is delivered (the sample is the management account's: made the admin's here)
    let mut call = sample("tamper-guardduty-update-detector.json", &org, &org.accounts[1]);
    call["detail"]["recipientAccountId"] = json!(admin.as_str());
    let answer = responder.handle(event(call)).await.unwrap();
    // then the detector is enabled again, by one write in that region, and nothing about members is written
    assert_eq!(detector(&emulator.state(), HERE, admin.as_str()).unwrap()["enabled"], true, "{answer}");
    let written = writes(&emulator);
    assert_eq!(written, vec![format!("UpdateDetector@{HERE}")], "{answer}");
    assert_eq!(answer["decision"]["decision"], "repair");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_own_call_and_a_refused_call_make_no_call_at_all() {
    let (emulator, org, responder) = bootstrapped().await;
    let member = org.accounts[2];
    // given the tool's own admin role made the call (a repair answering itself)
    let mut own = sample("tamper-guardduty-delete-members.json", &org, &member);
    let role = format!("arn:aws:iam::{}:role/{}", org.accounts[0], enablement::DEFAULT_ADMIN_ROLE_NAME);
    own["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(role);
    // and a call GuardDuty refused
    let refused = sample("tamper-guardduty-delete-detector-denied.json", &org, &member);
    for (what, payload, decision) in [("own", own, "skip"), ("refused", refused, "raise")] {
        emulator.clear_log();
        // when each is delivered
        let answer = responder.handle(event(payload)).await.unwrap();
        // then nothing is called, and the refused one is raised as an attempt
        assert!(emulator.log().is_empty(), "{what}: {:?}", emulator.log());
        assert_eq!(answer["decision"]["decision"], decision, "{what}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silencing_filter_is_raised_not_reverted() {
    let (emulator, org, responder) = bootstrapped().await;
    for name in ["tamper-guardduty-create-filter.json", "tamper-guardduty-create-ip-set.json"] {
        emulator.clear_log();
        let answer = responder.handle(event(sample(name, &org, &org.accounts[2]))).await.unwrap();
        assert_eq!(answer["decision"]["decision"], "raise", "{name}: {answer}");
        assert!(emulator.log().is_empty(), "{name}: {:?}", emulator.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_repaired_three_times_in_a_row_is_left_to_the_schedule_and_a_batch_repairs_too() {
    let (emulator, org, responder) = bootstrapped().await;
    let member = org.accounts[2];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    let payload = sample("tamper-guardduty-stop-monitoring-members.json", &org, &member);
    for round in 1..=4 {
        // given someone stops the member again
        gd.stop_monitoring_members().detector_id(&detector_id).account_ids(member.as_str()).send().await.unwrap();
        emulator.clear_log();
        // when the call arrives, inside an SQS batch
        let batch = sqs_batch(&[(format!("m{round}"), payload.clone())]);
        let answer = responder.handle(event(batch)).await.unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]), "{round}: {answer}");
        let repaired = status(&emulator, HERE, &member).as_deref() == Some("Enabled");
        // then the first three are repaired, the fourth is not (and writes nothing)
        if round <= 3 {
            assert!(repaired, "round {round}");
        } else {
            assert!(!repaired, "round {round}");
            assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repairs_are_counted_across_processes_and_a_held_key_waits_for_a_scheduled_run_that_finds_it_stable() {
    let (emulator, org, _) = bootstrapped().await;
    let table = ledger_table(&emulator).await;
    let base = emulator.sdk_config().await;
    // given two responder processes that share the table (the queue runs two batches at once)
    let vars = [("GUARDDUTY_AUTO_ENABLE", "NEW")];
    let process = || async {
        Responder::new(Ok(emulator.enabler(settings(&org.accounts[0], &vars)).await))
            .with_ledger(Ledger::table(&base, table))
    };
    let processes = [process().await, process().await];
    let member = org.accounts[2];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    let payload = sample("tamper-guardduty-stop-monitoring-members.json", &org, &member);
    let stop_and_deliver = |to: usize| {
        let (gd, detector_id, payload, emulator, processes) = (&gd, &detector_id, &payload, &emulator, &processes);
        async move {
            gd.stop_monitoring_members().detector_id(detector_id).account_ids(member.as_str()).send().await.unwrap();
            emulator.clear_log();
            processes[to].handle(event(payload.clone())).await.unwrap()
        }
    };
    // when someone stops the member four times, the calls reaching the two processes in turn
    for round in 0..3 {
        let answer = stop_and_deliver(round % 2).await;
        // then the first three are repaired, whichever process answers
        assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"), "round {round}: {answer}");
    }
    let answer = stop_and_deliver(1).await;
    // and the fourth is not: the process that made one repair knows of the other's two
    assert_eq!(answer["repaired"]["flapping"], true, "{answer}");
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Disabled"));
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));

    // when the schedule runs, it repairs the member: that is not stable, so the key stays held
    let scheduled = || async {
        let run = reconciler(&emulator, &org.accounts[0], &vars).await.with_ledger(Ledger::table(&base, table));
        run.handle(event(fixture("scheduled-event.json", &[]))).await.unwrap()
    };
    let first = scheduled().await;
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"));
    assert_eq!(first["flapping"]["held"].as_array().map(Vec::len), Some(1), "{}", first["flapping"]);
    let held = stop_and_deliver(0).await;
    assert_eq!(held["repaired"]["flapping"], true, "still held after a schedule that had to repair: {held}");
    // then a schedule that finds the region in sync releases it, and the next call is repaired again
    scheduled().await;
    let second = scheduled().await;
    assert_eq!(second["flapping"]["released"][0]["region"], HERE, "{}", second["flapping"]);
    assert_eq!(second["flapping"]["held"], json!([]));
    let answer = stop_and_deliver(0).await;
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Enabled"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_filters_to_revert_an_archive_filter_is_set_to_noop_there_its_criteria_kept() {
    // given the responder asked to revert filters, and someone's ARCHIVE filter on the admin's detector
    let (emulator, org, responder) = bootstrapped_with(&[("GUARDDUTY_TAMPER_REVERT", "filters")]).await;
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    let criteria = aws_sdk_guardduty::types::FindingCriteria::builder()
        .criterion("severity", aws_sdk_guardduty::types::Condition::builder().greater_than_or_equal(0).build())
        .build();
    gd.create_filter()
        .detector_id(&detector_id)
        .name("quiet")
        .action(aws_sdk_guardduty::types::FilterAction::Archive)
        .finding_criteria(criteria)
        .send()
        .await
        .unwrap();
    emulator.clear_log();
    // when its call is delivered
    let answer = responder.handle(event(sample("tamper-guardduty-create-filter.json", &org, &org.accounts[2]))).await;
    let answer = answer.unwrap();
    // then the filter archives nothing any more, its criteria as they were, by one write there
    let filter = gd.get_filter().detector_id(&detector_id).filter_name("quiet").send().await.unwrap();
    assert_eq!(filter.action(), Some(&aws_sdk_guardduty::types::FilterAction::Noop), "{answer}");
    assert!(filter.finding_criteria().unwrap().criterion().unwrap().contains_key("severity"));
    assert_eq!(writes(&emulator), vec![format!("UpdateFilter@{HERE}")], "{answer}");
    assert_eq!(answer["reverted"], true, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_maintenance_window_a_removed_member_is_raised_and_not_repaired() {
    // given a maintenance window that ends tomorrow
    let tomorrow = aws_sdk_guardduty::primitives::DateTime::from_secs(
        aws_sdk_guardduty::primitives::DateTime::from(std::time::SystemTime::now()).secs() + 86_400,
    )
    .fmt(aws_sdk_guardduty::primitives::DateTimeFormat::DateTime)
    .unwrap();
    let (emulator, org, responder) = bootstrapped_with(&[("GUARDDUTY_TAMPER_PAUSE_UNTIL", tomorrow.as_str())]).await;
    let member = org.accounts[2];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    gd.stop_monitoring_members().detector_id(&detector_id).account_ids(member.as_str()).send().await.unwrap();
    emulator.clear_log();
    // when the call is delivered
    let answer = responder.handle(event(sample("tamper-guardduty-stop-monitoring-members.json", &org, &member))).await;
    let answer = answer.unwrap();
    // then it is raised, and nothing is written
    assert_eq!(answer["decision"]["decision"], "raise", "{answer}");
    assert_eq!(answer["decision"]["what"], "paused", "{answer}");
    assert!(writes(&emulator).is_empty(), "{:?}", writes(&emulator));
    assert_eq!(status(&emulator, HERE, &member).as_deref(), Some("Disabled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_configuration_and_a_members_plans_are_put_back_there_only() {
    // given a bootstrapped organization whose auto-enable someone turns off in one region, and one member's S3 plan
    let (emulator, org, responder) = bootstrapped().await;
    let member = org.accounts[2];
    let (gd, detector_id) = admin_here(&emulator, &org).await;
    let off = gd
        .update_organization_configuration()
        .detector_id(&detector_id)
        .auto_enable_organization_members(aws_sdk_guardduty::types::AutoEnableMembers::None);
    off.send().await.unwrap();
    let s3_off = aws_sdk_guardduty::types::MemberFeaturesConfiguration::builder()
        .name(aws_sdk_guardduty::types::OrgFeature::S3DataEvents)
        .status(aws_sdk_guardduty::types::FeatureStatus::Disabled)
        .build();
    let plans = gd.update_member_detectors().detector_id(&detector_id).account_ids(member.as_str()).features(s3_off);
    plans.send().await.unwrap();
    for (name, operation) in [
        ("tamper-guardduty-update-organization-configuration.json", "UpdateOrganizationConfiguration"),
        ("tamper-guardduty-update-member-detectors.json", "UpdateMemberDetectors"),
    ] {
        emulator.clear_log();
        // when the call is delivered
        let answer = responder.handle(event(sample(name, &org, &member))).await.unwrap();
        // then what it changed is written back, there only
        let written = writes(&emulator);
        assert!(written.contains(&format!("{operation}@{HERE}")), "{name}: {written:?} {answer}");
        assert!(written.iter().all(|w| w.ends_with(&format!("@{HERE}"))), "{name}: {written:?}");
    }
    let config = emulator.state()["org_configs"].as_array().unwrap().clone();
    let here = config.iter().find(|c| c["region"] == HERE).unwrap();
    assert_eq!(here["auto_enable"], "NEW", "{here}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_removed_in_one_region_is_designated_again_with_its_members_there_only() {
    // given a bootstrapped organization whose admin the management account removes in one region
    let (emulator, org, responder) = bootstrapped().await;
    let gd = aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Builder::from(&emulator.sdk_config().await)
            .region(aws_sdk_guardduty::config::Region::new(HERE))
            .build(),
    );
    gd.disable_organization_admin_account().admin_account_id(org.accounts[0].as_str()).send().await.unwrap();
    emulator.clear_log();
    // when the call is delivered
    let answer = responder
        .handle(event(sample("tamper-guardduty-disable-organization-admin-account.json", &org, &org.accounts[2])))
        .await
        .unwrap();
    // then the admin is designated there again and every member there is Enabled, nothing written elsewhere
    let written = writes(&emulator);
    assert!(written.contains(&format!("EnableOrganizationAdminAccount@{HERE}")), "{written:?} {answer}");
    assert!(written.iter().all(|w| w.ends_with(&format!("@{HERE}"))), "{written:?}");
    for account in &org.accounts[1..] {
        assert_eq!(status(&emulator, HERE, account).as_deref(), Some("Enabled"), "{account}: {answer}");
    }
    assert_eq!(answer["decision"]["decision"], "repair");
}
