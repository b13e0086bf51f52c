//! The planner: observed state plus the declared policy in, the writes that close the gap out. Pure: no I/O,
//! so dry runs and unit tests need no AWS.

use serde::Serialize;

use crate::config::{AutoEnable, FindingFrequency, Plan, Settings};
use crate::ids::AccountId;
use crate::state::{AdminSide, Detector, OrgConfig, RegionState, Relationship};

/// The most accounts one CreateMembers (or StartMonitoringMembers) call takes.
pub const MEMBER_BATCH: usize = 50;

/// One write, in the order it must happen within a region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// CreateDetector in the management account.
    CreateManagementDetector,
    /// UpdateDetector(enable) on the management account's disabled detector.
    EnableManagementDetector {
        /// Its id.
        detector_id: String,
    },
    /// EnableOrganizationAdminAccount, from the management account.
    DesignateAdmin {
        /// The account designated.
        admin: AccountId,
    },
    /// CreateDetector in the admin account with the declared plans.
    CreateAdminDetector {
        /// Plans to enable.
        plans: Vec<Plan>,
        /// Finding frequency, when declared.
        frequency: Option<FindingFrequency>,
    },
    /// UpdateDetector on the admin's detector: enable it and the plans that are off.
    UpdateAdminDetector {
        /// Its id.
        detector_id: String,
        /// Plans (with the agents) that are not yet enabled.
        plans: Vec<Plan>,
        /// Finding frequency, when it differs from the declared one.
        frequency: Option<FindingFrequency>,
    },
    /// UpdateOrganizationConfiguration: auto-enable and the plans' auto-enable.
    UpdateOrganizationConfiguration {
        /// AutoEnableOrganizationMembers.
        auto_enable: AutoEnable,
        /// Plans whose auto-enable is set.
        plans: Vec<Plan>,
    },
    /// CreateMembers for at most [`MEMBER_BATCH`] accounts.
    CreateMembers {
        /// The accounts with their emails.
        accounts: Vec<MemberAccount>,
    },
    /// StartMonitoringMembers for at most [`MEMBER_BATCH`] members whose monitoring was stopped.
    StartMonitoringMembers {
        /// The members.
        accounts: Vec<AccountId>,
    },
}

impl Step {
    /// Whether the step establishes what the admin's side needs (detectors and the designation).
    pub fn is_foundation(&self) -> bool {
        matches!(
            self,
            Self::CreateManagementDetector
                | Self::EnableManagementDetector { .. }
                | Self::DesignateAdmin { .. }
                | Self::CreateAdminDetector { .. }
                | Self::UpdateAdminDetector { .. }
        )
    }

    /// How many accounts a membership step names (0 for the other steps).
    pub fn member_count(&self) -> usize {
        match self {
            Self::CreateMembers { accounts } => accounts.len(),
            Self::StartMonitoringMembers { accounts } => accounts.len(),
            _ => 0,
        }
    }

    /// The API operation the step calls.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::CreateManagementDetector | Self::CreateAdminDetector { .. } => "CreateDetector",
            Self::EnableManagementDetector { .. } | Self::UpdateAdminDetector { .. } => "UpdateDetector",
            Self::DesignateAdmin { .. } => "EnableOrganizationAdminAccount",
            Self::UpdateOrganizationConfiguration { .. } => "UpdateOrganizationConfiguration",
            Self::CreateMembers { .. } => "CreateMembers",
            Self::StartMonitoringMembers { .. } => "StartMonitoringMembers",
        }
    }
}

/// An account to make a member: id and root email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberAccount {
    /// The account.
    pub id: AccountId,
    /// Its email, as Organizations has it.
    pub email: String,
}

/// An account that stays outside the desired state in a region, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Left {
    /// The account.
    pub account: String,
    /// Why, in words a person can act on.
    pub reason: String,
}

/// The declared state of one region, with the accounts that must be members.
#[derive(Clone, Copy, Debug)]
pub struct Desired<'a> {
    /// The configuration.
    pub settings: &'a Settings,
    /// The organization's management account.
    pub management: &'a AccountId,
    /// The accounts that must be members: ACTIVE, not the admin, not excluded.
    pub members: &'a [MemberAccount],
}

/// What to do in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RegionPlan {
    /// The writes, in order.
    pub steps: Vec<Step>,
    /// Accounts that will not be members here, and why.
    pub left: Vec<Left>,
    /// Set when the region is configured in a way this tool must not override (another delegated admin).
    pub conflict: Option<String>,
}

