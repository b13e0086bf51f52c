//! The report a run returns: per region what was found, what was done (or, in a dry run, would be done), which
//! accounts are protected, which are not and why, which regions were left out and why; and a summary.
//! Serializable, so the functions and the command line return it as JSON. Its size does not grow with the
//! accounts that are fine: member writes are counted, and only the accounts that are not protected are named.

use serde::Serialize;

use crate::ids::AccountId;
use crate::plan::{Left, Step, Unprotected};
use crate::ports::PolicyTypeStatus;
use crate::state::{DetectorState, Members};

/// How a region ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Already in the desired state; nothing was written.
    InSync,
    /// Brought to the desired state.
    Changed,
    /// Dry run: the steps listed would be taken.
    Planned,
    /// Set up, but not all as declared: some accounts that should be protected are not (named in `unprotected`), or
    /// findings export is not healthy (`export`).
    Partial,
    /// Another delegated admin is designated; nothing was changed.
    Conflict,
    /// A designation is being removed (DISABLE_IN_PROGRESS); nothing was changed.
    Blocked,
    /// A call failed; `error` says which and why.
    Failed,
    /// Not started, or cut short, because the invocation was running out of time.
    Unfinished,
}

impl Outcome {
    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in_sync",
            Self::Changed => "changed",
            Self::Planned => "planned",
            Self::Partial => "partial",
            Self::Conflict => "conflict",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::Unfinished => "unfinished",
        }
    }

    /// Whether the region reached (or, in a dry run, was planned to reach) the desired state.
    pub fn is_converged(self) -> bool {
        matches!(self, Self::InSync | Self::Changed | Self::Planned)
    }
}

/// What was found in a region before any change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The management account's detector: ENABLED, DISABLED or MISSING.
    pub management_detector: DetectorState,
    /// The delegated admin designated in the region, if any.
    pub delegated_admin: Option<String>,
    /// The admin's detector: ENABLED, DISABLED or MISSING; PRESENT where an onboarding only looked it up.
    pub admin_detector: DetectorState,
    /// AutoEnableOrganizationMembers, where it could be read.
    pub auto_enable: Option<String>,
    /// Members that were Enabled.
    pub members_enabled: usize,
    /// Every member the admin had here, whatever its status.
    pub members_total: usize,
}

/// One step and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    /// The step.
    #[serde(flatten)]
    pub step: Step,
    /// done, planned or failed.
    pub status: ActionStatus,
}

/// What became of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Written.
    Done,
    /// Dry run: not written.
    Planned,
    /// The call failed.
    Failed,
    /// Not written: the run held it back, for the reason given, until a run can make it safely.
    Withheld,
}

impl ActionStatus {
    /// Whether the write is still owed: it failed, or was held back.
    pub fn is_owed(self) -> bool {
        matches!(self, Self::Failed | Self::Withheld)
    }
}

/// How many accounts should be protected in a region, and how many GuardDuty shows Enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Active accounts that should be members here: not the admin, not excluded, and with the region enabled.
    pub expected: usize,
    /// Of those, the ones GuardDuty shows Enabled.
    pub protected: usize,
}

impl Coverage {
    /// Whether every expected account is protected.
    pub fn is_full(&self) -> bool {
        self.protected >= self.expected
    }
}

/// One region's part of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegionReport {
    /// The region.
    pub region: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What was there before.
    pub found: Found,
    /// The protection plans in force here (what the region offers, or what was selected of it).
    pub plans: Vec<String>,
    /// Plans (or additional configurations) selected but not offered here: left out, not a failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plans_not_offered: Vec<String>,
    /// Where the region's findings are exported (GUARDDUTY_FINDINGS_DESTINATION).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportReport>,
    /// Plans a GuardDuty organization policy decides here for some accounts: checked, never written by this tool.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plans_by_policy: Vec<String>,
    /// What is worth knowing and needs no action from this tool (members billed twice for Runtime Monitoring).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The writes, in order.
    pub actions: Vec<Action>,
    /// Accounts that cannot be members here (the region is not enabled for them, or they are suspended).
    pub left: Vec<Left>,
    /// Accounts that should be protected here and are not, with their status and why.
    pub unprotected: Vec<Unprotected>,
    /// Accounts left out beyond those named in `left`, in a capped report.
    #[serde(skip_serializing_if = "is_zero")]
    pub left_omitted: usize,
    /// Unprotected accounts beyond those named in `unprotected`, in a capped report.
    #[serde(skip_serializing_if = "is_zero")]
    pub unprotected_omitted: usize,
    /// Expected and protected accounts.
    pub coverage: Coverage,
    /// The conflict or the failure, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Accounts made (or restarted as) Enabled members here; in a dry run, the membership writes planned.
    pub members_added: usize,
    /// Milliseconds spent on the region.
    pub millis: u64,
    /// Every account's member status, when the run was asked to keep them (the command line's `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Members>,
    /// Whether `coverage` was measured: every expected account's status read (also where a write failed after).
    #[serde(skip)]
    pub measured: bool,
}

