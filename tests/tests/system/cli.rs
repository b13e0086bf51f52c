//! The command line, the built binary, against the emulator: what `status`, `plan`, `apply` and `onboard` print and
//! the exit codes they answer with (0 in sync or converged, 1 an error, 2 drift or not converged), `--json`, the
//! flags named after the variables, and the same validation as the functions before any AWS call.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::{json, Value};
use system_tests::{cli, members, tally, Emulator};

const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_plan_apply_and_onboard_answer_in_the_exit_code_convention() {
    // given a fresh organization
    let emulator = Emulator::start();
    emulator.regions(json!({"default": REGIONS, "opt_in": []}));
    let org = emulator.organization(4, 0);
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];

    // status: drift (exit 2), an account-by-region matrix, the configuration per region, a summary; nothing written
    emulator.clear_log();
    let status = cli(&emulator, &["status"], &env);
    assert_eq!(status.code, 2, "{status:?}");
    assert!(status.stdout.contains("account") && status.stdout.contains("euw1"), "{}", status.stdout);
    assert!(status.stdout.contains("Organization configuration:"), "{}", status.stdout);
    assert!(status.stdout.lines().last().unwrap().starts_with("drift:"), "{}", status.stdout);
    assert!(!status.stdout.contains('\u{1b}'), "no colours when stdout is not a terminal");
    // plan: the writes, per region (exit 2), still nothing written
    let plan = cli(&emulator, &["plan"], &env);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("CreateMembers: 4 accounts"), "{}", plan.stdout);
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);

    // apply: plain lines per region (stdout is not a terminal), then converged (exit 0)
    let apply = cli(&emulator, &["apply"], &env);
    assert_eq!(apply.code, 0, "{apply:?}");
    for region in REGIONS {
        assert!(apply.stdout.contains(&format!("{region}: changed")), "{}", apply.stdout);
        assert_eq!(members(&emulator.state(), region).len(), 4, "{region}");
    }
    assert!(apply.stdout.contains("converged:"), "{}", apply.stdout);

    // status again: in sync (exit 0), every account Enabled everywhere
    let status = cli(&emulator, &["status"], &env);
    assert_eq!(status.code, 0, "{status:?}");
    let protected_rows = status.stdout.lines().filter(|l| l.matches('●').count() == REGIONS.len()).count();
    assert_eq!(protected_rows, 4, "three members and the management account:\n{}", status.stdout);
    assert!(status.stdout.contains("in sync: 3 regions; 12 of 12 account-regions protected"), "{}", status.stdout);

    // --json: the report alone on stdout, with every account
    let json = cli(&emulator, &["status", "--json"], &env);
    assert_eq!(json.code, 0);
    let report: Value = serde_json::from_str(&json.stdout).expect("one JSON document and nothing else");
    assert_eq!(report["accounts"].as_array().unwrap().len(), 5);
    assert_eq!(report["summary"]["accounts_protected"], 12);

    // onboard: a new account, then converged (exit 0); a bad id is an error (exit 1)
    let (account, _) = emulator.create_account("from-the-terminal").await;
    let onboard = cli(&emulator, &["onboard", account.as_str()], &env);
    assert_eq!(onboard.code, 0, "{onboard:?}");
    assert!(REGIONS
        .iter()
        .all(|r| members(&emulator.state(), r).get(account.as_str()).map(String::as_str) == Some("Enabled")));
    let bad = cli(&emulator, &["onboard", "12345"], &env);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("InvalidRequest") && bad.stderr.contains("12 digits"), "{bad:?}");

    // drift that cannot be repaired: status names the account and its status (exit 2), apply is not converged
    let region = "eu-west-1";
    emulator.seed_members(region, &org.accounts[0], &[(&org.accounts[2], "Invited")]);
    emulator.world(json!({"refused_members": {org.accounts[2].as_str(): "The request is rejected because the account is being closed."}}));
    let status = cli(&emulator, &["status"], &env);
    assert_eq!(status.code, 2);
    assert!(
        status.stdout.contains('✗') && status.stdout.contains(&format!("{} ", org.accounts[2])),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("in eu-west-1: an invitation-era member record (Invited)"), "{}", status.stdout);
    let apply = cli(&emulator, &["apply"], &env);
    assert_eq!(apply.code, 2, "{apply:?}");
    assert!(apply.stdout.contains("not converged"), "{}", apply.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variable_is_a_flag_too_and_a_bad_value_is_an_error_before_any_aws_call() {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": REGIONS, "opt_in": []}));
    let org = emulator.organization(2, 0);
    let admin = org.accounts[0].to_string();
    emulator.clear_log();
    // a bad value, given as a flag: exit 1, the variable named, and no call at all
    let bad = cli(&emulator, &["status", "--admin-account-id", &admin, "--auto-enable", "SOMETIMES"], &[]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("InvalidConfiguration") && bad.stderr.contains("--auto-enable: "), "{bad:?}");
    assert!(!bad.stderr.contains("GUARDDUTY_AUTO_ENABLE"), "the flag given is named, not its variable: {bad:?}");
    // the same value from the variable: the variable named
    let bad = cli(&emulator, &["status", "--admin-account-id", &admin], &[("GUARDDUTY_AUTO_ENABLE", "SOMETIMES")]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("GUARDDUTY_AUTO_ENABLE: ") && !bad.stderr.contains("--auto-enable"), "{bad:?}");
    assert!(emulator.log().is_empty());
    // exclusions need NONE here too
    let bad =
        cli(&emulator, &["plan", "--admin-account-id", &admin, "--excluded-accounts", org.accounts[1].as_str()], &[]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("NONE"), "{bad:?}");
    // the flags govern a run: --regions narrows it to one region
    let plan = cli(&emulator, &["plan", "--json", "--admin-account-id", &admin, "--regions", "eu-west-1"], &[]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let report: Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(report["summary"]["regions"], 1);
    assert_eq!(report["regions"][0]["region"], "eu-west-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_policy_mode_plan_shows_the_policy_as_a_diff_status_names_the_mode_and_retire_policy_undoes_it() {
    // given a fresh organization with a unit that has plans of its own, and the tool set to own GuardDuty policies
    let emulator = Emulator::start();
    emulator.regions(json!({"default": REGIONS, "opt_in": []}));
    let org = emulator.organization(3, 0);
    let admin = org.accounts[0].to_string();
    let orgs = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let unit = orgs.create_organizational_unit().parent_id(&root).name("prod").send().await.unwrap();
    let by_ou = format!("{}=S3_DATA_EVENTS", unit.organizational_unit().unwrap().id().unwrap());
    let env = [
        ("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str()),
        ("GUARDDUTY_ENABLEMENT", "policy"),
        ("GUARDDUTY_POLICY_NAME", "gd-test"),
        ("GUARDDUTY_FEATURES_BY_OU", by_ou.as_str()),
    ];

    // plan: the policy's content as added lines, enabling the type and attaching it; nothing written (exit 2)
    emulator.clear_log();
    let plan = cli(&emulator, &["plan"], &env);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("GuardDuty policy gd-test:"), "{}", plan.stdout);
    assert!(plan.stdout.contains("+ ") && plan.stdout.contains("foundational"), "{}", plan.stdout);
    assert!(plan.stdout.contains("enable policy type"), "{}", plan.stdout);
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);

    // apply, then status: the mode, the plans a policy decides, and the policy the tool owns and where
    let apply = cli(&emulator, &["apply"], &env);
    assert_eq!(apply.code, 0, "{apply:?}");
    let status = cli(&emulator, &["status"], &env);
    assert!(status.stdout.contains("enablement: policy"), "{}", status.stdout);
    assert!(status.stdout.contains("P: by a policy"), "{}", status.stdout);
    assert!(status.stdout.contains("GUARDDUTY_POLICY on the root: ENABLED"), "{}", status.stdout);
    assert!(status.stdout.contains("owned by this tool: gd-test (p-"), "{}", status.stdout);

    // retire-policy: every policy it owns (the unit's too) detached everywhere and deleted, the type disabled on
    // request; GuardDuty left as it is
    assert_eq!(emulator.state()["policies"].as_array().unwrap().len(), 2, "{}", emulator.state()["policies"]);
    let retired = cli(&emulator, &["retire-policy", "--disable-policy-type"], &env);
    assert_eq!(retired.code, 0, "{retired:?}");
    let state = emulator.state();
    assert!(state["policies"].as_array().is_none_or(|p| p.is_empty()), "{}", state["policies"]);
    for region in REGIONS {
        assert_eq!(members(&state, region).len(), 3, "{region}: members untouched");
    }
}

/// The README's sample `status` output: the text between its ```text fence and the closing one, after the sentence
/// that introduces it.
fn readme_sample() -> String {
    let readme = std::fs::read_to_string(system_tests::root().join("README.md")).unwrap();
    let after = readme.split("for an organization of five accounts in three regions").nth(1).unwrap();
    let block = after.split("```text\n").nth(1).unwrap();
    trimmed(block.split("\n```").next().unwrap())
}

/// Each line without its trailing spaces (the tables pad their last column), and a final newline.
fn trimmed(text: &str) -> String {
    text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim_end().to_owned() + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_sample_of_status_is_what_status_prints() {
    // given the README's organization: five accounts in three regions, an invitation-era record left in eu-west-1,
    // and af-south-1 enabled by the admin but not by the management account
    let emulator = Emulator::start();
    let regions = ["eu-west-1", "us-east-1", "us-west-2"];
    emulator.regions(json!({"default": regions, "opt_in": ["af-south-1"]}));
    let org = emulator.organization(4, 0);
    emulator.regions(json!({"enabled": {org.accounts[0].as_str(): ["af-south-1"]}}));
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str()), ("NO_COLOR", "1")];
    assert_eq!(cli(&emulator, &["apply"], &env).code, 0);
    emulator.seed_members("eu-west-1", &org.accounts[0], &[(&org.accounts[2], "Invited")]);

    // when status runs
    let status = cli(&emulator, &["status"], &env);

    // then it exits 2 and prints the README's sample, account for account (the README's ids stand for the members')
    assert_eq!(status.code, 2, "{status:?}");
    let sample = readme_sample();
    let ids_in_sample: Vec<String> = (0..4)
        .map(|i| {
            let line =
                sample.lines().find(|l| l.contains(&format!(" member-{i} "))).unwrap_or_else(|| panic!("{sample}"));
            line.split_whitespace().next().unwrap().to_owned()
        })
        .collect();
    let mut printed = trimmed(&status.stdout);
    for (i, id) in ids_in_sample.iter().enumerate() {
        printed = printed.replace(org.accounts[i].as_str(), id);
    }
    assert_eq!(printed, sample, "the README's sample is out of date; what status prints now:\n{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_is_an_error_not_drift_and_help_states_the_exit_codes() {
    let emulator = Emulator::start();
    emulator.clear_log();
    // a mistyped command or flag, or a flag the command does not take: exit 1 (2 would read as drift)
    for args in [&["stauts"][..], &["status", "--bogus"], &["status", "--dry-run"], &["plan", "--dry-run"]] {
        let ran = cli(&emulator, args, &[("GUARDDUTY_ADMIN_ACCOUNT_ID", "222233334444")]);
        assert_eq!(ran.code, 1, "{args:?}: {ran:?}");
        assert!(ran.stderr.contains("error:"), "{args:?}: {ran:?}");
    }
    // --help: exit 0, the exit codes stated, no default said of a required flag
    for (command, codes) in [("status", "0 in sync"), ("plan", "0 in sync"), ("apply", "0 converged")] {
        let help = cli(&emulator, &[command, "--help"], &[]);
        assert_eq!(help.code, 0, "{help:?}");
        assert!(help.stdout.contains(&format!("Exit codes: {codes}")), "{command}: {}", help.stdout);
        assert!(help.stdout.contains("2 "), "{}", help.stdout);
        assert!(!help.stdout.contains("[default: required]"), "{}", help.stdout);
    }
    assert!(emulator.log().is_empty(), "no AWS call for a usage error or help");
}

/// The command line with no credentials anywhere: no variables, no profile files, no instance metadata.
fn without_credentials(args: &[&str], env: &[(&str, &str)]) -> system_tests::Ran {
    let home = std::env::temp_dir().join(format!("no-credentials-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let out = std::process::Command::new(system_tests::runtime::debug_binary("guardduty-enabler"))
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GUARDDUTY_ADMIN_ACCOUNT_ID", "222233334444")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    system_tests::Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_an_expired_token_or_no_endpoint_is_one_line_that_says_what_to_do() {
    // no credentials: one line naming the ways to give them, exit 1; --verbose adds where the SDK looked
    let none = without_credentials(&["status"], &[]);
    assert_eq!(none.code, 1, "{none:?}");
    assert_eq!(none.stderr.lines().count(), 1, "{}", none.stderr);
    assert!(none.stderr.starts_with("guardduty-enabler: NoCredentials: no AWS credentials found"), "{}", none.stderr);
    for hint in ["--profile", "AWS_PROFILE", "aws sso login", "AWS_ACCESS_KEY_ID"] {
        assert!(none.stderr.contains(hint), "{hint}: {}", none.stderr);
    }
    assert!(!none.stderr.contains("DispatchFailure"), "{}", none.stderr);
    let verbose = without_credentials(&["status", "--verbose"], &[]);
    assert!(verbose.stderr.lines().count() > 1 && verbose.stderr.contains("Environment"), "{}", verbose.stderr);

    // an endpoint that does not answer: one line naming it
    let unreachable = without_credentials(
        &["plan"],
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ],
    );
    assert_eq!(unreachable.code, 1, "{unreachable:?}");
    assert_eq!(unreachable.stderr.lines().count(), 1, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("EndpointUnreachable: cannot reach http://127.0.0.1:1"),
        "{}",
        unreachable.stderr
    );

    // credentials AWS refuses as expired: one line, and no other call than the check
    let emulator = Emulator::start();
    emulator.clear_log();
    let expired = cli(
        &emulator,
        &["status"],
        &[("GUARDDUTY_ADMIN_ACCOUNT_ID", "222233334444"), ("AWS_ACCESS_KEY_ID", "EXPIREDKEY")],
    );
    assert_eq!(expired.code, 1, "{expired:?}");
    assert_eq!(expired.stderr.lines().count(), 1, "{}", expired.stderr);
    assert!(
        expired.stderr.contains("CredentialsRefused") && expired.stderr.contains("ExpiredToken"),
        "{}",
        expired.stderr
    );
    assert!(expired.stderr.contains("aws sso login"), "{}", expired.stderr);
    let operations: Vec<String> = emulator.log().iter().map(|c| c.operation.clone()).collect();
    assert_eq!(operations, ["GetCallerIdentity"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_dry_run_is_plan_the_same_output_and_exit_code() {
    let emulator = Emulator::start();
    emulator.regions(json!({"default": REGIONS, "opt_in": []}));
    let org = emulator.organization(3, 0);
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    emulator.clear_log();
    let plan = cli(&emulator, &["plan"], &env);
    let dry = cli(&emulator, &["apply", "--dry-run"], &env);
    assert_eq!((plan.code, dry.code), (2, 2), "{dry:?}");
    assert_eq!(dry.stdout, plan.stdout);
    assert_eq!(tally(&emulator.log()).writes, 0, "{:?}", tally(&emulator.log()).by_operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_sums_guardduty_s_estimate_for_the_admin_and_its_enabled_members_fifty_at_a_time() {
    // given 60 accounts protected in two regions, one member's monitoring stopped in us-east-1, and the admin's
    // detector gone from eu-west-1
    let emulator = Emulator::start();
    emulator.regions(json!({"default": ["eu-west-1", "us-east-1"], "opt_in": []}));
    let org = emulator.organization(60, 0);
    let admin = org.accounts[0].to_string();
    let env = [("GUARDDUTY_ADMIN_ACCOUNT_ID", admin.as_str())];
    assert_eq!(cli(&emulator, &["apply"], &env).code, 0);
    let gd = emulator.admin_guardduty(&org.accounts[0], "us-east-1").await;
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.stop_monitoring_members().detector_id(&detector).account_ids(org.accounts[1].as_str()).send().await.unwrap();
    let eu = emulator.admin_guardduty(&org.accounts[0], "eu-west-1").await;
    let eu_detector = eu.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    eu.delete_detector().detector_id(eu_detector).send().await.unwrap();
    emulator.clear_log();

    // when the estimate is read
    let ran = cli(&emulator, &["usage", "--json"], &env);

    // then us-east-1 counts the admin and its Enabled members (60 of 61 accounts: the stopped member is not), in
    // batches of at most 50 (GuardDuty refuses more), each enabled detector's CloudTrail analysis priced once
    assert_eq!(ran.code, 0, "{ran:?}");
    let usage: Value = serde_json::from_str(&ran.stdout).unwrap();
    let us = usage["regions"].as_array().unwrap().iter().find(|r| r["region"] == "us-east-1").unwrap();
    assert_eq!(us["accounts"], 60, "{us}");
    assert_eq!(us["by_feature"]["CLOUD_TRAIL"].as_f64().unwrap(), 60.0, "1.00 USD a detector, in the emulator");
    let calls = tally(&emulator.log());
    assert_eq!(calls.by_operation["guardduty:GetUsageStatistics"], 2, "{:?}", calls.by_operation);
    assert_eq!(calls.writes, 0);
    // and the region without the admin's detector says so and adds nothing
    let eu = usage["regions"].as_array().unwrap().iter().find(|r| r["region"] == "eu-west-1").unwrap();
    assert!(eu["missing"].as_str().unwrap().contains("no detector"), "{eu}");
    assert_eq!(eu["total"], 0.0);
    // and the sums agree
    let regions: f64 = usage["regions"].as_array().unwrap().iter().map(|r| r["total"].as_f64().unwrap()).sum();
    let features: f64 = usage["by_feature"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
    assert!((usage["total"].as_f64().unwrap() - regions).abs() < 1e-6 && (regions - features).abs() < 1e-6);
    // and the table says what the figures are
    let text = cli(&emulator, &["usage"], &env);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("not the bill") && text.stdout.contains("no estimate in eu-west-1"),
        "{}",
        text.stdout
    );
}
