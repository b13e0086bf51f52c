//! The planner: observed state plus the declared policy in, the writes that close the gap out. Pure: no I/O,
//! so dry runs and unit tests need no AWS.
//!
//! A region is planned in two parts. The foundation (the management account's detector, the designation, the
//! admin's detector) comes first; the admin's side (the admin detector's plans, the organization configuration,
//! the members) is planned from what the organization configuration says the region offers, so it is read once the
//! foundation stands. Membership is planned, applied and then checked: an account counts as protected only when
//! GuardDuty shows it Enabled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::config::{AutoEnable, FindingFrequency, Plan, Settings};
use crate::ids::AccountId;
use crate::state::{AdminStatus, DelegatedAdmin, Detector, MemberStatus, Members, OrgConfig, RegionState};

pub(crate) mod export;
pub(crate) mod policy;
pub(crate) mod protection;

use protection::PlanCheck;

/// The most accounts one member call (CreateMembers, GetMembers, StartMonitoringMembers, DeleteMembers) takes.
pub(crate) const MEMBER_BATCH: usize = 50;

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
    /// CreateDetector in the admin account (its plans follow, once the region says which it offers).
    CreateAdminDetector {
        /// Finding frequency, when declared.
        frequency: Option<FindingFrequency>,
    },
    /// UpdateDetector on the admin's detector: enable it and the plans that are off.
    UpdateAdminDetector {
        /// Its id.
        detector_id: String,
        /// Plans (with their additional configurations) that are not yet enabled.
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
        /// Of those, the plans auto-enabled for new accounts only, whatever `auto_enable` says: some organizational
        /// unit does not want them (GUARDDUTY_FEATURES_BY_OU).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        new_only: Vec<String>,
    },
    /// DeleteMembers for at most 50 stale invitation-era records of organization accounts, so that
    /// CreateMembers can make them members through Organizations. The one removal this tool makes: such a record
    /// protects nothing.
    DeleteMembers {
        /// The accounts (reported as a count).
        #[serde(serialize_with = "count")]
        accounts: Vec<AccountId>,
    },
    /// CreateMembers for at most 50 accounts.
    CreateMembers {
        /// The accounts with their emails (reported as a count).
        #[serde(serialize_with = "count")]
        accounts: Vec<MemberAccount>,
    },
    /// StartMonitoringMembers for at most 50 members whose monitoring was stopped.
    StartMonitoringMembers {
        /// The members (reported as a count).
        #[serde(serialize_with = "count")]
        accounts: Vec<AccountId>,
    },
    /// CreatePublishingDestination on the admin's detector: findings exported to the configured bucket.
    CreatePublishingDestination {
        /// The bucket ARN, with its prefix.
        destination: String,
    },
    /// UpdatePublishingDestination: the destination that exports elsewhere, pointed at the configured bucket and key.
    UpdatePublishingDestination {
        /// Its id.
        destination_id: String,
        /// The bucket ARN, with its prefix.
        destination: String,
    },
    /// UpdateMemberDetectors for at most 50 Enabled members that need the same change of protection plans.
    UpdateMemberDetectors {
        /// The members (reported as a count).
        #[serde(serialize_with = "count")]
        accounts: Vec<AccountId>,
        /// Plans turned on, with their additional configurations.
        #[serde(serialize_with = "names")]
        on: Vec<Plan>,
        /// Plans turned off (only where GUARDDUTY_FEATURES_BY_OU says an organizational unit must not have them).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        off: Vec<String>,
    },
}

fn names<S: Serializer>(plans: &[Plan], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(plans.iter().map(|p| p.name.as_str()))
}

fn count<T, S: Serializer>(items: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(items.len() as u64)
}

impl Step {
    /// How many accounts a membership step names (0 for the other steps).
    pub fn member_count(&self) -> usize {
        match self {
            Self::CreateMembers { accounts } => accounts.len(),
            Self::StartMonitoringMembers { accounts }
            | Self::DeleteMembers { accounts }
            | Self::UpdateMemberDetectors { accounts, .. } => accounts.len(),
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
            Self::DeleteMembers { .. } => "DeleteMembers",
            Self::CreateMembers { .. } => "CreateMembers",
            Self::StartMonitoringMembers { .. } => "StartMonitoringMembers",
            Self::UpdateMemberDetectors { .. } => "UpdateMemberDetectors",
            Self::CreatePublishingDestination { .. } => "CreatePublishingDestination",
            Self::UpdatePublishingDestination { .. } => "UpdatePublishingDestination",
        }
    }
}

/// An account to make a member: id and root email (shared, so that every region's plan holds it without a copy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberAccount {
    /// The account.
    pub id: AccountId,
    /// Its email, as Organizations has it.
    pub email: Arc<str>,
}