impl RegionReport {
    /// A region with nothing found yet.
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            outcome: Outcome::InSync,
            found: Found::default(),
            plans: Vec::new(),
            plans_not_offered: Vec::new(),
            export: None,
            plans_by_policy: Vec::new(),
            notes: Vec::new(),
            actions: Vec::new(),
            left: Vec::new(),
            unprotected: Vec::new(),
            left_omitted: 0,
            unprotected_omitted: 0,
            coverage: Coverage::default(),
            error: None,
            members_added: 0,
            millis: 0,
            members: None,
            measured: false,
        }
    }

    /// A region that ended with `outcome` for the reason given.
    pub fn ended(region: &str, outcome: Outcome, why: impl Into<String>) -> Self {
        let mut report = Self::new(region);
        report.outcome = outcome;
        report.error = Some(why.into());
        report
    }

    /// The write calls made (done or failed; planned ones are not calls).
    pub fn writes(&self) -> usize {
        self.actions.iter().filter(|a| a.status != ActionStatus::Planned).count()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where a region's findings are exported, as the run left it (or, in a dry run, found it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// What GuardDuty reports, or what this run found instead of a destination.
    pub status: ExportStatus,
    /// The destination's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_id: Option<String>,
    /// When GuardDuty first failed to publish, in milliseconds since the epoch: if that is not fixed within the
    /// 90-day retention, GuardDuty disables export in the region (GuardDuty User Guide).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since_ms: Option<i64>,
    /// Why, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Whether this run created or updated the destination.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub written: bool,
}

/// The state of a region's findings export: a publishing destination's status (DescribePublishingDestination's
/// `Status`), or what this run found instead of one. Serialized as the API spells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ExportStatus {
    /// PENDING_VERIFICATION: GuardDuty has not yet verified the bucket and key.
    PendingVerification,
    /// PUBLISHING.
    Publishing,
    /// UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY: the bucket or key policy stops it.
    UnableToPublish,
    /// STOPPED.
    Stopped,
    /// ABSENT: no destination yet.
    #[default]
    Absent,
    /// LEFT_OUT: the region's findings cannot go to that bucket (the user guide's region rules).
    LeftOut,
    /// SEVERAL: more than one destination; nothing was changed.
    Several,
    /// FAILED: a call failed.
    Failed,
    /// A status this code does not know, as GuardDuty gave it.
    Other(String),
}

impl ExportStatus {
    /// Reads a publishing destination's `Status` (or a spelling this type writes).
    pub fn parse(status: &str) -> Self {
        match status {
            "PENDING_VERIFICATION" => Self::PendingVerification,
            "PUBLISHING" => Self::Publishing,
            "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" => Self::UnableToPublish,
            "STOPPED" => Self::Stopped,
            "ABSENT" => Self::Absent,
            "LEFT_OUT" => Self::LeftOut,
            "SEVERAL" => Self::Several,
            "FAILED" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The report's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::PendingVerification => "PENDING_VERIFICATION",
            Self::Publishing => "PUBLISHING",
            Self::UnableToPublish => "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY",
            Self::Stopped => "STOPPED",
            Self::Absent => "ABSENT",
            Self::LeftOut => "LEFT_OUT",
            Self::Several => "SEVERAL",
            Self::Failed => "FAILED",
            Self::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ExportStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ExportStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self::parse(&s))
    }
}

