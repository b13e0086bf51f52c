//! The evidence document (`evidence.json`, schema `guardduty-enabler/evidence/1`): who and what was observed, every
//! account, the account-by-region matrix with each plan, each region's summary and the places where findings can be
//! silenced, Security Hub's GuardDuty controls per region, and the crosswalk to the frameworks auditors ask about.
//! Read back from the record over time, so it deserializes too.

use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::AccountId;
use crate::state::DetectorState;

/// The schema of the document.
pub const SCHEMA: &str = "guardduty-enabler/evidence/1";

/// The evidence of one observation of the organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// [`SCHEMA`].
    pub schema: String,
    /// When it was observed (UTC, RFC 3339).
    pub observed_at: String,
    /// Who ran it and with which configuration.
    pub header: Header,
    /// The tool.
    pub tool: Tool,
    /// The organization.
    pub organization: Organization,
    /// How GuardDuty is enabled: `api` (the organization configuration) or `policy` (GuardDuty policies in force).
    pub enablement: String,
    /// Every account of the organization: the management account, the delegated admin, then by name.
    pub accounts: Vec<Account>,
    /// One row per account and governed region, accounts in the order of `accounts`, regions sorted.
    pub matrix: Vec<Cell>,
    /// One entry per governed region, sorted.
    pub regions: Vec<Region>,
    /// The regions not governed, and why.
    pub regions_left_out: Vec<LeftOut>,
    /// Security Hub's GuardDuty controls, per governed region.
    pub controls: Vec<Control>,
    /// What the document shows, and does not show, toward each framework requirement.
    pub frameworks: Vec<Framework>,
    /// The totals and the verdict.
    pub summary: Summary,
    /// How to read it.
    pub notes: Vec<String>,
    /// The preventive service control policy, where the caller read it (`guardduty-enabler report` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preventive_scp: Option<PreventiveScp>,
}

/// The preventive service control policy that `guardduty-enabler scp` writes: which governed accounts it does not
/// cover. SCPs never restrict the management account ("SCPs don't affect users or roles in the management account",
/// Organizations User Guide, "Service control policies (SCPs)"), so it is never counted here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PreventiveScp {
    /// The policy's name.
    pub policy: String,
    /// Its id, where it exists.
    pub policy_id: Option<String>,
    /// Whether the SCP policy type is enabled on the root (otherwise no SCP applies anywhere).
    pub enabled: bool,
    /// The governed accounts (ACTIVE, not excluded, not the management account).
    pub governed: usize,
    /// Those it does not cover, sorted.
    pub not_covered: Vec<String>,
    /// Why it could not be read, where it could not (the rest is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Who ran the report, and with which configuration: with `observed_at`, the part that differs between two
/// observations of the same state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The caller's identity (STS GetCallerIdentity's ARN), else the management account.
    pub ran_by: String,
    /// The configuration, as the `GUARDDUTY_*` variables declared it.
    pub configuration: serde_json::Value,
}

/// The tool that observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Its version.
    pub version: String,
}

/// The organization observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `o-...`.
    pub id: String,
    /// The management account.
    pub management_account: AccountId,
    /// The delegated GuardDuty administrator.
    pub admin_account: AccountId,
}

/// An account of the organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Organizations' state: ACTIVE, SUSPENDED, PENDING_CLOSURE, ...
    pub status: String,
    /// Where it sits: `Root/Prod/Legacy`.
    pub ou_path: String,
    /// `management`, `admin` or `member`.
    pub role: String,
    /// Excluded by the configuration.
    pub excluded: bool,
    /// Which setting excludes it.
    pub excluded_reason: Option<String>,
}

/// Where an account stands in a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// An Enabled member with every plan it should have.
    Protected,
    /// Should be protected and is not.
    Unprotected,
    /// Not enrolled, by the configuration (or by the organization's GuardDuty policy).
    Excluded,
    /// The account has not enabled this opt-in region.
    RegionNotEnabled,
    /// The delegated admin: its own detector.
    Admin,
    /// Not ACTIVE in the organization (suspended, closing): in no region's counts.
    NotActive,
}

impl Coverage {
    /// The document's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Protected => "protected",
            Self::Unprotected => "unprotected",
            Self::Excluded => "excluded",
            Self::RegionNotEnabled => "region_not_enabled",
            Self::Admin => "admin",
            Self::NotActive => "not_active",
        }
    }
}

