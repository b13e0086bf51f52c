//! GUARDDUTY_FEATURES: which protection plans to turn on, and how that choice becomes the plans of one region.
//!
//! By default every plan the region offers is turned on: the features `DescribeOrganizationConfiguration` lists
//! there, each with every additional configuration it lists, so a plan AWS ships later is covered without a
//! release of this tool. An explicit list is checked against the names the SDK knows before any AWS call; a listed
//! plan a region does not offer is left out there, with a note, not a failure.

use serde::Serialize;

use super::variables::list;
use crate::ids::shorten;
use crate::state::OrgConfig;

/// The current Runtime Monitoring plan, and the older EKS-only one; GuardDuty accepts only one of them.
pub(crate) const RUNTIME_MONITORING: &str = "RUNTIME_MONITORING";
pub(crate) const EKS_RUNTIME_MONITORING: &str = "EKS_RUNTIME_MONITORING";

/// A protection plan to turn on (a feature, by the API's name), with the additional configurations (agent
/// settings and the like) to turn on with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The feature, e.g. `S3_DATA_EVENTS`.
    pub name: String,
    /// Its additional configurations to enable, e.g. `EKS_ADDON_MANAGEMENT`.
    pub agents: Vec<String>,
}

/// The organization features GuardDuty documents, each with its additional configurations (GuardDuty API reference,
/// `OrganizationFeatureConfiguration` and `OrganizationAdditionalConfiguration`): what a region is taken to offer
/// while its organization configuration cannot be read (before the admin is designated there) and the management
/// account has no detector there to show it.
const DOCUMENTED: [(&str, &[&str]); 8] = [
    ("S3_DATA_EVENTS", &[]),
    ("EKS_AUDIT_LOGS", &[]),
    ("EBS_MALWARE_PROTECTION", &[]),
    ("RDS_LOGIN_EVENTS", &["RDS_DATA_RISK"]),
    ("EKS_RUNTIME_MONITORING", &["EKS_ADDON_MANAGEMENT"]),
    ("LAMBDA_NETWORK_LOGS", &[]),
    ("RUNTIME_MONITORING", &["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"]),
    ("AI_PROTECTION", &[]),
];

/// What a region is taken to offer while its organization configuration cannot be read (a plan before the admin is
/// designated there): the organization features the management account's detector there lists, with their
/// additional configurations, or, without one, the documented features; and which of the two it is, for the report.
pub(crate) fn guess_offered(management: Option<&crate::state::Detector>) -> (OrgConfig, &'static str) {
    let org_feature = |name: &str| aws_sdk_guardduty::types::OrgFeature::values().contains(&name);
    let feature = |agents: Vec<String>| crate::state::OrgFeatureState {
        auto_enable: "NONE".into(),
        agents: agents.into_iter().map(|a| (a, "NONE".to_owned())).collect(),
    };
    match management.filter(|d| d.features.keys().any(|f| org_feature(f))) {
        Some(detector) => {
            let features = detector
                .features
                .iter()
                .filter(|(name, _)| org_feature(name))
                .map(|(name, f)| (name.clone(), feature(f.agents.keys().cloned().collect())))
                .collect();
            (OrgConfig { auto_enable: None, features }, "the plans the management account's detector lists here")
        }
        None => {
            let features = DOCUMENTED
                .iter()
                .map(|(name, agents)| ((*name).to_owned(), feature(agents.iter().map(|a| (*a).to_owned()).collect())))
                .collect();
            (OrgConfig { auto_enable: None, features }, "the plans GuardDuty documents")
        }
    }
}

/// What GUARDDUTY_FEATURES selects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "selection", rename_all = "snake_case")]
pub enum PlanSelection {
    /// Unset: every plan each region offers.
    Offered,
    /// An explicit list.
    Listed {
        /// Plan names, in the order given.
        plans: Vec<String>,
        /// Additional-configuration names that narrow the plans they belong to (a listed plan without any of its
        /// additional configurations listed gets all of them).
        agents: Vec<String>,
    },
    /// `NONE`: no plan is managed.
    Nothing,
}

