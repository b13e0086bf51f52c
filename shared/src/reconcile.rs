//! The executor: observes each governed region, asks the planner what to do, and applies it, with bounded
//! concurrency across regions. One region's failure never stops the others; the report names it.

use std::collections::BTreeSet;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use tokio::sync::Mutex;

use crate::config::Settings;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::{plan_admin_side, plan_region, Desired, Left, MemberAccount, RegionPlan, Step};
use crate::ports::{Cloud, CreateAccountStatus, GuardDutyApi, OrganizationApi, Side};
use crate::report::{Action, ActionStatus, Found, Outcome, RegionReport, Report};
use crate::state::{enabled_count, AdminSide, Detector, RegionState};

/// Limits on one run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only these regions (they must be governed); `None` means every governed region.
    pub only_regions: Option<Vec<String>>,
    /// No region is started after this instant; such regions are reported unfinished.
    pub deadline: Option<Instant>,
    /// Regions still running at this instant are cut short and reported unfinished.
    pub stop: Option<Instant>,
}

impl RunOptions {
    /// Options that work to `budget`.
    pub fn within(budget: Option<crate::Budget>) -> Self {
        Self { only_regions: None, deadline: budget.map(|b| b.soft), stop: budget.map(|b| b.hard) }
    }
}

/// Brings GuardDuty to the declared state through a [`Cloud`].
pub struct Enabler<C> {
    cloud: C,
    settings: Settings,
    cache: std::sync::Mutex<Cache>,
}

/// What a warm process remembers between invocations, so that an onboarding needs only the calls that matter:
/// the management account (it never changes), the governed regions (refreshed by every full reconcile, and when
/// older than [`REGIONS_TTL`]) and the admin's detector id per region (forgotten when a region fails).
#[derive(Default)]
struct Cache {
    management: Option<AccountId>,
    regions: Option<(Instant, Vec<String>)>,
    detectors: std::collections::HashMap<String, String>,
}

/// How long an onboarding trusts the remembered list of governed regions.
pub const REGIONS_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// What every region's work shares: the organization's shape and the accounts to enrol.
struct Context {
    management: AccountId,
    /// Whether the admin is the management account itself (allowed only by GUARDDUTY_ALLOW_MANAGEMENT_ADMIN).
    admin_is_management: bool,
    regions: Vec<String>,
    /// Serialises the first EnableOrganizationAdminAccount of a run: designating in many regions at once races
    /// inside GuardDuty, designating one first and then the rest in parallel does not.
    first_designation: Mutex<bool>,
}