/// An account that is not a member in a region for a reason outside this tool's reach, and is therefore not
/// expected there (the account has not enabled the region, or is suspended).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Left {
    /// The account.
    pub account: AccountId,
    /// Why, in words a person can act on.
    pub reason: String,
}

/// An account that should be protected in a region and is not: GuardDuty does not show it Enabled, or shows it
/// Enabled without every protection plan it should have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unprotected {
    /// The account.
    pub account: AccountId,
    /// Its member status, or `None` where it is not a member at all.
    pub status: Option<MemberStatus>,
    /// Why, in words a person can act on.
    pub reason: String,
}

/// The declared state of a region's foundation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Desired<'a> {
    /// The configuration.
    pub settings: &'a Settings,
    /// The organization's management account.
    pub management: &'a AccountId,
}

/// Whether the configured admin may be built on in a region, from ListOrganizationAdminAccounts: the one rule a
/// reconcile, an onboarding and the deploy's check before either all follow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Designation {
    /// Nobody else is designated, and no designation is being removed.
    #[default]
    Clear,
    /// A designation (the configured admin's, or another's) is being removed (DISABLE_IN_PROGRESS): nothing may be
    /// written until it is gone. It comes first: once it is gone, the region may be clear.
    Blocked {
        /// The account whose designation is being removed.
        account: String,
    },
    /// Another account is the delegated administrator: a configuration conflict to report, never to override.
    Conflict {
        /// That account.
        account: String,
    },
}

impl Designation {
    /// The account that stands in the way, if one.
    pub(crate) fn account(&self) -> Option<&str> {
        match self {
            Self::Clear => None,
            Self::Blocked { account } | Self::Conflict { account } => Some(account),
        }
    }

    /// Why nothing is written in the region, in words; `None` when clear.
    pub(crate) fn why(&self, admin: &AccountId) -> Option<String> {
        match self {
            Self::Clear => None,
            Self::Blocked { account } => Some(format!(
                "the designation of account {account} as delegated GuardDuty administrator is being removed \
                 (DISABLE_IN_PROGRESS); nothing was written. Run again once the removal has finished"
            )),
            Self::Conflict { account } => Some(format!(
                "account {account} is already the delegated GuardDuty administrator; the configured admin is {admin}. \
                 Nothing was changed: remove that designation, or configure {account} as the admin"
            )),
        }
    }
}

/// The rule: see [`Designation`].
pub(crate) fn designation(admin: &AccountId, admins: &[DelegatedAdmin]) -> Designation {
    if let Some(removing) = admins.iter().find(|a| a.status == AdminStatus::DisableInProgress) {
        return Designation::Blocked { account: removing.account.clone() };
    }
    match admins.iter().find(|a| a.account != admin.as_str()) {
        Some(other) => Designation::Conflict { account: other.account.clone() },
        None => Designation::Clear,
    }
}

/// The foundation of a region, or why nothing may be built there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Foundation {
    /// The writes, in order.
    pub steps: Vec<Step>,
    /// Whether the region may be built on: when it is not [`Designation::Clear`], `steps` is empty.
    pub designation: Designation,
}

/// Plans the detector and designation steps, or reports why the region cannot be touched ([`designation`]).
pub(crate) fn plan_foundation(desired: &Desired<'_>, state: &RegionState) -> Foundation {
    let settings = desired.settings;
    let admin = &settings.admin_account;
    let mut foundation =
        Foundation { designation: designation(admin, &state.delegated_admins), ..Foundation::default() };
    if foundation.designation != Designation::Clear {
        return foundation;
    }
    let steps = &mut foundation.steps;
    if admin != desired.management {
        match &state.management_detector {
            None => steps.push(Step::CreateManagementDetector),
            Some(d) if !d.enabled => steps.push(Step::EnableManagementDetector { detector_id: d.id.clone() }),
            Some(_) => {}
        }
    }
    if !state.designated(admin) {
        steps.push(Step::DesignateAdmin { admin: *admin });
    }
    if state.admin_detector.is_none() {
        steps.push(Step::CreateAdminDetector { frequency: settings.finding_frequency });
    }
    foundation
}

/// What to do on the admin's side of a region, members apart (they are converged and checked on their own, see
/// [`plan_members`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AdminPlan {
    /// UpdateDetector on the admin's detector, where it is off, lacks a plan or has another finding frequency.
    pub detector: Option<Step>,
    /// UpdateOrganizationConfiguration, where the configuration lacks the declared settings: the api mode's writer
    /// (in policy mode those settings no longer apply, and nothing writes them).
    pub org_config: Option<Step>,
    /// The plans in force here.
    pub plans: Vec<Plan>,
    /// Selected plans (or additional configurations) this region does not offer.
    pub not_offered: Vec<String>,
}

