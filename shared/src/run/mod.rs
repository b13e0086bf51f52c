//! The executor: reads each governed region, asks the planner what to do, applies it and checks the outcome, with
//! bounded concurrency across regions. One region's failure never stops the others; the report names it.
//!
//! Where things live: [`context`] reads the organization's shape and chooses the regions, [`observe`] is what a
//! run reads in a region, [`apply`] is how a step is applied, [`members`] converges and checks memberships,
//! [`region`] puts them together for a reconcile or an onboarding, [`onboard`] is how an onboarding starts on its
//! regions, [`fanout`] runs the regions, [`trusted`] is the organization-wide trusted access, and [`memory`] is
//! what a warm process remembers.

mod apply;
mod context;
mod fanout;
mod members;
mod memory;
mod observe;
mod onboard;
mod region;
mod trusted;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::config::{PlanSelection, Settings};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::ports::{Cloud, CreateAccountStatus, OrganizationApi};
use crate::report::{AccountEntry, Header, OrgAction, Outcome, RegionLeftOut, RegionReport, Report};

use context::{Context, Warmth};
use memory::Memory;

/// Something that happened in a run, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressEvent<'a> {
    /// Work on a region began.
    Started {
        /// The region.
        region: &'a str,
    },
    /// A write was made (or failed).
    Wrote {
        /// The region.
        region: &'a str,
        /// The API operation.
        operation: &'static str,
        /// Whether it succeeded.
        ok: bool,
    },
    /// A region ended.
    Finished {
        /// The region.
        region: &'a str,
        /// How.
        outcome: Outcome,
    },
}

/// A receiver of progress events.
pub type Progress = Arc<dyn Fn(ProgressEvent<'_>) + Send + Sync>;

/// Limits and choices of one run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Only these regions (they must be governed); `None` means every governed region.
    pub only_regions: Option<Vec<String>>,
    /// No region is started after this instant; such regions are reported unfinished.
    pub deadline: Option<Instant>,
    /// Regions still running at this instant are cut short and reported unfinished.
    pub stop: Option<Instant>,
    /// Read and plan, write nothing (overrides GUARDDUTY_DRY_RUN when given).
    pub dry_run: Option<bool>,
    /// Keep every member's status in the region reports (for an account-by-region view).
    pub keep_members: bool,
    /// Told what happens, as it happens.
    pub progress: Option<Progress>,
}

impl RunOptions {
    /// Options that work to `budget`.
    pub fn within(budget: Option<crate::Budget>) -> Self {
        Self { deadline: budget.map(|b| b.soft), stop: budget.map(|b| b.hard), ..Self::default() }
    }
}

/// How long the executor itself waits for GuardDuty to show what it just wrote: a member created a moment ago may
/// not be visible yet. Polled with backoff from `first` to `longest`, for at most `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patience {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub longest: Duration,
    /// The most time spent waiting for one region's members.
    pub total: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Self { first: Duration::from_millis(250), longest: Duration::from_secs(5), total: Duration::from_secs(30) }
    }
}

/// The organization's accounts as a run needs them: those to enrol, and (for an account-by-region view) every
/// account with its standing.
#[derive(Default)]
pub(crate) struct Roster {
    pub(crate) members: Vec<MemberAccount>,
    pub(crate) entries: Vec<AccountEntry>,
}

/// The accounts a reconcile enrols, read once and shared by every region.
type Accounts<'a> = Shared<BoxFuture<'a, Result<Arc<Roster>, Arc<Error>>>>;

/// Brings GuardDuty to the declared state through a [`Cloud`].
pub struct Enabler<C> {
    cloud: C,
    settings: Settings,
    memory: Memory,
    patience: Patience,
}

impl<C: Cloud> Enabler<C> {
    /// An enabler for `settings` through `cloud`.
    pub fn new(cloud: C, settings: Settings) -> Self {
        Self { cloud, settings, memory: Memory::default(), patience: Patience::default() }
    }

    /// The same enabler with other waits.
    pub fn with_patience(mut self, patience: Patience) -> Self {
        self.patience = patience;
        self
    }

    /// The configuration.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ports this enabler works through.
    pub fn cloud(&self) -> &C {
        &self.cloud
    }

    /// What became of a CreateAccount request (Organizations' DescribeCreateAccountStatus).
    pub async fn create_account_status(&self, request_id: &str) -> Result<CreateAccountStatus, Error> {
        self.cloud.organization().create_account_status(request_id).await
    }

