//! The demo: starts the local emulator, seeds an organization (management, admin and a few members), brings it
//! to the desired state with the enablement library and prints each account's GuardDuty state per region,
//! before and after.

use enablement::Outcome;
use serde_json::Value;
use system_tests::{detector, members, settings, Emulator};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(demo());
}

async fn demo() {
    let emulator = Emulator::start();
    println!("emulator: {}", emulator.url);
    let org = emulator.organization(4, 0);
    let admin = org.accounts[0].clone();
    let enabler = emulator.enabler(settings(&admin, &[])).await;
    let regions: Vec<String> = {
        use enablement::Cloud as _;
        let cloud =
            enablement::AwsCloud::connect(&emulator.sdk_config().await, enabler.settings(), Default::default()).await;
        cloud.enabled_regions().await.expect("regions")
    };
    let mut accounts = vec![(org.management.to_string(), "management")];
    accounts.push((admin.to_string(), "delegated admin"));
    accounts.extend(org.accounts[1..].iter().map(|a| (a.to_string(), "member")));

    println!("\nbefore:");
    table(&emulator.state(), &regions, &accounts, admin.as_str());
    let report = enabler.reconcile().await.expect("reconcile");
    println!("\nafter one reconcile ({} ms, {} writes):", report.summary.millis, report.summary.writes);
    table(&emulator.state(), &regions, &accounts, admin.as_str());
    let again = enabler.reconcile().await.expect("reconcile");
    let in_sync = again.regions.iter().filter(|r| r.outcome == Outcome::InSync).count();
    println!("\nsecond reconcile: {in_sync}/{} regions in sync, {} writes", again.regions.len(), again.summary.writes);
}

fn table(state: &Value, regions: &[String], accounts: &[(String, &str)], admin: &str) {
    print!("{:<16}", "region");
    for (_, role) in accounts {
        print!("{role:>17}");
    }
    println!();
    print!("{:<16}", "");
    for (account, _) in accounts {
        print!("{account:>17}");
    }
    println!();
    for region in regions {
        print!("{region:<16}");
        let designated = state["admins"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["region"] == region.as_str() && a["admin"] == admin);
        let region_members = members(state, region);
        for (account, _) in accounts {
            let has_detector = detector(state, region, account).is_some();
            let cell = if account == admin && designated && has_detector {
                "admin"
            } else if region_members.get(account).map(String::as_str) == Some("Enabled") {
                "member"
            } else if has_detector {
                "detector only"
            } else {
                "-"
            };
            print!("{cell:>17}");
        }
        println!();
    }
}