/// Plans the admin detector's plans and the organization configuration from what the region offers (`config`). A
/// plan GuardDuty reports managed by a GuardDuty policy on the detector, or named in `owned` (what the admin's
/// effective policy governs here), is never written.
pub(crate) fn plan_admin_side(
    settings: &Settings,
    detector: &Detector,
    config: &OrgConfig,
    owned: &BTreeSet<String>,
) -> AdminPlan {
    let resolved = settings.plans.resolve(config);
    let (org_plans, new_only) = org_plans(settings, config, &resolved.plans);
    let writable =
        |p: &Plan| !owned.contains(&p.name) && !detector.features.get(&p.name).is_some_and(|f| f.any_by_policy());
    let plans: Vec<Plan> = plans_not_enabled(detector, &resolved.plans).into_iter().filter(writable).collect();
    let frequency = settings.finding_frequency.filter(|f| detector.frequency.as_deref() != Some(f.as_str()));
    let update = !detector.enabled || !plans.is_empty() || frequency.is_some();
    AdminPlan {
        detector: update.then(|| Step::UpdateAdminDetector { detector_id: detector.id.clone(), plans, frequency }),
        org_config: plan_org_config(settings, config, &org_plans, &new_only),
        plans: resolved.plans,
        not_offered: resolved.not_offered,
    }
}

/// The plans the organization configuration auto-enables here (`default`: GUARDDUTY_FEATURES resolved for the
/// region), and those of them auto-enabled for new accounts only: every plan some account wants (its unit's set of
/// GUARDDUTY_FEATURES_BY_OU, or the default). A plan some listed unit does not want cannot be ALL, or GuardDuty would
/// turn it on there within a day ("may take up to 24 hours", OrganizationFeatureConfiguration API reference) against
/// the configuration: it is NEW, so that a new account starts with it and its onboarding turns it off where its
/// unit says so, in the same invocation. (NONE would leave new accounts of the units that want it unprotected until
/// then: NEW errs on the side of protection.)
pub(crate) fn org_plans(settings: &Settings, config: &OrgConfig, default: &[Plan]) -> (Vec<Plan>, Vec<String>) {
    let sets: Vec<Vec<Plan>> = settings.plans_by_ou.iter().map(|o| o.resolve(config).0.plans).collect();
    let mut union: Vec<Plan> = default.to_vec();
    for plan in sets.iter().flatten() {
        match union.iter_mut().find(|p| p.name == plan.name) {
            Some(known) => {
                for agent in &plan.agents {
                    if !known.agents.contains(agent) {
                        known.agents.push(agent.clone());
                    }
                }
            }
            None => union.push(plan.clone()),
        }
    }
    let wanted_by = |set: &[Plan], name: &str| set.iter().any(|p| p.name == name);
    let new_only = union
        .iter()
        .filter(|p| !wanted_by(default, &p.name) || sets.iter().any(|s| !wanted_by(s, &p.name)))
        .map(|p| p.name.clone())
        .collect();
    (union, new_only)
}

/// UpdateOrganizationConfiguration, where the configuration lacks the declared auto-enable or plans.
pub(crate) fn plan_org_config(
    settings: &Settings,
    config: &OrgConfig,
    plans: &[Plan],
    new_only: &[String],
) -> Option<Step> {
    (!org_config_matches(config, settings.auto_enable, plans, new_only)).then(|| {
        Step::UpdateOrganizationConfiguration {
            auto_enable: settings.auto_enable,
            plans: plans.to_vec(),
            new_only: new_only.to_vec(),
        }
    })
}

/// Which pass over the members this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Round {
    /// Planned from what was read before any write (or, for an onboarding, from nothing: the account is created
    /// first and checked after).
    First,
    /// Planned from what GuardDuty shows after the first round's writes, for the accounts those writes did not
    /// make Enabled: a record that CreateMembers would not replace is deleted and created again.
    Second,
}

/// Plans the membership writes for `accounts` from `statuses` (accounts absent from it are not members), in batches
/// of 50: DeleteMembers, then CreateMembers, then StartMonitoringMembers.
/// - Enabled: nothing; Disabled: StartMonitoringMembers;
/// - not a member: CreateMembers (called by the delegated admin for organization accounts, it enables GuardDuty
///   in them, no invitation needed);
/// - Removed or Resigned: CreateMembers, which re-associates a disassociated member (CreateMembers API reference);
///   in the second round, DeleteMembers first;
/// - Created, Invited, EmailVerificationInProgress/Failed (invitation era, never associated): DeleteMembers, then
///   CreateMembers;
/// - RegionDisabled, AccountSuspended, and any other status: nothing this tool can write; [`classify`] reports
///   them (left out with the reason, or not protected).
pub(crate) fn plan_members(accounts: &[MemberAccount], statuses: &Members, round: Round) -> Vec<Step> {
    let (mut delete, mut create, mut start) = (Vec::new(), Vec::new(), Vec::new());
    for account in accounts {
        match statuses.get(&account.id) {
            None => create.push(account.clone()),
            Some(MemberStatus::Disabled) => start.push(account.id),
            Some(MemberStatus::Removed | MemberStatus::Resigned) if round == Round::First => {
                create.push(account.clone())
            }
            Some(status) if status.is_invitation_era() => {
                delete.push(account.id);
                create.push(account.clone());
            }
            Some(_) => {}
        }
    }
    let mut steps = Vec::new();
    steps.extend(delete.chunks(MEMBER_BATCH).map(|c| Step::DeleteMembers { accounts: c.to_vec() }));
    steps.extend(create.chunks(MEMBER_BATCH).map(|c| Step::CreateMembers { accounts: c.to_vec() }));
    steps.extend(start.chunks(MEMBER_BATCH).map(|c| Step::StartMonitoringMembers { accounts: c.to_vec() }));
    steps
}

