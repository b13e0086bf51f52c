//! The ports: the small traits through which the executor reads and writes AWS. The SDK adapters in
//! [`crate::aws`] implement them; tests can implement them in memory.

use std::collections::BTreeMap;
use std::future::Future;

use crate::config::{AutoEnable, FindingFrequency, Plan};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::state::{DelegatedAdmin, Detector, Features, Members, OrgAccount, OrgConfig};

/// Whose credentials a call uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The organization's management account (where the functions run).
    Management,
    /// The delegated GuardDuty administrator, always through the assumed role (also when, by explicit permission,
    /// the admin is the management account itself), so that the admin-side permissions live in one role.
    Admin,
}

/// Accounts a member call did not process, with the reason GuardDuty gave (`UnprocessedAccounts`).
pub type Unprocessed = Vec<(AccountId, String)>;

/// What GetMemberDetectors answers: each member's protection plans, and the accounts it did not answer for.
pub type MemberFeatures = (BTreeMap<AccountId, Features>, Unprocessed);

/// GuardDuty in one region, as one account.
pub trait GuardDutyApi: Send + Sync {
    /// ListDetectors: the account's detector id in this region, if any.
    fn detector_id(&self) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// GetDetector.
    fn get_detector(&self, id: &str) -> impl Future<Output = Result<Detector, Error>> + Send;
    /// CreateDetector, enabled, with `plans` on; returns the new id.
    fn create_detector(
        &self,
        plans: &[Plan],
        frequency: Option<FindingFrequency>,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// UpdateDetector: enable it, turn `plans` on, set `frequency` when given.
    fn update_detector(
        &self,
        id: &str,
        plans: &[Plan],
        frequency: Option<FindingFrequency>,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// ListOrganizationAdminAccounts (management account only), with each designation's status.
    fn delegated_admins(&self) -> impl Future<Output = Result<Vec<DelegatedAdmin>, Error>> + Send;
    /// EnableOrganizationAdminAccount (management account only).
    fn designate_admin(&self, admin: &AccountId) -> impl Future<Output = Result<(), Error>> + Send;
    /// DescribeOrganizationConfiguration (admin only).
    fn org_config(&self, detector: &str) -> impl Future<Output = Result<OrgConfig, Error>> + Send;
    /// UpdateOrganizationConfiguration (admin only): members' auto-enable, and each plan's (`auto_enable`'s value
    /// for plans, NEW for those in `new_only`).
    fn update_org_config(
        &self,
        detector: &str,
        auto_enable: AutoEnable,
        plans: &[Plan],
        new_only: &[String],
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// ListMembers, associated or not.
    fn list_members(&self, detector: &str) -> impl Future<Output = Result<Members, Error>> + Send;
    /// GetMembers for at most 50 ids (accounts that are not members are absent).
    fn get_members(&self, detector: &str, ids: &[AccountId]) -> impl Future<Output = Result<Members, Error>> + Send;
    /// GetMemberDetectors for at most 50 ids: each member's protection plans (per-account failures, such as "not an
    /// associated member" right after CreateMembers, come back unprocessed, not as an error).
    fn member_features(
        &self,
        detector: &str,
        ids: &[AccountId],
    ) -> impl Future<Output = Result<MemberFeatures, Error>> + Send;
    /// UpdateMemberDetectors for at most 50 ids: turns the plans `on` on (with their additional configurations) and
    /// the plans `off` off; plans named in neither are left as they are.
    fn update_member_features(
        &self,
        detector: &str,
        ids: &[AccountId],
        on: &[Plan],
        off: &[String],
    ) -> impl Future<Output = Result<Unprocessed, Error>> + Send;
    /// ListPublishingDestinations: the detector's destinations (id and status), every page.
    fn publishing_destinations(
        &self,
        detector: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, Error>> + Send;
    /// DescribePublishingDestination.
    fn publishing_destination(
        &self,
        detector: &str,
        id: &str,
    ) -> impl Future<Output = Result<PublishingDestination, Error>> + Send;
    /// CreatePublishingDestination of type S3, idempotent on `token`; returns its id.
    fn create_publishing_destination(
        &self,
        detector: &str,
        destination: &str,
        kms_key: &str,
        token: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// UpdatePublishingDestination: another bucket (or prefix) and key.
    fn update_publishing_destination(
        &self,
        detector: &str,
        id: &str,
        destination: &str,
        kms_key: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// CreateMembers for at most 50 accounts.
    fn create_members(
        &self,
        detector: &str,
        accounts: &[MemberAccount],
    ) -> impl Future<Output = Result<Unprocessed, Error>> + Send;
    /// StartMonitoringMembers for at most 50 ids.
    fn start_monitoring(
        &self,
        detector: &str,
        ids: &[AccountId],
    ) -> impl Future<Output = Result<Unprocessed, Error>> + Send;
    /// DeleteMembers for at most 50 ids.
    fn delete_members(
        &self,
        detector: &str,
        ids: &[AccountId],
    ) -> impl Future<Output = Result<Unprocessed, Error>> + Send;
    /// ListFilters: the names of the detector's saved filters (suppression rules among them), every page.
    fn filter_names(&self, detector: &str) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// GetFilter.
    fn filter(&self, detector: &str, name: &str) -> impl Future<Output = Result<SavedFilter, Error>> + Send;
    /// ListIPSets, ListThreatIntelSets, ListTrustedEntitySets or ListThreatEntitySets: the ids of the detector's lists
    /// of `kind`, every page.
    fn list_ids(&self, detector: &str, kind: ListKind) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// GetIPSet, GetThreatIntelSet, GetTrustedEntitySet or GetThreatEntitySet.
    fn list(&self, detector: &str, kind: ListKind, id: &str)
        -> impl Future<Output = Result<FindingList, Error>> + Send;
    /// UpdateFilter with only `action` (NOOP or ARCHIVE): the filter's criteria are kept.
    fn set_filter_action(
        &self,
        detector: &str,
        name: &str,
        action: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// UpdateIPSet or UpdateThreatIntelSet with only `activate` (the other kinds are refused as unexpected).
    fn set_list_active(
        &self,
        detector: &str,
        kind: ListKind,
        id: &str,
        active: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// GetUsageStatistics of type SUM_BY_FEATURES for at most 50 accounts (the caller's own, and as the delegated
    /// admin its members'), every page: GuardDuty's estimate of their cost over the last 30 days, by usage feature.
    fn usage_by_feature(
        &self,
        detector: &str,
        ids: &[AccountId],
    ) -> impl Future<Output = Result<Vec<Cost>, Error>> + Send;
}

/// A cost GuardDuty estimates (GetUsageStatistics' `Total`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// The usage feature (CLOUD_TRAIL, FLOW_LOGS, S3_DATA_EVENTS, EC2_RUNTIME_MONITORING, ...).
    pub feature: String,
    /// The amount, in `unit`.
    pub amount: f64,
    /// The currency (USD).
    pub unit: String,
}

/// GuardDuty's lists of addresses and entities, which change what it reports: the trusted ones silence findings, the
/// threat ones add them (GuardDuty User Guide, "Customizing threat detection with entity lists and IP address lists").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    /// An IPSet: a trusted IP address list ("GuardDuty doesn't generate findings for IP addresses that are included
    /// in IPSets", CreateIPSet API reference).
    TrustedIps,
    /// A ThreatIntelSet: a threat IP address list.
    ThreatIps,
    /// A TrustedEntitySet: a trusted entity list.
    TrustedEntities,
    /// A ThreatEntitySet: a threat entity list.
    ThreatEntities,
}

impl ListKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::TrustedIps, Self::ThreatIps, Self::TrustedEntities, Self::ThreatEntities];

    /// The Get operation's name, for errors.
    pub fn get_operation(self) -> &'static str {
        match self {
            Self::TrustedIps => "GetIPSet",
            Self::ThreatIps => "GetThreatIntelSet",
            Self::TrustedEntities => "GetTrustedEntitySet",
            Self::ThreatEntities => "GetThreatEntitySet",
        }
    }

    /// The List operation's name, for errors.
    pub fn list_operation(self) -> &'static str {
        match self {
            Self::TrustedIps => "ListIPSets",
            Self::ThreatIps => "ListThreatIntelSets",
            Self::TrustedEntities => "ListTrustedEntitySets",
            Self::ThreatEntities => "ListThreatEntitySets",
        }
    }
}

/// A saved filter, as GetFilter gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedFilter {
    /// Its name.
    pub name: String,
    /// Its description, where it has one.
    pub description: Option<String>,
    /// NOOP, or ARCHIVE: a suppression rule ("findings that match the filter are automatically archived", GuardDuty
    /// User Guide, "Suppression rules").
    pub action: String,
    /// Its position among the filters (1 to 100), where GuardDuty gives one.
    pub rank: Option<i32>,
    /// Its finding criteria as the API's JSON has them: `{"criterion": {field: {condition: value}}}`.
    pub criteria: serde_json::Value,
}

/// A trusted or threat list, as GetIPSet, GetThreatIntelSet, GetTrustedEntitySet or GetThreatEntitySet gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingList {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// TXT, STIX, OTX_CSV, ALIEN_VAULT, PROOF_POINT or FIRE_EYE.
    pub format: String,
    /// The URI of its file.
    pub location: String,
    /// INACTIVE, ACTIVATING, ACTIVE, DEACTIVATING, ERROR, DELETE_PENDING or DELETED.
    pub status: String,
}