/// GUARDDUTY_FEATURES_BY_OU, one entry: the accounts under an organizational unit (at any depth; the deepest listed
/// unit wins) want exactly these plans instead of GUARDDUTY_FEATURES: the region's other plans are turned off for
/// them. `FOUNDATIONAL` (GuardDuty with no protection plan) is [`PlanSelection::Nothing`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OuPlans {
    /// The organizational unit.
    pub ou: String,
    /// Its plans.
    pub plans: PlanSelection,
}

impl OuPlans {
    /// Parses a non-empty GUARDDUTY_FEATURES_BY_OU value: `ou-...=PLAN,PLAN;ou-...=FOUNDATIONAL`.
    pub fn parse_all(value: &str, is_ou: impl Fn(&str) -> bool) -> Result<Vec<Self>, String> {
        let mut all: Vec<Self> = Vec::new();
        for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((ou, plans)) = entry.split_once('=') else {
                return Err(format!(
                    "{:?} is not of the form ou-...=PLAN,PLAN or ou-...=FOUNDATIONAL",
                    shorten(entry, 64)
                ));
            };
            let ou = ou.trim();
            if !is_ou(ou) {
                return Err(format!("{:?} is not an organizational unit id (like ou-ab12-cd34ef56)", shorten(ou, 64)));
            }
            if all.iter().any(|o| o.ou == ou) {
                return Err(format!("{ou} is listed twice"));
            }
            let plans = match plans.trim() {
                "FOUNDATIONAL" => PlanSelection::Nothing,
                "NONE" | "" => {
                    return Err(format!(
                        "{ou}: use FOUNDATIONAL for GuardDuty without a protection plan, or list plans"
                    ))
                }
                listed => PlanSelection::parse(listed).map_err(|e| format!("{ou}: {e}"))?,
            };
            all.push(Self { ou: ou.to_owned(), plans });
        }
        if all.is_empty() {
            return Err("lists no organizational unit".into());
        }
        Ok(all)
    }

    /// The plans of a region whose organization configuration lists `offered`: the selected ones on, and every
    /// other plan the region offers off, except the older Runtime Monitoring where the current one is on (left as
    /// it is: a member with both is billed twice, and told so, but protected).
    pub fn resolve(&self, offered: &OrgConfig) -> (Resolved, Vec<String>) {
        let resolved = self.plans.resolve(offered);
        let on = |name: &str| resolved.plans.iter().any(|p| p.name == name);
        let off = offered
            .features
            .keys()
            .filter(|name| {
                let superseded = name.as_str() == EKS_RUNTIME_MONITORING && on(RUNTIME_MONITORING);
                !on(name) && !superseded
            })
            .cloned()
            .collect();
        (resolved, off)
    }
}

/// The plans of one region, and what was asked for but is not offered there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The plans to turn on here.
    pub plans: Vec<Plan>,
    /// Listed plans or additional configurations this region does not offer (left out, not a failure).
    pub not_offered: Vec<String>,
}

impl PlanSelection {
    /// Parses a non-empty GUARDDUTY_FEATURES value: `NONE`, or plan and additional-configuration names as the
    /// SDK knows them (`OrgFeature`, `OrgFeatureAdditionalConfiguration`).
    pub fn parse(value: &str) -> Result<Self, String> {
        let items: Vec<&str> = list(value).collect();
        if items == ["NONE"] {
            return Ok(Self::Nothing);
        }
        let known_plans = aws_sdk_guardduty::types::OrgFeature::values();
        let known_agents = aws_sdk_guardduty::types::OrgFeatureAdditionalConfiguration::values();
        let (mut plans, mut agents) = (Vec::<String>::new(), Vec::<String>::new());
        for item in items {
            let target = if known_plans.contains(&item) {
                &mut plans
            } else if known_agents.contains(&item) {
                &mut agents
            } else {
                let names: Vec<&str> = known_plans.iter().chain(known_agents).copied().collect();
                return Err(format!(
                    "{:?} is not a protection plan: use NONE or a comma list of {}",
                    shorten(item, 64),
                    names.join(", ")
                ));
            };
            if !target.iter().any(|t| t == item) {
                target.push(item.to_owned());
            }
        }
        if plans.iter().any(|p| p == RUNTIME_MONITORING) && plans.iter().any(|p| p == EKS_RUNTIME_MONITORING) {
            return Err(
                "lists both RUNTIME_MONITORING and EKS_RUNTIME_MONITORING; GuardDuty accepts one of them".into()
            );
        }
        if plans.is_empty() {
            return Err(format!("lists {} without a protection plan it belongs to", agents.join(", ")));
        }
        Ok(Self::Listed { plans, agents })
    }