impl ExportReport {
    /// Exporting, or being verified right after this run's write, or (by the user guide's region rules) not to be
    /// set up. A destination still PENDING_VERIFICATION from an earlier run's write is not: GuardDuty has not been
    /// able to verify the bucket and key since (Terraform's provider waits for the one status to become the other
    /// right after a create).
    pub fn is_healthy(&self) -> bool {
        match self.status {
            ExportStatus::Publishing | ExportStatus::LeftOut => true,
            ExportStatus::PendingVerification => self.written,
            _ => false,
        }
    }

    /// Whether the region exports at all (or is set up to): every status but LEFT_OUT.
    pub fn is_expected(&self) -> bool {
        self.status != ExportStatus::LeftOut
    }

    pub(crate) fn left_out(why: String) -> Self {
        Self { status: ExportStatus::LeftOut, detail: Some(why), ..Self::default() }
    }

    pub(crate) fn failed(e: crate::error::Error) -> Self {
        Self { status: ExportStatus::Failed, detail: Some(e.to_string()), ..Self::default() }
    }

    pub(crate) fn several(n: usize) -> Self {
        let detail = format!("{n} publishing destinations on the admin's detector: nothing was changed");
        Self { status: ExportStatus::Several, detail: Some(detail), ..Self::default() }
    }

    pub(crate) fn absent() -> Self {
        Self { status: ExportStatus::Absent, ..Self::default() }
    }
}

impl From<crate::ports::PublishingDestination> for ExportReport {
    fn from(d: crate::ports::PublishingDestination) -> Self {
        let status = ExportStatus::parse(&d.status);
        let detail = match status {
            ExportStatus::UnableToPublish | ExportStatus::Stopped => Some(format!(
                "GuardDuty cannot publish to {} (fix the bucket or key policy; unfixed for 90 days, GuardDuty \
                 disables export here)",
                d.destination
            )),
            ExportStatus::PendingVerification => Some(format!(
                "GuardDuty has not verified that it can publish to {} with the key (if it stays so, check the \
                 bucket and key policies)",
                d.destination
            )),
            _ => None,
        };
        Self { status, destination_id: Some(d.id), failing_since_ms: d.failing_since_ms, detail, written: false }
    }
}

/// The most accounts each region names in a report a function returns or logs: a Lambda answer is at most 6 MB and
/// a log event at most 256 KB, and a fresh organization of 10,000 accounts has 10,000 unprotected per region.
pub const NAMED_PER_REGION: usize = 50;

/// A region this run did not govern, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegionLeftOut {
    /// The region.
    pub region: String,
    /// Why (which account has not enabled it, that it is excluded, or that a service control policy denies it).
    pub reason: String,
    /// Whether a service control policy denies the delegated admin GuardDuty there (the RegionsDenied metric).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub scp_denied: bool,
}

impl RegionLeftOut {
    /// A region left out for `reason`.
    pub fn new(region: String, reason: String) -> Self {
        Self { region, reason, scp_denied: false }
    }
}

/// An organization-wide write (or the read or layout a policy write needs first); serialized in snake case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgActionKind {
    /// EnableAWSServiceAccess for a service principal.
    EnableTrustedAccess,
    /// CreatePolicy.
    CreatePolicy,
    /// UpdatePolicy.
    UpdatePolicy,
    /// EnablePolicyType on the root.
    EnablePolicyType,
    /// AttachPolicy.
    AttachPolicy,
    /// DetachPolicy.
    DetachPolicy,
    /// Reading the policy this tool owns, before writing it.
    ReadPolicy,
    /// Laying out the policy's content within its size limit.
    LayoutPolicy,
}

impl std::fmt::Display for OrgActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::EnableTrustedAccess => "enable_trusted_access",
            Self::CreatePolicy => "create_policy",
            Self::UpdatePolicy => "update_policy",
            Self::EnablePolicyType => "enable_policy_type",
            Self::AttachPolicy => "attach_policy",
            Self::DetachPolicy => "detach_policy",
            Self::ReadPolicy => "read_policy",
            Self::LayoutPolicy => "layout_policy",
        };
        f.write_str(name)
    }
}

/// An organization-wide write, made once per run: trusted access for a service principal, or a write of the
/// GuardDuty policy this tool owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgAction {
    /// What it is.
    pub action: OrgActionKind,
    /// What it is done to: the service principal, the policy, the root, the organizational unit or the account.
    pub target: String,
    /// done, planned or failed.
    pub status: ActionStatus,
    /// Why the call failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An account of the organization and its standing, for an account-by-region view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountEntry {
    /// The account.
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Organizations' state (ACTIVE, SUSPENDED, ...).
    pub state: String,
    /// Excluded by the configuration.
    pub excluded: bool,
}

