//! What is observed in AWS: organization accounts and, per region, detectors, the delegated admin, the
//! organization configuration and the member list. Plain data, filled by the adapters, read by the planner.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::AccountId;

/// An account of the organization, as Organizations lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgAccount {
    /// Its id.
    pub id: AccountId,
    /// Its root email (GuardDuty's CreateMembers wants it).
    pub email: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE, ... (the `State`, or the older `Status` where `State` is absent).
    pub status: String,
}

impl OrgAccount {
    /// Whether the account is ACTIVE.
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// A detector, as GetDetector describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Detector {
    /// The detector id.
    pub id: String,
    /// Whether its status is ENABLED.
    pub enabled: bool,
    /// The finding publishing frequency, as the API spells it.
    pub frequency: Option<String>,
    /// Protection plans by name.
    pub features: BTreeMap<String, FeatureState>,
}

/// A protection plan of a detector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FeatureState {
    /// Whether the plan is ENABLED.
    pub enabled: bool,
    /// Its agent settings by name, true where ENABLED.
    pub agents: BTreeMap<String, bool>,
}

/// The organization configuration of the delegated admin, as DescribeOrganizationConfiguration gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OrgConfig {
    /// `AutoEnableOrganizationMembers` (ALL, NEW, NONE), when the service reports it.
    pub auto_enable: Option<String>,
    /// Plans by name.
    pub features: BTreeMap<String, OrgFeatureState>,
}

/// A plan of the organization configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OrgFeatureState {
    /// Its `AutoEnable` (ALL, NEW, NONE).
    pub auto_enable: String,
    /// Its agent settings' `AutoEnable` by name.
    pub agents: BTreeMap<String, String>,
}

/// What the delegated admin's side holds in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AdminSide {
    /// The organization configuration.
    pub org_config: OrgConfig,
    /// Every member (associated or not) by account id, with its `RelationshipStatus`.
    pub members: BTreeMap<String, String>,
}

/// How many of `members` (status by account id) are Enabled.
pub fn enabled_count(members: &BTreeMap<String, String>) -> usize {
    members.values().filter(|s| Relationship::parse(s) == Relationship::Enabled).count()
}

/// Everything observed in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RegionState {
    /// The management account's detector.
    pub management_detector: Option<Detector>,
    /// The delegated administrators GuardDuty lists for the organization here (at most one).
    pub delegated_admins: Vec<String>,
    /// The admin account's detector.
    pub admin_detector: Option<Detector>,
    /// The admin's organization configuration and members; `None` where they cannot be read yet (the admin is
    /// not designated here or has no detector).
    pub admin_side: Option<AdminSide>,
}

/// The normalised relationship of a member, from GuardDuty's `RelationshipStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relationship {
    /// Enabled: monitored.
    Enabled,
    /// Disabled: a member whose monitoring was stopped.
    Disabled,
    /// The member has not enabled this opt-in region.
    RegionDisabled,
    /// The member account is suspended.
    AccountSuspended,
    /// Anything else (Removed, Resigned, Created, Invited, ...) or absent: not a working member.
    NotMember,
}

impl Relationship {
    /// Reads GuardDuty's `RelationshipStatus` (case-insensitive: the service documents CamelCase values).
    pub fn parse(status: &str) -> Self {
        match status.to_ascii_lowercase().as_str() {
            "enabled" => Self::Enabled,
            "disabled" => Self::Disabled,
            "regiondisabled" => Self::RegionDisabled,
            "accountsuspended" => Self::AccountSuspended,
            _ => Self::NotMember,
        }
    }
}
