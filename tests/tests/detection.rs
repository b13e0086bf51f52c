//! The scheduled run checks that tamper detection can work: in every governed region a trail logs management events
//! (the management account's, and the admin account's through an organization trail or its own), the management
//! account's two tamper rules are enabled in the stack's region, and the admin account forwards its GuardDuty calls
//! from every governed region. The answer's `detection` says whether, and what is missing. CloudTrail and EventBridge
//! are moto's, behind the emulator; the rules are created with the patterns the templates give them.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use serde_json::Value;
use system_tests::{
    admin_sdk_config, logging_trail, schedule, tamper_forwarders, tamper_rules, world_of, Emulator, Org,
};

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

/// An organization with the two tamper rules and the admin's forwarders in every governed region, and no trail yet.
async fn forwarding() -> (Emulator, Org, String, BTreeMap<String, String>) {
    let (emulator, org) = world_of(&REGIONS, 3);
    let rules = tamper_rules(&emulator).await;
    let forwarders = tamper_forwarders(&emulator, &org.accounts[0], &org.management, &REGIONS).await;
    (emulator, org, rules, forwarders)
}

/// The scheduled run's `detection`, with the rules named as the template names them.
async fn scheduled(emulator: &Emulator, org: &Org, rules: &str) -> Value {
    let answer = schedule(emulator, &org.accounts[0], &[("TAMPER_RULE_NAMES", rules)]).await.expect("answered");
    assert_eq!(answer["report"]["summary"]["regions"], 2, "{answer}");
    answer["detection"].clone()
}

