//! `retire-policy`: the one way this tool stops owning its GuardDuty policies. It detaches the policy named
//! GUARDDUTY_POLICY_NAME, and those of GUARDDUTY_FEATURES_BY_OU's units (named after it: `<name>-ou-...`), from
//! every target and deletes them, and, when asked, disables the GuardDuty policy type on the root. Nothing else in the tool does any of this (the functions' role may not): switching away from policy mode is
//! the user's decision. Detaching a policy leaves GuardDuty enabled where it is (GuardDuty User Guide, GuardDuty
//! organization policies); with the type disabled, the organization configuration's auto-enable settings apply again.

use aws_sdk_organizations::types::PolicyType;
use aws_sdk_organizations::Client;
use enablement::{Failure, Settings};

/// What was (or, in a dry run, would be) done, one line each.
pub async fn retire(client: &Client, settings: &Settings, disable_type: bool) -> Result<Vec<String>, Failure> {
    let name = &settings.policy_name;
    let dry = settings.dry_run;
    let aws = |operation: &str, e: &dyn std::fmt::Display| Failure::new("AwsError", format!("{operation}: {e}"));
    let mut done = Vec::new();
    let mut found: Vec<(String, String)> = Vec::new();
    let mut pages = client.list_policies().filter(PolicyType::GuarddutyPolicy).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws("ListPolicies", &aws_sdk_organizations::error::DisplayErrorContext(e)))?;
        found.extend(page.policies().iter().filter_map(|p| match (p.name(), p.id()) {
            (Some(n), Some(id)) if settings.owns_policy(n) => Some((n.to_owned(), id.to_owned())),
            _ => None,
        }));
    }
    if found.is_empty() {
        done.push(format!("no GuardDuty policy named {name} (or {name}-ou-...): nothing to detach or delete"));
    }
    found.sort();
    for (name, id) in found {
        let mut targets = Vec::new();
        let mut pages = client.list_targets_for_policy().policy_id(&id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| aws("ListTargetsForPolicy", &aws_sdk_organizations::error::DisplayErrorContext(e)))?;
            targets.extend(page.targets().iter().filter_map(|t| t.target_id()).map(str::to_owned));
        }
        for target in &targets {
            if !dry {
                client
                    .detach_policy()
                    .policy_id(&id)
                    .target_id(target)
                    .send()
                    .await
                    .map_err(|e| aws("DetachPolicy", &aws_sdk_organizations::error::DisplayErrorContext(e)))?;
            }
            done.push(format!("detach {name} ({id}) from {target}"));
        }
        if !dry {
            client
                .delete_policy()
                .policy_id(&id)
                .send()
                .await
                .map_err(|e| aws("DeletePolicy", &aws_sdk_organizations::error::DisplayErrorContext(e)))?;
        }
        done.push(format!("delete {name} ({id})"));
    }
    if disable_type {
        let roots = client
            .list_roots()
            .send()
            .await
            .map_err(|e| aws("ListRoots", &aws_sdk_organizations::error::DisplayErrorContext(e)))?;
        let root = roots.roots().first().and_then(|r| r.id()).unwrap_or_default().to_owned();
        if !dry {
            client
                .disable_policy_type()
                .root_id(&root)
                .policy_type(PolicyType::GuarddutyPolicy)
                .send()
                .await
                .map_err(|e| aws("DisablePolicyType", &aws_sdk_organizations::error::DisplayErrorContext(e)))?;
        }
        done.push(format!("disable the GUARDDUTY_POLICY type on {root}"));
    }
    Ok(done)
}