    /// Full reconcile of every governed region.
    pub async fn reconcile(&self) -> Result<Report, Error> {
        self.reconcile_with(&RunOptions::default()).await
    }

    /// Full reconcile within `options`. The organization's shape is read first (and the configured admin checked
    /// before anything is written); the account list is read while the regions are observed.
    pub async fn reconcile_with(&self, options: &RunOptions) -> Result<Report, Error> {
        let started = Instant::now();
        let admin = self.settings.admin_account;
        let ((ctx, choice), standing) =
            tokio::try_join!(self.context(options, Warmth::Fresh), self.cloud.organization().account(&admin))?;
        if !standing.is_some_and(|a| a.is_active()) {
            return Err(Error::AdminNotInOrganization(admin));
        }
        let accounts: Accounts<'_> = self.roster(options.keep_members).map(|r| r.map_err(Arc::new)).boxed().shared();
        let (regions, organization) = tokio::join!(
            self.run_regions(&ctx, &choice.governed, options, |region| {
                self.reconcile_region(&ctx, region, accounts.clone())
            }),
            self.trusted_access(&ctx),
        );
        let roster =
            accounts.await.map_err(|e| Arc::try_unwrap(e).unwrap_or_else(|e| Error::Unexpected(e.to_string())))?;
        let mut report = self.report("reconcile", &ctx, choice.left_out, regions, organization, started);
        if options.keep_members {
            report.accounts = Some(roster.entries.clone());
        }
        Ok(report)
    }

    /// The accounts to enrol: every ACTIVE account of the organization but the admin and the excluded ones; and,
    /// when `entries`, every account with its standing.
    async fn roster(&self, entries: bool) -> Result<Arc<Roster>, Error> {
        let (accounts, excluded) = tokio::try_join!(self.cloud.organization().accounts(), self.excluded_accounts())?;
        let admin = self.settings.admin_account;
        let mut roster = Roster::default();
        for a in accounts {
            let excluded = excluded.contains(&a.id);
            if a.is_active() && a.id != admin && !excluded {
                roster.members.push(MemberAccount { id: a.id, email: a.email.clone() });
            }
            if entries {
                roster.entries.push(AccountEntry { id: a.id, name: a.name, state: a.state, excluded });
            }
        }
        Ok(Arc::new(roster))
    }

    /// Every account under the excluded organizational units, plus the excluded accounts.
    async fn excluded_accounts(&self) -> Result<BTreeSet<AccountId>, Error> {
        let mut excluded = self.settings.excluded_accounts.clone();
        for ou in &self.settings.excluded_ous {
            excluded.extend(self.cloud.organization().accounts_under(ou).await?);
        }
        Ok(excluded)
    }

    fn report(
        &self,
        kind: &'static str,
        ctx: &Context,
        left_out: Vec<RegionLeftOut>,
        mut regions: Vec<RegionReport>,
        organization: Vec<OrgAction>,
        started: Instant,
    ) -> Report {
        if self.settings.plans == PlanSelection::Offered {
            name_plans_offered_elsewhere(&mut regions);
        }
        let header = Header {
            kind,
            dry_run: ctx.dry_run,
            management: ctx.management.to_string(),
            admin: self.settings.admin_account.to_string(),
        };
        let millis = started.elapsed().as_millis() as u64;
        Report::new(header, regions, left_out, organization, millis)
    }
}

/// With the default plans (what each region offers), a plan one governed region offers and another does not is
/// named in the latter: the report says which plan was not offered where.
fn name_plans_offered_elsewhere(regions: &mut [RegionReport]) {
    let read: Vec<bool> = regions.iter().map(|r| !r.plans.is_empty()).collect();
    let everywhere: BTreeSet<String> = regions.iter().flat_map(|r| r.plans.iter().cloned()).collect();
    for (region, read) in regions.iter_mut().zip(read) {
        if read {
            // The older Runtime Monitoring is not missing where the current one is in force.
            let superseded =
                |p: &str| p == "EKS_RUNTIME_MONITORING" && region.plans.iter().any(|q| q == "RUNTIME_MONITORING");
            let missing = everywhere
                .iter()
                .filter(|p| !region.plans.contains(p) && !region.plans_not_offered.contains(p) && !superseded(p));
            region.plans_not_offered.extend(missing.cloned().collect::<Vec<_>>());
        }
    }
}