/// One account in one region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The account.
    pub account: AccountId,
    /// The region.
    pub region: Arc<str>,
    /// Where it stands.
    pub coverage: Coverage,
    /// GuardDuty's `RelationshipStatus` of its member record, or null where there is none (and for the admin).
    pub relationship: Option<String>,
    /// Every plan GuardDuty knows, as GuardDuty shows it for the account here.
    pub plans: Plans,
    /// Why it is not protected, excluded or not enabled, in the words `status` uses.
    pub reason: Option<String>,
}

/// A plan's (or an additional configuration's) state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanStatus {
    /// GuardDuty shows it ENABLED.
    Enabled,
    /// GuardDuty does not show it enabled (or shows no detector for the account to the delegated admin).
    Disabled,
    /// The region does not offer it.
    NotOffered,
}

impl PlanStatus {
    /// The document's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
            Self::NotOffered => "NOT_OFFERED",
        }
    }
}

/// A plan of one account in one region.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlanCell {
    /// Its state.
    pub status: PlanStatus,
    /// `GUARDDUTY_POLICY` where a GuardDuty organization policy decides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Its additional configurations (agent management, ...), where the region offers some.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "additional")]
    pub additional: Vec<(Arc<str>, PlanStatus)>,
}

impl PlanCell {
    /// The state of an additional configuration.
    pub fn agent(&self, name: &str) -> Option<PlanStatus> {
        self.additional.iter().find(|(n, _)| &**n == name).map(|(_, s)| *s)
    }
}

/// Every plan of one account in one region, by name, in name order. Shared, for memory: most accounts of a region
/// show the same plans, and 170,000 rows each with its own list took about 150 MB.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Plans(pub Arc<[(Arc<str>, PlanCell)]>);

impl Plans {
    /// The plan named `name`.
    pub fn get(&self, name: &str) -> Option<&PlanCell> {
        self.0.iter().find(|(n, _)| &**n == name).map(|(_, c)| c)
    }
}

impl Serialize for Plans {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, cell) in self.0.iter() {
            map.serialize_entry(&**name, cell)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Plans {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map: std::collections::BTreeMap<Arc<str>, PlanCell> = Deserialize::deserialize(d)?;
        Ok(Self(map.into_iter().collect()))
    }
}

/// Additional configurations as a JSON object, name to status.
mod additional {
    use super::*;

    pub(super) fn serialize<S: Serializer>(items: &[(Arc<str>, PlanStatus)], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(items.len()))?;
        for (name, status) in items {
            map.serialize_entry(&**name, status)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Arc<str>, PlanStatus)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(Arc<str>, PlanStatus)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of additional configurations and their states")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, PlanStatus>()? {
                    out.push((Arc::from(k), v));
                }
                out.sort();
                Ok(out)
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// One governed region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// The region.
    pub region: Arc<str>,
    /// Whether the configured admin is the delegated GuardDuty administrator here.
    pub admin_designated: bool,
    /// The delegated administrator GuardDuty lists here, if any (another account than the configured one is a
    /// conflict).
    pub delegated_admin: Option<String>,
    /// The admin's own detector: ENABLED, DISABLED or MISSING.
    pub admin_detector: DetectorState,
    /// `AutoEnableOrganizationMembers` (ALL, NEW, NONE), or POLICY where GuardDuty policies are in force (the
    /// auto-enable settings then no longer apply); null where it could not be read.
    pub auto_enable: Option<String>,
    /// ACTIVE accounts that should be protected here: `protected` + `unprotected`.
    pub expected: usize,
    /// Of those, the ones protected.
    pub protected: usize,
    /// Of those, the ones not protected.
    pub unprotected: usize,
    /// ACTIVE accounts excluded (by the configuration, or turned off by their GuardDuty policy).
    pub excluded: usize,
    /// ACTIVE accounts that have not enabled this opt-in region.
    pub not_enabled: usize,
    /// Accounts that are not ACTIVE in the organization.
    pub not_active: usize,
    /// The plans the region offers (DescribeOrganizationConfiguration), where it could be read.
    pub plans_offered: Vec<String>,
    /// The plans the configuration turns on here (GUARDDUTY_FEATURES, resolved against what the region offers).
    pub plans_configured: Vec<String>,
    /// Where the region's findings are exported, as GuardDuty describes it.
    pub export: Option<Export>,
    /// Every saved filter whose action is ARCHIVE: findings it matches are archived as they arrive.
    pub archive_filters: Vec<Filter>,
    /// The saved filters whose action is NOOP (they only save a view of the findings).
    pub other_filters: usize,
    /// Trusted IP lists (IPSets): no findings for those addresses.
    pub trusted_ip_sets: Vec<List>,
    /// Threat IP lists (ThreatIntelSets).
    pub threat_intel_sets: Vec<List>,
    /// Trusted entity lists: no findings for those entities.
    pub trusted_entity_sets: Vec<List>,
    /// Threat entity lists.
    pub threat_entity_sets: Vec<List>,
    /// The places above that could not be read (the admin's role may not read them): not shown, not "none".
    #[serde(default)]
    pub not_read: Vec<String>,
    /// What is worth knowing about the region.
    pub notes: Vec<String>,
}