/// What kind of run a report is of; serialized in snake case (`reconcile`, `region`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Every governed region.
    Reconcile,
    /// Some of them.
    Region,
    /// New accounts enrolled.
    Onboard,
    /// Accounts that moved brought to their plans.
    Replan,
    /// Members whose monitoring was stopped restarted.
    Restart,
    /// A tamper call's repair of a foundation.
    Repair,
}

impl RunKind {
    /// Whether it is a reconcile, of every governed region or some.
    pub fn is_reconcile(self) -> bool {
        matches!(self, Self::Reconcile | Self::Region)
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Reconcile => "reconcile",
            Self::Region => "region",
            Self::Onboard => "onboard",
            Self::Replan => "replan",
            Self::Restart => "restart",
            Self::Repair => "repair",
        };
        f.write_str(name)
    }
}

/// What a run did, region by region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What kind of run.
    pub kind: RunKind,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The organization's management account.
    pub management_account: String,
    /// The delegated admin.
    pub admin_account: String,
    /// How this run enabled GuardDuty: `api` (the organization configuration) or `policy` (GuardDuty organization
    /// policies are in force).
    pub enablement: &'static str,
    /// What the run found of GuardDuty organization policies (policy mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<PolicyReport>,
    /// The accounts an onboarding enrolled (the admin among them when asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enrolled: Vec<AccountId>,
    /// The account onboarded, for `onboard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Per governed region.
    pub regions: Vec<RegionReport>,
    /// Regions not governed, and why.
    pub regions_left_out: Vec<RegionLeftOut>,
    /// Organization-wide writes.
    pub organization: Vec<OrgAction>,
    /// What is worth knowing about the run as a whole (governed regions a Control Tower landing zone does not
    /// govern).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Every account of the organization, when the run was asked to keep the members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountEntry>>,
    /// Totals.
    pub summary: Summary,
}

/// Totals over the regions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Regions governed.
    pub regions: usize,
    /// Regions already in the desired state.
    pub in_sync: usize,
    /// Regions changed (or, in a dry run, that would be).
    pub changed: usize,
    /// Regions set up with some accounts not protected.
    pub partial: usize,
    /// Regions with another delegated admin.
    pub conflicts: usize,
    /// Regions where a designation is being removed.
    pub blocked: usize,
    /// Regions where a call failed.
    pub failed: usize,
    /// Regions not finished for lack of time.
    pub unfinished: usize,
    /// Write calls made (organization-wide ones included).
    pub writes: usize,
    /// Account-regions made (or restarted as) Enabled members.
    pub members_added: usize,
    /// Account-regions left out, with their reasons in the regions.
    pub left: usize,
    /// Account-regions that should be protected and are not.
    pub unprotected: usize,
    /// Account-regions that should be protected.
    pub accounts_expected: usize,
    /// Of those, the ones GuardDuty shows Enabled.
    pub accounts_protected: usize,
    /// Regions not governed.
    pub regions_left_out: usize,
    /// Milliseconds for the whole run.
    pub millis: u64,
}

/// What a policy-mode run found of GuardDuty organization policies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyReport {
    /// GUARDDUTY_POLICY on the organization's root.
    pub policy_type: Option<PolicyTypeStatus>,
    /// The policies this tool owns (GUARDDUTY_ENABLEMENT=policy): the main one, and one per unit of
    /// GUARDDUTY_FEATURES_BY_OU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owned: Vec<OwnedPolicy>,
    /// Accounts whose effective GuardDuty policy is invalid (ListAccountsWithInvalidEffectivePolicy): not fully
    /// enforced.
    pub invalid_accounts: Vec<AccountId>,
    /// ACTIVE accounts no GuardDuty policy covers: AWS will not enable GuardDuty in them by itself (the auto-enable
    /// settings no longer apply); only this tool's events and schedule enrol them.
    pub uncovered_accounts: usize,
    /// The first of them, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncovered: Vec<AccountId>,
    /// ACTIVE accounts whose effective policy could not be read (DescribeEffectivePolicy failed after its retries):
    /// checked against the configured plans instead.
    #[serde(skip_serializing_if = "is_zero")]
    pub unread_accounts: usize,
    /// The first of them, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<String>,
    /// Why the accounts with an invalid effective policy could not be listed, where they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_unread: Option<String>,
}