/// AWS Organizations, from the management account.
pub trait OrganizationApi: Send + Sync {
    /// DescribeOrganization: the management account's id.
    fn management_account(&self) -> impl Future<Output = Result<AccountId, Error>> + Send;
    /// DescribeOrganization: the organization's id (`o-...`).
    fn organization_id(&self) -> impl Future<Output = Result<String, Error>> + Send;
    /// ListAccounts, every page.
    fn accounts(&self) -> impl Future<Output = Result<Vec<OrgAccount>, Error>> + Send;
    /// DescribeAccount; `None` when the account is not in the organization.
    fn account(&self, id: &AccountId) -> impl Future<Output = Result<Option<OrgAccount>, Error>> + Send;
    /// The organizational units and accounts under a root or organizational unit, at any depth, each with its
    /// parent (ListOrganizationalUnitsForParent and ListAccountsForParent, every page).
    fn subtree(&self, parent: &str) -> impl Future<Output = Result<Subtree, Error>> + Send;
    /// ListParents: the root or organizational unit directly above an account or organizational unit.
    fn parent(&self, child: &str) -> impl Future<Output = Result<String, Error>> + Send;
    /// ListRoots: the organization's root and whether the GuardDuty policy type is enabled on it.
    fn root(&self) -> impl Future<Output = Result<Root, Error>> + Send;
    /// ListPolicies for GUARDDUTY_POLICY: every GuardDuty policy of the organization (no content).
    fn guardduty_policies(&self) -> impl Future<Output = Result<Vec<PolicyRecord>, Error>> + Send;
    /// DescribePolicy: a policy's content.
    fn policy_content(&self, id: &str) -> impl Future<Output = Result<String, Error>> + Send;
    /// ListTargetsForPolicy: the roots, organizational units and accounts a policy is attached to.
    fn policy_targets(&self, id: &str) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// DescribeEffectivePolicy for GUARDDUTY_POLICY and an account: its effective GuardDuty policy's content, or
    /// `None` where it has none.
    fn effective_policy(&self, account: &AccountId) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// ListAccountsWithInvalidEffectivePolicy for GUARDDUTY_POLICY, every page.
    fn invalid_policy_accounts(&self) -> impl Future<Output = Result<Vec<AccountId>, Error>> + Send;
    /// ListTagsForResource of a policy: its tags, every page.
    fn policy_tags(&self, id: &str) -> impl Future<Output = Result<BTreeMap<String, String>, Error>> + Send;
    /// TagResource: one tag on a policy.
    fn tag_policy(&self, id: &str, key: &str, value: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// CreatePolicy of type GUARDDUTY_POLICY with one tag (`tag`: key and value); returns its id.
    fn create_policy(
        &self,
        name: &str,
        description: &str,
        content: &str,
        tag: (&str, &str),
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// DeletePolicy (it must be attached nowhere).
    fn delete_policy(&self, id: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// DisablePolicyType GUARDDUTY_POLICY on the root (asynchronous, like enabling; every GuardDuty policy is detached).
    fn disable_policy_type(&self, root: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// UpdatePolicy: a policy's new content.
    fn update_policy(&self, id: &str, content: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// EnablePolicyType GUARDDUTY_POLICY on the root (already enabled is success).
    fn enable_policy_type(&self, root: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// AttachPolicy (already attached is success).
    fn attach_policy(&self, id: &str, target: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// DetachPolicy (not attached is success).
    fn detach_policy(&self, id: &str, target: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// DescribeCreateAccountStatus: what became of a CreateAccount request.
    fn create_account_status(
        &self,
        request_id: &str,
    ) -> impl Future<Output = Result<CreateAccountStatus, Error>> + Send;
    /// ListAWSServiceAccessForOrganization: the service principals with trusted access.
    fn trusted_services(&self) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// EnableAWSServiceAccess for one service principal.
    fn enable_trusted_service(&self, principal: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Part of the organization's tree: organizational units and accounts, each with its parent's id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subtree {
    /// Organizational units, with their parents.
    pub ous: Vec<(String, String)>,
    /// Accounts, with their parents.
    pub accounts: Vec<(OrgAccount, String)>,
    /// The organizational units' names, by id.
    pub names: BTreeMap<String, String>,
}

/// Whether a policy type is enabled on the root (ListRoots' `PolicyTypes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PolicyTypeStatus {
    /// Enabled.
    Enabled,
    /// Being enabled (EnablePolicyType is asynchronous).
    PendingEnable,
    /// Being disabled.
    PendingDisable,
    /// Not enabled.
    NotEnabled,
}

impl PolicyTypeStatus {
    /// Whether policies of the type are (or are about to be) in force: the auto-enable settings no longer apply.
    pub fn in_force(self) -> bool {
        matches!(self, Self::Enabled | Self::PendingEnable)
    }
}

/// The organization's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// Its id (`r-...`).
    pub id: String,
    /// Whether the GuardDuty policy type is enabled on it.
    pub guardduty_policies: PolicyTypeStatus,
}

/// A GuardDuty policy as ListPolicies summarises it: its id, name and description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRecord {
    /// `p-...`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
}

/// A publishing destination, as DescribePublishingDestination gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishingDestination {
    /// Its id.
    pub id: String,
    /// PENDING_VERIFICATION, PUBLISHING, UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY or STOPPED.
    pub status: String,
    /// Where it exports: the bucket ARN, with its prefix.
    pub destination: String,
    /// The KMS key.
    pub kms_key: String,
    /// When GuardDuty first failed to publish there, in milliseconds since the epoch.
    pub failing_since_ms: Option<i64>,
}

/// What became of a CreateAccount request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateAccountStatus {
    /// Still being created: ask again later.
    InProgress,
    /// Created: the new account.
    Succeeded(AccountId),
    /// Not created, with the reason Organizations gives (e.g. EMAIL_ALREADY_EXISTS).
    Failed(String),
}

/// A region as account:ListRegions reports it for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnabledRegion {
    /// The region.
    pub name: String,
    /// ENABLED_BY_DEFAULT (every account has it) rather than opted in.
    pub by_default: bool,
}

/// Everything the executor reaches: GuardDuty per region and side, Organizations, and region discovery.
pub trait Cloud: Send + Sync {
    /// The GuardDuty port.
    type GuardDuty: GuardDutyApi;
    /// The Organizations port.
    type Organization: OrganizationApi;
    /// GuardDuty in `region` as `side`.
    fn guardduty(&self, side: Side, region: &str) -> Self::GuardDuty;
    /// Organizations.
    fn organization(&self) -> &Self::Organization;
    /// The region the functions run in, whose partition is theirs.
    fn home_region(&self) -> &str;
    /// The regions enabled for `side`'s account (account:ListRegions, ENABLED and ENABLED_BY_DEFAULT).
    fn enabled_regions(&self, side: Side) -> impl Future<Output = Result<Vec<EnabledRegion>, Error>> + Send;
    /// The regions the organization's AWS Control Tower landing zone governs (its manifest's `governedRegions`);
    /// `None` without a landing zone. Without Control Tower there is none.
    fn landing_zone_regions(&self) -> impl Future<Output = Result<Option<Vec<String>>, Error>> + Send {
        async { Ok(None) }
    }
    /// Whether a member `account` has enabled `region` (account:GetRegionOptStatus with its AccountId, as the
    /// management account). Without Account Management, never.
    fn region_enabled_for(
        &self,
        account: &AccountId,
        region: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let _ = (account, region);
        async { Ok(false) }
    }
    /// CloudTrail and EventBridge, read as either side, for the check that tamper detection can work
    /// ([`crate::detection`]). Without them, `None`: the check says it could not read them.
    fn detection(&self) -> Option<&impl crate::detection::DetectionApi> {
        None::<&crate::detection::Unreadable>
    }
    /// EventBridge rules of the management account, for its forwarders of GuardDuty calls
    /// ([`crate::forwarding`]). Without it, `None`: keeping them says it cannot.
    fn forwarding(&self) -> Option<&impl crate::forwarding::ForwardingApi> {
        None::<&crate::detection::Unreadable>
    }
}
