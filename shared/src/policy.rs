//! GuardDuty organization policies as text: the content this tool writes, and the effective policies it reads back.
//! Pure.
//!
//! The syntax (AWS Organizations User Guide, "Amazon GuardDuty policies" and "GuardDuty policy syntax and examples",
//! <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_guardduty_syntax.html>):
//! `{"guardduty": {"enablement": {"<region>" | "default": {"foundational": {"status": {"@@assign": "enabled"}},
//! "s3_data_events": {...}, "runtime_monitoring": {"status": ..., "additional_configuration":
//! {"eks_addon_management": {...}, ...}}, ...}}}}`. "GuardDuty uses a default with Regional override model": "A
//! Region-specific block fully replaces the default for that Region; it is not merged with it", and a region with
//! neither is left as it is. Policies are declarative: a child's `@@assign` overwrites what it inherits ("Understanding
//! declarative policy inheritance"); an effective policy shows the result, so a value is read as written
//! (`"enabled"`) or still wrapped (`{"@@assign": "enabled"}`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::config::Plan;

/// A protection plan a policy can govern: the policy key, the API feature, and its additional configurations
/// (policy key, API name).
struct Key {
    key: &'static str,
    api: &'static str,
    agents: &'static [(&'static str, &'static str)],
}

/// Every plan a policy can govern: the policy feature mapping of "Amazon GuardDuty policies". There is no key for
/// EKS_RUNTIME_MONITORING, and none documented for RDS_DATA_RISK, which therefore stays a setting of the API.
const KEYS: [Key; 7] = [
    Key { key: "s3_data_events", api: "S3_DATA_EVENTS", agents: &[] },
    Key { key: "eks_audit_logs", api: "EKS_AUDIT_LOGS", agents: &[] },
    Key { key: "ebs_malware_protection", api: "EBS_MALWARE_PROTECTION", agents: &[] },
    Key { key: "rds_login_events", api: "RDS_LOGIN_EVENTS", agents: &[] },
    Key { key: "lambda_network_logs", api: "LAMBDA_NETWORK_LOGS", agents: &[] },
    Key {
        key: "runtime_monitoring",
        api: "RUNTIME_MONITORING",
        agents: &[
            ("eks_addon_management", "EKS_ADDON_MANAGEMENT"),
            ("ecs_fargate_agent_management", "ECS_FARGATE_AGENT_MANAGEMENT"),
            ("ec2_agent_management", "EC2_AGENT_MANAGEMENT"),
        ],
    },
    Key { key: "ai_protection", api: "AI_PROTECTION", agents: &[] },
];

/// The key of GuardDuty itself ("GuardDuty foundational threat detection").
const FOUNDATIONAL: &str = "foundational";
/// The block that applies to every region without a block of its own.
pub(crate) const DEFAULT_BLOCK: &str = "default";

fn status(enabled: bool) -> Value {
    json!({"status": {"@@assign": if enabled { "enabled" } else { "disabled" }}})
}

/// The block of one region: GuardDuty on, the plans `on` enabled (with those of their additional configurations a
/// policy has keys for), and the plans `off` disabled. Plans a policy has no key for are left out (the API keeps
/// them).
pub(crate) fn block(on: &[Plan], off: &[String]) -> Value {
    let mut b = Map::new();
    b.insert(FOUNDATIONAL.into(), status(true));
    for Key { key, api, agents } in KEYS {
        if let Some(plan) = on.iter().find(|p| p.name == api) {
            let mut entry = status(true);
            let mut additional = Map::new();
            for (agent_key, agent_api) in agents {
                if plan.agents.iter().any(|a| a == agent_api) {
                    additional.insert((*agent_key).to_owned(), status(true));
                }
            }
            if !additional.is_empty() {
                entry["additional_configuration"] = Value::Object(additional);
            }
            b.insert(key.into(), entry);
        } else if off.iter().any(|o| o == api) {
            b.insert(key.into(), status(false));
        }
    }
    Value::Object(b)
}

/// A policy's content from its blocks by region.
pub(crate) fn content(blocks: BTreeMap<String, Value>) -> Value {
    json!({"guardduty": {"enablement": blocks}})
}

/// The blocks of a policy's content by name (regions and `default`); empty where the content has none.
pub(crate) fn blocks(content: &Value) -> BTreeMap<String, Value> {
    content
        .pointer("/guardduty/enablement")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// What a block says of GuardDuty in a region, read from an effective policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Block {
    /// `foundational`: `Some(true)` turns GuardDuty on, `Some(false)` off, `None` leaves it.
    pub foundational: Option<bool>,
    /// The plans it governs (API names), enabled or not, each with the additional configurations it governs.
    pub plans: BTreeMap<String, (bool, BTreeMap<String, bool>)>,
}