impl<C: Cloud> Enabler<C> {
    /// An enabler for `settings` through `cloud`.
    pub fn new(cloud: C, settings: Settings) -> Self {
        Self { cloud, settings, cache: std::sync::Mutex::new(Cache::default()) }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Full reconcile within `options`.
    pub async fn reconcile_with(&self, options: &RunOptions) -> Result<Report, Error> {
        let started = Instant::now();
        let (ctx, accounts) = tokio::try_join!(self.context(options, false), self.cloud.organization().accounts())?;
        let admin = &self.settings.admin_account;
        if !accounts.iter().any(|a| &a.id == admin && a.is_active()) {
            return Err(Error::AdminNotInOrganization(admin.clone()));
        }
        let excluded = self.excluded_accounts().await?;
        let members: Vec<MemberAccount> = accounts
            .into_iter()
            .filter(|a| a.is_active() && &a.id != admin && !excluded.contains(&a.id))
            .map(|a| MemberAccount { id: a.id, email: a.email })
            .collect();
        let regions = self.run_regions(&ctx, options, |region| self.reconcile_region(&ctx, region, &members)).await;
        Ok(self.report("reconcile", &ctx, regions, started))
    }

    /// Makes one account a member in every governed region (or those of `options`) and re-asserts the
    /// organization configuration. Refused, with nothing written, for an account that is not ACTIVE in the
    /// organization or is excluded.
    pub async fn onboard(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        let started = Instant::now();
        let org = self.cloud.organization();
        // The account's standing and the organization's shape are independent reads: one round trip for both.
        let (found, ctx) = tokio::try_join!(org.account(account), self.context(options, true))?;
        let found = found.ok_or_else(|| Error::NotInOrganization(account.clone()))?;
        if !found.is_active() {
            return Err(Error::NotActive { account: account.clone(), status: found.status });
        }
        if self.excluded_accounts().await?.contains(account) {
            return Err(Error::Excluded(account.clone()));
        }
        let members = if account == &self.settings.admin_account {
            Vec::new()
        } else {
            vec![MemberAccount { id: found.id, email: found.email }]
        };
        let regions = self.run_regions(&ctx, options, |region| self.onboard_region(&ctx, region, &members)).await;
        let mut report = self.report("onboard", &ctx, regions, started);
        report.account = Some(account.to_string());
        Ok(report)
    }

    fn report(&self, kind: &str, ctx: &Context, regions: Vec<RegionReport>, started: Instant) -> Report {
        Report::new(
            kind,
            self.settings.dry_run,
            ctx.management.to_string(),
            self.settings.admin_account.to_string(),
            regions,
            started.elapsed().as_millis() as u64,
        )
    }

    /// The organization's management account (refusing it as admin unless allowed) and the governed regions,
    /// read concurrently; `remembered` lets a warm process reuse what it read before.
    async fn context(&self, options: &RunOptions, remembered: bool) -> Result<Context, Error> {
        let (known_management, known_regions) = {
            let cache = self.cache();
            let fresh = |at: &Instant| remembered && at.elapsed() < REGIONS_TTL;
            (cache.management.clone(), cache.regions.as_ref().filter(|(at, _)| fresh(at)).map(|(_, r)| r.clone()))
        };
        let management = async {
            match known_management {
                Some(m) => Ok(m),
                None => self.cloud.organization().management_account().await,
            }
        };
        let discovered = async {
            match (&self.settings.regions, known_regions) {
                (Some(r), _) => Ok(r.clone()),
                (None, Some(r)) => Ok(r),
                (None, None) => self.cloud.enabled_regions().await,
            }
        };
        let (management, mut regions) = tokio::try_join!(management, discovered)?;
        {
            let mut cache = self.cache();
            cache.management = Some(management.clone());
            if self.settings.regions.is_none() {
                cache.regions = Some((Instant::now(), regions.clone()));
            }
        }
        let admin = &self.settings.admin_account;
        if admin == &management && !self.settings.allow_management_admin {
            return Err(Error::AdminIsManagement(admin.clone()));
        }
        regions.retain(|r| !self.settings.excluded_regions.contains(r));
        if let Some(only) = &options.only_regions {
            regions.retain(|r| only.contains(r));
        }
        if regions.is_empty() {
            return Err(Error::NoRegions(match &options.only_regions {
                Some(only) => format!("{} is not among the governed regions", only.join(", ")),
                None => "every region is excluded".into(),
            }));
        }
        let admin_is_management = admin == &management;
        Ok(Context { management, admin_is_management, regions, first_designation: Mutex::new(false) })
    }

    /// Every account under the excluded organizational units, plus the excluded accounts.
    async fn excluded_accounts(&self) -> Result<BTreeSet<AccountId>, Error> {
        let mut excluded = self.settings.excluded_accounts.clone();
        for ou in &self.settings.excluded_ous {
            excluded.extend(self.cloud.organization().accounts_under(ou).await?);
        }
        Ok(excluded)
    }

    /// Runs `work` for every region of the context, at most `region_concurrency` at once, and reports regions not
    /// started before the deadline as unfinished.
    async fn run_regions<'a, F, Fut>(&'a self, ctx: &'a Context, options: &RunOptions, work: F) -> Vec<RegionReport>
    where
        F: Fn(&'a str) -> Fut,
        Fut: std::future::Future<Output = RegionReport>,
    {
        let (deadline, stop) = (options.deadline, options.stop);
        let work = &work;
        stream::iter(ctx.regions.iter())
            .map(|region| async move {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let mut report = RegionReport::new(region);
                    report.outcome = Outcome::Unfinished;
                    report.error = Some("not started: the invocation was running out of time".into());
                    return report;
                }
                let started = Instant::now();
                let finished = match stop {
                    Some(stop) => tokio::time::timeout_at(stop.into(), work(region)).await.ok(),
                    None => Some(work(region).await),
                };
                let mut report = finished.unwrap_or_else(|| {
                    let mut report = RegionReport::new(region);
                    report.outcome = Outcome::Unfinished;
                    report.error = Some("cut short: the invocation was running out of time".into());
                    report
                });
                report.millis = started.elapsed().as_millis() as u64;
                report
            })
            .buffer_unordered(self.settings.region_concurrency.max(1))
            .collect()
            .await
    }

    async fn reconcile_region(&self, ctx: &Context, region: &str, members: &[MemberAccount]) -> RegionReport {
        let mut report = RegionReport::new(region);
        if let Err(e) = self.reconcile_region_steps(ctx, region, members, &mut report).await {
            self.cache().detectors.remove(region);
            report.outcome = Outcome::Failed;
            report.error = Some(e.to_string());
            tracing::warn!(region, error = %e, "region failed");
        }
        report
    }

    async fn reconcile_region_steps(
        &self,
        ctx: &Context,
        region: &str,
        members: &[MemberAccount],
        report: &mut RegionReport,
    ) -> Result<(), Error> {
        let mgmt = self.cloud.guardduty(Side::Management, region);
        let admin = self.cloud.guardduty(Side::Admin, region);
        let state = self.observe(ctx, &mgmt, &admin).await?;
        report.found = found(&state);
        let desired = Desired { settings: &self.settings, management: &ctx.management, members };
        let plan = plan_region(&desired, &state);
        if let Some(conflict) = plan.conflict {
            report.outcome = Outcome::Conflict;
            report.error = Some(conflict);
            return Ok(());
        }
        if self.settings.dry_run {
            record_dry_run(report, plan);
            return Ok(());
        }
        let RegionPlan { steps, left, .. } = plan;
        let mut detector = state.admin_detector.as_ref().map(|d| d.id.clone());
        let (foundation, admin_steps): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(Step::is_foundation);
        for step in foundation {
            self.apply(ctx, &mgmt, &admin, &step, &mut detector, report).await?;
        }
        if let Some(id) = &detector {
            self.cache().detectors.insert(region.to_owned(), id.clone());
        }
        let (admin_steps, left) = match (&state.admin_side, &detector) {
            (Some(_), _) => (admin_steps, left),
            (None, Some(id)) => {
                // The admin's side could not be read before the designation or detector existed: read it now.
                let side = read_admin_side(&admin, id).await?;
                plan_admin_side(&desired, &side)
            }
            (None, None) => (admin_steps, left),
        };
        report.left = left;
        for step in admin_steps {
            self.apply(ctx, &mgmt, &admin, &step, &mut detector, report).await?;
        }
        report.outcome = if report.actions.is_empty() { Outcome::InSync } else { Outcome::Changed };
        Ok(())
    }

    async fn onboard_region(&self, ctx: &Context, region: &str, members: &[MemberAccount]) -> RegionReport {
        let mut report = RegionReport::new(region);
        let admin = self.cloud.guardduty(Side::Admin, region);
        let result = async {
            let remembered = self.cache().detectors.get(region).cloned();
            let detector = match remembered {
                Some(id) => Some(id),
                None => admin.detector_id().await?,
            };
            let Some(detector) = detector else {
                // A region without the admin's detector needs its foundation first: reconcile it, for this account.
                report = self.reconcile_region(ctx, region, members).await;
                return Ok(());
            };
            self.cache().detectors.insert(region.to_owned(), detector.clone());
            let ids: Vec<AccountId> = members.iter().map(|m| m.id.clone()).collect();
            let (org_config, current) = if ids.is_empty() {
                (admin.org_config(&detector).await?, Default::default())
            } else {
                tokio::try_join!(admin.org_config(&detector), admin.get_members(&detector, &ids))?
            };
            report.found.admin_detector = "ENABLED".into();
            report.found.auto_enable = org_config.auto_enable.clone();
            report.found.members_enabled = enabled_count(&current);
            report.found.members_total = current.len();
            let side = AdminSide { org_config, members: current };
            let desired = Desired { settings: &self.settings, management: &ctx.management, members };
            let (steps, left) = plan_admin_side(&desired, &side);
            if self.settings.dry_run {
                record_dry_run(&mut report, RegionPlan { steps, left, conflict: None });
                return Ok(());
            }
            report.left = left;
            let mgmt = self.cloud.guardduty(Side::Management, region);
            let mut detector = Some(detector);
            for step in steps {
                self.apply(ctx, &mgmt, &admin, &step, &mut detector, &mut report).await?;
            }
            report.outcome = if report.actions.is_empty() { Outcome::InSync } else { Outcome::Changed };
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = result {
            self.cache().detectors.remove(region);
            report.outcome = Outcome::Failed;
            report.error = Some(e.to_string());
            tracing::warn!(region, error = %e, "region failed");
        }
        report
    }

    /// Reads a region: both detectors and the designation at once, then the admin's side where it is readable.
    async fn observe(&self, ctx: &Context, mgmt: &C::GuardDuty, admin: &C::GuardDuty) -> Result<RegionState, Error> {
        let separate_management = !ctx.admin_is_management;
        let (management_detector, delegated_admins, admin_detector) = tokio::try_join!(
            async {
                if separate_management {
                    read_detector(mgmt).await
                } else {
                    Ok(None)
                }
            },
            mgmt.delegated_admins(),
            read_detector(admin),
        )?;
        let designated = delegated_admins.iter().any(|a| a == self.settings.admin_account.as_str());
        let admin_side = match (&admin_detector, designated) {
            (Some(d), true) => Some(read_admin_side(admin, &d.id).await?),
            _ => None,
        };
        let management_detector = if separate_management { management_detector } else { admin_detector.clone() };
        Ok(RegionState { management_detector, delegated_admins, admin_detector, admin_side })
    }

    /// Applies one step, recording it (done or failed) in the report.
    async fn apply(
        &self,
        ctx: &Context,
        mgmt: &C::GuardDuty,
        admin: &C::GuardDuty,
        step: &Step,
        detector: &mut Option<String>,
        report: &mut RegionReport,
    ) -> Result<(), Error> {
        let result = self.call(ctx, mgmt, admin, step, detector, report).await;
        let status = if result.is_ok() { ActionStatus::Done } else { ActionStatus::Failed };
        report.actions.push(Action { step: step.clone(), status });
        result
    }

    async fn call(
        &self,
        ctx: &Context,
        mgmt: &C::GuardDuty,
        admin: &C::GuardDuty,
        step: &Step,
        detector: &mut Option<String>,
        report: &mut RegionReport,
    ) -> Result<(), Error> {
        let admin_detector = |d: &Option<String>| d.clone().unwrap_or_default();
        match step {
            Step::CreateManagementDetector => match mgmt.create_detector(&[], None).await {
                Err(e) if is_detector_exists(&e) => Ok(()),
                other => other.map(drop),
            },
            Step::EnableManagementDetector { detector_id } => mgmt.update_detector(detector_id, &[], None).await,
            Step::DesignateAdmin { admin: id } => {
                let mut first = ctx.first_designation.lock().await;
                if *first {
                    drop(first);
                    mgmt.designate_admin(id).await
                } else {
                    mgmt.designate_admin(id).await?;
                    *first = true;
                    Ok(())
                }
            }
            Step::CreateAdminDetector { plans, frequency } => match admin.create_detector(plans, *frequency).await {
                Ok(id) => {
                    *detector = Some(id);
                    Ok(())
                }
                Err(e) if is_detector_exists(&e) => {
                    // GuardDuty made one meanwhile (a designation can): adopt it and bring its plans up.
                    let id = admin.detector_id().await?.ok_or(e)?;
                    admin.update_detector(&id, plans, *frequency).await?;
                    *detector = Some(id);
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Step::UpdateAdminDetector { detector_id, plans, frequency } => {
                admin.update_detector(detector_id, plans, *frequency).await
            }
            Step::UpdateOrganizationConfiguration { auto_enable, plans } => {
                admin.update_org_config(&admin_detector(detector), *auto_enable, plans).await
            }
            Step::CreateMembers { accounts } => {
                let unprocessed = admin.create_members(&admin_detector(detector), accounts).await?;
                record_membership(report, step, unprocessed);
                Ok(())
            }
            Step::StartMonitoringMembers { accounts } => {
                let unprocessed = admin.start_monitoring(&admin_detector(detector), accounts).await?;
                record_membership(report, step, unprocessed);
                Ok(())
            }
        }
    }
}

async fn read_detector<G: GuardDutyApi>(gd: &G) -> Result<Option<Detector>, Error> {
    match gd.detector_id().await? {
        Some(id) => Ok(Some(gd.get_detector(&id).await?)),
        None => Ok(None),
    }
}

async fn read_admin_side<G: GuardDutyApi>(admin: &G, detector: &str) -> Result<AdminSide, Error> {
    let (org_config, members) = tokio::try_join!(admin.org_config(detector), admin.list_members(detector))?;
    Ok(AdminSide { org_config, members })
}

fn is_detector_exists(e: &Error) -> bool {
    e.aws_message().is_some_and(|m| m.contains("detector already exists"))
}

/// Counts a membership step's accounts as added, except those GuardDuty did not process, which are recorded as
/// left; accounts that are members already (a duplicate event, or another run in between) count as added.
fn record_membership(report: &mut RegionReport, step: &Step, unprocessed: Vec<(String, String)>) {
    let mut refused = 0;
    for (account, reason) in unprocessed {
        if reason.contains("already a member") || reason.contains("already associated") {
            continue;
        }
        refused += 1;
        report.left.push(Left { account, reason: format!("{}: {reason}", step.operation()) });
    }
    report.members_added += step.member_count() - refused;
}

fn record_dry_run(report: &mut RegionReport, plan: RegionPlan) {
    report.members_added = plan.steps.iter().map(Step::member_count).sum();
    report.outcome = if plan.steps.is_empty() { Outcome::InSync } else { Outcome::Planned };
    report.actions = plan.steps.into_iter().map(|step| Action { step, status: ActionStatus::Planned }).collect();
    report.left = plan.left;
}

fn found(state: &RegionState) -> Found {
    let detector = |d: &Option<Detector>| match d {
        None => "MISSING".to_owned(),
        Some(d) if d.enabled => "ENABLED".to_owned(),
        Some(_) => "DISABLED".to_owned(),
    };
    let side = state.admin_side.as_ref();
    Found {
        management_detector: detector(&state.management_detector),
        delegated_admin: state.delegated_admins.first().cloned(),
        admin_detector: detector(&state.admin_detector),
        auto_enable: side.and_then(|s| s.org_config.auto_enable.clone()),
        members_enabled: side.map_or(0, |s| enabled_count(&s.members)),
        members_total: side.map_or(0, |s| s.members.len()),
    }
}
