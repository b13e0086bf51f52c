//! A region's work, put together. A reconcile observes the region, lays its foundation, plans the admin's side
//! from what the region offers, converges every member and checks it. An onboarding, on the cheap path a new
//! account needs, creates the account's membership while it reads the organization configuration, checks the
//! membership, and re-asserts the configuration; a region without the admin's detector is reconciled instead.

use std::sync::Arc;

use futures_util::future::{ready, FutureExt};

use super::apply::RegionWork;
use super::context::Context;
use super::observe::{found, read_admin_side};
use super::{Accounts, Enabler, Roster};
use crate::error::Error;
use crate::plan::{classify, plan_admin_side, plan_foundation, plan_org_config, AdminPlan, Desired, MemberAccount};
use crate::ports::{Cloud, GuardDutyApi, Side};
use crate::report::{Coverage, Outcome, RegionReport};
use crate::state::{AdminSide, MemberStatus, Members, OrgConfig};

impl<C: Cloud> Enabler<C> {
    pub(crate) async fn reconcile_region(&self, ctx: &Context, region: &str, accounts: Accounts<'_>) -> RegionReport {
        let mut work = RegionWork::new(self, ctx, region);
        let result = self.reconcile_steps(&mut work, accounts).await;
        self.finish(work, result)
    }

    async fn reconcile_steps(&self, work: &mut RegionWork<'_, C>, accounts: Accounts<'_>) -> Result<(), Error> {
        let ctx = work.ctx;
        let state = self.observe(ctx, work.mgmt(), &work.admin).await?;
        work.report.found = found(&state);
        let foundation = plan_foundation(&Desired { settings: &self.settings, management: &ctx.management }, &state);
        if let Some(why) = foundation.conflict.or(foundation.blocked.clone()) {
            work.report.outcome = if foundation.blocked.is_some() { Outcome::Blocked } else { Outcome::Conflict };
            work.report.error = Some(why);
            return Ok(());
        }
        work.detector = state.admin_detector.as_ref().map(|d| d.id.clone());
        work.apply_all(&foundation.steps).await?;
        if let Some(id) = &work.detector {
            self.memory.remember_detector(work.name, id);
        }
        // The admin's side is read now where it could not be before (no designation or detector yet).
        let (admin_plan, side) = match (state.admin_detector, state.admin_side) {
            (Some(detector), Some(side)) => (plan_admin_side(&self.settings, &detector, &side.org_config), side),
            (known, _) if !ctx.dry_run => {
                let id = work.detector_id()?;
                let detector = async {
                    match known {
                        Some(d) => Ok(d),
                        None => work.admin.get_detector(&id).await,
                    }
                };
                let (detector, side) = tokio::try_join!(detector, read_admin_side(&work.admin, &id))?;
                (plan_admin_side(&self.settings, &detector, &side.org_config), side)
            }
            // A dry run before the first designation: what the region offers is read after it.
            _ => {
                let plans = self.settings.plans.resolve_unread().plans;
                let steps = plan_org_config(&self.settings, &OrgConfig::default(), &plans).into_iter().collect();
                (AdminPlan { steps, plans, not_offered: Vec::new() }, AdminSide::default())
            }
        };
        work.report.plans = admin_plan.plans.iter().map(|p| p.name.clone()).collect();
        work.report.plans_not_offered = admin_plan.not_offered;
        work.apply_all(&admin_plan.steps).await?;
        let roster = accounts.await.map_err(|e| Error::Unexpected(e.to_string()))?;
        let statuses = work.converge_members(&roster.members, side.members).await?;
        conclude(work, &roster.members, statuses);
        Ok(())
    }

    pub(crate) async fn onboard_region(&self, ctx: &Context, region: &str, members: &[MemberAccount]) -> RegionReport {
        let mut work = RegionWork::new(self, ctx, region);
        let result = self.onboard_steps(&mut work, members).await;
        match result {
            // A region without the admin's detector needs its foundation first: reconcile it, for this account.
            Ok(false) => {
                let roster = Roster { members: members.to_vec(), entries: Vec::new() };
                let accounts: Accounts<'_> = ready(Ok(Arc::new(roster))).boxed().shared();
                self.reconcile_region(ctx, region, accounts).await
            }
            other => self.finish(work, other.map(drop)),
        }
    }

    /// Onboards the account where the admin has a detector; `false` where it has none.
    async fn onboard_steps(&self, work: &mut RegionWork<'_, C>, members: &[MemberAccount]) -> Result<bool, Error> {
        let detector = match self.memory.detector(work.name) {
            Some(id) => Some(id),
            None => work.admin.detector_id().await?,
        };
        let Some(detector) = detector else { return Ok(false) };
        self.memory.remember_detector(work.name, &detector);
        work.detector = Some(detector.clone());
        work.report.found.admin_detector = "PRESENT".into();
        let reader = self.cloud.guardduty(Side::Admin, work.name);
        let (config, statuses) = if work.ctx.dry_run {
            let ids: Vec<_> = members.iter().map(|m| m.id).collect();
            let before = async {
                if ids.is_empty() {
                    Ok(Members::new())
                } else {
                    reader.get_members(&detector, &ids).await
                }
            };
            let (config, before) = tokio::try_join!(reader.org_config(&detector), before)?;
            (config, work.converge_members(members, before).await?)
        } else {
            // The account is created while the configuration is read; whether it is protected is read back.
            tokio::try_join!(reader.org_config(&detector), work.converge_members(members, Members::new()))?
        };
        work.report.found.auto_enable = config.auto_enable.clone();
        let plans = self.settings.plans.resolve(&config).plans;
        work.report.plans = plans.iter().map(|p| p.name.clone()).collect();
        if let Some(step) = plan_org_config(&self.settings, &config, &plans) {
            work.apply_all(&[step]).await?;
        }
        conclude(work, members, statuses);
        Ok(true)
    }

    fn finish(&self, mut work: RegionWork<'_, C>, result: Result<(), Error>) -> RegionReport {
        if let Err(e) = result {
            self.memory.forget_detector(work.name);
            work.report.outcome = Outcome::Failed;
            work.report.error = Some(e.to_string());
            tracing::warn!(region = work.name, error = %e, "region failed");
        }
        work.report
    }
}

/// Where the region ended: coverage, the accounts left out and those not protected, what was added, the outcome.
fn conclude<C: Cloud>(work: &mut RegionWork<'_, C>, members: &[MemberAccount], statuses: Members) {
    let classified = classify(members, &statuses, &work.refused, !work.ctx.dry_run);
    let report = &mut work.report;
    report.coverage = Coverage { expected: members.len() - classified.left.len(), protected: classified.protected };
    report.left = classified.left;
    report.unprotected = classified.unprotected;
    if work.ctx.dry_run {
        report.members_added = report.actions.iter().map(|a| a.step.member_count()).sum();
        report.outcome = if !report.actions.is_empty() {
            Outcome::Planned
        } else if !report.unprotected.is_empty() {
            Outcome::Partial
        } else {
            Outcome::InSync
        };
    } else {
        report.members_added =
            work.changed.iter().filter(|id| statuses.get(id) == Some(&MemberStatus::Enabled)).count();
        report.outcome = if !report.unprotected.is_empty() {
            Outcome::Partial
        } else if work.effective {
            Outcome::Changed
        } else {
            Outcome::InSync
        };
    }
    if work.ctx.keep_members {
        report.members = Some(statuses);
    }
}
