//! The executor: reads each governed region, asks the planner what to do, applies it and checks the outcome, with
//! bounded concurrency across regions. One region's failure never stops the others; the report names it.
//!
//! Where things live: `context` reads the organization's shape and chooses the regions, `classes` groups the
//! accounts by the plans they want, `designation` checks the delegated admin before a deploy, `observe` is what
//! a run reads in a region, `apply` is how a step is applied, `members` converges and checks memberships,
//! `export` keeps the findings export, `region` puts them together for a reconcile or an onboarding, `onboard`
//! is how an onboarding starts on its regions, `policy` is the GuardDuty policy writer, `repair` answers tamper
//! calls, `fanout` runs the regions, `trusted` is the organization-wide trusted access, `memory` is what a
//! warm process remembers, `survey` is the read-only look at the organization the evidence report takes, and
//! `retire` and `usage` are the command line's own (retiring a policy, reading GuardDuty's cost estimate).

mod apply;
mod classes;
mod context;
mod designation;
mod export;
mod fanout;
mod members;
mod memory;
mod observe;
mod onboard;
mod policy;
mod region;
mod repair;
mod retire;
mod survey;
mod trusted;
mod usage;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{ready, BoxFuture, FutureExt, Shared};

use crate::backoff::Backoff;
use crate::config::{PlanSelection, Settings};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::ports::{Cloud, CreateAccountStatus, OrganizationApi, PolicyTypeStatus, Subtree};
use crate::regions::RegionChoice;
use crate::report::{
    AccountEntry, ActionStatus, Coverage, Header, OrgAction, Outcome, OwnedPolicy, PolicyReport, RegionLeftOut,
    RegionReport, Report, RunKind, NAMED_PER_REGION,
};
use crate::state::{OrgAccount, OrgConfig};
use crate::tree::OrgTree;

use classes::ou_classes;
pub(crate) use classes::AccountClasses;
pub use context::Entry;
use context::{Context, Warmth};
use fanout::{Ended, Staged};
use memory::Memory;
pub use onboard::Onboarding;
pub use repair::Repaired;
pub(crate) use survey::Survey;
pub use usage::{RegionUsage, Usage};

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
    /// What must let the run write: checked alongside the run's first reads; when it refuses, nothing is written
    /// and the run ends with [`Error::Held`].
    pub gate: Option<Gate>,
}

/// A check a run's first write waits for (the count of tamper repairs, [`crate::flaps`]): started when it is made,
/// awaited beside the run's first reads, so that it adds no round trip where it is quicker than they are. `Err`
/// holds the run back, with why.
#[derive(Clone)]
pub struct Gate(Shared<BoxFuture<'static, Result<(), String>>>);

impl Gate {
    /// A gate that answers what `check` answers.
    pub fn new(check: impl std::future::Future<Output = Result<(), String>> + Send + 'static) -> Self {
        Self(check.boxed().shared())
    }

    /// Its answer, once it has one (at once, after the first wait).
    pub async fn wait(&self) -> Result<(), String> {
        self.0.clone().await
    }

    /// Waits for `gate`, where there is one: [`Error::Held`] when it refuses.
    pub(crate) async fn pass(gate: Option<&Gate>) -> Result<(), Error> {
        match gate {
            Some(gate) => gate.wait().await.map_err(Error::Held),
            None => Ok(()),
        }
    }
}

impl RunOptions {
    /// Options that work to `budget`.
    pub fn within(budget: Option<crate::Budget>) -> Self {
        Self { deadline: budget.map(|b| b.soft), stop: budget.map(|b| b.hard), ..Self::default() }
    }
}

/// How long the executor itself waits for AWS to show what it just wrote: a member created a moment ago may not be
/// visible yet, and the GuardDuty policy type is enabled in the background. Polled with backoff from `first` to
/// `longest`, for at most `total` (a region's members) or `policy_type` (the policy type, before its policies are
/// attached).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patience {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub longest: Duration,
    /// The most time spent waiting for one region's members.
    pub total: Duration,
    /// The most time spent waiting for the GuardDuty policy type to show ENABLED after EnablePolicyType.
    pub policy_type: Duration,
}

