//! What is observed in AWS: organization accounts and, per region, detectors, the delegated admin, the
//! organization configuration and the member list. Plain data, filled by the adapters, read by the planner.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::ids::AccountId;

/// An account of the organization, as Organizations lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgAccount {
    /// Its id.
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Its root email (GuardDuty's CreateMembers wants it).
    pub email: Arc<str>,
    /// Organizations' `State` of the account: ACTIVE, SUSPENDED, PENDING_ACTIVATION, PENDING_CLOSURE, CLOSED
    /// (the older `Status` where `State` is absent).
    pub state: String,
}

impl OrgAccount {
    /// Whether the account is ACTIVE.
    pub fn is_active(&self) -> bool {
        self.state == "ACTIVE"
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
    pub features: Features,
}

/// A detector as a report names it: ENABLED, DISABLED or MISSING (none in the region); PRESENT where an onboarding
/// only looked its id up; empty where the run did not read it (a region not started, or an onboarding's management
/// account).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DetectorState {
    /// Its status is ENABLED.
    Enabled,
    /// Its status is DISABLED: GuardDuty is off in the account and region.
    Disabled,
    /// There is none.
    Missing,
    /// It exists; its status was not read.
    Present,
    /// Not read.
    #[default]
    #[serde(rename = "")]
    Unread,
}

impl DetectorState {
    /// The state of `detector`, as read.
    pub fn of(detector: Option<&Detector>) -> Self {
        match detector {
            None => Self::Missing,
            Some(d) if d.enabled => Self::Enabled,
            Some(_) => Self::Disabled,
        }
    }

    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
            Self::Missing => "MISSING",
            Self::Present => "PRESENT",
            Self::Unread => "",
        }
    }
}

/// A protection plan of a detector (an account's own, or a member's as the admin sees it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FeatureState {
    /// Whether the plan is ENABLED.
    pub enabled: bool,
    /// Its additional configurations by name, true where ENABLED.
    pub agents: BTreeMap<String, bool>,
    /// Whether GuardDuty reports the plan itself `ManagedBy` `GUARDDUTY_POLICY`: a GuardDuty organization policy owns
    /// its status, which "can no longer be changed through the GuardDuty console or API" (GuardDuty User Guide,
    /// "Considerations and limitations" of GuardDuty organization policies).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_policy: bool,
    /// The additional configurations GuardDuty reports `ManagedBy` `GUARDDUTY_POLICY` (each additional
    /// configuration result has its own `ManagedBy`: a policy can own the plan and leave its agents to the API).
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub agents_by_policy: std::collections::BTreeSet<String>,
}

impl FeatureState {
    /// Whether a GuardDuty policy owns any part of the plan: its status, or one of its additional configurations.
    pub fn any_by_policy(&self) -> bool {
        self.by_policy || !self.agents_by_policy.is_empty()
    }
}

/// Protection plans by name.
pub type Features = BTreeMap<String, FeatureState>;

/// The organization configuration of the delegated admin, as DescribeOrganizationConfiguration gives it. Its
/// features are also what the region offers: the API lists the features available there.
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
    /// Its additional configurations' `AutoEnable` by name.
    pub agents: BTreeMap<String, String>,
}

/// A member's `RelationshipStatus`, as GuardDuty reports it. The API documents the field as a string; these are
/// the values GuardDuty answers (the invitation-era ones included), and anything else is kept as it came.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberStatus {
    /// Monitored: the only status that protects the account.
    Enabled,
    /// A member whose monitoring was stopped (StopMonitoringMembers); StartMonitoringMembers repairs it.
    Disabled,
    /// The member has not enabled this opt-in region.
    RegionDisabled,
    /// The member account is suspended.
    AccountSuspended,
    /// Invitation era: the record exists, no invitation was sent.
    Created,
    /// Invitation era: invited, not accepted.
    Invited,
    /// Invitation era: the invitation email is being verified.
    EmailVerificationInProgress,
    /// Invitation era: the invitation email could not be verified.
    EmailVerificationFailed,
    /// The member left the administrator.
    Resigned,
    /// The administrator disassociated the member.
    Removed,
    /// A value this code does not know.
    Other(String),
}

impl MemberStatus {
    /// Reads GuardDuty's `RelationshipStatus` (case-insensitive: the service documents CamelCase values).
    pub fn parse(status: &str) -> Self {
        match status.to_ascii_lowercase().as_str() {
            "enabled" => Self::Enabled,
            "disabled" => Self::Disabled,
            "regiondisabled" => Self::RegionDisabled,
            "accountsuspended" => Self::AccountSuspended,
            "created" => Self::Created,
            "invited" => Self::Invited,
            "emailverificationinprogress" => Self::EmailVerificationInProgress,
            "emailverificationfailed" => Self::EmailVerificationFailed,
            "resigned" => Self::Resigned,
            "removed" => Self::Removed,
            _ => Self::Other(status.to_owned()),
        }
    }