    /// Whether a plan of this name is selected wherever a region offers it.
    pub fn selects(&self, name: &str) -> bool {
        match self {
            Self::Offered => true,
            Self::Listed { plans, .. } => plans.iter().any(|p| p == name),
            Self::Nothing => false,
        }
    }

    /// The plans for a region whose organization configuration lists `offered`.
    pub fn resolve(&self, offered: &OrgConfig) -> Resolved {
        match self {
            Self::Nothing => Resolved::default(),
            Self::Offered => {
                let both_runtimes = offered.features.contains_key(RUNTIME_MONITORING);
                let plans = offered
                    .features
                    .iter()
                    .filter(|(name, _)| !(both_runtimes && name.as_str() == EKS_RUNTIME_MONITORING))
                    .map(|(name, f)| Plan { name: name.clone(), agents: f.agents.keys().cloned().collect() })
                    .collect();
                Resolved { plans, not_offered: Vec::new() }
            }
            Self::Listed { plans: listed, agents: narrowing } => {
                let mut resolved = Resolved::default();
                for name in listed {
                    let Some(feature) = offered.features.get(name) else {
                        resolved.not_offered.push(name.clone());
                        continue;
                    };
                    let own: Vec<String> = feature.agents.keys().cloned().collect();
                    let chosen: Vec<String> = own.iter().filter(|a| narrowing.contains(a)).cloned().collect();
                    resolved
                        .plans
                        .push(Plan { name: name.clone(), agents: if chosen.is_empty() { own } else { chosen } });
                }
                for agent in narrowing {
                    if !resolved.plans.iter().any(|p| p.agents.contains(agent)) {
                        resolved.not_offered.push(agent.clone());
                    }
                }
                resolved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::state::OrgFeatureState;

    fn offered(features: &[(&str, &[&str])]) -> OrgConfig {
        OrgConfig {
            auto_enable: Some("NONE".into()),
            features: features
                .iter()
                .map(|(name, agents)| {
                    let agents: BTreeMap<String, String> =
                        agents.iter().map(|a| ((*a).to_owned(), "NONE".to_owned())).collect();
                    ((*name).to_owned(), OrgFeatureState { auto_enable: "NONE".into(), agents })
                })
                .collect(),
        }
    }

    const RUNTIME_AGENTS: &[&str] = &["EC2_AGENT_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EKS_ADDON_MANAGEMENT"];

    fn names(r: &Resolved) -> Vec<&str> {
        r.plans.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn by_default_every_offered_plan_is_selected_with_all_its_additional_configurations() {
        // given a region that offers a plan this code has never heard of, and RDS with its data-risk setting
        let region = offered(&[
            ("AI_PROTECTION", &[]),
            ("RDS_LOGIN_EVENTS", &["RDS_DATA_RISK"]),
            ("RUNTIME_MONITORING", RUNTIME_AGENTS),
            ("SOME_FUTURE_PLAN", &[]),
        ]);
        // when resolved with the default
        let r = PlanSelection::Offered.resolve(&region);
        // then all of them are turned on, each with all of its additional configurations
        assert_eq!(names(&r), ["AI_PROTECTION", "RDS_LOGIN_EVENTS", "RUNTIME_MONITORING", "SOME_FUTURE_PLAN"]);
        assert_eq!(r.plans[1].agents, ["RDS_DATA_RISK"]);
        assert_eq!(r.plans[2].agents.len(), 3);
        assert!(r.not_offered.is_empty());
    }

    #[test]
    fn the_current_runtime_monitoring_wins_over_the_older_flavour_when_a_region_lists_both() {
        let both =
            offered(&[("EKS_RUNTIME_MONITORING", &["EKS_ADDON_MANAGEMENT"]), ("RUNTIME_MONITORING", RUNTIME_AGENTS)]);
        assert_eq!(names(&PlanSelection::Offered.resolve(&both)), ["RUNTIME_MONITORING"]);
        let older_only = offered(&[("EKS_RUNTIME_MONITORING", &["EKS_ADDON_MANAGEMENT"])]);
        assert_eq!(names(&PlanSelection::Offered.resolve(&older_only)), ["EKS_RUNTIME_MONITORING"]);
    }

    #[test]
    fn a_listed_plan_a_region_does_not_offer_is_left_out_with_a_note() {
        let selection = PlanSelection::parse("S3_DATA_EVENTS,AI_PROTECTION").expect("valid");
        let r = selection.resolve(&offered(&[("S3_DATA_EVENTS", &[])]));
        assert_eq!(names(&r), ["S3_DATA_EVENTS"]);
        assert_eq!(r.not_offered, ["AI_PROTECTION"]);
    }

    #[test]
    fn listed_additional_configurations_narrow_the_plan_they_belong_to() {
        let selection = PlanSelection::parse("S3_DATA_EVENTS,RUNTIME_MONITORING,EC2_AGENT_MANAGEMENT").expect("valid");
        let r = selection.resolve(&offered(&[("S3_DATA_EVENTS", &[]), ("RUNTIME_MONITORING", RUNTIME_AGENTS)]));
        assert_eq!(r.plans[0], Plan { name: "S3_DATA_EVENTS".into(), agents: vec![] });
        assert_eq!(r.plans[1], Plan { name: "RUNTIME_MONITORING".into(), agents: vec!["EC2_AGENT_MANAGEMENT".into()] });
        // a listed plan without any of its settings listed gets them all
        let all = PlanSelection::parse("RUNTIME_MONITORING").expect("valid");
        assert_eq!(all.resolve(&offered(&[("RUNTIME_MONITORING", RUNTIME_AGENTS)])).plans[0].agents.len(), 3);
    }

    #[test]
    fn the_names_the_sdk_knows_are_accepted_and_others_refused_before_any_call() {
        for good in ["AI_PROTECTION", "RDS_LOGIN_EVENTS,RDS_DATA_RISK", "EKS_RUNTIME_MONITORING", "NONE"] {
            assert!(PlanSelection::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "XRAY",
            "RUNTIME_MONITORING,EKS_RUNTIME_MONITORING",
            "EC2_AGENT_MANAGEMENT",
            "NONE,S3_DATA_EVENTS",
            "AI_ANALYST",
        ] {
            assert!(PlanSelection::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(PlanSelection::parse("XRAY").unwrap_err().contains("AI_PROTECTION"), "the error lists the names");
    }

    #[test]
    fn plans_by_organizational_unit_are_exact_and_checked_before_any_call() {
        let is_ou = |s: &str| s.starts_with("ou-");
        let all = OuPlans::parse_all(
            "ou-ab12-cd34ef56=S3_DATA_EVENTS,RUNTIME_MONITORING; ou-ef56-ab12cd34=FOUNDATIONAL",
            is_ou,
        )
        .expect("valid");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].plans, PlanSelection::Nothing);
        // exact: the region's other plans are off, the older Runtime Monitoring left alone beside the current one
        let region = offered(&[
            ("S3_DATA_EVENTS", &[]),
            ("RUNTIME_MONITORING", RUNTIME_AGENTS),
            ("EKS_RUNTIME_MONITORING", &["EKS_ADDON_MANAGEMENT"]),
            ("AI_PROTECTION", &[]),
        ]);
        let (on, off) = all[0].resolve(&region);
        assert_eq!(names(&on), ["S3_DATA_EVENTS", "RUNTIME_MONITORING"]);
        assert_eq!(off, ["AI_PROTECTION"]);
        let (on, off) = all[1].resolve(&region);
        assert!(on.plans.is_empty());
        assert_eq!(off, ["AI_PROTECTION", "EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING", "S3_DATA_EVENTS"]);
        for bad in [
            "ou-ab12-cd34ef56",
            "finance=S3_DATA_EVENTS",
            "ou-ab12-cd34ef56=NONE",
            "ou-ab12-cd34ef56=XRAY",
            "ou-ab12-cd34ef56=S3_DATA_EVENTS;ou-ab12-cd34ef56=FOUNDATIONAL",
            ";",
        ] {
            assert!(OuPlans::parse_all(bad, is_ou).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn none_manages_no_plan() {
        assert_eq!(PlanSelection::parse("NONE"), Ok(PlanSelection::Nothing));
        assert!(PlanSelection::Nothing.resolve(&offered(&[("S3_DATA_EVENTS", &[])])).plans.is_empty());
    }
}