impl Patience {
    /// The waits for a region's members to show what was written.
    pub(crate) fn members(&self) -> Backoff {
        Backoff { first: self.first, longest: self.longest, total: self.total }
    }

    /// The waits for the GuardDuty policy type to show ENABLED: from half a second at least, to 8 s.
    pub(crate) fn policy_type_enabled(&self) -> Backoff {
        Backoff {
            first: self.first.max(Duration::from_millis(500)),
            longest: Duration::from_secs(8),
            total: self.policy_type,
        }
    }
}

impl Default for Patience {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            longest: Duration::from_secs(5),
            total: Duration::from_secs(30),
            policy_type: Duration::from_secs(120),
        }
    }
}

/// The organization's accounts as a run needs them: those to enrol, and (for an account-by-region view) every
/// account with its standing.
#[derive(Default)]
pub(crate) struct Roster {
    pub(crate) members: Vec<MemberAccount>,
    pub(crate) entries: Vec<AccountEntry>,
}

/// The organization as a run's regions need it: the accounts to enrol, and, in policy mode, which effective
/// GuardDuty policy each account has.
#[derive(Default)]
pub(crate) struct Organization {
    pub(crate) roster: Roster,
    /// Which accounts want the same plans (their units' plan sets; in policy mode, their effective policies).
    pub(crate) classes: AccountClasses,
}