/// A region's findings export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The bucket ARN, with its prefix.
    pub destination: String,
    /// The KMS key.
    pub kms_key: String,
    /// PENDING_VERIFICATION, PUBLISHING, UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY or STOPPED.
    pub status: crate::report::ExportStatus,
    /// Since when GuardDuty has failed to publish there (UTC, RFC 3339).
    pub failing_since: Option<String>,
}

/// A saved filter that archives findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Its name.
    pub name: String,
    /// Its finding criteria, as GuardDuty's API spells them.
    pub criteria: serde_json::Value,
    /// Its rank.
    pub rank: Option<i32>,
    /// Its description.
    pub description: Option<String>,
}

/// A trusted or threat list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    /// Its name.
    pub name: String,
    /// INACTIVE, ACTIVATING, ACTIVE, DEACTIVATING, ERROR, DELETE_PENDING or DELETED.
    pub status: String,
    /// The URI of its file.
    pub location: String,
    /// Its format.
    pub format: String,
    /// Its id.
    pub id: String,
}

/// A region not governed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The region.
    pub region: String,
    /// Why.
    pub reason: String,
}

/// A Security Hub control's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ControlResult {
    /// Every account it concerns passes.
    Passed,
    /// Some account fails.
    Failed,
    /// The region does not offer the plan.
    NotApplicable,
}

impl ControlResult {
    /// The document's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// One Security Hub control in one region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// `GuardDuty.1`, `GuardDuty.5` ... `GuardDuty.13`.
    pub id: String,
    /// The region.
    pub region: Arc<str>,
    /// Security Hub's title, verbatim.
    pub title: String,
    /// The result.
    pub result: ControlResult,
    /// The accounts that fail it, sorted.
    pub failing_accounts: Vec<AccountId>,
    /// Which failures the configuration accounts for ("excluded by configuration", "off by configuration").
    pub note: Option<String>,
    /// Whether every failure is one the configuration accounts for (such a failure does not make the exit code 2).
    pub explained_by_configuration: bool,
}

/// A framework requirement and what the document shows toward it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Framework {
    /// `PCI DSS 4.0.1`, `SOC 2 (2017 TSC)`, `CIS AWS Foundations Benchmark v7.0.0`.
    pub framework: String,
    /// `11.5.1`, `CC7.2`, ...
    pub requirement: String,
    /// What the requirement asks, in this tool's words (a paraphrase, not the standard's text).
    pub paraphrase: String,
    /// The controls and sections of this document that bear on it.
    pub evidence: Vec<String>,
    /// PASSED or FAILED where the mapped controls decide it; EVIDENCE where the document is evidence toward it and an
    /// assessor decides.
    pub result: String,
    /// What the document shows.
    pub shows: String,
    /// What it does not show.
    pub does_not_show: String,
}

/// The totals and the verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Account-regions that should be protected.
    pub expected: usize,
    /// Of those, protected.
    pub protected: usize,
    /// Controls FAILED (per region).
    pub controls_failed: usize,
    /// Of those, failures the configuration does not account for.
    pub controls_failed_unexplained: usize,
    /// Every expected account-region protected and every control the configuration asks for passed.
    pub clean: bool,
}
