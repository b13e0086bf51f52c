//! The report a run returns: per region what was found, what was done (or, in a dry run, would be done), what
//! was left and why; and a summary. Serializable, so the functions return it as JSON.

use serde::Serialize;

use crate::plan::{Left, Step};

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
    /// Another delegated admin is designated; nothing was changed.
    Conflict,
    /// A call failed; `error` says which and why.
    Failed,
    /// Not started because the invocation was running out of time.
    Unfinished,
}

/// What was found in a region before any change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The management account's detector: ENABLED, DISABLED or MISSING.
    pub management_detector: String,
    /// The delegated admin designated in the region, if any.
    pub delegated_admin: Option<String>,
    /// The admin's detector: ENABLED, DISABLED or MISSING.
    pub admin_detector: String,
    /// AutoEnableOrganizationMembers, where it could be read.
    pub auto_enable: Option<String>,
    /// Members by relationship status, where they could be read.
    pub members_enabled: usize,
    /// Every member the admin has here, whatever its status.
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
    /// The writes, in order.
    pub actions: Vec<Action>,
    /// Accounts that are not members here, and why.
    pub left: Vec<Left>,
    /// The conflict or the failure, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Membership changes made here (or, in a dry run, that would be).
    pub members_added: usize,
    /// Milliseconds spent on the region.
    pub millis: u64,
}

impl RegionReport {
    /// A region with nothing found yet.
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            outcome: Outcome::InSync,
            found: Found::default(),
            actions: Vec::new(),
            left: Vec::new(),
            error: None,
            members_added: 0,
            millis: 0,
        }
    }

    /// The write calls made (done or failed; planned ones are not calls).
    pub fn writes(&self) -> usize {
        self.actions.iter().filter(|a| a.status != ActionStatus::Planned).count()
    }
}

/// What a run did, region by region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `reconcile` (every account) or `onboard` (one account).
    pub kind: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The organization's management account.
    pub management_account: String,
    /// The delegated admin.
    pub admin_account: String,
    /// The account onboarded, for `onboard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Per region.
    pub regions: Vec<RegionReport>,
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
    /// Regions with another delegated admin.
    pub conflicts: usize,
    /// Regions where a call failed.
    pub failed: usize,
    /// Regions not started for lack of time.
    pub unfinished: usize,
    /// Write calls made.
    pub writes: usize,
    /// Membership changes (account-regions made or restarted as members).
    pub members_added: usize,
    /// Account-regions left out, with their reasons in the regions.
    pub left: usize,
    /// Milliseconds for the whole run.
    pub millis: u64,
}

impl Report {
    /// Assembles a report and its summary.
    pub fn new(
        kind: &str,
        dry_run: bool,
        management: String,
        admin: String,
        mut regions: Vec<RegionReport>,
        millis: u64,
    ) -> Self {
        regions.sort_by(|a, b| a.region.cmp(&b.region));
        let count = |o: Outcome| regions.iter().filter(|r| r.outcome == o).count();
        let summary = Summary {
            regions: regions.len(),
            in_sync: count(Outcome::InSync),
            changed: count(Outcome::Changed) + count(Outcome::Planned),
            conflicts: count(Outcome::Conflict),
            failed: count(Outcome::Failed),
            unfinished: count(Outcome::Unfinished),
            writes: regions.iter().map(RegionReport::writes).sum(),
            members_added: regions.iter().map(|r| r.members_added).sum(),
            left: regions.iter().map(|r| r.left.len()).sum(),
            millis,
        };
        Self {
            kind: kind.to_owned(),
            dry_run,
            management_account: management,
            admin_account: admin,
            account: None,
            regions,
            summary,
        }
    }

    /// Whether every region reached (or, in a dry run, could be planned to) the desired state. Conflicts, failures
    /// and unfinished regions make a run unsuccessful: the caller should surface it as an error so that it is
    /// retried and alarmed on.
    pub fn is_success(&self) -> bool {
        self.summary.failed == 0 && self.summary.conflicts == 0 && self.summary.unfinished == 0
    }

    /// One line per region that did not succeed: region, outcome and cause.
    pub fn problems(&self) -> Vec<String> {
        self.regions
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Conflict | Outcome::Unfinished))
            .map(|r| format!("{}: {:?}: {}", r.region, r.outcome, r.error.as_deref().unwrap_or("")))
            .collect()
    }
}