fn missing(detection: &Value) -> Vec<String> {
    detection["missing"]
        .as_array()
        .unwrap_or_else(|| panic!("no missing list: {detection}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_trail_detection_cannot_work_and_each_region_is_named() {
    // given the rules and forwarders, but no trail anywhere
    let (emulator, org, rules, _) = forwarding().await;
    // when the schedule runs
    let detection = scheduled(&emulator, &org, &rules).await;
    // then it is unhealthy, and each governed region says that no trail logs either account's management events
    assert_eq!(detection["healthy"], false, "{detection}");
    let admin = org.accounts[0].as_str();
    let expected: Vec<String> = ["us-east-1", "eu-west-1"]
        .iter()
        .flat_map(|r| {
            [
                format!("{r}: no trail logs management events of the management account"),
                format!(
                    "{r}: no trail logs management events of the admin account {admin} (no organization trail, and \
                     none of its own)"
                ),
            ]
        })
        .collect();
    let mut found = missing(&detection);
    found.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_trail_and_the_rules_everywhere_make_detection_healthy_with_reads_only() {
    // given a multi-region organization trail logging in the management account, and the rules
    let (emulator, org, rules, _) = forwarding().await;
    logging_trail(&emulator.sdk_config().await, "organization", true, true).await;
    emulator.clear_log();
    // when the schedule runs
    let detection = scheduled(&emulator, &org, &rules).await;
    // then detection can work, and nothing is missing
    assert_eq!(detection["healthy"], true, "{detection}");
    assert!(missing(&detection).is_empty(), "{detection}");
    // and the check only read CloudTrail and EventBridge; the organization trail covers the admin, whose trails are
    // not read
    let checks: Vec<_> =
        emulator.log().into_iter().filter(|c| c.service == "cloudtrail" || c.service == "events").collect();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| c.kind == "read" && c.status == 200), "{checks:?}");
    let admin = org.accounts[0].as_str();
    assert!(!checks.iter().any(|c| c.service == "cloudtrail" && c.account == admin), "{checks:?}");
    for region in REGIONS {
        for operation in ["DescribeTrails", "GetTrailStatus"] {
            assert!(
                checks.iter().any(|c| c.operation == operation && c.region == region && c.account != admin),
                "{operation} in {region}: {checks:?}"
            );
        }
        assert!(checks
            .iter()
            .any(|c| c.operation == "ListRuleNamesByTarget" && c.region == region && c.account == admin));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_trail_makes_detection_unhealthy_in_every_region_it_logged() {
    // given a healthy organization whose organization trail is then stopped
    let (emulator, org, rules, _) = forwarding().await;
    let config = emulator.sdk_config().await;
    logging_trail(&config, "organization", true, true).await;
    assert_eq!(scheduled(&emulator, &org, &rules).await["healthy"], true);
    aws_sdk_cloudtrail::Client::new(&config).stop_logging().name("organization").send().await.unwrap();
    // when the schedule runs again
    let detection = scheduled(&emulator, &org, &rules).await;
    // then each region says no trail logs there
    assert_eq!(detection["healthy"], false, "{detection}");
    let found = missing(&detection);
    for region in REGIONS {
        let line = format!("{region}: no trail logs management events of the management account");
        assert!(found.contains(&line), "{line} not in {found:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_rule_makes_detection_unhealthy_and_is_named() {
    // given a healthy organization
    let (emulator, org, rules, forwarders) = forwarding().await;
    logging_trail(&emulator.sdk_config().await, "organization", true, true).await;
    assert_eq!(scheduled(&emulator, &org, &rules).await["healthy"], true);
    // when someone disables the management account's GuardDuty rule and the admin's forwarder in eu-west-1
    let guardduty_rule = rules.split(',').find(|n| n.contains("GuardDutyTamperRule")).unwrap();
    let events = aws_sdk_eventbridge::Client::new(&emulator.sdk_config().await);
    events.disable_rule().name(guardduty_rule).send().await.unwrap();
    let admin = admin_sdk_config(&emulator, &org.accounts[0]).await;
    let eu = aws_sdk_eventbridge::config::Builder::from(&admin)
        .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
        .build();
    aws_sdk_eventbridge::Client::from_conf(eu).disable_rule().name(&forwarders["eu-west-1"]).send().await.unwrap();
    let detection = scheduled(&emulator, &org, &rules).await;
    // then both are named, and nothing else
    assert_eq!(detection["healthy"], false, "{detection}");
    assert_eq!(
        missing(&detection),
        [
            format!("us-east-1: the management account's rule {guardduty_rule} is DISABLED"),
            format!("eu-west-1: the admin account's forwarding rule {} is DISABLED", forwarders["eu-west-1"]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governed_region_the_admin_does_not_forward_from_is_missing() {
    // given forwarders in the stack's region only (TamperForwardingRegions empty), an organization trail and the rules
    let (emulator, org) = world_of(&REGIONS, 3);
    let rules = tamper_rules(&emulator).await;
    tamper_forwarders(&emulator, &org.accounts[0], &org.management, &["us-east-1"]).await;
    logging_trail(&emulator.sdk_config().await, "organization", true, true).await;
    // when the schedule runs
    let detection = scheduled(&emulator, &org, &rules).await;
    // then eu-west-1 is not forwarded, and that is unhealthy (a tamper there waits for the next scheduled run)
    assert_eq!(detection["healthy"], false, "{detection}");
    let found = missing(&detection);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("eu-west-1: not forwarded: no rule of the admin account"), "{found:?}");
    // and without the rule names the management account's rules are not checked, which is said
    let answer = schedule(&emulator, &org.accounts[0], &[]).await.unwrap();
    assert!(missing(&answer["detection"]).iter().any(|m| m.contains("TAMPER_RULE_NAMES")), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_organization_trail_the_admin_accounts_own_trail_is_what_counts() {
    // given the management account's own multi-region trail (not an organization trail), and the rules
    let (emulator, org, rules, _) = forwarding().await;
    logging_trail(&emulator.sdk_config().await, "management", true, false).await;
    // when the schedule runs, the admin account's events are logged nowhere
    let detection = scheduled(&emulator, &org, &rules).await;
    assert_eq!(detection["healthy"], false, "{detection}");
    let found = missing(&detection);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|m| m.contains("no trail logs management events of the admin account")), "{found:?}");
    // and once the admin account logs with a trail of its own, detection can work
    logging_trail(&admin_sdk_config(&emulator, &org.accounts[0]).await, "admin", true, false).await;
    emulator.clear_log();
    let detection = scheduled(&emulator, &org, &rules).await;
    assert_eq!(detection["healthy"], true, "{detection}");
    let admin = org.accounts[0].as_str();
    let log = emulator.log();
    assert!(log.iter().any(|c| c.operation == "GetEventSelectors" && c.account == admin), "the admin's trail is read");
}
