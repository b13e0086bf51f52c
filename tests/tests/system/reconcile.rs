//! Full reconciles against the emulator, through the real SDK: a fresh organization reaches the desired state,
//! a second run writes nothing, dry runs write nothing, exclusions hold, and conflicts are reported untouched.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use enablement::{Error, Outcome};
use serde_json::json;
use system_tests::{detector, members, settings, tally, Emulator};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

fn three_regions(emulator: &Emulator) {
    emulator.regions(json!({"default": REGIONS, "opt_in": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_organization_reaches_the_desired_state_and_a_second_run_writes_nothing() {
    // given an organization of 60 active accounts, 2 suspended ones and 3 regions, with nothing enabled
    let emulator = Emulator::start();
    three_regions(&emulator);
    let org = emulator.organization(60, 2);
    let admin = org.accounts[0];
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    emulator.clear_log();

    // when a full reconcile runs (regions discovered with account:ListRegions)
    let report = enabler.reconcile().await.expect("reconcile");
    let first = tally(&emulator.log());

    // then every region is changed and succeeds
    assert!(report.is_success(), "{:#?}", report.problems());
    assert_eq!(report.summary.regions, 3);
    assert_eq!(report.summary.changed, 3);
    let state = emulator.state();
    for region in REGIONS {
        // the management account has an enabled detector
        let mgmt = detector(&state, region, org.management.as_str()).expect("management detector");
        assert_eq!(mgmt["enabled"], true, "{region}");
        // the admin is designated
        let admins: Vec<_> = state["admins"].as_array().unwrap().iter().filter(|a| a["region"] == region).collect();
        assert_eq!(admins.len(), 1);
        assert_eq!(admins[0]["admin"], admin.as_str());
        // the admin's detector has every plan the region offers on, Runtime Monitoring with its three agents
        let det = detector(&state, region, admin.as_str()).expect("admin detector");
        for plan in [
            "S3_DATA_EVENTS",
            "EKS_AUDIT_LOGS",
            "EBS_MALWARE_PROTECTION",
            "RDS_LOGIN_EVENTS",
            "LAMBDA_NETWORK_LOGS",
            "RUNTIME_MONITORING",
            "AI_PROTECTION",
        ] {
            assert_eq!(det["features"][plan]["status"], "ENABLED", "{region} {plan}");
        }
        assert_eq!(det["features"]["RDS_LOGIN_EVENTS"]["agents"]["RDS_DATA_RISK"], "ENABLED", "{region}");
        for agent in ["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"] {
            assert_eq!(det["features"]["RUNTIME_MONITORING"]["agents"][agent], "ENABLED", "{region} {agent}");
        }
        assert_eq!(det["features"]["EKS_RUNTIME_MONITORING"]["status"], "DISABLED", "the older flavour stays off");
        // the organization configuration auto-enables ALL with the plans
        let cfg = state["org_configs"].as_array().unwrap().iter().find(|c| c["region"] == region).expect("org config");
        assert_eq!(cfg["auto_enable"], "ALL");
        assert_eq!(cfg["features"]["RUNTIME_MONITORING"]["autoEnable"], "ALL");
        assert_eq!(cfg["features"]["RUNTIME_MONITORING"]["agents"]["EC2_AGENT_MANAGEMENT"], "ALL");
        assert_eq!(cfg["features"]["AI_PROTECTION"]["autoEnable"], "ALL");
        // every active account but the admin, the management account included, is an enabled member
        let m = members(&state, region);
        let mut expected: Vec<String> = org.accounts[1..].iter().map(ToString::to_string).collect();
        expected.push(org.management.to_string());
        expected.sort();
        assert_eq!(m.keys().cloned().collect::<Vec<_>>(), expected, "{region}");
        assert!(m.values().all(|s| s == "Enabled"), "{region}: {m:?}");
        for s in &org.suspended {
            assert!(!m.contains_key(s.as_str()), "suspended {s} became a member");
        }
    }
    assert_eq!(report.summary.members_added, 3 * 60);
    // members went in batches of at most 50
    assert_eq!(first.by_operation.get("guardduty:CreateMembers"), Some(&(3 * 2)));

    // when it runs again
    emulator.clear_log();
    let again = enabler.reconcile().await.expect("second reconcile");
    let second = tally(&emulator.log());

    // then nothing is written and every region is in sync
    assert_eq!(second.writes, 0, "{:?}", second.by_operation);
    assert_eq!(again.summary.writes, 0);
    assert_eq!(again.summary.in_sync, 3);
    println!(
        "bootstrap of 60 accounts in 3 regions: {} reads, {} writes, {} sts; {:?}",
        first.reads, first.writes, first.auth, first.by_operation
    );
    println!("second run: {} reads, {} writes; {:?}", second.reads, second.writes, second.by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_everything_and_writes_nothing() {
    let emulator = Emulator::start();
    three_regions(&emulator);
    let org = emulator.organization(12, 0);
    let enabler = emulator.enabler(settings(&org.accounts[0], &[("GUARDDUTY_DRY_RUN", "true")])).await;
    emulator.clear_log();

    let report = enabler.reconcile().await.expect("dry run");

    let calls = tally(&emulator.log());
    assert_eq!(calls.writes, 0, "{:?}", calls.by_operation);
    assert!(report.dry_run);
    assert_eq!(report.summary.changed, 3);
    for region in &report.regions {
        assert_eq!(region.outcome, Outcome::Planned);
        let ops: Vec<&str> = region.actions.iter().map(|a| a.step.operation()).collect();
        assert_eq!(
            ops,
            [
                "CreateDetector",
                "EnableOrganizationAdminAccount",
                "CreateDetector",
                // the admin's new detector gets its plans: CreateDetector alone leaves some off
                "UpdateDetector",
                "UpdateOrganizationConfiguration",
                "CreateMembers"
            ]
        );
    }
    assert_eq!(report.summary.members_added, 3 * 12, "11 members and the management account per region");
    assert!(emulator.state()["detectors"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_accounts_and_organizational_units_never_become_members() {
    // given 10 accounts, one excluded by id and two under an excluded OU (one of them in a nested OU)
    let emulator = Emulator::start();
    three_regions(&emulator);
    let org = emulator.organization(10, 0);
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let ou = orgs.create_organizational_unit().parent_id(&root).name("sandbox").send().await.unwrap();
    let ou = ou.organizational_unit().unwrap().id().unwrap().to_owned();
    let nested = orgs.create_organizational_unit().parent_id(&ou).name("deeper").send().await.unwrap();
    let nested = nested.organizational_unit().unwrap().id().unwrap().to_owned();
    for (account, parent) in [(&org.accounts[2], &ou), (&org.accounts[3], &nested)] {
        orgs.move_account()
            .account_id(account.as_str())
            .source_parent_id(&root)
            .destination_parent_id(parent)
            .send()
            .await
            .unwrap();
    }
    let excluded_id = org.accounts[1].to_string();
    let vars = [
        ("GUARDDUTY_AUTO_ENABLE", "NONE"),
        ("GUARDDUTY_EXCLUDED_ACCOUNTS", excluded_id.as_str()),
        ("GUARDDUTY_EXCLUDED_OUS", ou.as_str()),
    ];
    let enabler = emulator.enabler(settings(&org.accounts[0], &vars)).await;

    // when reconciled
    let report = enabler.reconcile().await.expect("reconcile");

    // then the excluded accounts are nobody's members and the others are, with auto-enable NONE
    assert!(report.is_success(), "{:#?}", report.problems());
    let state = emulator.state();
    for region in REGIONS {
        let m = members(&state, region);
        for excluded in &org.accounts[1..4] {
            assert!(!m.contains_key(excluded.as_str()), "{region}: excluded {excluded} is a member");
        }
        assert_eq!(m.len(), 6 + 1, "{region}: 6 members and the management account");
        let cfg = state["org_configs"].as_array().unwrap().iter().find(|c| c["region"] == region).unwrap();
        assert_eq!(cfg["auto_enable"], "NONE");
        assert_eq!(cfg["features"]["S3_DATA_EVENTS"]["autoEnable"], "NEW", "plans cover the members this tool adds");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_that_is_the_management_account_is_refused_with_zero_writes() {
    let emulator = Emulator::start();
    three_regions(&emulator);
    let org = emulator.organization(3, 0);
    let enabler = emulator.enabler(settings(&org.management, &[])).await;
    emulator.clear_log();

    let err = enabler.reconcile().await.expect_err("refused");

    assert!(matches!(err, Error::AdminIsManagement(_)), "{err}");
    assert!(err.to_string().contains("GUARDDUTY_ALLOW_MANAGEMENT_ADMIN"), "{err}");
    assert_eq!(tally(&emulator.log()).writes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_delegated_admin_is_reported_and_never_overridden() {
    // given another account already designated in one region
    let emulator = Emulator::start();
    three_regions(&emulator);
    let org = emulator.organization(5, 0);
    let other = org.accounts[4];
    let config = emulator.sdk_config().await;
    let gd = aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Builder::from(&config)
            .region(aws_sdk_guardduty::config::Region::new("eu-west-1"))
            .build(),
    );
    gd.enable_organization_admin_account()
        .admin_account_id(other.as_str())
        .send()
        .await
        .expect("designate the other admin");
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;
    emulator.clear_log();

    // when reconciled
    let report = enabler.reconcile().await.expect("reconcile");

    // then that region is a conflict naming both accounts, the run is not a success, and the designation stands
    let eu = report.regions.iter().find(|r| r.region == "eu-west-1").unwrap();
    assert_eq!(eu.outcome, Outcome::Conflict);
    let message = eu.error.as_deref().unwrap();
    assert!(message.contains(other.as_str()) && message.contains(org.accounts[0].as_str()), "{message}");
    assert!(eu.actions.is_empty());
    assert!(!report.is_success());
    let log = emulator.log();
    assert!(!log.iter().any(|c| c.region == "eu-west-1" && c.kind == "write"), "a write went to the conflicted region");
    assert!(
        !log.iter().any(|c| c.operation == "EnableOrganizationAdminAccount" && c.status == 200),
        "a designation succeeded"
    );
    let state = emulator.state();
    let admins: Vec<_> =
        state["admins"].as_array().unwrap().iter().map(|a| a["admin"].as_str().unwrap().to_owned()).collect();
    assert_eq!(admins, [other.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_an_opt_in_region_is_reported_and_the_rest_converge() {
    // given an opt-in region that the management and admin accounts enabled but one member did not
    let emulator = Emulator::start();
    let org = emulator.organization(4, 0);
    let lagging = org.accounts[3];
    let mut enabled = serde_json::Map::new();
    for account in std::iter::once(&org.management).chain(&org.accounts[..3]) {
        enabled.insert(account.to_string(), json!(["af-south-1"]));
    }
    emulator.regions(json!({"default": ["us-east-1"], "opt_in": ["af-south-1"], "enabled": enabled}));
    let enabler = emulator.enabler(settings(&org.accounts[0], &[])).await;

    // when reconciled twice
    let report = enabler.reconcile().await.expect("reconcile");
    emulator.clear_log();
    let again = enabler.reconcile().await.expect("reconcile again");

    // then both regions are governed (discovered) and the run succeeds; the lagging member is reported in the
    // opt-in region only, already by the first run (which reads back what CreateMembers did), and the next run
    // neither fails nor retries it
    assert!(report.is_success(), "{:#?}", report.problems());
    let regions: Vec<&str> = report.regions.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(regions, ["af-south-1", "us-east-1"]);
    assert_eq!(report.regions[0].left.len(), 1, "{:?}", report.regions[0]);
    assert_eq!(report.regions[0].coverage.expected, 3, "the lagging member is not expected where it cannot be");
    assert!(again.is_success(), "{:#?}", again.problems());
    let af = &again.regions[0];
    assert_eq!(af.left.len(), 1, "{:?}", af.left);
    assert_eq!(af.left[0].account, lagging);
    assert!(af.left[0].reason.contains("opt-in region"), "{}", af.left[0].reason);
    assert!(again.regions[1].left.is_empty());
    assert_eq!(tally(&emulator.log()).writes, 0);
    let state = emulator.state();
    assert_eq!(members(&state, "us-east-1").get(lagging.as_str()).map(String::as_str), Some("Enabled"));
}
