//! GuardDuty organization policies as AWS accepts them: the content limit (parts), the asynchronous policy type, the
//! units and the exclusions, what a region does not offer, agents a policy leaves to the API, ownership by tag, and
//! retiring; the emulator refuses what AWS refuses (content over 10,000 characters, more than 10 policies of the type
//! on a node, an attachment before the type shows ENABLED).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::types::PolicyType;
use enablement::{Error, Outcome};
use serde_json::{json, Value};
use system_tests::{enable_guardduty_policy_type, members, settings, tally, Emulator, Org};

const TWO: [&str; 2] = ["eu-west-1", "us-east-1"];
const OWNER_TAG: &str = "guardduty-enabler:owner";

fn world(regions: Option<&[&str]>, accounts: usize) -> (Emulator, Org) {
    let emulator = Emulator::start();
    if let Some(regions) = regions {
        emulator.regions(json!({"default": regions, "opt_in": []}));
    }
    let org = emulator.organization(accounts, 0);
    (emulator, org)
}

async fn organizations(emulator: &Emulator) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&emulator.sdk_config().await)
}

async fn root_id(orgs: &aws_sdk_organizations::Client) -> String {
    orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned()
}

/// A new organizational unit under `parent`, with `accounts` moved into it from the root.
async fn unit(orgs: &aws_sdk_organizations::Client, parent: &str, name: &str, accounts: &[&str]) -> String {
    let ou = orgs.create_organizational_unit().parent_id(parent).name(name).send().await.unwrap();
    let ou = ou.organizational_unit().unwrap().id().unwrap().to_owned();
    let root = root_id(orgs).await;
    for account in accounts {
        orgs.move_account()
            .account_id(*account)
            .source_parent_id(&root)
            .destination_parent_id(&ou)
            .send()
            .await
            .unwrap();
    }
    ou
}

/// The GuardDuty policies of the emulator's state, by name.
fn policies(state: &Value) -> BTreeMap<String, Value> {
    state["policies"].as_array().unwrap().iter().map(|p| (p["name"].as_str().unwrap().to_owned(), p.clone())).collect()
}