/// Why a member account is not protected: its status, and, after the writes (`checked`), that they did not make it
/// Enabled, with the reason GuardDuty gave (`refused`).
pub(crate) fn unprotected_reason(status: Option<&MemberStatus>, refused: Option<&str>, checked: bool) -> String {
    let because = refused.map(|r| format!(": {r}")).unwrap_or_default();
    match (status, checked) {
        (None, _) => format!("not a member{because}"),
        (Some(MemberStatus::Disabled), false) => "monitoring is stopped (Disabled)".into(),
        (Some(MemberStatus::Disabled), true) => {
            format!("monitoring is stopped (Disabled) and did not restart{because}")
        }
        (Some(s), false) if s.is_invitation_era() => {
            format!("an invitation-era member record ({s}), which protects nothing")
        }
        (Some(s), true) if s.is_invitation_era() => {
            format!("an invitation-era member record ({s}) that could not be replaced{because}")
        }
        (Some(s), _) => format!("GuardDuty reports the member {s}{because}"),
    }
}

/// Where the accounts of a region ended, from the statuses GuardDuty shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Classified {
    /// Accounts GuardDuty shows Enabled.
    pub protected: usize,
    /// Accounts that cannot be members here (not expected).
    pub left: Vec<Left>,
    /// Accounts that should be protected and are not.
    pub unprotected: Vec<Unprotected>,
}

/// Classifies `accounts` by the statuses GuardDuty shows (after the writes when `checked`, or before them in a dry
/// run) and the plans it shows them with (`plans`), with the reasons GuardDuty gave for the writes it refused: an
/// account counts as protected only when it is Enabled and shows every plan it should have.
pub(crate) fn classify(
    accounts: &[MemberAccount],
    statuses: &Members,
    plans: &PlanCheck,
    refused: &BTreeMap<AccountId, String>,
    checked: bool,
) -> Classified {
    let mut out = Classified::default();
    for account in accounts {
        match statuses.get(&account.id) {
            Some(MemberStatus::Enabled) => match plans.gap(&account.id) {
                None => out.protected += 1,
                Some(reason) => out.unprotected.push(Unprotected {
                    account: account.id,
                    status: Some(MemberStatus::Enabled),
                    reason,
                }),
            },
            Some(MemberStatus::RegionDisabled) => out
                .left
                .push(Left { account: account.id, reason: "the account has not enabled this opt-in region".into() }),
            Some(MemberStatus::AccountSuspended) => {
                out.left.push(Left { account: account.id, reason: "GuardDuty reports the account suspended".into() })
            }
            status => out.unprotected.push(Unprotected {
                account: account.id,
                status: status.cloned(),
                reason: unprotected_reason(status, refused.get(&account.id).map(String::as_str), checked),
            }),
        }
    }
    out
}

/// The declared plans (with their declared additional configurations) that `detector` does not have enabled.
pub(crate) fn plans_not_enabled(detector: &Detector, plans: &[Plan]) -> Vec<Plan> {
    plans
        .iter()
        .filter(|p| {
            let Some(f) = detector.features.get(&p.name) else { return true };
            !f.enabled || p.agents.iter().any(|a| f.agents.get(a) != Some(&true))
        })
        .cloned()
        .collect()
}

