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

/// The management account's forwarder named `name` in `region`: its state, pattern and targets (ARN, role), or
/// `None` where there is none.
async fn management_forwarder(
    emulator: &Emulator,
    region: &str,
    name: &str,
) -> Option<(String, Value, Vec<(String, Option<String>)>)> {
    let config = emulator.sdk_config().await;
    let conf = aws_sdk_eventbridge::config::Builder::from(&config)
        .region(aws_sdk_eventbridge::config::Region::new(region.to_owned()))
        .build();
    let events = aws_sdk_eventbridge::Client::from_conf(conf);
    let rule = events.describe_rule().name(name).send().await.ok()?;
    let targets = events.list_targets_by_rule().rule(name).send().await.unwrap();
    Some((
        rule.state().unwrap().as_str().to_owned(),
        serde_json::from_str(rule.event_pattern().unwrap()).unwrap(),
        targets.targets().iter().map(|t| (t.arn().to_owned(), t.role_arn().map(str::to_owned))).collect(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_accounts_own_calls_are_forwarded_from_every_other_governed_region_and_removed_on_delete() {
    // given the rules, the admin's forwarders and an organization trail, and the bootstrapper told the forwarders'
    // name and role, as the template tells it
    let (emulator, org, rules, _) = forwarding().await;
    logging_trail(&emulator.sdk_config().await, "organization", true, true).await;
    let role = format!("arn:aws:iam::{}:role/guardduty-enabler-guardduty-calls", org.management);
    let vars = [
        ("TAMPER_RULE_NAMES", rules.as_str()),
        ("TAMPER_FORWARDER", "guardduty-enabler-guardduty-calls"),
        ("TAMPER_FORWARD_ROLE_ARN", role.as_str()),
    ];
    // when the schedule runs
    let answer = schedule(&emulator, &org.accounts[0], &vars).await.unwrap();
    // then eu-west-1 (not the stack's region, us-east-1, whose rule hears the calls itself) has a forwarder: enabled,
    // matching what the template's GuardDutyTamperRule matches, sending to us-east-1's default bus through the role
    assert_eq!(answer["forwarding"]["written"], serde_json::json!(["eu-west-1"]), "{answer}");
    let (state, pattern, targets) =
        management_forwarder(&emulator, "eu-west-1", "guardduty-enabler-guardduty-calls").await.expect("forwarder");
    assert_eq!(state, "ENABLED");
    let tamper_rule: Value =
        serde_json::from_str(&system_tests::template_pattern("template.yaml", "GuardDutyTamperRule")).unwrap();
    assert_eq!(pattern, tamper_rule);
    let bus = format!("arn:aws:events:us-east-1:{}:event-bus/default", org.management);
    assert_eq!(targets, vec![(bus, Some(role.clone()))]);
    assert!(management_forwarder(&emulator, "us-east-1", "guardduty-enabler-guardduty-calls").await.is_none());
    // and detection, which now checks it, is healthy
    assert_eq!(answer["detection"]["healthy"], true, "{answer}");

    // when someone deletes it, the check names the region; the next schedule puts it back, and one in place is left
    let conf = aws_sdk_eventbridge::config::Builder::from(&emulator.sdk_config().await)
        .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
        .build();
    let events = aws_sdk_eventbridge::Client::from_conf(conf);
    events.remove_targets().rule("guardduty-enabler-guardduty-calls").ids("management-bus").send().await.unwrap();
    events.delete_rule().name("guardduty-enabler-guardduty-calls").send().await.unwrap();
    let check_only = [vars[0], vars[1]];
    let unhealthy = schedule(&emulator, &org.accounts[0], &check_only).await.unwrap();
    assert!(
        missing(&unhealthy["detection"]).iter().any(|m| m.starts_with(
            "eu-west-1: not forwarded: the management account has no rule guardduty-enabler-guardduty-calls"
        )),
        "{unhealthy}"
    );
    let again = schedule(&emulator, &org.accounts[0], &vars).await.unwrap();
    assert_eq!(again["forwarding"]["written"], serde_json::json!(["eu-west-1"]), "{again}");
    emulator.clear_log();
    let steady = schedule(&emulator, &org.accounts[0], &vars).await.unwrap();
    assert_eq!(steady["forwarding"]["in_place"], serde_json::json!(["eu-west-1"]), "{steady}");
    assert!(emulator.log().iter().all(|c| c.service != "events" || c.kind == "read"), "{:?}", emulator.log());

    // when the stack is deleted, the forwarder goes with it, and GuardDuty is left as it is
    let function = system_tests::reconciler(&emulator, &org.accounts[0], &vars).await;
    let catcher = system_tests::ResponseCatcher::start();
    let delete = system_tests::cfn_request("cfn-delete.json", &catcher.url, &org.accounts[0]);
    function.handle(system_tests::event(delete)).await.unwrap();
    assert_eq!(catcher.received()[0].2["Status"], "SUCCESS", "{:?}", catcher.received());
    assert!(management_forwarder(&emulator, "eu-west-1", "guardduty-enabler-guardduty-calls").await.is_none());
    assert!(emulator.log().iter().all(|c| c.service != "guardduty" || c.kind == "read"), "{:?}", emulator.log());
}
