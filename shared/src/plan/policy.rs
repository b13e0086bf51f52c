//! The GuardDuty policy this tool owns (GUARDDUTY_ENABLEMENT=policy): what it should say, compared with what AWS
//! holds, into the writes that close the gap, in the order that leaves no unprotected window. Pure.
//!
//! The order: the policy is created (or its content updated) first; then the policy type is enabled on the root (from
//! then on "the Regional GuardDuty auto-enablement settings no longer apply, whether or not a policy is attached",
//! GuardDuty User Guide, GuardDuty organization policies), and the policy attached at once where it must be; then it
//! is detached from where it must not be. Content is compared as JSON, never as text. The GuardDuty service-linked
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

/// The wanted content: a block for each governed region whose plans are known (`plans`), with GuardDuty and those
/// plans on, and `off` plans off (an exact set); never a `default` block, so that the policy never enables GuardDuty
/// where the admin is not designated. A governed region whose plans are unknown this run (it failed) keeps the block
/// the policy already has for it (`current`), so that one bad run does not take a region out of the policy.
pub(crate) fn content(
    plans: &BTreeMap<String, (Vec<Plan>, Vec<String>)>,
    unknown: &[String],
    current: Option<&Value>,
) -> Value {
    let mut blocks: BTreeMap<String, Value> =
        plans.iter().map(|(region, (on, off))| (region.clone(), policy::block(on, off))).collect();
    let kept = current.map(policy::blocks).unwrap_or_default();
    for region in unknown {
        if let Some(block) = kept.get(region) {
            blocks.insert(region.clone(), block.clone());
        }
    }
    policy::content(blocks)
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
        let c = content(&plans, &["eu-west-1".to_owned(), "ap-south-2".to_owned()], Some(&current));
        let blocks = policy::blocks(&c);
        assert_eq!(blocks.keys().collect::<Vec<_>>(), ["eu-west-1", "us-east-1"]);
        assert!(!blocks.contains_key("default"));
    }
}