/// The policy this tool owns, as this run left it (or, in a dry run, would).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnedPolicy {
    /// Its name.
    pub name: String,
    /// Its id, once it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The content the configuration gives it.
    pub content: serde_json::Value,
    /// The content it had before this run, when it differed (for `plan`'s diff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<serde_json::Value>,
    /// Where it must be attached.
    pub targets: Vec<String>,
}

/// Who ran, for a report's header.
#[derive(Clone, Debug)]
pub struct Header {
    /// What kind of run.
    pub kind: RunKind,
    /// `api` or `policy`.
    pub enablement: &'static str,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The management account.
    pub management: String,
    /// The delegated admin.
    pub admin: String,
}

impl Report {
    /// Assembles a report and its summary.
    pub fn new(
        header: Header,
        mut regions: Vec<RegionReport>,
        regions_left_out: Vec<RegionLeftOut>,
        organization: Vec<OrgAction>,
        millis: u64,
    ) -> Self {
        regions.sort_by(|a, b| a.region.cmp(&b.region));
        let count = |o: Outcome| regions.iter().filter(|r| r.outcome == o).count();
        let org_writes =
            organization.iter().filter(|a| matches!(a.status, ActionStatus::Done | ActionStatus::Failed)).count();
        let summary = Summary {
            regions: regions.len(),
            in_sync: count(Outcome::InSync),
            changed: count(Outcome::Changed) + count(Outcome::Planned),
            partial: count(Outcome::Partial),
            conflicts: count(Outcome::Conflict),
            blocked: count(Outcome::Blocked),
            failed: count(Outcome::Failed),
            unfinished: count(Outcome::Unfinished),
            writes: regions.iter().map(RegionReport::writes).sum::<usize>() + org_writes,
            members_added: regions.iter().map(|r| r.members_added).sum(),
            left: regions.iter().map(|r| r.left.len()).sum(),
            unprotected: regions.iter().map(|r| r.unprotected.len()).sum(),
            accounts_expected: regions.iter().map(|r| r.coverage.expected).sum(),
            accounts_protected: regions.iter().map(|r| r.coverage.protected).sum(),
            regions_left_out: regions_left_out.len(),
            millis,
        };
        Self {
            kind: header.kind,
            dry_run: header.dry_run,
            management_account: header.management,
            admin_account: header.admin,
            enablement: header.enablement,
            policies: None,
            enrolled: Vec::new(),
            account: None,
            regions,
            regions_left_out,
            organization,
            notes: Vec::new(),
            accounts: None,
            summary,
        }
    }

    /// The report with each region's `left` and `unprotected` cut to `limit` accounts; the others are counted in
    /// `left_omitted` and `unprotected_omitted` (the summary keeps every count).
    pub fn capped(mut self, limit: usize) -> Self {
        for r in &mut self.regions {
            r.left_omitted += r.left.len().saturating_sub(limit);
            r.left.truncate(limit);
            r.unprotected_omitted += r.unprotected.len().saturating_sub(limit);
            r.unprotected.truncate(limit);
        }
        self
    }

    /// Whether every region reached (or, in a dry run, could be planned to) the desired state, with every
    /// expected account protected (in a dry run: planned to be) and every organization-wide write made. Anything
    /// else makes a run unsuccessful: the caller surfaces it as an error so that it is retried and alarmed on.
    pub fn is_success(&self) -> bool {
        self.regions.iter().all(|r| r.outcome.is_converged()) && self.organization.iter().all(|a| !a.status.is_owed())
    }

    /// What is not as declared and was not repaired: every region not converged, every account that should be
    /// protected and is not, every failed organization-wide write (the DriftUnrepaired metric).
    pub fn drift_unrepaired(&self) -> usize {
        let regions = self
            .regions
            .iter()
            .filter(|r| {
                matches!(r.outcome, Outcome::Failed | Outcome::Conflict | Outcome::Blocked | Outcome::Unfinished)
            })
            .count();
        let org = self.organization.iter().filter(|a| a.status.is_owed()).count();
        let export = self.regions.iter().filter(|r| r.export.as_ref().is_some_and(|e| !e.is_healthy())).count();
        regions + if self.dry_run { 0 } else { self.summary.unprotected + export } + org
    }