    /// The API's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::RegionDisabled => "RegionDisabled",
            Self::AccountSuspended => "AccountSuspended",
            Self::Created => "Created",
            Self::Invited => "Invited",
            Self::EmailVerificationInProgress => "EmailVerificationInProgress",
            Self::EmailVerificationFailed => "EmailVerificationFailed",
            Self::Resigned => "Resigned",
            Self::Removed => "Removed",
            Self::Other(s) => s,
        }
    }

    /// Whether GuardDuty may still be settling on this status after a write: a member it shows Enabled whose plans
    /// it does not answer for yet, or one it shows Created or Invited on its way to Enabled. Every other status
    /// (RegionDisabled, AccountSuspended, Removed, ...) is final for now: waiting would not change it.
    pub fn may_settle(&self) -> bool {
        matches!(self, Self::Enabled | Self::Created | Self::Invited)
    }

    /// Whether the record dates from GuardDuty invitations and was never (or is no longer) associated: it protects
    /// nothing, and an organization account with such a record must be made a member through Organizations.
    pub fn is_invitation_era(&self) -> bool {
        matches!(
            self,
            Self::Created
                | Self::Invited
                | Self::EmailVerificationInProgress
                | Self::EmailVerificationFailed
                | Self::Resigned
                | Self::Removed
        )
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MemberStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Members by account id.
pub type Members = BTreeMap<AccountId, MemberStatus>;

/// How many of `members` are Enabled.
pub(crate) fn enabled_count(members: &Members) -> usize {
    members.values().filter(|s| **s == MemberStatus::Enabled).count()
}

/// What the delegated admin's side holds in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct AdminSide {
    /// The organization configuration.
    pub org_config: OrgConfig,
    /// Every member (associated or not) with its status.
    pub members: Members,
}

/// The status of a delegated administrator designation (ListOrganizationAdminAccounts' `AdminStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AdminStatus {
    /// Designated.
    Enabled,
    /// Being removed: not a designation, and nothing can be built on it until it is gone.
    DisableInProgress,
    /// Any other value.
    Other(String),
}

impl AdminStatus {
    /// Reads the API's value.
    pub fn parse(s: &str) -> Self {
        match s {
            "ENABLED" => Self::Enabled,
            "DISABLE_IN_PROGRESS" => Self::DisableInProgress,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A delegated administrator GuardDuty lists for the organization in a region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DelegatedAdmin {
    /// The account.
    pub account: String,
    /// Its status.
    pub status: AdminStatus,
}

/// Everything observed in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RegionState {
    /// The management account's detector.
    pub management_detector: Option<Detector>,
    /// The delegated administrators GuardDuty lists for the organization here (at most one).
    pub delegated_admins: Vec<DelegatedAdmin>,
    /// The admin account's detector.
    pub admin_detector: Option<Detector>,
    /// The admin's organization configuration and members; `None` where they cannot be read yet (the admin is
    /// not designated here or has no detector).
    pub admin_side: Option<AdminSide>,
}

impl RegionState {
    /// Whether `admin` is designated here (ENABLED, not being removed).
    pub(crate) fn designated(&self, admin: &AccountId) -> bool {
        self.delegated_admins.iter().any(|a| a.account == admin.as_str() && a.status == AdminStatus::Enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_statuses_are_read_case_insensitively_and_unknown_ones_kept() {
        assert_eq!(MemberStatus::parse("ENABLED"), MemberStatus::Enabled);
        assert_eq!(MemberStatus::parse("EmailVerificationFailed"), MemberStatus::EmailVerificationFailed);
        assert_eq!(MemberStatus::parse("Paused").as_str(), "Paused");
        for era in
            ["Created", "Invited", "EmailVerificationInProgress", "EmailVerificationFailed", "Resigned", "Removed"]
        {
            assert!(MemberStatus::parse(era).is_invitation_era(), "{era}");
        }
        for not in ["Enabled", "Disabled", "RegionDisabled", "AccountSuspended", "Paused"] {
            assert!(!MemberStatus::parse(not).is_invitation_era(), "{not}");
        }
    }

    #[test]
    fn only_enabled_and_the_statuses_on_the_way_to_it_may_still_settle() {
        for settling in ["Enabled", "Created", "Invited"] {
            assert!(MemberStatus::parse(settling).may_settle(), "{settling}");
        }
        for final_for_now in ["RegionDisabled", "AccountSuspended", "Removed", "Resigned", "Disabled", "Paused"] {
            assert!(!MemberStatus::parse(final_for_now).may_settle(), "{final_for_now}");
        }
    }

    #[test]
    fn a_designation_being_removed_is_not_a_designation() {
        let admin: AccountId = "222222222222".parse().expect("id");
        let mut state = RegionState {
            delegated_admins: vec![DelegatedAdmin {
                account: admin.to_string(),
                status: AdminStatus::DisableInProgress,
            }],
            ..RegionState::default()
        };
        assert!(!state.designated(&admin));
        state.delegated_admins[0].status = AdminStatus::Enabled;
        assert!(state.designated(&admin));
    }
}