/// Whether the organization configuration already has the declared auto-enable and plans.
pub(crate) fn org_config_matches(
    config: &OrgConfig,
    auto_enable: AutoEnable,
    plans: &[Plan],
    new_only: &[String],
) -> bool {
    config.auto_enable.as_deref() == Some(auto_enable.as_str())
        && plans.iter().all(|p| {
            let want = if new_only.contains(&p.name) { "NEW" } else { auto_enable.for_plans() };
            config.features.get(&p.name).is_some_and(|f| {
                f.auto_enable == want && p.agents.iter().all(|a| f.agents.get(a).map(String::as_str) == Some(want))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlanSelection;
    use crate::state::{AdminSide, DelegatedAdmin, FeatureState, OrgFeatureState};

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
                email: format!("a{i}@example.com").into(),
            })
            .collect()
    }

    /// What a region offers: every current plan, Runtime Monitoring with its three agents, RDS with data risk.
    fn offered(auto: &str) -> OrgConfig {
        let feature = |agents: &[&str]| OrgFeatureState {
            auto_enable: auto.into(),
            agents: agents.iter().map(|a| ((*a).to_owned(), auto.to_owned())).collect(),
        };
        let mut features = BTreeMap::new();
        for name in
            ["S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "LAMBDA_NETWORK_LOGS", "AI_PROTECTION"]
        {
            features.insert(name.to_owned(), feature(&[]));
        }
        features.insert("RDS_LOGIN_EVENTS".into(), feature(&["RDS_DATA_RISK"]));
        features.insert(
            "RUNTIME_MONITORING".into(),
            feature(&["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"]),
        );
        features.insert("EKS_RUNTIME_MONITORING".into(), feature(&["EKS_ADDON_MANAGEMENT"]));
        OrgConfig { auto_enable: Some(auto.into()), features }
    }

    fn detector(id: &str, plans: &[Plan]) -> Detector {
        let features = plans
            .iter()
            .map(|p| {
                let agents = p.agents.iter().map(|a| (a.clone(), true)).collect();
                (p.name.clone(), FeatureState { enabled: true, agents, ..FeatureState::default() })
            })
            .collect();
        Detector { id: id.into(), enabled: true, frequency: Some("SIX_HOURS".into()), features }
    }

    fn enabled(members: &[MemberAccount]) -> Members {
        members.iter().map(|m| (m.id, MemberStatus::Enabled)).collect()
    }

    /// A region in the desired state for `settings`.
    fn converged(settings: &Settings, members: &[MemberAccount]) -> RegionState {
        let config = offered(settings.auto_enable.for_plans());
        let mut config = config;
        config.auto_enable = Some(settings.auto_enable.as_str().into());
        let plans = settings.plans.resolve(&config).plans;
        RegionState {
            management_detector: Some(detector("m", &[])),
            delegated_admins: vec![DelegatedAdmin {
                account: settings.admin_account.to_string(),
                status: AdminStatus::Enabled,
            }],
            admin_detector: Some(detector("a", &plans)),
            admin_side: Some(AdminSide { org_config: config, members: enabled(members) }),
        }
    }

    /// The whole plan of a region: foundation, admin side, and the first round of members.
    fn plan(s: &Settings, mgmt: &AccountId, members: &[MemberAccount], state: &RegionState) -> (Foundation, Vec<Step>) {
        let desired = Desired { settings: s, management: mgmt };
        let foundation = plan_foundation(&desired, state);
        let side = state.admin_side.clone().unwrap_or_default();
        let det = state.admin_detector.clone().unwrap_or_default();
        let p = plan_admin_side(s, &det, &side.org_config, &BTreeSet::new());
        let mut steps: Vec<Step> = p.detector.into_iter().chain(p.org_config).collect();
        steps.extend(plan_members(members, &side.members, Round::First));
        (foundation, steps)
    }

    #[test]
    fn a_fresh_region_gets_its_foundation_in_dependency_order() {
        let s = settings();
        let mgmt = id("111111111111");
        let desired = Desired { settings: &s, management: &mgmt };
        let f = plan_foundation(&desired, &RegionState::default());
        let ops: Vec<&str> = f.steps.iter().map(Step::operation).collect();
        assert_eq!(ops, ["CreateDetector", "EnableOrganizationAdminAccount", "CreateDetector"]);
        assert_eq!(f.designation, Designation::Clear);
    }

    #[test]
    fn the_admin_side_of_a_fresh_admin_turns_on_every_offered_plan_and_enrols_in_batches_of_fifty() {
        // given a new admin detector with no plans, a default organization configuration and 120 accounts
        let s = settings();
        let members = accounts(120);
        let mut fresh = Detector { id: "a".into(), enabled: true, ..Detector::default() };
        fresh.frequency = Some("SIX_HOURS".into());
        // when planned
        let p = plan_admin_side(&s, &fresh, &offered("NONE"), &BTreeSet::new());
        let m = plan_members(&members, &Members::new(), Round::First);
        // then every offered plan goes on the detector and the organization configuration, and members follow
        let ops: Vec<&str> = p.detector.iter().chain(&p.org_config).chain(&m).map(Step::operation).collect();
        assert_eq!(
            ops,
            ["UpdateDetector", "UpdateOrganizationConfiguration", "CreateMembers", "CreateMembers", "CreateMembers"]
        );
        let names: Vec<&str> = p.plans.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"AI_PROTECTION") && names.contains(&"RUNTIME_MONITORING"), "{names:?}");
        assert!(!names.contains(&"EKS_RUNTIME_MONITORING"), "the older flavour is not turned on beside the current");
        let sizes: Vec<usize> = m.iter().map(Step::member_count).collect();
        assert_eq!(sizes, [50, 50, 20]);
    }

    #[test]
    fn a_converged_region_needs_nothing() {
        let s = settings();
        let mgmt = id("111111111111");
        let members = accounts(75);
        let (f, steps) = plan(&s, &mgmt, &members, &converged(&s, &members));
        assert!(f.steps.is_empty() && steps.is_empty(), "{f:?} {steps:?}");
    }

    #[test]
    fn another_admin_is_a_conflict_and_nothing_is_planned() {
        let s = settings();
        let mgmt = id("111111111111");
        let state = RegionState {
            delegated_admins: vec![DelegatedAdmin { account: "999999999999".into(), status: AdminStatus::Enabled }],
            ..RegionState::default()
        };
        let f = plan_foundation(&Desired { settings: &s, management: &mgmt }, &state);
        assert!(f.steps.is_empty());
        assert!(matches!(f.designation, Designation::Conflict { .. }), "{f:?}");
        let conflict = f.designation.why(&s.admin_account).expect("conflict");
        assert!(conflict.contains("999999999999") && conflict.contains("222222222222"), "{conflict}");
    }

    #[test]
    fn the_designation_rule_blocks_on_any_removal_first_then_conflicts_on_another_admin() {
        let ours = id("222222222222");
        let admin = |account: &str, status: AdminStatus| DelegatedAdmin { account: account.into(), status };
        assert_eq!(designation(&ours, &[]), Designation::Clear);
        assert_eq!(designation(&ours, &[admin("222222222222", AdminStatus::Enabled)]), Designation::Clear);
        // the configured admin's removal, and another's, both block
        for account in ["222222222222", "999999999999"] {
            let rule = designation(&ours, &[admin(account, AdminStatus::DisableInProgress)]);
            assert_eq!(rule, Designation::Blocked { account: account.into() });
            assert!(rule.why(&ours).expect("why").contains("DISABLE_IN_PROGRESS"));
        }
        // another admin designated is a conflict, unless a removal is under way
        let other = admin("999999999999", AdminStatus::Enabled);
        assert_eq!(
            designation(&ours, std::slice::from_ref(&other)),
            Designation::Conflict { account: "999999999999".into() }
        );
        let removing = admin("222222222222", AdminStatus::DisableInProgress);
        assert!(matches!(designation(&ours, &[other, removing]), Designation::Blocked { .. }));
    }

    #[test]
    fn a_designation_being_removed_blocks_the_region_and_nothing_is_planned() {
        // given the configured admin in DISABLE_IN_PROGRESS
        let s = settings();
        let mgmt = id("111111111111");
        let state = RegionState {
            delegated_admins: vec![DelegatedAdmin {
                account: s.admin_account.to_string(),
                status: AdminStatus::DisableInProgress,
            }],
            ..RegionState::default()
        };
        // when planned, then no designation (nor anything else) is written, and it says why
        let f = plan_foundation(&Desired { settings: &s, management: &mgmt }, &state);
        assert!(f.steps.is_empty(), "{f:?}");
        assert!(matches!(f.designation, Designation::Blocked { .. }), "{f:?}");
        assert!(f.designation.why(&s.admin_account).expect("blocked").contains("DISABLE_IN_PROGRESS"));
    }

    #[test]
    fn member_drift_is_repaired_by_kind() {
        // given members in every status GuardDuty answers
        let s = settings();
        let members = accounts(9);
        let mut state = converged(&s, &members);
        let statuses = &mut state.admin_side.as_mut().expect("side").members;
        let set = |statuses: &mut Members, i: usize, st: &str| {
            statuses.insert(members[i].id, MemberStatus::parse(st));
        };
        set(statuses, 0, "Removed");
        set(statuses, 1, "Disabled");
        set(statuses, 2, "RegionDisabled");
        statuses.remove(&members[3].id);
        set(statuses, 4, "Invited");
        set(statuses, 5, "EmailVerificationFailed");
        set(statuses, 6, "Created");
        set(statuses, 7, "Paused");
        // when planned
        let statuses = state.admin_side.expect("side").members;
        let steps = plan_members(&members, &statuses, Round::First);
        // then invitation-era records are deleted and created again, removed and missing ones created, stopped
        // ones restarted, the region-disabled one left out, the unknown one named
        assert_eq!(
            steps,
            vec![
                Step::DeleteMembers { accounts: vec![members[4].id, members[5].id, members[6].id] },
                Step::CreateMembers {
                    accounts: vec![
                        members[0].clone(),
                        members[3].clone(),
                        members[4].clone(),
                        members[5].clone(),
                        members[6].clone()
                    ]
                },
                Step::StartMonitoringMembers { accounts: vec![members[1].id] },
            ]
        );
        let c = classify(&members, &statuses, &PlanCheck::default(), &BTreeMap::new(), false);
        assert_eq!(c.left.len(), 1);
        assert_eq!(c.left[0].account, members[2].id);
        assert!(c.left[0].reason.contains("opt-in region"));
        let unknown: Vec<&Unprotected> = c.unprotected.iter().filter(|u| u.account == members[7].id).collect();
        assert_eq!(unknown.len(), 1);
        assert!(unknown[0].reason.contains("Paused"));
    }

    #[test]
    fn a_removed_record_that_creation_did_not_replace_is_deleted_in_the_second_round() {
        let members = accounts(1);
        let statuses: Members = [(members[0].id, MemberStatus::Removed)].into_iter().collect();
        let first = plan_members(&members, &statuses, Round::First);
        assert_eq!(first, vec![Step::CreateMembers { accounts: members.clone() }]);
        let second = plan_members(&members, &statuses, Round::Second);
        assert_eq!(
            second,
            vec![Step::DeleteMembers { accounts: vec![members[0].id] }, Step::CreateMembers { accounts: members }]
        );
    }

    #[test]
    fn a_disabled_plan_or_agent_on_the_admin_detector_is_re_enabled_and_nothing_else() {
        let s = settings();
        let mgmt = id("111111111111");
        let mut state = converged(&s, &[]);
        let det = state.admin_detector.as_mut().expect("detector");
        det.features.get_mut("S3_DATA_EVENTS").expect("s3").enabled = false;
        det.features.get_mut("RUNTIME_MONITORING").expect("rm").agents.insert("EC2_AGENT_MANAGEMENT".into(), false);
        let (_, steps) = plan(&s, &mgmt, &[], &state);
        let Some(Step::UpdateAdminDetector { plans, frequency, .. }) = steps.first() else { panic!("{steps:?}") };
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["RUNTIME_MONITORING", "S3_DATA_EVENTS"]);
        assert_eq!(*frequency, None);
        assert_eq!(steps.len(), 1);
    }

    #[test]
    fn a_plan_a_guardduty_policy_owns_on_the_admin_detector_is_never_written() {
        // given the admin's S3 plan off but managed by a policy, AI Protection off and governed by its effective
        // policy, and Runtime Monitoring off
        let s = settings();
        let mut state = converged(&s, &[]);
        let det = state.admin_detector.as_mut().expect("detector");
        let s3 = det.features.get_mut("S3_DATA_EVENTS").expect("s3");
        (s3.enabled, s3.by_policy) = (false, true);
        det.features.get_mut("AI_PROTECTION").expect("ai").enabled = false;
        det.features.get_mut("RUNTIME_MONITORING").expect("rm").enabled = false;
        let owned: BTreeSet<String> = ["AI_PROTECTION".to_owned()].into();
        // when planned, then only Runtime Monitoring is written
        let side = state.admin_side.clone().expect("side");
        let p = plan_admin_side(&s, state.admin_detector.as_ref().expect("detector"), &side.org_config, &owned);
        let Some(Step::UpdateAdminDetector { plans, .. }) = p.detector else { panic!("{p:?}") };
        assert_eq!(plans.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["RUNTIME_MONITORING"]);
    }

    #[test]
    fn a_changed_auto_enable_is_re_asserted_with_the_offered_plans() {
        let s = settings();
        let mgmt = id("111111111111");
        let mut state = converged(&s, &[]);
        state.admin_side.as_mut().expect("side").org_config.auto_enable = Some("NEW".into());
        let (_, steps) = plan(&s, &mgmt, &[], &state);
        let [Step::UpdateOrganizationConfiguration { auto_enable, plans, .. }] = &steps[..] else {
            panic!("{steps:?}")
        };
        assert_eq!(*auto_enable, AutoEnable::All);
        assert_eq!(plans.len(), 7, "every offered plan but the older Runtime Monitoring: {plans:?}");
    }

    #[test]
    fn a_plan_the_region_does_not_offer_is_left_out_and_the_region_still_converges() {
        // given an explicit list naming a plan this region does not offer, and a region otherwise in sync
        let mut s = settings();
        s.plans = PlanSelection::parse("S3_DATA_EVENTS,AI_PROTECTION").expect("valid");
        let mut state = converged(&s, &[]);
        state.admin_side.as_mut().expect("side").org_config.features.remove("AI_PROTECTION");
        // when planned, then nothing is written and the plan is named as not offered
        let side = state.admin_side.clone().expect("side");
        let p =
            plan_admin_side(&s, state.admin_detector.as_ref().expect("detector"), &side.org_config, &BTreeSet::new());
        assert!(p.detector.is_none() && p.org_config.is_none(), "{p:?}");
        assert_eq!(p.not_offered, ["AI_PROTECTION"]);
    }

    #[test]
    fn a_disabled_management_detector_is_enabled_not_recreated() {
        let s = settings();
        let mgmt = id("111111111111");
        let mut state = converged(&s, &[]);
        state.management_detector.as_mut().expect("detector").enabled = false;
        let f = plan_foundation(&Desired { settings: &s, management: &mgmt }, &state);
        assert_eq!(f.steps, vec![Step::EnableManagementDetector { detector_id: "m".into() }]);
    }

    #[test]
    fn an_admin_that_is_the_management_account_needs_no_separate_management_detector() {
        let mut s = settings();
        s.allow_management_admin = true;
        let mgmt = s.admin_account;
        let f = plan_foundation(&Desired { settings: &s, management: &mgmt }, &RegionState::default());
        assert!(!f.steps.contains(&Step::CreateManagementDetector));
        assert!(f.steps.iter().any(|s| matches!(s, Step::CreateAdminDetector { .. })));
    }

    #[test]
    fn a_declared_finding_frequency_is_applied_when_it_differs() {
        let mut s = settings();
        s.finding_frequency = Some(FindingFrequency::FifteenMinutes);
        let mgmt = id("111111111111");
        let (_, steps) = plan(&s, &mgmt, &[], &converged(&s, &[]));
        assert!(
            matches!(&steps[..], [Step::UpdateAdminDetector { frequency: Some(FindingFrequency::FifteenMinutes), plans, .. }] if plans.is_empty()),
            "{steps:?}"
        );
    }

    #[test]
    fn a_plan_some_unit_does_not_want_is_auto_enabled_for_new_accounts_only() {
        // given every plan by default with ALL, and one unit that wants S3 Protection alone
        let mut s = settings();
        s.plans_by_ou = crate::config::OuPlans::parse_all("ou-ab12-cd34ef56=S3_DATA_EVENTS", |_| true).expect("valid");
        let config = offered("NONE");
        let default = s.plans.resolve(&config).plans;
        // when planned
        let (plans, new_only) = org_plans(&s, &config, &default);
        // then every plan is configured, S3 (wanted everywhere) at ALL, every other one at NEW
        assert_eq!(plans.len(), default.len());
        assert!(!new_only.contains(&"S3_DATA_EVENTS".to_owned()), "{new_only:?}");
        assert_eq!(new_only.len(), default.len() - 1);
        let Some(Step::UpdateOrganizationConfiguration { new_only: written, .. }) =
            plan_org_config(&s, &config, &plans, &new_only)
        else {
            panic!("a write is planned")
        };
        assert_eq!(written, new_only);
    }

    #[test]
    fn plans_not_selected_are_never_turned_off() {
        // given a declaration of one plan and an org configuration that has more
        let plans = vec![Plan { name: "S3_DATA_EVENTS".into(), agents: vec![] }];
        let mut cfg = offered("ALL");
        cfg.features.insert(
            "EKS_RUNTIME_MONITORING".into(),
            OrgFeatureState { auto_enable: "ALL".into(), agents: BTreeMap::new() },
        );
        // then it already matches: extra plans are not a difference to repair
        assert!(org_config_matches(&cfg, AutoEnable::All, &plans, &[]));
    }

    #[test]
    fn only_enabled_counts_as_protected_and_every_other_account_is_named_with_its_status() {
        let members = accounts(5);
        let statuses: Members = [
            (members[0].id, MemberStatus::Enabled),
            (members[1].id, MemberStatus::Invited),
            (members[2].id, MemberStatus::RegionDisabled),
            (members[3].id, MemberStatus::Disabled),
        ]
        .into_iter()
        .collect();
        let refused: BTreeMap<AccountId, String> =
            [(members[4].id, "the account is suspended".to_owned())].into_iter().collect();
        let c = classify(&members, &statuses, &PlanCheck::default(), &refused, true);
        assert_eq!(c.protected, 1);
        assert_eq!(c.left.len(), 1, "a region the account has not enabled is left out, not expected");
        let unprotected: Vec<(String, Option<&str>)> = c
            .unprotected
            .iter()
            .map(|u| (u.account.to_string(), u.status.as_ref().map(MemberStatus::as_str)))
            .collect();
        assert_eq!(
            unprotected,
            [
                (members[1].id.to_string(), Some("Invited")),
                (members[3].id.to_string(), Some("Disabled")),
                (members[4].id.to_string(), None)
            ]
        );
        assert!(c.unprotected[2].reason.contains("not a member: the account is suspended"), "{:?}", c.unprotected[2]);
        assert!(c.unprotected[0].reason.contains("could not be replaced"));
        let before = classify(&members, &statuses, &PlanCheck::default(), &BTreeMap::new(), false);
        assert!(before.unprotected[0].reason.ends_with("which protects nothing"), "{:?}", before.unprotected[0]);
    }

    #[test]
    fn member_steps_report_counts_not_account_lists() {
        let step = Step::CreateMembers { accounts: accounts(3) };
        assert_eq!(
            serde_json::to_value(&step).expect("json"),
            serde_json::json!({"action": "create_members", "accounts": 3})
        );
    }
}