    /// One line per region (and organization-wide write) that did not succeed: where, how it ended and why.
    pub fn problems(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .regions
            .iter()
            .filter(|r| !r.outcome.is_converged())
            .map(|r| {
                let why = match (&r.error, r.unprotected.as_slice()) {
                    (Some(e), _) => e.clone(),
                    (None, accounts) => {
                        let mut parts = Vec::new();
                        if !accounts.is_empty() {
                            let named: Vec<String> =
                                accounts.iter().take(5).map(|u| format!("{} ({})", u.account, u.reason)).collect();
                            let more = accounts.len().saturating_sub(5) + r.unprotected_omitted;
                            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
                            let total = accounts.len() + r.unprotected_omitted;
                            parts.push(format!("{total} accounts not protected: {}{tail}", named.join(", ")));
                        }
                        if let Some(e) = r.export.as_ref().filter(|e| !e.is_healthy()) {
                            let since = e.failing_since_ms.map(|t| format!(" since {t} (ms)")).unwrap_or_default();
                            let detail = e.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                            parts.push(format!("findings export {}{since}{detail}", e.status));
                        }
                        parts.join("; ")
                    }
                };
                format!("{}: {}: {why}", r.region, r.outcome.as_str())
            })
            .collect();
        lines.extend(
            self.organization
                .iter()
                .filter(|a| a.status.is_owed())
                .map(|a| format!("{} {}: {}", a.action, a.target, a.error.as_deref().unwrap_or("failed"))),
        );
        lines
    }

    /// Whether the admin is the delegated GuardDuty administrator in some region of this run: found designated
    /// there, or designated by it.
    pub fn admin_designated_anywhere(&self) -> bool {
        self.regions.iter().any(|r| {
            r.found.delegated_admin.as_deref() == Some(self.admin_account.as_str())
                || r.actions
                    .iter()
                    .any(|a| matches!(a.step, Step::DesignateAdmin { .. }) && a.status == ActionStatus::Done)
        })
    }

    /// Whether `account`, enrolled by this onboarding, ended protected in every region it ran: `Err` with where and
    /// why not (a region that did not converge, or the account shown there without Enabled or without a plan it
    /// should have). An account a region leaves out with a reason (the region is not enabled for it, its GuardDuty
    /// policy turns GuardDuty off there) is not a shortfall; nor is a findings export that is not healthy.
    pub fn protection_of(&self, account: &AccountId) -> Result<(), String> {
        let mut why = Vec::new();
        for r in &self.regions {
            if matches!(r.outcome, Outcome::Failed | Outcome::Conflict | Outcome::Blocked | Outcome::Unfinished) {
                let error = r.error.as_deref().unwrap_or("no reason given");
                why.push(format!("{}: {}: {error}", r.region, r.outcome.as_str()));
            } else if let Some(u) = r.unprotected.iter().find(|u| u.account == *account) {
                why.push(format!("{}: {}", r.region, u.reason));
            } else if r.unprotected_omitted > 0 && !r.left.iter().any(|l| l.account == *account) {
                why.push(format!("{}: {} accounts not protected, not all named", r.region, r.unprotected_omitted));
            }
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(format!("account {account} is not protected: {}", why.join("; ")))
        }
    }

