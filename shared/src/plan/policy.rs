//! The GuardDuty policy this tool owns (GUARDDUTY_ENABLEMENT=policy): what it should say, compared with what AWS
//! holds, into the writes that close the gap, in the order that leaves no unprotected window. Pure.
//!
//! The order: the policy is created (or its content updated) first; then the policy type is enabled on the root (from
//! then on "the Regional GuardDuty auto-enablement settings no longer apply, whether or not a policy is attached",
//! GuardDuty User Guide, GuardDuty organization policies), and the policy attached where it must be as soon as the
//! type shows ENABLED (enabling is asynchronous); then it is detached from where it must not be. A policy whose
//! region blocks do not fit in one policy's content is written in parts ([`layout`]), each region in one part, all
//! parts attached where the policy must be. Content is compared as JSON, never as text. The GuardDuty service-linked
//! role of the management account, without which "GuardDuty isn't enabled" there by a policy ("Considerations and
//! limitations"), exists by then: the management account's detector, which every governed region's foundation makes
//! first, creates it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::config::Plan;
use crate::policy;
use crate::ports::Root;

/// The policy this tool owns as AWS holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Owned {
    /// Its id.
    pub id: String,
    /// Its content.
    pub content: Value,
    /// Where it is attached.
    pub targets: BTreeSet<String>,
}

/// What the policy should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// Its name (GUARDDUTY_POLICY_NAME).
    pub name: String,
    /// Its content.
    pub content: Value,
    /// Where it must be attached: the root, or the highest units and accounts that hold nothing excluded.
    pub targets: BTreeSet<String>,
}

/// One Organizations write for the owned policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum PolicyStep {
    /// CreatePolicy.
    CreatePolicy,
    /// UpdatePolicy with the wanted content.
    UpdatePolicy,
    /// EnablePolicyType GUARDDUTY_POLICY on the root.
    EnablePolicyType {
        /// The root.
        root: String,
    },
    /// AttachPolicy.
    AttachPolicy {
        /// The root, unit or account.
        target: String,
    },
    /// DetachPolicy.
    DetachPolicy {
        /// The root, unit or account.
        target: String,
    },
}

/// The writes that bring each policy this run owns (`ours`, absent where no GuardDuty policy has the wanted name) to
/// what it should be, in the order that leaves no unprotected window: every policy's content first, then the type,
/// then every attachment, then every detachment. Each step names the policy it is for, by index.
pub(crate) fn plan_policies(root: &Root, policies: &[(Option<&Owned>, &Wanted)]) -> Vec<(usize, PolicyStep)> {
    let mut steps = Vec::new();
    for (i, (ours, wanted)) in policies.iter().enumerate() {
        match ours {
            None => steps.push((i, PolicyStep::CreatePolicy)),
            Some(o) if o.content != wanted.content => steps.push((i, PolicyStep::UpdatePolicy)),
            Some(_) => {}
        }
    }
    if !root.guardduty_policies.in_force() {
        steps.push((0, PolicyStep::EnablePolicyType { root: root.id.clone() }));
    }
    let attached = |ours: &Option<&Owned>| ours.map(|o| o.targets.clone()).unwrap_or_default();
    for (i, (ours, wanted)) in policies.iter().enumerate() {
        let attached = attached(ours);
        steps.extend(wanted.targets.difference(&attached).map(|t| (i, PolicyStep::AttachPolicy { target: t.clone() })));
    }
    for (i, (ours, wanted)) in policies.iter().enumerate() {
        let attached = attached(ours);
        steps.extend(attached.difference(&wanted.targets).map(|t| (i, PolicyStep::DetachPolicy { target: t.clone() })));
    }
    steps
}

/// The most characters one GuardDuty policy's content may hold. Organizations' quotas page ("Quotas and service
/// limits for AWS Organizations", "Maximum size of a policy document") gives 10,000 for backup, tag, Security Hub and
/// declarative policies and has no row for GUARDDUTY_POLICY: taken as the same. Content saved through the API counts
/// as sent ("no automatic removal of characters occurs"), so it is written compact.
pub(crate) const CONTENT_LIMIT: usize = 10_000;

/// The most policies of one management type attached to one root, OU or account (the same page: 10 for backup,
/// tag, Security Hub and declarative policies; 5 for some others; none given for GUARDDUTY_POLICY: taken as 10).
pub(crate) const ATTACHED_LIMIT: usize = 10;

/// The name of part `k` (from 0) of a policy whose blocks do not fit in one: `<name>`, `<name>-2`, `<name>-3`, ...
pub(crate) fn part_name(base: &str, k: usize) -> String {
    if k == 0 {
        base.to_owned()
    } else {
        format!("{base}-{}", k + 1)
    }
}

