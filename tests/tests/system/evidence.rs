//! `guardduty-enabler report`, the built binary, against the emulator: every field of the evidence checked against
//! the emulator's own state, for an organization with a member missing one plan, an excluded account, a suspended
//! one, an account without an opt-in region, a region that does not offer a plan, an ARCHIVE filter, an active trusted
//! IP list, a broken export destination and a plan a GuardDuty policy manages; the same state giving the same files;
//! `status` and `report` agreeing account for account; the files verifying; nothing written. Then the record over
//! time, stored in the emulator's S3 and read back into gaps; and the page, opened in headless Chromium.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aws_sdk_guardduty::types::{
    Condition, FeatureStatus, FilterAction, FindingCriteria, IpSetFormat, MemberFeaturesConfiguration, OrgFeature,
    ThreatIntelSetFormat,
};
use aws_sdk_organizations::types::PolicyType;
use enablement::evidence::{self, S3Records};
use serde_json::{json, Value};
use system_tests::{browser, cli, enable_guardduty_policy_type, members, settings, tally, Emulator, Org};

const REGIONS: [&str; 3] = ["af-south-1", "eu-west-1", "us-east-1"];
const DESTINATION: &str = "arn:aws:s3:::guardduty-findings/guardduty";
const KEY: &str = "arn:aws:kms:us-east-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// The plans the emulator's regions offer (world.py's FEATURES), with their additional configurations.
const OFFERED: [(&str, &[&str]); 8] = [
    ("AI_PROTECTION", &[]),
    ("EBS_MALWARE_PROTECTION", &[]),
    ("EKS_AUDIT_LOGS", &[]),
    ("EKS_RUNTIME_MONITORING", &["EKS_ADDON_MANAGEMENT"]),
    ("LAMBDA_NETWORK_LOGS", &[]),
    ("RDS_LOGIN_EVENTS", &["RDS_DATA_RISK"]),
    ("RUNTIME_MONITORING", &["EC2_AGENT_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EKS_ADDON_MANAGEMENT"]),
    ("S3_DATA_EVENTS", &[]),
];
/// The plan eu-west-1 does not offer here.
const WITHHELD: (&str, &str) = ("eu-west-1", "RDS_LOGIN_EVENTS");

/// The organization of the issue: accounts[0] the admin, [1] under Root/Prod/Legacy and [2] under Root/Prod (a
/// GuardDuty policy on Prod manages their S3 Protection), [2] without Lambda Protection in us-east-1, [3] excluded,
/// [4] without af-south-1, one suspended account; findings exported, failing in eu-west-1; in us-east-1 an ARCHIVE
/// filter, a NOOP one and an active trusted IP list, in eu-west-1 an inactive threat list.
struct World {
    emulator: Emulator,
    org: Org,
    env: Vec<(&'static str, String)>,
}

impl World {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    fn admin(&self) -> String {
        self.org.accounts[0].to_string()
    }
}

async fn world() -> World {
    let emulator = Emulator::start();
    let org = emulator.organization(5, 1);
    let a = |i: usize| org.accounts[i].to_string();
    let opted: serde_json::Map<String, Value> = [org.management.to_string(), a(0), a(1), a(2), a(3)]
        .into_iter()
        .map(|id| (id, json!(["af-south-1"])))
        .collect();
    emulator.regions(json!({"default": ["eu-west-1", "us-east-1"], "opt_in": ["af-south-1"], "enabled": opted}));
    emulator.world(json!({"withheld_plans": {WITHHELD.0: [WITHHELD.1]}}));
    emulator.control(
        "POST",
        "/_emulator/export",
        &json!({"buckets": {"guardduty-findings": {"region": "us-east-1", "owner": "999988887777", "prefixes": ["guardduty/"]}},
                "broken": {"eu-west-1": "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"}, "verification_seconds": 0}),
    );
    units_and_policy(&emulator, &org).await;
    let env = vec![
        ("GUARDDUTY_ADMIN_ACCOUNT_ID", a(0)),
        ("GUARDDUTY_AUTO_ENABLE", "NONE".to_owned()),
        ("GUARDDUTY_EXCLUDED_ACCOUNTS", a(3)),
        ("GUARDDUTY_FINDINGS_DESTINATION", DESTINATION.to_owned()),
        ("GUARDDUTY_FINDINGS_KMS_KEY", KEY.to_owned()),
    ];
    let world = World { emulator, org, env };
    let vars: Vec<(&str, &str)> = world.env().into_iter().skip(1).collect();
    let report = world.emulator.enabler(settings(&world.org.accounts[0], &vars)).await.reconcile().await.unwrap();
    assert_eq!(report.summary.failed, 0, "{:#?}", report.problems());
    silencing_and_drift(&world).await;
    world
}

/// Root/Prod/Legacy with accounts[1], Root/Prod with accounts[2], and a GuardDuty policy on Prod enabling GuardDuty and
/// S3 Protection.
async fn units_and_policy(emulator: &Emulator, org: &Org) {
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let unit = |parent: String, name: &'static str| {
        let orgs = orgs.clone();
        async move {
            let ou = orgs.create_organizational_unit().parent_id(parent).name(name).send().await.unwrap();
            ou.organizational_unit().unwrap().id().unwrap().to_owned()
        }
    };
    let prod = unit(root.clone(), "Prod").await;
    let legacy = unit(prod.clone(), "Legacy").await;
    for (account, to) in [(&org.accounts[1], &legacy), (&org.accounts[2], &prod)] {
        orgs.move_account()
            .account_id(account.as_str())
            .source_parent_id(&root)
            .destination_parent_id(to)
            .send()
            .await
            .unwrap();
    }
    enable_guardduty_policy_type(&orgs).await;
    let on = json!({"status": {"@@assign": "enabled"}});
    let content = json!({"guardduty": {"enablement": {"default": {"foundational": on, "s3_data_events": on}}}});
    let policy = orgs
        .create_policy()
        .r#type(PolicyType::GuarddutyPolicy)
        .name("prod-baseline")
        .description("the security team's")
        .content(content.to_string())
        .send()
        .await
        .unwrap();
    let id = policy.policy().unwrap().policy_summary().unwrap().id().unwrap().to_owned();
    orgs.attach_policy().policy_id(&id).target_id(&prod).send().await.unwrap();
}