impl RegionPlan {
    /// Whether nothing needs doing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Plans a region from what was observed there. Where the admin's side could not be read (no designation or no
/// detector yet), it is planned as a fresh admin's would be: no members and a default organization configuration.
pub fn plan_region(desired: &Desired<'_>, state: &RegionState) -> RegionPlan {
    let mut plan = RegionPlan::default();
    let admin = &desired.settings.admin_account;
    if let Some(other) = state.delegated_admins.iter().find(|a| *a != admin.as_str()) {
        plan.conflict = Some(format!(
            "account {other} is already the delegated GuardDuty administrator; the configured admin is {admin}. \
             Nothing was changed: remove that designation, or configure {other} as the admin"
        ));
        return plan;
    }
    plan.steps = plan_foundation(desired, state);
    let fresh = AdminSide::default();
    let side = state.admin_side.as_ref().unwrap_or(&fresh);
    let (steps, left) = plan_admin_side(desired, side);
    plan.steps.extend(steps);
    plan.left = left;
    plan
}

/// The detector and designation steps.
pub fn plan_foundation(desired: &Desired<'_>, state: &RegionState) -> Vec<Step> {
    let settings = desired.settings;
    let admin = &settings.admin_account;
    let mut steps = Vec::new();
    let admin_is_management = admin == desired.management;
    if !admin_is_management {
        match &state.management_detector {
            None => steps.push(Step::CreateManagementDetector),
            Some(d) if !d.enabled => steps.push(Step::EnableManagementDetector { detector_id: d.id.clone() }),
            Some(_) => {}
        }
    }
    if !state.delegated_admins.iter().any(|a| a == admin.as_str()) {
        steps.push(Step::DesignateAdmin { admin: admin.clone() });
    }
    match &state.admin_detector {
        None => steps
            .push(Step::CreateAdminDetector { plans: settings.plans.clone(), frequency: settings.finding_frequency }),
        Some(d) => {
            let plans = plans_not_enabled(d, &settings.plans);
            let frequency = settings.finding_frequency.filter(|f| d.frequency.as_deref() != Some(f.as_str()));
            if !d.enabled || !plans.is_empty() || frequency.is_some() {
                steps.push(Step::UpdateAdminDetector { detector_id: d.id.clone(), plans, frequency });
            }
        }
    }
    steps
}

/// The organization configuration and membership steps, and the accounts left out.
pub fn plan_admin_side(desired: &Desired<'_>, side: &AdminSide) -> (Vec<Step>, Vec<Left>) {
    let settings = desired.settings;
    let mut steps = Vec::new();
    if !org_config_matches(&side.org_config, settings.auto_enable, &settings.plans) {
        steps.push(Step::UpdateOrganizationConfiguration {
            auto_enable: settings.auto_enable,
            plans: settings.plans.clone(),
        });
    }
    let mut create = Vec::new();
    let mut start = Vec::new();
    let mut left = Vec::new();
    for account in desired.members {
        let status = side.members.get(account.id.as_str());
        match status.map_or(Relationship::NotMember, |s| Relationship::parse(s)) {
            Relationship::Enabled => {}
            Relationship::Disabled => start.push(account.id.clone()),
            Relationship::RegionDisabled => left.push(Left {
                account: account.id.to_string(),
                reason: "the account has not enabled this opt-in region".into(),
            }),
            Relationship::AccountSuspended => left.push(Left {
                account: account.id.to_string(),
                reason: "GuardDuty reports the account suspended".into(),
            }),
            Relationship::NotMember => create.push(account.clone()),
        }
    }
    steps.extend(create.chunks(MEMBER_BATCH).map(|c| Step::CreateMembers { accounts: c.to_vec() }));
    steps.extend(start.chunks(MEMBER_BATCH).map(|c| Step::StartMonitoringMembers { accounts: c.to_vec() }));
    (steps, left)
}

/// The declared plans (with their declared agents) that `detector` does not have enabled.
pub fn plans_not_enabled(detector: &Detector, plans: &[Plan]) -> Vec<Plan> {
    plans
        .iter()
        .filter(|p| {
            let Some(f) = detector.features.get(p.feature.as_str()) else { return true };
            !f.enabled || p.agents.iter().any(|a| f.agents.get(a.as_str()) != Some(&true))
        })
        .cloned()
        .collect()
}

/// Whether the organization configuration already has the declared auto-enable and plans.
pub fn org_config_matches(config: &OrgConfig, auto_enable: AutoEnable, plans: &[Plan]) -> bool {
    let want = auto_enable.for_plans();
    config.auto_enable.as_deref() == Some(auto_enable.as_str())
        && plans.iter().all(|p| {
            config.features.get(p.feature.as_str()).is_some_and(|f| {
                f.auto_enable == want
                    && p.agents.iter().all(|a| f.agents.get(a.as_str()).map(String::as_str) == Some(want))
            })
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{default_plans, Feature};
    use crate::state::{FeatureState, OrgFeatureState};

    fn id(s: &str) -> AccountId {
        s.parse().expect("account id")
    }

    fn settings() -> Settings {
        Settings::with_admin(id("222222222222"))
    }

    fn accounts(n: usize) -> Vec<MemberAccount> {
        (0..n)
            .map(|i| MemberAccount {
                id: id(&format!("{:012}", 300_000_000_000u64 + i as u64)),
                email: format!("a{i}@example.com"),
            })
            .collect()
    }

    fn detector(id: &str, plans: &[Plan]) -> Detector {
        let features = plans
            .iter()
            .map(|p| {
                let agents = p.agents.iter().map(|a| (a.as_str().to_owned(), true)).collect();
                (p.feature.as_str().to_owned(), FeatureState { enabled: true, agents })
            })
            .collect();
        Detector { id: id.into(), enabled: true, frequency: Some("SIX_HOURS".into()), features }
    }

    fn org_config(auto: AutoEnable, plans: &[Plan]) -> OrgConfig {
        let want = auto.for_plans().to_owned();
        OrgConfig {
            auto_enable: Some(auto.as_str().into()),
            features: plans
                .iter()
                .map(|p| {
                    let agents = p.agents.iter().map(|a| (a.as_str().to_owned(), want.clone())).collect();
                    (p.feature.as_str().to_owned(), OrgFeatureState { auto_enable: want.clone(), agents })
                })
                .collect(),
        }
    }

    fn converged(settings: &Settings, members: &[MemberAccount]) -> RegionState {
        RegionState {
            management_detector: Some(detector("m", &[])),
            delegated_admins: vec![settings.admin_account.to_string()],
            admin_detector: Some(detector("a", &settings.plans)),
            admin_side: Some(AdminSide {
                org_config: org_config(settings.auto_enable, &settings.plans),
                members: members.iter().map(|m| (m.id.to_string(), "Enabled".to_owned())).collect(),
            }),
        }
    }

    #[test]
    fn a_fresh_region_gets_every_step_in_dependency_order() {
        // given a region where nothing is set up and 120 accounts to enrol
        let s = settings();
        let mgmt = id("111111111111");
        let members = accounts(120);
        let desired = Desired { settings: &s, management: &mgmt, members: &members };
        // when it is planned
        let plan = plan_region(&desired, &RegionState::default());
        // then the steps run detectors, designation, configuration, then members in batches of at most 50
        let ops: Vec<&str> = plan.steps.iter().map(Step::operation).collect();
        assert_eq!(
            ops,
            [
                "CreateDetector",
                "EnableOrganizationAdminAccount",
                "CreateDetector",
                "UpdateOrganizationConfiguration",
                "CreateMembers",
                "CreateMembers",
                "CreateMembers"
            ]
        );
        let sizes: Vec<usize> = plan
            .steps
            .iter()
            .filter_map(|s| if let Step::CreateMembers { accounts } = s { Some(accounts.len()) } else { None })
            .collect();
        assert_eq!(sizes, [50, 50, 20]);
        assert!(plan.conflict.is_none());
    }

    #[test]
    fn a_converged_region_needs_nothing() {
        let s = settings();
        let mgmt = id("111111111111");
        let members = accounts(75);
        let desired = Desired { settings: &s, management: &mgmt, members: &members };
        let plan = plan_region(&desired, &converged(&s, &members));
        assert!(plan.is_empty(), "{plan:?}");
        assert!(plan.left.is_empty());
    }

    #[test]
    fn another_admin_is_a_conflict_and_nothing_is_planned() {
        let s = settings();
        let mgmt = id("111111111111");
        let state = RegionState { delegated_admins: vec!["999999999999".into()], ..RegionState::default() };
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &accounts(3) }, &state);
        assert!(plan.steps.is_empty());
        let conflict = plan.conflict.expect("conflict");
        assert!(conflict.contains("999999999999") && conflict.contains("222222222222"), "{conflict}");
    }

    #[test]
    fn member_drift_is_repaired_by_kind() {
        // given members that were removed, stopped, region-disabled and missing
        let s = settings();
        let mgmt = id("111111111111");
        let members = accounts(5);
        let mut state = converged(&s, &members);
        let side = state.admin_side.as_mut().expect("side");
        side.members.insert(members[0].id.to_string(), "Removed".into());
        side.members.insert(members[1].id.to_string(), "Disabled".into());
        side.members.insert(members[2].id.to_string(), "RegionDisabled".into());
        side.members.remove(members[3].id.as_str());
        // when planned
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &members }, &state);
        // then removed and missing are re-created, stopped ones restarted, the region-disabled one reported
        assert_eq!(
            plan.steps,
            vec![
                Step::CreateMembers { accounts: vec![members[0].clone(), members[3].clone()] },
                Step::StartMonitoringMembers { accounts: vec![members[1].id.clone()] },
            ]
        );
        assert_eq!(plan.left.len(), 1);
        assert_eq!(plan.left[0].account, members[2].id.to_string());
        assert!(plan.left[0].reason.contains("opt-in region"));
    }

    #[test]
    fn a_disabled_plan_or_agent_on_the_admin_detector_is_re_enabled_and_nothing_else() {
        let s = settings();
        let mgmt = id("111111111111");
        let mut state = converged(&s, &[]);
        let det = state.admin_detector.as_mut().expect("detector");
        det.features.get_mut("S3_DATA_EVENTS").expect("s3").enabled = false;
        det.features.get_mut("RUNTIME_MONITORING").expect("rm").agents.insert("EC2_AGENT_MANAGEMENT".into(), false);
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &[] }, &state);
        let Some(Step::UpdateAdminDetector { plans, frequency, .. }) = plan.steps.first() else { panic!("{plan:?}") };
        let names: Vec<Feature> = plans.iter().map(|p| p.feature).collect();
        assert_eq!(names, [Feature::S3DataEvents, Feature::RuntimeMonitoring]);
        assert_eq!(*frequency, None);
        assert_eq!(plan.steps.len(), 1);
    }

    #[test]
    fn a_changed_auto_enable_is_re_asserted() {
        let s = settings();
        let mgmt = id("111111111111");
        let mut state = converged(&s, &[]);
        state.admin_side.as_mut().expect("side").org_config.auto_enable = Some("NEW".into());
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &[] }, &state);
        assert_eq!(
            plan.steps,
            vec![Step::UpdateOrganizationConfiguration { auto_enable: AutoEnable::All, plans: default_plans() }]
        );
    }

    #[test]
    fn a_disabled_management_detector_is_enabled_not_recreated() {
        let s = settings();
        let mgmt = id("111111111111");
        let mut state = converged(&s, &[]);
        state.management_detector.as_mut().expect("detector").enabled = false;
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &[] }, &state);
        assert_eq!(plan.steps, vec![Step::EnableManagementDetector { detector_id: "m".into() }]);
    }

    #[test]
    fn an_admin_that_is_the_management_account_needs_no_separate_management_detector() {
        let mut s = settings();
        s.allow_management_admin = true;
        let mgmt = s.admin_account.clone();
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &[] }, &RegionState::default());
        assert!(!plan.steps.contains(&Step::CreateManagementDetector));
        assert!(plan.steps.iter().any(|s| matches!(s, Step::CreateAdminDetector { .. })));
    }

    #[test]
    fn a_declared_finding_frequency_is_applied_when_it_differs() {
        let mut s = settings();
        s.finding_frequency = Some(FindingFrequency::FifteenMinutes);
        let mgmt = id("111111111111");
        let state = converged(&s, &[]);
        let plan = plan_region(&Desired { settings: &s, management: &mgmt, members: &[] }, &state);
        assert!(
            matches!(&plan.steps[..], [Step::UpdateAdminDetector { frequency: Some(FindingFrequency::FifteenMinutes), plans, .. }] if plans.is_empty()),
            "{plan:?}"
        );
    }

    #[test]
    fn plans_not_listed_are_never_turned_off() {
        // given a declaration of one plan and an org configuration that has more
        let mut s = settings();
        s.plans = vec![Plan { feature: Feature::S3DataEvents, agents: vec![] }];
        let mut cfg = org_config(AutoEnable::All, &default_plans());
        cfg.features.insert(
            "EKS_RUNTIME_MONITORING".into(),
            OrgFeatureState { auto_enable: "ALL".into(), agents: BTreeMap::new() },
        );
        // then it already matches: extra plans are not a difference to repair
        assert!(org_config_matches(&cfg, AutoEnable::All, &s.plans));
    }
}