/// The region blocks a policy should hold: one for each governed region whose plans are known (`plans`), with
/// GuardDuty and those plans on, and `off` plans off (an exact set); never a `default` block, which would apply to
/// "every Region where GuardDuty is available" (GuardDuty policy syntax), the regions this run does not govern
/// included: excluded ones, and ones where the admin is not designated and could not see what a policy enables. A
/// governed region whose plans are unknown this run (`unknown`: it failed, or did not run) keeps the block the policy
/// already has for it (`current`), so that one bad run does not take a region out of the policy.
pub(crate) fn blocks(
    plans: &BTreeMap<String, (Vec<Plan>, Vec<String>)>,
    unknown: &[String],
    current: &BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    let mut blocks: BTreeMap<String, Value> =
        plans.iter().map(|(region, (on, off))| (region.clone(), policy::block(on, off))).collect();
    for region in unknown {
        if let Some(block) = current.get(region) {
            blocks.insert(region.clone(), block.clone());
        }
    }
    blocks
}

/// The characters a policy of `blocks` takes, as it is sent.
fn size(blocks: &BTreeMap<String, Value>) -> usize {
    policy::content(blocks.clone()).to_string().len()
}

/// Lays `blocks` out across the parts of a policy, each within [`CONTENT_LIMIT`]: a region stays in the part that
/// holds it now (`current`, the regions of each existing part, in part order) while that part has room, so that a
/// new region or plan rewrites as few parts as it can; every other region goes to the first part with room, or to a
/// new one. Regions are disjoint across parts, so the parts, attached to the same nodes, never assign one key twice.
/// Refused, with why, where one region's block alone is over the limit.
pub(crate) fn layout(
    blocks: &BTreeMap<String, Value>,
    current: &[BTreeSet<String>],
) -> Result<Vec<BTreeMap<String, Value>>, String> {
    if let Some((region, _)) = blocks.iter().find(|(r, b)| size(&[((*r).clone(), (*b).clone())].into()) > CONTENT_LIMIT)
    {
        return Err(format!("the block of {region} alone is over the {CONTENT_LIMIT} characters a policy may hold"));
    }
    let mut parts: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new(); current.len().max(1)];
    let mut placed = BTreeSet::new();
    for (part, regions) in parts.iter_mut().zip(current) {
        for region in regions {
            let Some(block) = blocks.get(region) else { continue };
            part.insert(region.clone(), block.clone());
            if size(part) > CONTENT_LIMIT {
                part.remove(region);
            } else {
                placed.insert(region.clone());
            }
        }
    }
    for (region, block) in blocks.iter().filter(|(r, _)| !placed.contains(*r)) {
        let room = parts.iter_mut().position(|part| {
            part.insert(region.clone(), block.clone());
            let fits = size(part) <= CONTENT_LIMIT;
            if !fits {
                part.remove(region);
            }
            fits
        });
        if room.is_none() {
            parts.push([(region.clone(), block.clone())].into());
        }
    }
    // Parts left empty at the end are dropped (their policies are detached as strays); the first part is kept.
    while parts.len() > 1 && parts.last().is_some_and(BTreeMap::is_empty) {
        parts.pop();
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::PolicyTypeStatus;

    fn root(status: PolicyTypeStatus) -> Root {
        Root { id: "r-ab12".into(), guardduty_policies: status }
    }

    fn wanted(targets: &[&str]) -> Wanted {
        Wanted {
            name: "guardduty-enabler".into(),
            content: json!({"guardduty": {"enablement": {"us-east-1": {}}}}),
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn a_fresh_organization_gets_the_policy_then_the_type_then_the_attachments() {
        let w = wanted(&["r-ab12"]);
        let steps = plan_policies(&root(PolicyTypeStatus::NotEnabled), &[(None, &w)]);
        assert_eq!(
            steps,
            vec![
                (0, PolicyStep::CreatePolicy),
                (0, PolicyStep::EnablePolicyType { root: "r-ab12".into() }),
                (0, PolicyStep::AttachPolicy { target: "r-ab12".into() })
            ]
        );
    }

    #[test]
    fn a_converged_policy_needs_no_write_whatever_the_text_looks_like() {
        let w = wanted(&["r-ab12"]);
        // the same JSON, differently spaced and ordered, is the same content
        let text = r#"{ "guardduty" : { "enablement" : { "us-east-1" : { } } } }"#;
        let ours = Owned {
            id: "p-1".into(),
            content: serde_json::from_str(text).expect("json"),
            targets: ["r-ab12".to_owned()].into(),
        };
        assert!(plan_policies(&root(PolicyTypeStatus::Enabled), &[(Some(&ours), &w)]).is_empty());
    }

    #[test]
    fn an_edited_or_detached_policy_is_put_back_and_a_stray_attachment_removed() {
        let ours = Owned {
            id: "p-1".into(),
            content: json!({"guardduty": {"enablement": {"us-east-1": {"s3_data_events": {}}}}}),
            targets: ["ou-excluded-12345678".to_owned()].into(),
        };
        let w = wanted(&["ou-gov-12345678"]);
        let steps = plan_policies(&root(PolicyTypeStatus::Enabled), &[(Some(&ours), &w)]);
        assert_eq!(
            steps,
            vec![
                (0, PolicyStep::UpdatePolicy),
                (0, PolicyStep::AttachPolicy { target: "ou-gov-12345678".into() }),
                (0, PolicyStep::DetachPolicy { target: "ou-excluded-12345678".into() }),
            ]
        );
        // with a second policy (a unit's), both contents come before the type, and every attachment after it
        let unit = wanted(&["ou-gov-12345678"]);
        let steps = plan_policies(&root(PolicyTypeStatus::NotEnabled), &[(None, &w), (None, &unit)]);
        let order: Vec<(usize, &str)> = steps
            .iter()
            .map(|(i, s)| {
                let name = match s {
                    PolicyStep::CreatePolicy => "create",
                    PolicyStep::EnablePolicyType { .. } => "type",
                    PolicyStep::AttachPolicy { .. } => "attach",
                    other => panic!("{other:?}"),
                };
                (*i, name)
            })
            .collect();
        assert_eq!(order, [(0, "create"), (1, "create"), (0, "type"), (0, "attach"), (1, "attach")]);
    }

    #[test]
    fn a_region_whose_plans_are_unknown_keeps_its_block_and_no_default_is_written() {
        let plans: BTreeMap<String, (Vec<Plan>, Vec<String>)> =
            [("us-east-1".to_owned(), (vec![Plan { name: "S3_DATA_EVENTS".into(), agents: vec![] }], vec![]))].into();
        let current =
            json!({"guardduty": {"enablement": {"eu-west-1": {"foundational": {"status": {"@@assign": "enabled"}}}}}});
        let b = blocks(&plans, &["eu-west-1".to_owned(), "ap-south-2".to_owned()], &policy::blocks(&current));
        assert_eq!(b.keys().collect::<Vec<_>>(), ["eu-west-1", "us-east-1"]);
        assert!(!b.contains_key("default"));
    }

    /// Every plan and agent a policy has a key for, on, in each of `regions`.
    fn every_plan(regions: &[String]) -> BTreeMap<String, Value> {
        let all = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let on: Vec<Plan> = ["S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS"]
            .iter()
            .chain(&["LAMBDA_NETWORK_LOGS", "AI_PROTECTION"])
            .map(|n| Plan { name: (*n).into(), agents: vec![] })
            .chain([Plan {
                name: "RUNTIME_MONITORING".into(),
                agents: all(&["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"]),
            }])
            .collect();
        let plans = regions.iter().map(|r| (r.clone(), (on.clone(), vec![]))).collect();
        blocks(&plans, &[], &BTreeMap::new())
    }

    fn regions(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("xx-region-{}", i + 1)).collect()
    }

    #[test]
    fn every_plan_in_every_region_aws_has_is_split_into_parts_within_the_limit() {
        // given every plan in 34 regions (every region of the aws partition), about 22,000 characters in one policy
        let b = every_plan(&regions(34));
        assert!(size(&b) > 2 * CONTENT_LIMIT, "{}", size(&b));
        // when laid out
        let parts = layout(&b, &[]).expect("a layout");
        // then three parts, each within the limit, hold every region once
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| size(p) <= CONTENT_LIMIT), "{:?}", parts.iter().map(size).collect::<Vec<_>>());
        let held: Vec<&String> = parts.iter().flat_map(|p| p.keys()).collect();
        assert_eq!(held.len(), 34);
        assert_eq!(held.iter().collect::<BTreeSet<_>>().len(), 34, "no region twice");
        assert_eq!(part_name("gd", 0), "gd");
        assert_eq!(part_name("gd", 2), "gd-3");
    }

    #[test]
    fn a_new_region_goes_where_there_is_room_and_the_others_stay_where_they_are() {
        // given a layout of 20 regions, then a 21st
        let first = layout(&every_plan(&regions(20)), &[]).expect("a layout");
        let current: Vec<BTreeSet<String>> = first.iter().map(|p| p.keys().cloned().collect()).collect();
        let again = layout(&every_plan(&regions(21)), &current).expect("a layout");
        // then every region that had a part keeps it
        for (before, after) in current.iter().zip(&again) {
            assert!(before.iter().all(|r| after.contains_key(r)), "{before:?}");
        }
        assert!(again.iter().any(|p| p.contains_key("xx-region-21")));
        // and a part whose regions are gone is dropped, not written empty
        let fewer = layout(&every_plan(&regions(3)), &current).expect("a layout");
        assert_eq!(fewer.len(), 1);
    }

    #[test]
    fn a_single_block_over_the_limit_is_refused() {
        let huge: BTreeMap<String, Value> = [("us-east-1".to_owned(), json!({"x": "y".repeat(CONTENT_LIMIT)}))].into();
        let refused = layout(&huge, &[]).expect_err("refused");
        assert!(refused.contains("us-east-1") && refused.contains("10000"), "{refused}");
    }
}