impl Block {
    /// The plans this block turns on, as plans to check (with the additional configurations it turns on).
    #[cfg(test)]
    pub(crate) fn enabled(&self) -> Vec<Plan> {
        self.plans
            .iter()
            .filter(|(_, (on, _))| *on)
            .map(|(name, (_, agents))| Plan {
                name: name.clone(),
                agents: agents.iter().filter(|(_, on)| **on).map(|(a, _)| a.clone()).collect(),
            })
            .collect()
    }
}

/// A value as an effective policy shows it: `"enabled"`, or still `{"@@assign": "enabled"}`.
fn switch(v: Option<&Value>) -> Option<bool> {
    let v = v?;
    let text = v.as_str().or_else(|| v.get("@@assign").and_then(Value::as_str))?;
    match text {
        "enabled" => Some(true),
        "disabled" => Some(false),
        _ => None,
    }
}

fn read_block(v: &Value) -> Block {
    let mut block = Block { foundational: switch(v.pointer("/foundational/status")), ..Block::default() };
    for Key { key, api, agents } in KEYS {
        let Some(entry) = v.get(key) else { continue };
        let Some(on) = switch(entry.get("status")) else { continue };
        let agents: BTreeMap<String, bool> = agents
            .iter()
            .filter_map(|(agent_key, agent_api)| {
                let on = switch(entry.pointer(&format!("/additional_configuration/{agent_key}/status")))?;
                Some(((*agent_api).to_owned(), on))
            })
            .collect();
        block.plans.insert(api.to_owned(), (on, agents));
    }
    block
}

/// An effective GuardDuty policy, by region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Effective {
    default: Option<Block>,
    regions: BTreeMap<String, Block>,
}

impl Effective {
    /// Reads an effective policy's content (DescribeEffectivePolicy's `PolicyContent`).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let content: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let mut effective = Self::default();
        for (name, v) in blocks(&content) {
            if name == DEFAULT_BLOCK {
                effective.default = Some(read_block(&v));
            } else {
                effective.regions.insert(name, read_block(&v));
            }
        }
        Ok(effective)
    }

    /// The block in force in `region`: its own, else `default`, else none (the policy leaves the region as it is).
    pub(crate) fn block(&self, region: &str) -> Option<&Block> {
        self.regions.get(region).or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str, agents: &[&str]) -> Plan {
        Plan { name: name.into(), agents: agents.iter().map(|a| (*a).to_owned()).collect() }
    }

    #[test]
    fn a_block_enables_guardduty_and_the_plans_in_the_policy_syntax_names() {
        let on = [
            plan("S3_DATA_EVENTS", &[]),
            plan("RUNTIME_MONITORING", &["EC2_AGENT_MANAGEMENT", "EKS_ADDON_MANAGEMENT"]),
            plan("RDS_LOGIN_EVENTS", &["RDS_DATA_RISK"]),
            plan("EKS_RUNTIME_MONITORING", &[]),
        ];
        let b = block(&on, &["AI_PROTECTION".to_owned()]);
        assert_eq!(
            b,
            json!({
                "foundational": {"status": {"@@assign": "enabled"}},
                "s3_data_events": {"status": {"@@assign": "enabled"}},
                "rds_login_events": {"status": {"@@assign": "enabled"}},
                "runtime_monitoring": {"status": {"@@assign": "enabled"}, "additional_configuration": {
                    "eks_addon_management": {"status": {"@@assign": "enabled"}},
                    "ec2_agent_management": {"status": {"@@assign": "enabled"}}}},
                "ai_protection": {"status": {"@@assign": "disabled"}}
            }),
            "no key for EKS_RUNTIME_MONITORING or RDS_DATA_RISK"
        );
        let c = content([("eu-west-1".to_owned(), b)].into_iter().collect());
        assert_eq!(blocks(&c).len(), 1);
    }

    #[test]
    fn an_effective_policy_is_read_per_region_with_the_default_for_the_others() {
        let text = r#"{"guardduty":{"enablement":{
            "default":{"foundational":{"status":"enabled"},"s3_data_events":{"status":"enabled"}},
            "eu-west-1":{"foundational":{"status":{"@@assign":"enabled"}},
                         "runtime_monitoring":{"status":"enabled","additional_configuration":{"ec2_agent_management":{"status":"disabled"}}},
                         "ai_protection":{"status":"disabled"}}}}}"#;
        let e = Effective::parse(text).expect("parse");
        let eu = e.block("eu-west-1").expect("eu");
        assert_eq!(eu.foundational, Some(true));
        assert_eq!(eu.enabled(), [plan("RUNTIME_MONITORING", &[])], "the region block replaces the default");
        assert!(!eu.plans["AI_PROTECTION"].0);
        assert_eq!(e.block("us-east-1").expect("default").enabled(), [plan("S3_DATA_EVENTS", &[])]);
        assert_eq!(Effective::parse("{}").expect("empty").block("us-east-1"), None);
        assert!(Effective::parse("not json").is_err());
    }
}