/// The organization, read once and shared by every region of a run.
pub(crate) type OrgView<'a> = Shared<BoxFuture<'a, Result<Arc<Organization>, Arc<Error>>>>;

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
    /// before anything is written); the accounts (and, in policy mode, their tree and effective GuardDuty policies)
    /// are read while the regions are observed. A run that owns a GuardDuty policy works in two passes around it.
    pub async fn reconcile_with(&self, options: &RunOptions) -> Result<Report, Error> {
        let started = Instant::now();
        self.check_partition()?;
        let admin = self.settings.admin_account;
        let ((ctx, choice), standing, ()) = tokio::try_join!(
            self.context(options, Warmth::Fresh),
            self.cloud.organization().account(&admin),
            Gate::pass(options.gate.as_ref())
        )?;
        if !standing.is_some_and(|a| a.is_active()) {
            return Err(Error::AdminNotInOrganization(admin));
        }
        let keep = options.keep_members;
        let (regions, organization, org, owned) = if ctx.mode.owns_policy() {
            self.reconcile_owning(&ctx, &choice, options).await?
        } else {
            let org: OrgView<'_> =
                self.organization(&ctx, keep).map(|r| r.map(Arc::new).map_err(Arc::new)).boxed().shared();
            let (regions, trusted) = tokio::join!(
                self.run_regions(&ctx, &choice.governed, options, |region| {
                    self.reconcile_region(&ctx, region, org.clone())
                }),
                self.trusted_access(&ctx),
            );
            (regions, trusted, org.await.map_err(unshare)?, Vec::new())
        };
        let policies = self.policy_report(&ctx, &org, owned, &organization);
        let kind = if options.only_regions.is_some() { RunKind::Region } else { RunKind::Reconcile };
        let expected = org.roster.members.len();
        let mut report = self.report(kind, &ctx, choice, regions, organization, started, expected)?;
        report.policies = policies;
        if keep {
            report.accounts = Some(org.roster.entries.clone());
        }
        Ok(report)
    }

    /// The reconcile of a run that owns a GuardDuty policy: every region's foundation and admin side first, then the
    /// policy (whose content needs what each region offers), then every region's members, checked against the
    /// effective policies as AWS computes them once the policy is written.
    async fn reconcile_owning(
        &self,
        ctx: &Context,
        choice: &RegionChoice,
        options: &RunOptions,
    ) -> Result<(Vec<Ended>, Vec<OrgAction>, Arc<Organization>, Vec<OwnedPolicy>), Error> {
        let tree = self.tree(ctx).map(|r| r.map_err(Arc::new)).boxed().shared();
        let (first, trusted) = tokio::join!(
            self.first_pass(ctx, &choice.governed, options, |region| self.prepare_region(ctx, region, None)),
            self.trusted_access(ctx),
        );
        let (mut regions, halfway) = split_stages(first);
        let offered: BTreeMap<String, OrgConfig> =
            halfway.iter().map(|h| (h.region().to_owned(), h.offered().clone())).collect();
        let tree = tree.await.map_err(unshare)?;
        let targets = self.policy_targets(ctx, Some(&tree)).unwrap_or_default();
        let (mut actions, owned, map) = self.own_policies(ctx, choice, &offered, targets).await;
        actions.extend(trusted);
        let facts = self.policy_facts(&tree, map).await?;
        let classes = AccountClasses::new(&ou_classes(&self.settings, &tree), Some(facts));
        let org = Arc::new(Organization { roster: self.roster_of(&tree, options.keep_members), classes });
        let view: OrgView<'_> = ready(Ok(org.clone())).boxed().shared();
        let seconds = halfway.into_iter().map(|h| (h.region(), h)).collect();
        let second = self
            .run_stages(ctx, seconds, options, |_, h| {
                self.finish_region(*h, view.clone()).map(Staged::<std::convert::Infallible>::done)
            })
            .await;
        regions.extend(second.into_iter().map(Staged::into_ended));
        Ok((regions, actions, org, owned))
    }

    /// The organization a reconcile's regions need, where it owns no policy: in api mode its accounts and the units
    /// of GUARDDUTY_FEATURES_BY_OU, read concurrently; where policies are in force, its tree and every account's
    /// effective GuardDuty policy.
    async fn organization(&self, ctx: &Context, keep: bool) -> Result<Organization, Error> {
        if !ctx.mode.reads_effective_policies() {
            let (roster, units) = tokio::try_join!(self.roster(keep), self.units())?;
            return Ok(Organization {
                roster,
                classes: AccountClasses::new(&ou_classes(&self.settings, &units), None),
            });
        }
        let tree = self.tree(ctx).await?;
        let facts = self.policy_facts(&tree, None).await?;
        let classes = AccountClasses::new(&ou_classes(&self.settings, &tree), Some(facts));
        Ok(Organization { roster: self.roster_of(&tree, keep), classes })
    }

    /// The organization's tree under its root.
    async fn tree(&self, ctx: &Context) -> Result<OrgTree, Error> {
        let subtree = self.cloud.organization().subtree(&ctx.root.id).await?;
        Ok(OrgTree::new(subtree))
    }

    /// The parts of the tree under the units of GUARDDUTY_FEATURES_BY_OU (nothing when it is unset).
    async fn units(&self) -> Result<OrgTree, Error> {
        let mut all = Subtree::default();
        let mut seen = BTreeSet::new();
        for listed in &self.settings.plans_by_ou {
            let part = self.cloud.organization().subtree(&listed.ou).await?;
            all.ous.extend(part.ous);
            // A listed unit nested in another is walked twice: its accounts are kept once.
            all.accounts.extend(part.accounts.into_iter().filter(|(a, _)| seen.insert(a.id)));
        }
        Ok(OrgTree::new(all))
    }

    /// The accounts to enrol, from the organization's tree: every ACTIVE account but the admin and the excluded ones
    /// (the excluded units' at any depth); and, when `entries`, every account with its standing.
    fn roster_of(&self, tree: &OrgTree, entries: bool) -> Roster {
        let mut excluded = self.settings.excluded_accounts.clone();
        for ou in &self.settings.excluded_ous {
            excluded.extend(tree.accounts_under(ou).map(|a| a.id));
        }
        roster(tree.accounts.iter().cloned(), &excluded, &self.settings.admin_account, entries)
    }

    /// What a policy-mode run says of GuardDuty policies: the type on the root, the policy it owns, the accounts whose
    /// effective policy is invalid, and the ACTIVE accounts no policy covers.
    fn policy_report(
        &self,
        ctx: &Context,
        org: &Organization,
        owned: Vec<OwnedPolicy>,
        actions: &[OrgAction],
    ) -> Option<PolicyReport> {
        let facts = &org.classes;
        if !facts.policies() {
            return None;
        }
        let enabled_now = actions
            .iter()
            .any(|a| a.action == crate::report::OrgActionKind::EnablePolicyType && a.status == ActionStatus::Done);
        let mut accounts: Vec<AccountId> = org.roster.members.iter().map(|m| m.id).collect();
        accounts.push(self.settings.admin_account);
        let uncovered = facts.uncovered(accounts.iter());
        let unread = facts.unread(accounts.iter());
        Some(PolicyReport {
            policy_type: Some(if enabled_now { PolicyTypeStatus::Enabled } else { ctx.root.guardduty_policies }),
            owned,
            invalid_accounts: facts.invalid.clone(),
            uncovered_accounts: uncovered.len(),
            uncovered: uncovered.into_iter().take(NAMED_PER_REGION).collect(),
            unread_accounts: unread.len(),
            unread: unread.into_iter().take(NAMED_PER_REGION).map(|(a, why)| format!("{a}: {why}")).collect(),
            invalid_unread: facts.invalid_unread.clone(),
        })
    }

    /// The accounts to enrol: every ACTIVE account of the organization but the admin and the excluded ones; and,
    /// when `entries`, every account with its standing.
    async fn roster(&self, entries: bool) -> Result<Roster, Error> {
        let (accounts, excluded) = tokio::try_join!(self.cloud.organization().accounts(), self.excluded_accounts())?;
        Ok(roster(accounts.into_iter(), &excluded, &self.settings.admin_account, entries))
    }

    /// Every account under the excluded organizational units, plus the excluded accounts.
    async fn excluded_accounts(&self) -> Result<BTreeSet<AccountId>, Error> {
        let mut excluded = self.settings.excluded_accounts.clone();
        for ou in &self.settings.excluded_ous {
            excluded.extend(self.cloud.organization().subtree(ou).await?.accounts.into_iter().map(|(a, _)| a.id));
        }
        Ok(excluded)
    }

    /// The run's report. A region where a service control policy turned out to deny the admin GuardDuty is left out
    /// (counted in RegionsDenied) where the run found it; where GUARDDUTY_REGIONS names it, it is a failed region,
    /// its `expected` accounts counted unprotected: the user asked for it, and nothing there can be checked. A run in
    /// which every region is denied is an error that names the policy.
    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        kind: RunKind,
        ctx: &Context,
        choice: RegionChoice,
        regions_ended: Vec<Ended>,
        organization: Vec<OrgAction>,
        started: Instant,
        expected: usize,
    ) -> Result<Report, Error> {
        let RegionChoice { mut left_out, ungoverned, .. } = choice;
        let (mut regions, mut denied) = (Vec::new(), Vec::new());
        for ended in regions_ended {
            match ended.denied {
                Some(why) => denied.push((ended.report, why)),
                None => regions.push(ended.report),
            }
        }
        if regions.is_empty() && !denied.is_empty() {
            let why: Vec<String> = denied.iter().map(|(r, why)| format!("{}: {why}", r.region)).collect();
            return Err(Error::NoRegions(format!("every governed region is denied: {}", why.join("; "))));
        }
        for (mut r, why) in denied {
            if self.settings.regions.as_ref().is_some_and(|listed| listed.contains(&r.region)) {
                r.outcome = Outcome::Failed;
                r.error = Some(format!("listed in GUARDDUTY_REGIONS, but {why}"));
                r.coverage = Coverage { expected, protected: 0 };
                r.measured = true;
                regions.push(r);
            } else {
                left_out.push(RegionLeftOut { scp_denied: true, ..RegionLeftOut::new(r.region, why) });
            }
        }
        left_out.sort_by(|a, b| a.region.cmp(&b.region));
        if self.settings.plans == PlanSelection::Offered {
            name_plans_offered_elsewhere(&mut regions);
        }
        let header = Header {
            kind,
            enablement: ctx.mode.as_str(),
            dry_run: ctx.dry_run,
            management: ctx.management.to_string(),
            admin: self.settings.admin_account.to_string(),
        };
        let millis = started.elapsed().as_millis() as u64;
        let reached: Vec<&str> =
            ungoverned.iter().filter(|u| regions.iter().any(|r| r.region == **u)).map(String::as_str).collect();
        let mut report = Report::new(header, regions, left_out, organization, millis);
        if !reached.is_empty() {
            report.notes.push(format!(
                "governed although the organization's AWS Control Tower landing zone does not govern them: {} (no \
                 service control policy denies GuardDuty there, and the GuardDuty User Guide recommends GuardDuty in \
                 every supported region, used or not, since findings in idle regions are the point)",
                reached.join(", ")
            ));
        }
        Ok(report)
    }
}