    /// The [`problems`](Self::problems) in one sentence, for an error or a CloudFormation reason.
    pub fn shortfall(&self) -> String {
        format!("not every region reached the desired state: {}", self.problems().join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Unprotected;

    #[test]
    fn export_and_detector_states_serialize_as_the_api_spells_them() {
        for status in ["PENDING_VERIFICATION", "PUBLISHING", "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY", "STOPPED"] {
            let parsed = ExportStatus::parse(status);
            assert!(!matches!(parsed, ExportStatus::Other(_)), "{status}");
            assert_eq!(serde_json::to_value(&parsed).ok(), Some(serde_json::json!(status)));
        }
        assert_eq!(ExportStatus::parse("SOMETHING_NEW").as_str(), "SOMETHING_NEW");
        assert_eq!(serde_json::to_value(ExportStatus::LeftOut).ok(), Some(serde_json::json!("LEFT_OUT")));
        assert_eq!(serde_json::to_value(Found::default()).ok().map(|f| f["admin_detector"].clone()), Some("".into()));
        let states =
            [(DetectorState::Enabled, "ENABLED"), (DetectorState::Missing, "MISSING"), (DetectorState::Unread, "")];
        for (state, name) in states {
            assert_eq!(serde_json::to_value(state).ok(), Some(serde_json::json!(name)));
            assert_eq!(state.as_str(), name);
        }
    }

    #[test]
    fn kinds_serialize_as_they_display() {
        for kind in
            [RunKind::Reconcile, RunKind::Region, RunKind::Onboard, RunKind::Replan, RunKind::Restart, RunKind::Repair]
        {
            assert_eq!(serde_json::to_value(kind).expect("json"), serde_json::json!(kind.to_string()));
        }
        for kind in [
            OrgActionKind::EnableTrustedAccess,
            OrgActionKind::CreatePolicy,
            OrgActionKind::UpdatePolicy,
            OrgActionKind::EnablePolicyType,
            OrgActionKind::AttachPolicy,
            OrgActionKind::DetachPolicy,
            OrgActionKind::ReadPolicy,
            OrgActionKind::LayoutPolicy,
        ] {
            assert_eq!(serde_json::to_value(kind).expect("json"), serde_json::json!(kind.to_string()));
        }
        assert_eq!(RunKind::Restart.to_string(), "restart");
        assert_eq!(OrgActionKind::EnablePolicyType.to_string(), "enable_policy_type");
    }

    fn header() -> Header {
        Header {
            kind: RunKind::Reconcile,
            enablement: "api",
            dry_run: false,
            management: "111111111111".into(),
            admin: "222222222222".into(),
        }
    }

    #[test]
    fn a_region_with_an_unprotected_account_is_not_a_success_and_counts_as_unrepaired_drift() {
        // given one region in sync and one where an account could not be made Enabled
        let ok = RegionReport::new("us-east-1");
        let mut partial = RegionReport::new("eu-west-1");
        partial.outcome = Outcome::Partial;
        partial.unprotected.push(Unprotected {
            account: "444455556666".parse().expect("id"),
            status: Some(crate::state::MemberStatus::Invited),
            reason: "an invitation-era member record (Invited) that could not be replaced".into(),
        });
        partial.coverage = Coverage { expected: 3, protected: 2 };
        let report = Report::new(header(), vec![ok, partial], vec![], vec![], 5);
        // then the run says so, and names the account and its status
        assert!(!report.is_success());
        assert_eq!(report.drift_unrepaired(), 1);
        assert_eq!(report.summary.partial, 1);
        assert_eq!((report.summary.accounts_expected, report.summary.accounts_protected), (3, 2));
        let problems = report.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("eu-west-1: partial: 1 accounts not protected: 444455556666 (an invitation-era")
        );
    }

    #[test]
    fn a_capped_report_names_at_most_the_limit_and_counts_the_rest() {
        let mut r = RegionReport::new("eu-west-1");
        r.outcome = Outcome::Partial;
        r.unprotected = (0..120)
            .map(|i| Unprotected {
                account: format!("{:012}", 300_000_000_000u64 + i).parse().expect("id"),
                status: None,
                reason: "not a member".into(),
            })
            .collect();
        let report = Report::new(header(), vec![r], vec![], vec![], 1).capped(50);
        assert_eq!(report.regions[0].unprotected.len(), 50);
        assert_eq!(report.regions[0].unprotected_omitted, 70);
        assert_eq!(report.summary.unprotected, 120, "the summary keeps every count");
        assert!(report.problems()[0].contains("120 accounts not protected"), "{:?}", report.problems());
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["regions"][0]["unprotected_omitted"], 70);
        assert!(json["regions"][0].get("left_omitted").is_none());
    }

    #[test]
    fn blocked_and_conflicted_regions_are_unrepaired_drift() {
        let report = Report::new(
            header(),
            vec![
                RegionReport::ended("us-east-1", Outcome::Blocked, "DISABLE_IN_PROGRESS"),
                RegionReport::ended("eu-west-1", Outcome::Conflict, "another admin"),
            ],
            vec![RegionLeftOut::new("af-south-1".into(), "not enabled".into())],
            vec![],
            1,
        );
        assert!(!report.is_success());
        assert_eq!(report.drift_unrepaired(), 2);
        assert_eq!(report.summary.regions_left_out, 1, "a region left out is not a failure");
    }
}