async fn tags(orgs: &aws_sdk_organizations::Client, id: &str) -> BTreeMap<String, String> {
    let out = orgs.list_tags_for_resource().resource_id(id).send().await.unwrap();
    out.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn regions_of(policy: &Value) -> BTreeSet<String> {
    policy["content"]["guardduty"]["enablement"].as_object().unwrap().keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plan_in_seventeen_regions_is_written_in_parts_within_the_limit_and_attached_once_the_type_is_enabled() {
    // given a fresh organization governing the 17 default regions, which offer every plan: one block each is about
    // 10,800 characters in one policy, over the 10,000 AWS accepts
    let (emulator, org) = world(None, 3);
    let enabler = emulator.enabler(settings(&org.accounts[0], &[("GUARDDUTY_ENABLEMENT", "policy")])).await;

    // when bootstrapped
    let report = enabler.reconcile().await.unwrap();

    // then it succeeds with two tagged parts, each within the limit, the regions split between them once each
    assert!(report.is_success(), "{:#?}", report.problems());
    let state = emulator.state();
    let all = policies(&state);
    let parts: Vec<&Value> = ["guardduty-enabler", "guardduty-enabler-2"].iter().map(|n| &all[*n]).collect();
    assert_eq!(all.len(), 2, "{:?}", all.keys());
    let orgs = organizations(&emulator).await;
    let mut seen = BTreeSet::new();
    for part in &parts {
        assert!(part["content"].to_string().len() <= 10_000);
        assert_eq!(tags(&orgs, part["id"].as_str().unwrap()).await.get(OWNER_TAG).unwrap(), "guardduty-enabler");
        for region in regions_of(part) {
            assert!(seen.insert(region.clone()), "{region} is in two parts");
        }
        assert_eq!(part["targets"], json!([root_id(&orgs).await]));
    }
    assert_eq!(seen.len(), 17);
    // and the attachments waited for ListRoots to show the type ENABLED: none was refused
    let log = emulator.log();
    let enabled_at = log.iter().position(|c| c.operation == "EnablePolicyType").unwrap();
    let first_attach = log.iter().position(|c| c.operation == "AttachPolicy").unwrap();
    assert!(log[enabled_at..first_attach].iter().any(|c| c.operation == "ListRoots"), "no ListRoots in between");
    assert!(log.iter().filter(|c| c.operation == "AttachPolicy").all(|c| c.status == 200));

    // and a second run writes nothing
    emulator.clear_log();
    let again = enabler.reconcile().await.unwrap();
    assert!(again.is_success(), "{:#?}", again.problems());
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_with_its_own_plans_inside_an_excluded_unit_is_refused_in_every_mode_before_any_write() {
    // given "sandbox" excluded and "sandbox/labs" listed with its own plans
    let (emulator, org) = world(Some(&TWO), 3);
    let orgs = organizations(&emulator).await;
    let root = root_id(&orgs).await;
    let sandbox = unit(&orgs, &root, "sandbox", &[org.accounts[1].as_str()]).await;
    let labs = unit(&orgs, &sandbox, "labs", &[]).await;
    let by_ou = format!("{labs}=S3_DATA_EVENTS");
    for mode in [vec![("GUARDDUTY_ENABLEMENT", "policy")], vec![("GUARDDUTY_AUTO_ENABLE", "NONE")]] {
        let mut vars = vec![("GUARDDUTY_EXCLUDED_OUS", sandbox.as_str()), ("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str())];
        vars.extend(mode);
        emulator.clear_log();
        // when reconciled
        let outcome = emulator.enabler(settings(&org.accounts[0], &vars)).await.reconcile().await;
        // then a configuration error names both units, and nothing was written
        match outcome {
            Err(Error::Config(e)) => {
                let text = e.to_string();
                assert!(
                    text.contains(&labs) && text.contains(&sandbox) && e.names("GUARDDUTY_FEATURES_BY_OU"),
                    "{text}"
                );
            }
            other => panic!("{vars:?}: {other:?}"),
        }
        assert_eq!(tally(&emulator.log()).writes, 0, "{vars:?}: {:?}", tally(&emulator.log()).by_operation);
    }
    // and a unit listed as excluded itself is refused before any call
    let mut map = BTreeMap::new();
    map.insert("GUARDDUTY_ADMIN_ACCOUNT_ID".to_owned(), org.accounts[0].to_string());
    map.insert("GUARDDUTY_EXCLUDED_OUS".to_owned(), sandbox.clone());
    map.insert("GUARDDUTY_FEATURES_BY_OU".to_owned(), format!("{sandbox}=S3_DATA_EVENTS"));
    map.insert("GUARDDUTY_AUTO_ENABLE".to_owned(), "NONE".to_owned());
    let refused = enablement::Settings::from_lookup(|k| map.get(k).cloned()).expect_err("refused");
    assert!(refused.names("GUARDDUTY_FEATURES_BY_OU"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_node_holds_two_of_the_tools_policies_and_an_excluded_account_inside_a_unit_keeps_the_units_policy_off() {
    // given account 1 excluded at the root, and "units" (listed with S3 Protection alone) holding accounts 2 and 3,
    // of which 3 is excluded
    let (emulator, org) = world(Some(&TWO), 4);
    let orgs = organizations(&emulator).await;
    let root = root_id(&orgs).await;
    let units = unit(&orgs, &root, "units", &[org.accounts[2].as_str(), org.accounts[3].as_str()]).await;
    let excluded = format!("{},{}", org.accounts[1], org.accounts[3]);
    let by_ou = format!("{units}=S3_DATA_EVENTS");
    let vars = [
        ("GUARDDUTY_ENABLEMENT", "policy"),
        ("GUARDDUTY_EXCLUDED_ACCOUNTS", excluded.as_str()),
        ("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str()),
    ];

    // when bootstrapped
    let report = emulator.enabler(settings(&org.accounts[0], &vars)).await.reconcile().await.unwrap();

    // then no node holds two of the tool's policies that name one region
    assert!(report.is_success(), "{:#?}", report.problems());
    let state = emulator.state();
    let mut regions_at: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for policy in policies(&state).values() {
        for target in policy["targets"].as_array().unwrap() {
            regions_at.entry(target.as_str().unwrap().to_owned()).or_default().extend(regions_of(policy));
        }
    }
    for (node, regions) in &regions_at {
        let unique: BTreeSet<&String> = regions.iter().collect();
        assert_eq!(unique.len(), regions.len(), "{node} holds two policies for one region: {regions:?}");
    }
    // and account 2 has the unit's plans alone, the excluded accounts no policy and no membership
    let unit_policy = &policies(&state)[&format!("guardduty-enabler-{units}")];
    assert_eq!(unit_policy["targets"], json!([org.accounts[2].to_string()]));
    assert!(!regions_at.contains_key(org.accounts[3].as_str()) && !regions_at.contains_key(org.accounts[1].as_str()));
    let m = members(&state, "us-east-1");
    assert!(!m.contains_key(org.accounts[1].as_str()) && !m.contains_key(org.accounts[3].as_str()), "{m:?}");
    assert_eq!(m.get(org.accounts[2].as_str()).map(String::as_str), Some("Enabled"));
}

/// Someone else's GuardDuty policy, with `blocks`, attached at the root once the type shows ENABLED.
async fn foreign_policy(emulator: &Emulator, name: &str, description: &str, blocks: Value) -> String {
    let orgs = organizations(emulator).await;
    let root = root_id(&orgs).await;
    enable_guardduty_policy_type(&orgs).await;
    let content = json!({"guardduty": {"enablement": blocks}}).to_string();
    let out = orgs
        .create_policy()
        .r#type(PolicyType::GuarddutyPolicy)
        .name(name)
        .description(description)
        .content(content)
        .send()
        .await
        .unwrap();
    let id = out.policy().unwrap().policy_summary().unwrap().id().unwrap().to_owned();
    orgs.attach_policy().policy_id(&id).target_id(&root).send().await.unwrap();
    id
}

fn on() -> Value {
    json!({"status": {"@@assign": "enabled"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_someone_elses_policy_a_plan_the_region_lacks_agents_it_leaves_and_a_plan_it_disables_are_as_they_are() {
    // given eu-west-1 without AI Protection, and a policy whose default enables GuardDuty, AI Protection and Runtime
    // Monitoring without its agents, and turns Lambda Protection off
    let (emulator, org) = world(Some(&TWO), 3);
    emulator.world(json!({"withheld_plans": {"eu-west-1": ["AI_PROTECTION"]}, "policy_enforcement_seconds": 0}));
    let default = json!({
        "foundational": on(), "ai_protection": on(), "runtime_monitoring": on(),
        "lambda_network_logs": {"status": {"@@assign": "disabled"}}
    });
    foreign_policy(&emulator, "baseline", "the security team's", json!({"default": default})).await;
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;

    // when reconciled (auto: beside the policy)
    let report = enabler.reconcile().await.unwrap();

    // then every account is protected, in both regions, with the agents the policy leaves kept through the API
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(report.summary.unprotected, 0);
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_ne!(eu.outcome, Outcome::Partial);
    let notes = eu.notes.join(" | ");
    assert!(notes.contains("turns LAMBDA_NETWORK_LOGS off"), "{notes}");
    assert!(notes.contains("enables RUNTIME_MONITORING here without deciding EC2_AGENT_MANAGEMENT"), "{notes}");
    let state = emulator.state();
    let detector = system_tests::detector(&state, "us-east-1", org.accounts[1].as_str()).unwrap();
    assert_eq!(detector["features"]["RUNTIME_MONITORING"]["agents"]["EC2_AGENT_MANAGEMENT"], "ENABLED", "{detector}");
    // and the next run is in sync
    emulator.clear_log();
    enabler.reconcile().await.unwrap();
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_named_like_the_tools_without_its_tag_is_never_touched_and_one_of_an_earlier_release_is_adopted() {
    // given a policy of an earlier release (this tool's name and description, no tag) and someone's policy named
    // like one of this tool's units, both attached at the root
    let (emulator, org) = world(Some(&TWO), 3);
    let earlier = json!({"us-east-1": {"foundational": on()}});
    let description = "GuardDuty and its protection plans in every governed region (guardduty-enabler)";
    let legacy = foreign_policy(&emulator, "guardduty-enabler", description, earlier).await;
    let theirs = foreign_policy(
        &emulator,
        "guardduty-enabler-ou-ab12-cdef5678",
        "theirs",
        json!({"default": {"foundational": on()}}),
    )
    .await;
    let orgs = organizations(&emulator).await;
    let theirs_before = orgs.describe_policy().policy_id(&theirs).send().await.unwrap();

    // when reconciled in policy mode
    let report = emulator
        .enabler(settings(&org.accounts[0], &[("GUARDDUTY_ENABLEMENT", "policy")]))
        .await
        .reconcile()
        .await
        .unwrap();

    // then the earlier release's policy is tagged and rewritten, and the other one is as it was, still attached
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(tags(&orgs, &legacy).await.get(OWNER_TAG).map(String::as_str), Some("guardduty-enabler"));
    let state = emulator.state();
    assert_eq!(regions_of(&policies(&state)["guardduty-enabler"]), TWO.iter().map(|r| (*r).to_owned()).collect());
    let theirs_after = orgs.describe_policy().policy_id(&theirs).send().await.unwrap();
    assert_eq!(theirs_after.policy().unwrap().content(), theirs_before.policy().unwrap().content());
    assert_eq!(policies(&state)["guardduty-enabler-ou-ab12-cdef5678"]["targets"].as_array().unwrap().len(), 1);
    assert!(tags(&orgs, &theirs).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_disables_the_policy_type_only_where_no_other_policy_is_left_attached() {
    // given a bootstrapped policy-mode organization
    let (emulator, org) = world(Some(&TWO), 3);
    let vars = [("GUARDDUTY_ENABLEMENT", "policy")];
    let enabler = emulator.enabler(settings(&org.accounts[0], &vars)).await;
    assert!(enabler.reconcile().await.unwrap().is_success());

    // when retired
    let done = enabler.retire_policies(false).await.unwrap();

    // then the policy is gone and the type is being disabled, so that api mode works again
    assert!(policies(&emulator.state()).is_empty(), "{done:?}");
    assert!(done.iter().any(|l| l.starts_with("disable the GuardDuty policy type")), "{done:?}");
    let types = emulator.state()["policy_types"].clone();
    assert!(types.as_array().unwrap().iter().all(|t| t["Status"] != "ENABLED"), "{types}");

    // and beside someone else's attached policy, a second retirement leaves the type enabled, saying why
    let (emulator, org) = world(Some(&TWO), 3);
    let enabler = emulator.enabler(settings(&org.accounts[0], &vars)).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    foreign_policy(&emulator, "baseline", "theirs", json!({"default": {"foundational": on()}})).await;
    let done = enabler.retire_policies(false).await.unwrap();
    assert!(done.iter().any(|l| l.contains("stays enabled") && l.contains("baseline")), "{done:?}");
    assert_eq!(policies(&emulator.state()).keys().collect::<Vec<_>>(), ["baseline"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_effective_policy_that_cannot_be_read_leaves_its_accounts_unknown_and_the_run_goes_on() {
    // given a policy-mode organization where DescribeEffectivePolicy keeps failing
    let (emulator, org) = world(Some(&TWO), 3);
    let enabler = emulator.enabler(settings(&org.accounts[0], &[("GUARDDUTY_ENABLEMENT", "policy")])).await;
    assert!(enabler.reconcile().await.unwrap().is_success());
    emulator.faults(json!({"bad_request": {"us-east-1": ["DescribeEffectivePolicy"]}}));

    // when reconciled
    let report = enabler.reconcile().await.expect("a report, not an error");

    // then every account (the admin among them) is named as unknown with why, not as uncovered, and the regions are
    // measured as before
    let policies = report.policies.as_ref().unwrap();
    assert_eq!((policies.unread_accounts, policies.uncovered_accounts), (4, 0), "{policies:?}");
    assert!(policies.unread[0].contains("DescribeEffectivePolicy"), "{:?}", policies.unread);
    assert_eq!(report.summary.accounts_protected, 2 * 3);
}