/// The roster of `accounts`: every ACTIVE one but the admin and the `excluded` ones to enrol; and, when `entries`,
/// every account with its standing.
fn roster(
    accounts: impl Iterator<Item = OrgAccount>,
    excluded: &BTreeSet<AccountId>,
    admin: &AccountId,
    entries: bool,
) -> Roster {
    let mut roster = Roster::default();
    for a in accounts {
        let excluded = excluded.contains(&a.id);
        if a.is_active() && a.id != *admin && !excluded {
            roster.members.push(MemberAccount { id: a.id, email: a.email.clone() });
        }
        if entries {
            roster.entries.push(AccountEntry { id: a.id, name: a.name, state: a.state, excluded });
        }
    }
    roster
}

/// The regions a first pass ended, and those it left halfway, ready for their members.
fn split_stages<P>(staged: Vec<Staged<P>>) -> (Vec<Ended>, Vec<P>) {
    let (mut ended, mut halfway) = (Vec::new(), Vec::new());
    for s in staged {
        match s {
            Staged::Done(report) => ended.push(*report),
            Staged::Halfway(h) => halfway.push(h),
        }
    }
    (ended, halfway)
}

/// The error a shared future failed with.
fn unshare(e: Arc<Error>) -> Error {
    Arc::try_unwrap(e).unwrap_or_else(Error::Shared)
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

#[cfg(test)]
mod tests {
    use crate::state::MemberStatus;
    use crate::testing::{admin, enabler, World};

    const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

    #[tokio::test]
    async fn a_reconcile_enrols_every_account_everywhere_and_the_next_one_writes_nothing() {
        // Given an organization of four members in two regions, GuardDuty nowhere.
        let enabler = enabler(World::organization(4, &REGIONS), |_| {});

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then every account but the admin is an Enabled member in each region, the report says so, and a second
        // reconcile finds nothing to write.
        assert!(report.is_success(), "{:?}", report.problems());
        {
            let world = enabler.cloud().world();
            for region in REGIONS {
                for n in [1, 3, 4, 5, 6] {
                    let member = world.member(admin(), region, World::account(n));
                    assert_eq!(member, Some(MemberStatus::Enabled), "account {n} in {region}");
                }
                assert_eq!(world.member(admin(), region, admin()), None);
            }
        }
        let written = enabler.cloud().world().writes.len();
        let again = enabler.reconcile().await.expect("the second reconcile");
        assert!(again.is_success(), "{:?}", again.problems());
        assert_eq!(enabler.cloud().world().writes[written..], []);
    }
}
