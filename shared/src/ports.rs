//! The ports: the small traits through which the executor reads and writes AWS. The SDK adapters in
//! [`crate::aws`] implement them; tests can implement them in memory.

use std::future::Future;

use crate::config::{AutoEnable, FindingFrequency, Plan};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::state::{DelegatedAdmin, Detector, Members, OrgAccount, OrgConfig};

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
    /// UpdateOrganizationConfiguration (admin only).
    fn update_org_config(
        &self,
        detector: &str,
        auto_enable: AutoEnable,
        plans: &[Plan],
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// ListMembers, associated or not.
    fn list_members(&self, detector: &str) -> impl Future<Output = Result<Members, Error>> + Send;
    /// GetMembers for at most 50 ids (accounts that are not members are absent).
    fn get_members(&self, detector: &str, ids: &[AccountId]) -> impl Future<Output = Result<Members, Error>> + Send;
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
}

/// AWS Organizations, from the management account.
pub trait OrganizationApi: Send + Sync {
    /// DescribeOrganization: the management account's id.
    fn management_account(&self) -> impl Future<Output = Result<AccountId, Error>> + Send;
    /// ListAccounts, every page.
    fn accounts(&self) -> impl Future<Output = Result<Vec<OrgAccount>, Error>> + Send;
    /// DescribeAccount; `None` when the account is not in the organization.
    fn account(&self, id: &AccountId) -> impl Future<Output = Result<Option<OrgAccount>, Error>> + Send;
    /// The accounts under an organizational unit, at any depth.
    fn accounts_under(&self, ou: &str) -> impl Future<Output = Result<Vec<AccountId>, Error>> + Send;
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
    /// The regions enabled for `side`'s account (account:ListRegions, ENABLED and ENABLED_BY_DEFAULT).
    fn enabled_regions(&self, side: Side) -> impl Future<Output = Result<Vec<EnabledRegion>, Error>> + Send;
}