/// The silencing places, and accounts[2]'s Lambda Protection switched off in us-east-1, as the admin would.
async fn silencing_and_drift(world: &World) {
    let gd = world.emulator.admin_guardduty(&world.org.accounts[0], "us-east-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.update_member_detectors()
        .detector_id(&detector)
        .account_ids(world.org.accounts[2].as_str())
        .features(
            MemberFeaturesConfiguration::builder()
                .name(OrgFeature::LambdaNetworkLogs.as_str().into())
                .status(FeatureStatus::Disabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let criteria = |field: &str, value: &str| {
        FindingCriteria::builder().criterion(field, Condition::builder().equals(value).build()).build()
    };
    gd.create_filter()
        .detector_id(&detector)
        .name("suppress-portscans")
        .action(FilterAction::Archive)
        .rank(1)
        .finding_criteria(criteria("type", "Recon:EC2/Portscan"))
        .send()
        .await
        .unwrap();
    gd.create_filter()
        .detector_id(&detector)
        .name("high-severity-view")
        .action(FilterAction::Noop)
        .rank(2)
        .finding_criteria(criteria("severity", "8"))
        .send()
        .await
        .unwrap();
    gd.create_ip_set()
        .detector_id(&detector)
        .name("office egress")
        .format(IpSetFormat::Txt)
        .location("https://s3.amazonaws.com/lists/office.txt")
        .activate(true)
        .send()
        .await
        .unwrap();
    let eu = world.emulator.admin_guardduty(&world.org.accounts[0], "eu-west-1").await;
    let eu_detector = eu.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    eu.create_threat_intel_set()
        .detector_id(&eu_detector)
        .name("threat feed")
        .format(ThreatIntelSetFormat::Txt)
        .location("https://s3.amazonaws.com/lists/feed.txt")
        .activate(false)
        .send()
        .await
        .unwrap();
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("evidence-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_of_the_evidence_is_what_the_emulator_holds() {
    let world = world().await;
    let dir = scratch("fields");
    world.emulator.clear_log();
    let ran = cli(&world.emulator, &["report", "--out", dir.to_str().unwrap()], &world.env());
    // a member without a plan it should have: not clean, exit code 2; and nothing written to AWS
    assert_eq!(ran.code, 2, "{ran:?}");
    let calls = tally(&world.emulator.log());
    assert_eq!(calls.writes, 0, "{:?}", calls.by_operation);
    let d = read_json(&dir.join("evidence.json"));
    let state = world.emulator.state();
    check_header(&world, &d).await;
    check_accounts(&world, &d);
    check_matrix(&world, &d, &state);
    check_regions(&world, &d, &state);
    check_controls(&world, &d, &state);
    check_frameworks(&d);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn check_header(world: &World, d: &Value) {
    let orgs = aws_sdk_organizations::Client::new(&world.emulator.sdk_config().await);
    let described = orgs.describe_organization().send().await.unwrap();
    assert_eq!(d["schema"], "guardduty-enabler/evidence/1");
    assert_eq!(d["organization"]["id"], described.organization().unwrap().id().unwrap());
    assert_eq!(d["organization"]["management_account"], world.org.management.as_str());
    assert_eq!(d["organization"]["admin_account"], world.admin().as_str());
    assert_eq!(d["enablement"], "policy", "the GuardDuty policy type is enabled on the root");
    assert_eq!(d["tool"]["version"], env!("CARGO_PKG_VERSION"));
    let observed = d["observed_at"].as_str().unwrap();
    assert!(observed.len() == 20 && observed.ends_with('Z'), "{observed}");
    assert!(d["header"]["ran_by"].as_str().unwrap().starts_with("arn:aws:"), "{}", d["header"]);
    assert_eq!(d["header"]["configuration"]["excluded_accounts"], json!([world.org.accounts[3].as_str()]));
}

fn check_accounts(world: &World, d: &Value) {
    let (org, a) = (&world.org, |i: usize| world.org.accounts[i].to_string());
    let accounts = d["accounts"].as_array().unwrap();
    let ids: BTreeSet<&str> = accounts.iter().map(|x| x["account"].as_str().unwrap()).collect();
    let mut expected: BTreeSet<String> = org.accounts.iter().chain(&org.suspended).map(ToString::to_string).collect();
    expected.insert(org.management.to_string());
    assert_eq!(ids, expected.iter().map(String::as_str).collect());
    assert_eq!(accounts[0]["account"], org.management.as_str(), "the management account first");
    assert_eq!(accounts[1]["account"], a(0).as_str(), "the delegated admin second");
    let by = |id: &str| accounts.iter().find(|x| x["account"] == id).unwrap();
    assert_eq!(by(&a(1))["ou_path"], "Root/Prod/Legacy");
    assert_eq!(by(&a(2))["ou_path"], "Root/Prod");
    assert_eq!(by(org.management.as_str())["ou_path"], "Root");
    assert_eq!(by(&a(3))["excluded"], true);
    assert_eq!(by(&a(3))["excluded_reason"], "GUARDDUTY_EXCLUDED_ACCOUNTS");
    assert_eq!(by(org.suspended[0].as_str())["status"], "SUSPENDED");
    assert_eq!(by(&a(1))["name"], "member-1");
    assert!(accounts.iter().filter(|x| x["account"] != a(3).as_str()).all(|x| x["excluded"] == false));
}

/// What the emulator shows of one account in one region: (coverage, relationship, plans as the report spells them).
fn expected_cell(world: &World, state: &Value, account: &str, region: &str) -> (String, Value, Value) {
    let admin = world.admin();
    let member = members(state, region).get(account).cloned();
    let detector = system_tests::detector(state, region, account);
    let readable = account == admin || member.as_deref() == Some("Enabled");
    let mut plans = serde_json::Map::new();
    for (plan, agents) in OFFERED {
        if (region, plan) == WITHHELD {
            plans.insert(plan.into(), json!({"status": "NOT_OFFERED"}));
            continue;
        }
        let shown = detector.filter(|_| readable).map(|d| d["features"][plan].clone()).unwrap_or(Value::Null);
        let on = |s: &Value| if s == "ENABLED" { "ENABLED" } else { "DISABLED" };
        let mut cell = json!({"status": on(&shown["status"])});
        let managed =
            shown.get("managed_by").is_some() || shown["agents_managed_by"].as_object().is_some_and(|m| !m.is_empty());
        if managed {
            cell["managed_by"] = json!("GUARDDUTY_POLICY");
        }
        if !agents.is_empty() {
            cell["additional"] = agents.iter().map(|a| (a.to_string(), json!(on(&shown["agents"][*a])))).collect();
        }
        plans.insert(plan.into(), cell);
    }
    let complete = plans.iter().filter(|(p, _)| *p != "EKS_RUNTIME_MONITORING").all(|(_, c)| {
        c["status"] != "DISABLED" && c["additional"].as_object().into_iter().flatten().all(|(_, s)| s == "ENABLED")
    });
    let suspended = world.org.suspended.iter().any(|s| s.as_str() == account);
    let coverage = match member.as_deref() {
        _ if account == admin => "admin",
        _ if suspended => "not_active",
        _ if account == world.org.accounts[3].as_str() => "excluded",
        Some("RegionDisabled") => "region_not_enabled",
        Some("Enabled") if complete => "protected",
        _ => "unprotected",
    };
    (coverage.to_owned(), member.map_or(Value::Null, Value::String), Value::Object(plans))
}

fn check_matrix(world: &World, d: &Value, state: &Value) {
    let accounts = d["accounts"].as_array().unwrap();
    let matrix = d["matrix"].as_array().unwrap();
    assert_eq!(matrix.len(), accounts.len() * REGIONS.len());
    for (i, cell) in matrix.iter().enumerate() {
        let account = accounts[i / REGIONS.len()]["account"].as_str().unwrap();
        let region = REGIONS[i % REGIONS.len()];
        assert_eq!((cell["account"].as_str().unwrap(), cell["region"].as_str().unwrap()), (account, region));
        let (coverage, relationship, plans) = expected_cell(world, state, account, region);
        assert_eq!(cell["coverage"], coverage.as_str(), "{account} in {region}: {cell}");
        assert_eq!(cell["relationship"], relationship, "{account} in {region}");
        assert_eq!(cell["plans"], plans, "{account} in {region}");
    }
    // the cases of the issue, by name
    let cell = |i: usize, region: &str| {
        matrix.iter().find(|c| c["account"] == world.org.accounts[i].as_str() && c["region"] == region).unwrap()
    };
    assert_eq!(cell(2, "us-east-1")["coverage"], "unprotected");
    assert_eq!(cell(2, "us-east-1")["reason"], "protection plans not enabled: LAMBDA_NETWORK_LOGS");
    assert_eq!(cell(2, "eu-west-1")["coverage"], "protected");
    assert_eq!(cell(1, "us-east-1")["plans"]["S3_DATA_EVENTS"]["managed_by"], "GUARDDUTY_POLICY");
    assert_eq!(cell(4, "af-south-1")["coverage"], "region_not_enabled");
    assert_eq!(cell(3, "us-east-1")["coverage"], "excluded");
    assert_eq!(cell(0, "eu-west-1")["plans"]["RDS_LOGIN_EVENTS"]["status"], "NOT_OFFERED");
}

fn check_regions(world: &World, d: &Value, state: &Value) {
    let admin = world.admin();
    let matrix = d["matrix"].as_array().unwrap();
    for (i, region) in REGIONS.iter().enumerate() {
        let r = &d["regions"][i];
        assert_eq!(r["region"], *region);
        let designated = state["admins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["region"] == *region && a["admin"] == admin.as_str() && a["status"] == "ENABLED");
        assert_eq!(r["admin_designated"], designated);
        assert_eq!(r["admin_detector"], "ENABLED");
        assert_eq!(r["auto_enable"], "POLICY");
        let count = |c: &str| matrix.iter().filter(|x| x["region"] == *region && x["coverage"] == c).count();
        for (key, coverage) in [
            ("protected", "protected"),
            ("unprotected", "unprotected"),
            ("excluded", "excluded"),
            ("not_enabled", "region_not_enabled"),
            ("not_active", "not_active"),
        ] {
            assert_eq!(r[key], count(coverage), "{region} {key}");
        }
        assert_eq!(r["expected"], count("protected") + count("unprotected"));
        // the export, as the emulator describes it
        let dest = state["publishing_destinations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["region"] == *region && x["account"] == admin.as_str())
            .unwrap();
        assert_eq!(r["export"]["status"], dest["status"], "{region}");
        assert_eq!(r["export"]["destination"], dest["destination_arn"]);
        assert_eq!(r["export"]["kms_key"], dest["kms_key_arn"]);
        // the silencing places
        let filters: Vec<&Value> = state["filters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["region"] == *region && f["account"] == admin.as_str())
            .collect();
        let archive: Vec<Value> = filters.iter().filter(|f| f["action"] == "ARCHIVE").map(|f| json!({"name": f["name"], "criteria": f["findingCriteria"], "rank": f["rank"], "description": null})).collect();
        assert_eq!(r["archive_filters"], json!(archive), "{region}");
        assert_eq!(r["other_filters"], filters.len() - archive.len());
        for (key, kind) in [
            ("trusted_ip_sets", "ipset"),
            ("threat_intel_sets", "threatintelset"),
            ("trusted_entity_sets", "trustedentityset"),
            ("threat_entity_sets", "threatentityset"),
        ] {
            let lists: Vec<Value> = state["lists"].as_array().unwrap().iter().filter(|l| l["region"] == *region && l["account"] == admin.as_str() && l["kind"] == kind).map(|l| json!({"name": l["name"], "status": l["status"], "location": l["location"], "format": l["format"], "id": l["id"]})).collect();
            assert_eq!(r[key], json!(lists), "{region} {key}");
        }
        let offered: Vec<&str> = OFFERED.iter().map(|(p, _)| *p).filter(|p| (*region, *p) != WITHHELD).collect();
        assert_eq!(r["plans_offered"], json!(offered));
    }
    // the cases of the issue, by name
    assert_eq!(d["regions"][1]["export"]["status"], "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY");
    assert_eq!(d["regions"][2]["archive_filters"][0]["name"], "suppress-portscans");
    assert_eq!(d["regions"][2]["trusted_ip_sets"][0]["status"], "ACTIVE");
    assert_eq!(d["regions"][1]["threat_intel_sets"][0]["status"], "INACTIVE");
}

/// The controls by the rule Security Hub documents, from the emulator's state: GuardDuty.1 fails for every ACTIVE
/// account GuardDuty does not show enabled (where it has the region); a plan control for the admin and every member
/// record (but RegionDisabled ones) without the plan; NOT_APPLICABLE where the region does not offer it.
fn check_controls(world: &World, d: &Value, state: &Value) {
    // (control, the plans that pass it: any of (plan, additional configuration)); none: GuardDuty itself
    type Alternatives = &'static [(&'static str, Option<&'static str>)];
    let checks: [(&str, Alternatives); 10] = [
        ("GuardDuty.1", &[]),
        ("GuardDuty.5", &[("EKS_AUDIT_LOGS", None)]),
        ("GuardDuty.6", &[("LAMBDA_NETWORK_LOGS", None)]),
        (
            "GuardDuty.7",
            &[
                ("RUNTIME_MONITORING", Some("EKS_ADDON_MANAGEMENT")),
                ("EKS_RUNTIME_MONITORING", Some("EKS_ADDON_MANAGEMENT")),
            ],
        ),
        ("GuardDuty.8", &[("EBS_MALWARE_PROTECTION", None)]),
        ("GuardDuty.9", &[("RDS_LOGIN_EVENTS", None)]),
        ("GuardDuty.10", &[("S3_DATA_EVENTS", None)]),
        ("GuardDuty.11", &[("RUNTIME_MONITORING", None)]),
        ("GuardDuty.12", &[("RUNTIME_MONITORING", Some("ECS_FARGATE_AGENT_MANAGEMENT"))]),
        ("GuardDuty.13", &[("RUNTIME_MONITORING", Some("EC2_AGENT_MANAGEMENT"))]),
    ];
    let admin = world.admin();
    let active: Vec<String> =
        world.org.accounts.iter().chain([&world.org.management]).map(ToString::to_string).collect();
    let controls = d["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 10 * REGIONS.len());
    for region in REGIONS {
        let m = members(state, region);
        for (id, alternatives) in checks {
            let c = controls.iter().find(|c| c["id"] == id && c["region"] == region).unwrap();
            if alternatives.iter().all(|(p, _)| (region, *p) == WITHHELD) && !alternatives.is_empty() {
                assert_eq!(c["result"], "NOT_APPLICABLE", "{id} {region}");
                continue;
            }
            let mut failing: Vec<String> = if alternatives.is_empty() {
                active
                    .iter()
                    .filter(|a| {
                        **a != admin
                            && m.get(*a).map(String::as_str) != Some("RegionDisabled")
                            && m.get(*a).map(String::as_str) != Some("Enabled")
                    })
                    .cloned()
                    .collect()
            } else {
                let concerned =
                    m.iter().filter(|(_, s)| *s != "RegionDisabled").map(|(a, _)| a.clone()).chain([admin.clone()]);
                concerned
                    .filter(|a| {
                        let f = &system_tests::detector(state, region, a).unwrap()["features"];
                        !alternatives.iter().any(|(p, agent)| {
                            f[*p]["status"] == "ENABLED" && agent.is_none_or(|x| f[*p]["agents"][x] == "ENABLED")
                        })
                    })
                    .collect()
            };
            failing.sort();
            let result = if failing.is_empty() { "PASSED" } else { "FAILED" };
            assert_eq!(c["result"], result, "{id} {region}: {c}");
            assert_eq!(c["failing_accounts"], json!(failing), "{id} {region}");
        }
    }
    // the cases of the issue, by name
    let one =
        |id: &str, region: &str| controls.iter().find(|c| c["id"] == id && c["region"] == region).unwrap().clone();
    let g1 = one("GuardDuty.1", "us-east-1");
    assert_eq!(
        (g1["failing_accounts"].clone(), g1["explained_by_configuration"].clone()),
        (json!([world.org.accounts[3].as_str()]), json!(true))
    );
    assert!(g1["note"].as_str().unwrap().starts_with("excluded by configuration"));
    let g6 = one("GuardDuty.6", "us-east-1");
    assert_eq!(
        (g6["failing_accounts"].clone(), g6["explained_by_configuration"].clone()),
        (json!([world.org.accounts[2].as_str()]), json!(false))
    );
    assert_eq!(one("GuardDuty.9", "eu-west-1")["result"], "NOT_APPLICABLE");
    assert_eq!(one("GuardDuty.10", "us-east-1")["title"], "GuardDuty S3 Protection should be enabled");
    assert_eq!(d["summary"]["clean"], false);
}

fn check_frameworks(d: &Value) {
    let frameworks = d["frameworks"].as_array().unwrap();
    let result = |req: &str| frameworks.iter().find(|f| f["requirement"] == req).unwrap()["result"].clone();
    assert_eq!(result("2.1.6"), "PASSED", "the admin is a member account, designated everywhere");
    assert_eq!(result("11.5.1"), "FAILED", "GuardDuty.1 and .6 fail");
    for req in ["10.7.2", "10.7.3", "CC7.1", "CC7.2"] {
        assert_eq!(result(req), "EVIDENCE", "{req}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_state_gives_the_same_files_report_and_status_agree_and_the_files_verify() {
    let world = world().await;
    let (first, second) = (scratch("same-1"), scratch("same-2"));
    for dir in [&first, &second] {
        let ran = cli(&world.emulator, &["report", "--out", dir.to_str().unwrap()], &world.env());
        assert_eq!(ran.code, 2, "{ran:?}");
        std::thread::sleep(std::time::Duration::from_millis(1100)); // a second apart: observed_at differs
    }
    // the same files, apart from observed_at and the header
    let strip = |dir: &Path| {
        let mut d = read_json(&dir.join("evidence.json"));
        assert!(d["observed_at"].is_string() && d["header"].is_object());
        d["observed_at"] = Value::Null;
        d["header"] = Value::Null;
        d
    };
    assert_ne!(
        read_json(&first.join("evidence.json"))["observed_at"],
        read_json(&second.join("evidence.json"))["observed_at"]
    );
    assert_eq!(strip(&first), strip(&second));
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read(&first, "evidence.csv"), read(&second, "evidence.csv"));
    let body = |html: String| html[html.find("<!-- /header -->").unwrap()..].to_owned();
    assert_eq!(body(read(&first, "evidence.html")), body(read(&second, "evidence.html")));
    // status and report agree, region by region, account by account
    let status = cli(&world.emulator, &["status", "--json"], &world.env());
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let evidence = read_json(&first.join("evidence.json"));
    for region in status["regions"].as_array().unwrap() {
        let name = region["region"].as_str().unwrap();
        let r = evidence["regions"].as_array().unwrap().iter().find(|r| r["region"] == name).unwrap();
        assert_eq!(
            (r["expected"].clone(), r["protected"].clone()),
            (region["coverage"]["expected"].clone(), region["coverage"]["protected"].clone()),
            "{name}"
        );
        let unprotected: BTreeSet<&str> =
            region["unprotected"].as_array().unwrap().iter().map(|u| u["account"].as_str().unwrap()).collect();
        let in_report: BTreeSet<&str> = evidence["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["region"] == name && c["coverage"] == "unprotected")
            .map(|c| c["account"].as_str().unwrap())
            .collect();
        assert_eq!(unprotected, in_report, "{name}");
    }
    // the files verify, with the tool and with sha256sum -c; a changed byte does not
    let verify = cli(&world.emulator, &["report", "verify", first.to_str().unwrap()], &[]);
    assert_eq!(verify.code, 0, "{verify:?}");
    assert_eq!(verify.stdout.matches(": OK").count(), 3, "{}", verify.stdout);
    let coreutils = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&first)
        .output()
        .unwrap();
    assert!(coreutils.status.success(), "{}", String::from_utf8_lossy(&coreutils.stdout));
    let csv = first.join("evidence.csv");
    std::fs::write(&csv, read(&first, "evidence.csv").replacen("protected", "unprotected", 1)).unwrap();
    let verify = cli(&world.emulator, &["report", "verify", first.to_str().unwrap()], &[]);
    assert_eq!(verify.code, 2, "{verify:?}");
    assert!(verify.stdout.contains("evidence.csv: FAILED"), "{}", verify.stdout);
    let missing = cli(&world.emulator, &["report", "verify", scratch("nowhere").to_str().unwrap()], &[]);
    assert_eq!(missing.code, 1, "{missing:?}");
    // and the CSV has a line per row of the matrix, a header line, and the plans as columns
    let csv = read(&second, "evidence.csv");
    assert_eq!(csv.lines().count(), 1 + evidence["matrix"].as_array().unwrap().len());
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .starts_with("account,name,region,coverage,relationship,reason,managed_by_policy,AI_PROTECTION,"));
    assert!(csv.ends_with("\r\n"));
    for dir in [first, second] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_over_time_is_read_back_into_gaps_with_start_end_cause_and_repair() {
    // given a small organization, and a bucket for the record
    let (emulator, org) = system_tests::world_of(&["us-east-1"], 3);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    enabler.reconcile().await.unwrap();
    let base = emulator.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&base).force_path_style(true).build());
    s3.create_bucket().bucket("org-evidence").send().await.unwrap();
    let records = S3Records::new(s3.clone(), "org-evidence");
    // when three days are observed: in sync, then a member's monitoring stopped, then repaired by a reconcile
    let member = org.accounts[1];
    let mut keys = Vec::new();
    for (day, change) in [("2026-11-01", "none"), ("2026-11-02", "stop"), ("2026-11-03", "repair")] {
        match change {
            "stop" => {
                let gd = emulator.admin_guardduty(&admin, "us-east-1").await;
                let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
                gd.stop_monitoring_members().detector_id(detector).account_ids(member.as_str()).send().await.unwrap();
            }
            "repair" => {
                enabler.reconcile().await.unwrap();
            }
            _ => {}
        }
        let mut document = evidence::collect(&enabler, None).await.unwrap();
        document.observed_at = format!("{day}T03:00:00Z");
        keys.push(evidence::store(&records, &document).await.unwrap());
    }
    // then each record is gzip JSON under its day
    assert_eq!(keys[0], "evidence/2026/11/01/20261101T030000Z.json.gz");
    let listed = s3.list_objects_v2().bucket("org-evidence").prefix("evidence/2026/11/").send().await.unwrap();
    assert_eq!(listed.contents().len(), 3);
    // and the command line reads the range back (a fourth day without a record): exit code 2
    let dir = scratch("range");
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str()), ("GUARDDUTY_EVIDENCE_BUCKET", "org-evidence")];
    let ran =
        cli(&emulator, &["report", "--from", "2026-11-01", "--to", "2026-11-04", "--out", dir.to_str().unwrap()], &env);
    assert_eq!(ran.code, 2, "{ran:?}");
    let range = read_json(&dir.join("evidence.json"));
    assert_eq!(range["schema"], "guardduty-enabler/evidence-range/1");
    assert_eq!(range["days"], 4);
    assert_eq!(range["days_without_record"], json!(["2026-11-04"]));
    assert_eq!(
        range["gaps"],
        json!([{
            "account": member.as_str(), "name": "member-1", "region": "us-east-1",
            "start": "2026-11-02T03:00:00Z", "end": "2026-11-03T03:00:00Z",
            "cause": "monitoring is stopped (Disabled)", "repaired": "member status Disabled to Enabled", "records": 1
        }])
    );
    let share = range["coverage"].as_array().unwrap().iter().find(|s| s["account"] == member.as_str()).unwrap();
    assert_eq!(
        (share["days_expected"].clone(), share["days_fully_covered"].clone(), share["share"].clone()),
        (json!(3), json!(2), json!(0.5))
    );
    assert_eq!(range["records"].as_array().unwrap().len(), 3);
    let csv = std::fs::read_to_string(dir.join("evidence.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "a header and the one gap:\n{csv}");
    assert!(cli(&emulator, &["report", "verify", dir.to_str().unwrap()], &[]).code == 0);
    // and a range without the bucket configured is an error before any call
    emulator.clear_log();
    let no_bucket = cli(
        &emulator,
        &["report", "--from", "2026-11-01", "--to", "2026-11-04", "--out", dir.to_str().unwrap()],
        &env[..1],
    );
    assert_eq!(no_bucket.code, 1, "{no_bucket:?}");
    assert!(no_bucket.stderr.contains("GUARDDUTY_EVIDENCE_BUCKET"), "{no_bucket:?}");
    let backwards =
        cli(&emulator, &["report", "--from", "2026-11-04", "--to", "2026-11-01", "--out", dir.to_str().unwrap()], &env);
    assert_eq!(backwards.code, 1, "{backwards:?}");
    assert!(emulator.log().is_empty(), "{:?}", tally(&emulator.log()).by_operation);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_keeps_the_organization_as_it_found_it_then_repairs_it() {
    // given an organization in sync, a bucket for the record, and a member whose monitoring was stopped
    let (emulator, org) = system_tests::world_of(&["us-east-1"], 3);
    let (admin, member) = (org.accounts[0], org.accounts[1]);
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let base = emulator.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&base).force_path_style(true).build());
    s3.create_bucket().bucket("org-evidence").send().await.unwrap();
    let gd = emulator.admin_guardduty(&admin, "us-east-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.stop_monitoring_members().detector_id(detector).account_ids(member.as_str()).send().await.unwrap();
    let vars = [("GUARDDUTY_EVIDENCE_BUCKET", "org-evidence")];
    emulator.clear_log();

    // when the schedule runs, and again a second later
    let first = system_tests::schedule(&emulator, &admin, &vars).await.expect("answered");
    let log = emulator.log();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = system_tests::schedule(&emulator, &admin, &vars).await.expect("answered");

    // then the first record was kept before the run's first write, and shows the member as the run found it
    let put = log.iter().position(|c| c.operation == "PutObject").expect("a record kept");
    let repair = log.iter().position(|c| c.operation == "StartMonitoringMembers").expect("the member repaired");
    assert!(put < repair, "the record shows the organization before the repair");
    assert_eq!(first["evidence"]["clean"], false, "{}", first["evidence"]);
    assert_eq!(second["evidence"]["clean"], true, "{}", second["evidence"]);
    let today = evidence::Day::of_timestamp(&evidence::now()).unwrap();
    let key = first["evidence"]["key"].as_str().unwrap();
    assert!(key.starts_with(&format!("evidence/{}/", today.folder())), "{key}");
    assert_eq!(first["report"]["summary"]["in_sync"], 0, "{}", first["report"]["summary"]);
    assert_eq!(second["report"]["summary"]["in_sync"], 1, "{}", second["report"]["summary"]);
    // and the record reads back into the gap, its start, end, cause and repair
    let records = S3Records::connect(&base, "org-evidence");
    let header = evidence::Header { ran_by: "a test".into(), configuration: Value::Null };
    let range = evidence::history(&records, today, today, header).await.unwrap();
    let gaps = serde_json::to_value(&range.gaps).unwrap();
    assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps}");
    assert_eq!(gaps[0]["account"], member.as_str());
    assert_eq!(gaps[0]["cause"], "monitoring is stopped (Disabled)");
    assert_eq!(gaps[0]["repaired"], "member status Disabled to Enabled");
    assert_eq!(gaps[0]["start"], first["evidence"]["key"].as_str().map(observed_at).unwrap());
    assert_eq!(gaps[0]["end"], second["evidence"]["key"].as_str().map(observed_at).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_cannot_be_kept_is_said_and_the_schedule_still_repairs() {
    // given a member whose monitoring was stopped, and a record bucket that does not exist
    let (emulator, org) = system_tests::world_of(&["us-east-1"], 3);
    let (admin, member) = (org.accounts[0], org.accounts[1]);
    emulator.enabler(settings(&admin, &[])).await.reconcile().await.unwrap();
    let gd = emulator.admin_guardduty(&admin, "us-east-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.stop_monitoring_members().detector_id(detector).account_ids(member.as_str()).send().await.unwrap();

    // when the schedule runs
    let answer = system_tests::schedule(&emulator, &admin, &[("GUARDDUTY_EVIDENCE_BUCKET", "no-such-bucket")])
        .await
        .expect("answered");

    // then the answer says why no record was kept, and the member is repaired all the same
    let failed = answer["evidence"]["failed"].as_str().unwrap_or_default();
    assert!(failed.contains("PutObject") && failed.contains("no-such-bucket"), "{}", answer["evidence"]);
    assert_eq!(members(&emulator.state(), "us-east-1")[member.as_str()], "Enabled");
    // and without a bucket named, the schedule keeps none and says nothing of it
    let without = system_tests::schedule(&emulator, &admin, &[]).await.expect("answered");
    assert_eq!(without["evidence"], Value::Null);
}

/// The `observed_at` of a record, from its key (`evidence/2026/11/01/20261101T030000Z.json.gz`).
fn observed_at(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap();
    let (d, t) = (&name[..8], &name[9..15]);
    format!("{}-{}-{}T{}:{}:{}Z", &d[..4], &d[4..6], &d[6..], &t[..2], &t[2..4], &t[4..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_refuses_what_guardduty_refuses_of_filters_and_lists() {
    let world = world().await;
    let gd = world.emulator.admin_guardduty(&world.org.accounts[0], "us-east-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    // one trusted IP list per account and region
    let second = gd
        .create_ip_set()
        .detector_id(&detector)
        .name("second")
        .format(IpSetFormat::Txt)
        .location("https://s3.amazonaws.com/x/y")
        .activate(true)
        .send()
        .await;
    assert!(second.is_err(), "{second:?}");
    // a filter's name has no whitespace, and its rank is 1 to 100
    let criteria = FindingCriteria::builder().criterion("type", Condition::builder().equals("x").build()).build();
    let named =
        gd.create_filter().detector_id(&detector).name("has space").finding_criteria(criteria.clone()).send().await;
    assert!(named.is_err(), "{named:?}");
    let ranked = gd
        .create_filter()
        .detector_id(&detector)
        .name("ranked")
        .rank(101)
        .finding_criteria(criteria.clone())
        .send()
        .await;
    assert!(ranked.is_err(), "{ranked:?}");
    // a member manages none of them, and lists its administrator's IP sets
    let member = world.org.accounts[1];
    let role = format!("arn:aws:iam::{member}:role/{}", enablement::DEFAULT_ADMIN_ROLE_NAME);
    let base = world.emulator.sdk_config().await;
    let provider =
        aws_config::sts::AssumeRoleProvider::builder(role).session_name("tests").configure(&base).build().await;
    let conf = aws_sdk_guardduty::config::Builder::from(&base)
        .credentials_provider(provider)
        .region(aws_sdk_guardduty::config::Region::new("us-east-1"))
        .build();
    let as_member = aws_sdk_guardduty::Client::from_conf(conf);
    let own = as_member.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let refused = as_member.create_filter().detector_id(&own).name("mine").finding_criteria(criteria).send().await;
    let err = refused.unwrap_err();
    assert!(format!("{:?}", err).contains("member account"), "{err:?}");
    let listed = as_member.list_ip_sets().detector_id(&own).send().await.unwrap();
    assert_eq!(listed.ip_set_ids().len(), 1, "the administrator's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_opens_in_a_browser_with_no_console_error_and_no_request() {
    // given the evidence of an organization whose account names are markup that would fetch if it were not escaped
    let (emulator, org) = system_tests::world_of(&["us-east-1"], 2);
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    for (i, name) in ["<img src=\"http://127.0.0.1:9/x.png\">", "<script>console.error(1)</script>"].iter().enumerate()
    {
        orgs.create_account().account_name(*name).email(format!("markup-{i}@example.com")).send().await.unwrap();
    }
    emulator.enabler(settings(&org.accounts[0], &[])).await.reconcile().await.unwrap();
    let dir = scratch("browser");
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", org.accounts[0].as_str())];
    let ran = cli(&emulator, &["report", "--out", dir.to_str().unwrap()], &env);
    assert!(ran.code == 0 || ran.code == 2, "{ran:?}");
    // when opened as a person opens it
    let opened = browser::open(&dir.join("evidence.html"), 1280);
    // then it says nothing on the console, fetches nothing, and renders
    assert_eq!(opened.console_errors, Vec::<String>::new());
    assert_eq!(opened.requests, Vec::<String>::new());
    assert_eq!(&opened.screenshot[..8], b"\x89PNG\r\n\x1a\n");
    assert!(opened.screenshot.len() > 20_000, "{} bytes", opened.screenshot.len());
    let shot = dir.join("evidence.png");
    std::fs::write(&shot, &opened.screenshot).unwrap();
    println!("screenshot: {}", shot.display());
}

#[test]
fn the_browser_check_catches_a_console_error_and_a_request() {
    // a page that does both: the check above can fail
    let dir = scratch("bad-page");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("bad.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><p>x</p><img src=\"http://127.0.0.1:9/pixel.png\"><script>console.error('broken')</script></body></html>").unwrap();
    let opened = browser::open(&page, 800);
    assert!(opened.console_errors.iter().any(|e| e.contains("broken")), "{:?}", opened.console_errors);
    assert!(opened.requests.iter().any(|r| r.contains("pixel.png")), "{:?}", opened.requests);
    let _ = std::fs::remove_dir_all(&dir);
}
