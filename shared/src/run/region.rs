//! A region's work, put together, in two parts. The first observes the region, lays its foundation and plans the
//! admin's side from what the region offers; the second converges every member and its plans, and checks them. A
//! reconcile runs both in one go, except in a run that owns a GuardDuty policy, which writes its policy between the
//! two (the policy's content needs every region's plans, and the members' check the policy in force). An onboarding,
//! on the cheap path a new account needs, creates the account's membership while it reads the organization
//! configuration, checks the membership and the plans, and (api mode) re-asserts the configuration; a region without
//! the admin's detector is reconciled instead.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::future::{ready, FutureExt};
use futures_util::stream::{self, StreamExt};

use super::apply::RegionWork;
use super::classes::AccountClasses;
use super::context::{Context, Entry};
use super::fanout::{Ended, Staged};
use super::members::touched;
use super::observe::{found, read_admin_side};
use super::{Enabler, OrgView, Organization, Roster};
use crate::config::guess_offered;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::protection::{PlanCheck, Wants};
use crate::plan::{
    classify, designation, org_plans, plan_admin_side, plan_foundation, plan_members, plan_org_config, Designation,
    Desired, Left, MemberAccount, Round, Step, MEMBER_BATCH,
};
use crate::ports::{Cloud, GuardDutyApi, Side};
use crate::report::{Coverage, Outcome};
use crate::state::{AdminSide, Detector, DetectorState, MemberStatus, Members, OrgConfig};

/// A region after its first part: the work so far, and the admin's side as read (what the region offers, for the
/// policies a run owns, and its members).
pub(crate) struct Halfway<'a, C: Cloud> {
    work: RegionWork<'a, C>,
    side: AdminSide,
}

impl<'a, C: Cloud> Halfway<'a, C> {
    /// What the region offers (its organization configuration).
    pub(crate) fn offered(&self) -> &OrgConfig {
        &self.side.org_config
    }

    /// The region.
    pub(crate) fn region(&self) -> &'a str {
        self.work.name
    }
}

/// Where a region's first part left it: ended (a conflict, a block, a failure), or halfway, ready for its members.
pub(crate) type Prepared<'a, C> = Staged<Box<Halfway<'a, C>>>;

impl<C: Cloud> Enabler<C> {
    /// Both parts of a region's reconcile.
    pub(crate) async fn reconcile_region<'a>(&'a self, ctx: &'a Context, region: &'a str, org: OrgView<'_>) -> Ended {
        match self.prepare_region(ctx, region, Some(org.clone())).await {
            Staged::Done(ended) => *ended,
            Staged::Halfway(halfway) => self.finish_region(*halfway, org).await,
        }
    }

    /// The first part: observe, lay the foundation, plan and apply the admin's side. In policy mode the admin's own
    /// effective policy (from `org`, when given) says which of its plans are not this tool's to write.
    pub(crate) async fn prepare_region<'a>(
        &'a self,
        ctx: &'a Context,
        region: &'a str,
        org: Option<OrgView<'_>>,
    ) -> Prepared<'a, C> {
        let mut work = RegionWork::new(self, ctx, region);
        match self.prepare_steps(&mut work, org).await {
            Ok(Some(side)) => Staged::Halfway(Box::new(Halfway { work, side })),
            Ok(None) => Staged::done(self.finish(work, Ok(()))),
            Err(e) => Staged::done(self.finish(work, Err(e))),
        }
    }

    /// A region whose first part is all that is asked (a repair of its foundation): its report, members untouched.
    pub(crate) fn foundation_only(&self, halfway: Halfway<'_, C>) -> Ended {
        self.finish(halfway.work, Ok(()))
    }

    /// The second part: every member and its plans, converged and checked.
    pub(crate) async fn finish_region(&self, halfway: Halfway<'_, C>, org: OrgView<'_>) -> Ended {
        let Halfway { mut work, side } = halfway;
        let result = self.member_steps(&mut work, side, org).await;
        self.finish(work, result)
    }

    async fn prepare_steps(
        &self,
        work: &mut RegionWork<'_, C>,
        org: Option<OrgView<'_>>,
    ) -> Result<Option<AdminSide>, Error> {
        let ctx = work.ctx;
        let state = self.observe(ctx, work.mgmt(), &work.admin).await?;
        work.report.found = found(&state);
        let foundation = plan_foundation(&Desired { settings: &self.settings, management: &ctx.management }, &state);
        if let Some((outcome, why)) = refusal(&foundation.designation, &self.settings.admin_account) {
            work.report.outcome = outcome;
            work.report.error = Some(why);
            return Ok(None);
        }
        work.detector = state.admin_detector.as_ref().map(|d| d.id.clone());
        work.apply_all(foundation.steps).await?;
        if let Some(id) = &work.detector {
            self.memory.remember_detector(work.name, id);
        }
        let owned = match org.filter(|_| ctx.mode.reads_effective_policies()) {
            Some(org) => {
                let org = org.await.map_err(Error::Shared)?;
                org.classes.owned(&self.settings.admin_account, work.name)
            }
            None => BTreeSet::new(),
        };
        // The admin's side is read now where it could not be before (no designation or detector yet).
        let (admin_plan, side) = match (state.admin_detector, state.admin_side) {
            (Some(detector), Some(side)) => {
                work.offered = Some(side.org_config.clone());
                (plan_admin_side(&self.settings, &detector, &side.org_config, &owned), side)
            }
            // A detector this run created gets every plan written (whatever GuardDuty turned on by itself), so that the
            // plan of a dry run, which cannot read it, names the same write.
            (known, _) if !ctx.dry_run => {
                let id = work.detector_id()?;
                let detector = known.unwrap_or_else(|| self.new_detector(&id));
                let side = read_admin_side(&work.admin, &id).await?;
                work.offered = Some(side.org_config.clone());
                (plan_admin_side(&self.settings, &detector, &side.org_config, &owned), side)
            }
            // A dry run before the first designation: what the region offers is read after it, so it is guessed, and
            // the report says from what.
            (known, _) => {
                let (guessed, from) = guess_offered(state.management_detector.as_ref());
                work.report.notes.push(format!(
                    "the admin's organization configuration cannot be read before the admin is designated here: the \
                     plans are guessed from {from}"
                ));
                let detector = known.unwrap_or_else(|| self.new_detector(""));
                if self.settings.findings.is_some() && work.detector.is_none() {
                    work.plan_new_export();
                }
                (plan_admin_side(&self.settings, &detector, &guessed, &owned), AdminSide::default())
            }
        };
        work.report.plans = admin_plan.plans.iter().map(|p| p.name.clone()).collect();
        work.report.plans_not_offered = admin_plan.not_offered;
        // The admin's own plans and the organization configuration do not decide whether the members can be
        // enrolled: a failed write here is kept, the members are still converged and measured, and the region fails
        // with it in the end.
        if let Err(e) = work.apply_all(admin_plan.detector.into_iter().collect()).await {
            work.deferred.get_or_insert(e);
        }
        // The organization configuration is api mode's: in policy mode its settings no longer apply.
        if ctx.mode.writes_org_config() && work.deferred.is_none() {
            if let Err(e) = work.apply_all(admin_plan.org_config.into_iter().collect()).await {
                work.deferred.get_or_insert(e);
            }
        }
        // Findings export, in either mode (a GuardDuty policy does not manage export), where the detector is known.
        if let (Some(wanted), true) = (&self.settings.findings, work.detector.is_some()) {
            work.export(wanted).await;
        }
        Ok(Some(side))
    }

    /// The admin's detector as CreateDetector left it, as far as this tool relies on: enabled, with the configured
    /// finding frequency, and no plan it counts on.
    fn new_detector(&self, id: &str) -> Detector {
        let frequency = self.settings.finding_frequency.map(|f| f.as_str().to_owned());
        Detector { id: id.to_owned(), enabled: true, frequency, ..Detector::default() }
    }

    async fn member_steps(&self, work: &mut RegionWork<'_, C>, side: AdminSide, org: OrgView<'_>) -> Result<(), Error> {
        let org = org.await.map_err(Error::Shared)?;
        let (wants, held) = org.classes.wants(&self.settings, work.name, &side.org_config);
        // The roster itself where no account is held back: a copy per region would be the run's largest allocation.
        let members: Cow<'_, [MemberAccount]> = if held.is_empty() {
            Cow::Borrowed(&org.roster.members)
        } else {
            Cow::Owned(org.roster.members.iter().filter(|m| !held.contains(&m.id)).cloned().collect())
        };
        let (governed, notes) = by_policy(&wants);
        work.report.plans_by_policy = governed;
        work.report.notes.extend(notes);
        let mut check = PlanCheck::new(wants);
        let mut statuses = side.members;
        self.replace_stale_records(work, &members, &mut statuses).await?;
        if let Err(e) = work.converge_members(&members, &mut statuses, Some(&mut check)).await {
            return Err(measured_anyway(work, &members, statuses, &mut check, e));
        }
        if let Err(e) = work.converge_plans(&members, &statuses, &mut check).await {
            return Err(measured_anyway(work, &members, statuses, &mut check, e));
        }
        conclude(work, &members, statuses, &check);
        work.report.left.extend(held.into_iter().map(|account| Left {
            account,
            reason: "its GuardDuty policy turns GuardDuty off here (foundational disabled)".into(),
        }));
        Ok(())
    }

    /// Member records GuardDuty keeps from a time the account could not be a member, re-checked: AccountSuspended
    /// for an account the organization shows ACTIVE (every account a run enrols is), and RegionDisabled for an account
    /// that has since enabled the region (account:GetRegionOptStatus with its AccountId). CreateMembers does not
    /// replace such a record, so it is deleted (or, in a dry run, planned to be), and the membership is created
    /// again by the member rounds. A region the account still has disabled stays left out; where the opt-in status
    /// cannot be read (trusted access for account.amazonaws.com not enabled, say), a note says so and the records
    /// are left as they are.
    async fn replace_stale_records(
        &self,
        work: &mut RegionWork<'_, C>,
        members: &[MemberAccount],
        statuses: &mut Members,
    ) -> Result<(), Error> {
        let suspended: Vec<AccountId> = members
            .iter()
            .filter(|m| statuses.get(&m.id) == Some(&MemberStatus::AccountSuspended))
            .map(|m| m.id)
            .collect();
        let disabled: Vec<AccountId> = members
            .iter()
            .filter(|m| statuses.get(&m.id) == Some(&MemberStatus::RegionDisabled))
            .map(|m| m.id)
            .collect();
        let region = work.name;
        let reads = work.ctx.member_reads.clone();
        let answers: Vec<(AccountId, Result<bool, Error>)> = stream::iter(disabled)
            .map(|id| {
                let reads = reads.clone();
                async move {
                    let _permit = reads.acquire_owned().await;
                    (id, self.cloud.region_enabled_for(&id, region).await)
                }
            })
            .buffer_unordered(work.ctx.member_reads_per_region)
            .collect()
            .await;
        let mut stale = suspended;
        let mut unreadable = None;
        for (id, answer) in answers {
            match answer {
                Ok(true) => stale.push(id),
                Ok(false) => {}
                Err(e) => {
                    unreadable.get_or_insert(e);
                }
            }
        }
        if let Some(e) = unreadable {
            work.report.notes.push(format!(
                "members recorded RegionDisabled could not be re-checked (their region opt-in status, \
                 account:GetRegionOptStatus, needs trusted access for account.amazonaws.com in Organizations): {e}"
            ));
        }
        if stale.is_empty() {
            return Ok(());
        }
        stale.sort();
        let steps: Vec<Step> =
            stale.chunks(MEMBER_BATCH).map(|c| Step::DeleteMembers { accounts: c.to_vec() }).collect();
        work.apply_all(steps).await?;
        for id in &stale {
            statuses.remove(id);
        }
        Ok(())
    }

    pub(crate) async fn onboard_region(
        &self,
        ctx: &Context,
        region: &str,
        members: &[MemberAccount],
        classes: &AccountClasses,
    ) -> Ended {
        let mut work = RegionWork::new(self, ctx, region);
        let result = self.onboard_steps(&mut work, members, classes).await;
        match result {
            // A region without the admin's detector needs its foundation first: reconcile it, for this account.
            Ok(false) => {
                let roster = Roster { members: members.to_vec(), entries: Vec::new() };
                let organization = Organization { roster, classes: classes.clone() };
                let org: OrgView<'_> = ready(Ok(Arc::new(organization))).boxed().shared();
                self.reconcile_region(ctx, region, org).await
            }
            other => self.finish(work, other.map(drop)),
        }
    }

    /// Onboards the account where the admin has a detector; `false` where it has none.
    async fn onboard_steps(
        &self,
        work: &mut RegionWork<'_, C>,
        members: &[MemberAccount],
        classes: &AccountClasses,
    ) -> Result<bool, Error> {
        let detector = match self.onboarding_detector(work).await? {
            AdminDetector::Found(id) => id,
            AdminDetector::OtherAdmin => return Ok(true),
            AdminDetector::Missing => return Ok(false),
        };
        self.memory.remember_detector(work.name, &detector);
        work.detector = Some(detector.clone());
        work.report.found.admin_detector = DetectorState::Present;
        let (_, held) = classes.wants(&self.settings, work.name, &OrgConfig::default());
        let members: Vec<MemberAccount> = members.iter().filter(|m| !held.contains(&m.id)).cloned().collect();
        let members = &members[..];
        let (config, statuses, mut check) = self.onboarding_membership(work, members, classes, &detector).await?;
        work.converge_plans(members, &statuses, &mut check).await?;
        work.report.found.auto_enable = config.auto_enable.clone();
        let plans = self.settings.plans.resolve(&config).plans;
        work.report.plans = plans.iter().map(|p| p.name.clone()).collect();
        if work.ctx.mode.writes_org_config() {
            let (org_plans, new_only) = org_plans(&self.settings, &config, &plans);
            if let Some(step) = plan_org_config(&self.settings, &config, &org_plans, &new_only) {
                work.apply_all(vec![step]).await?;
            }
        }
        work.offered = Some(config);
        conclude(work, members, statuses, &check);
        Ok(true)
    }

    /// The admin's detector for an onboarding: one this process remembers was found where the admin is designated;
    /// otherwise the designation is read with the detector, and a region where another account is the delegated
    /// admin is not written to (the report says so).
    async fn onboarding_detector(&self, work: &mut RegionWork<'_, C>) -> Result<AdminDetector, Error> {
        if let Some(id) = self.memory.detector(work.name) {
            return Ok(AdminDetector::Found(id));
        }
        let (detector, admins) = tokio::try_join!(work.admin.detector_id(), work.mgmt().delegated_admins())?;
        let ours = self.settings.admin_account;
        let rule = designation(&ours, &admins);
        if let Some((outcome, why)) = refusal(&rule, &ours) {
            work.report.outcome = outcome;
            work.report.found.delegated_admin = rule.account().filter(|a| *a != ours.as_str()).map(str::to_owned);
            work.report.error = Some(why);
            return Ok(AdminDetector::OtherAdmin);
        }
        Ok(match detector {
            Some(id) if !admins.is_empty() => AdminDetector::Found(id),
            _ => AdminDetector::Missing,
        })
    }

    /// An onboarding's membership, with the organization configuration read meanwhile and the plans each account
    /// should have. A dry run, and an account that moved (already a member: CreateMembers would apply the
    /// organization's auto-enable settings to its plans, "irrespective of the accounts being new or existing
    /// members"), read the membership first; a new account is created while the configuration is read, and a member
    /// whose monitoring was stopped restarted, and whether it is protected (Enabled, and with its plans) is read back,
    /// both at once.
    async fn onboarding_membership(
        &self,
        work: &mut RegionWork<'_, C>,
        members: &[MemberAccount],
        classes: &AccountClasses,
        detector: &str,
    ) -> Result<(OrgConfig, Members, PlanCheck), Error> {
        let reader = self.cloud.guardduty(Side::Admin, work.name);
        let region = work.name;
        let check_for = |work: &mut RegionWork<'_, C>, config: &OrgConfig| {
            let wants = classes.wants(&self.settings, region, config).0;
            (work.report.plans_by_policy, work.report.notes) = by_policy(&wants);
            PlanCheck::new(wants)
        };
        if work.ctx.dry_run || work.ctx.entry == Entry::Moved {
            let ids: Vec<_> = members.iter().map(|m| m.id).collect();
            let before = async {
                if ids.is_empty() {
                    Ok(Members::new())
                } else {
                    reader.get_members(detector, &ids).await
                }
            };
            let (config, mut statuses) = tokio::try_join!(reader.org_config(detector), before)?;
            let mut check = check_for(work, &config);
            let plans = (!work.ctx.dry_run).then_some(&mut check);
            work.converge_members(members, &mut statuses, plans).await?;
            return Ok((config, statuses, check));
        }
        // The first write is planned from what the event says of the accounts: not members yet, or members whose
        // monitoring was stopped; the rest is planned from what GuardDuty shows after it.
        let (assumed, then) = match work.ctx.entry {
            Entry::Stopped => (members.iter().map(|m| (m.id, MemberStatus::Disabled)).collect(), Round::First),
            Entry::New | Entry::Moved => (Members::new(), Round::Second),
        };
        let first = plan_members(members, &assumed, Round::First);
        let applied = touched(&first);
        let (config, ()) = tokio::try_join!(reader.org_config(detector), work.apply_all(first))?;
        let mut check = check_for(work, &config);
        let mut statuses = Members::new();
        work.member_rounds(members, &mut statuses, Some((applied, then)), Some(&mut check)).await?;
        Ok((config, statuses, check))
    }

    fn finish(&self, mut work: RegionWork<'_, C>, result: Result<(), Error>) -> Ended {
        // A write of the admin's side that failed earlier is the region's failure, its members measured since.
        let result = match work.deferred.take() {
            Some(e) => Err(e),
            None => result,
        };
        // A service control policy that denies the admin GuardDuty here (AWS Control Tower's Region deny control, or
        // one like it) leaves the region out: its first call as the admin is a read, made before anything is
        // written here, since SCPs never apply to the management account ("SCPs don't affect users or roles in the
        // management account", Organizations User Guide, "Service control policies (SCPs)").
        if let Some(e) = result.as_ref().err().filter(|e| e.is_scp_denial() && work.report.writes() == 0) {
            self.memory.forget_detector(work.name);
            let why = format!(
                "a service control policy denies the delegated admin {} GuardDuty here (an explicit deny, as AWS \
                 Control Tower's Region deny control sets for regions it does not govern); nothing was written: {e}",
                self.settings.admin_account
            );
            tracing::info!(region = work.name, reason = %why, "region left out");
            return Ended { report: work.report, offered: None, denied: Some(why) };
        }
        if let Err(e) = result {
            self.memory.forget_detector(work.name);
            work.report.outcome = Outcome::Failed;
            work.report.error = Some(e.to_string());
            tracing::warn!(region = work.name, error = %e, "region failed");
        }
        Ended { report: work.report, offered: work.offered, denied: None }
    }
}

/// What an onboarding found of the admin's detector in a region.
enum AdminDetector {
    /// Its id.
    Found(String),
    /// Another account is the delegated admin: nothing is written.
    OtherAdmin,
    /// None yet (or no designation): the region needs its foundation first.
    Missing,
}

/// What the region's report says of GuardDuty policies: the plans some account's policy decides, by name, and notes
/// on what a policy decides as it is (plans it turns off; agents of a plan it enables that it leaves to the API).
fn by_policy(wants: &Wants) -> (Vec<String>, Vec<String>) {
    let names: BTreeSet<&String> = wants.sets.iter().flat_map(|s| s.by_policy.iter()).collect();
    let off: BTreeSet<&String> = wants.sets.iter().flat_map(|s| s.off_by_policy.iter()).collect();
    let mut notes = Vec::new();
    if !off.is_empty() {
        let off: Vec<&str> = off.into_iter().map(String::as_str).collect();
        notes.push(format!(
            "a GuardDuty policy turns {} off here for some accounts: not expected of them",
            off.join(", ")
        ));
    }
    let mut kept: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for set in &wants.sets {
        for plan in set.on.iter().filter(|p| set.by_policy.contains(&p.name)) {
            let decided = set.agents_by_policy.get(&plan.name);
            for agent in plan.agents.iter().filter(|a| !decided.is_some_and(|d| d.contains(*a))) {
                kept.entry(&plan.name).or_default().insert(agent);
            }
        }
    }
    for (plan, agents) in kept {
        let agents: Vec<&str> = agents.into_iter().collect();
        notes.push(format!(
            "a GuardDuty policy enables {plan} here without deciding {}: this tool keeps them through the API",
            agents.join(", ")
        ));
    }
    (names.into_iter().cloned().collect(), notes)
}

/// The coverage of a region whose member steps failed: every account as GuardDuty last showed it, an Enabled one
/// whose plans were not read counted as not protected. Gives the error back.
fn measured_anyway<C: Cloud>(
    work: &mut RegionWork<'_, C>,
    members: &[MemberAccount],
    statuses: Members,
    check: &mut PlanCheck,
    e: Error,
) -> Error {
    if check.wants.any() {
        for m in members.iter().filter(|m| statuses.get(&m.id) == Some(&MemberStatus::Enabled)) {
            if !check.read.contains(&m.id) {
                check.missed(m.id, format!("the region failed before they were read: {e}"));
            }
        }
    }
    conclude(work, members, statuses, check);
    e
}

/// Where the region ended: coverage, the accounts left out and those not protected, what was added, the outcome.
fn conclude<C: Cloud>(work: &mut RegionWork<'_, C>, members: &[MemberAccount], statuses: Members, plans: &PlanCheck) {
    let classified = classify(members, &statuses, plans, &work.refused, !work.ctx.dry_run);
    let report = &mut work.report;
    if !plans.both_runtimes.is_empty() {
        report.notes.push(format!(
            "{} members show both RUNTIME_MONITORING and EKS_RUNTIME_MONITORING enabled, and EKS Runtime Monitoring \
             is billed twice; to turn the older one off, see the GuardDuty User Guide, \"Migrating from EKS Runtime \
             Monitoring to Runtime Monitoring\" (this tool leaves it as it is)",
            plans.both_runtimes.len()
        ));
    }
    report.coverage = Coverage { expected: members.len() - classified.left.len(), protected: classified.protected };
    report.measured = true;
    report.left = classified.left;
    report.unprotected = classified.unprotected;
    let export_broken = report.export.as_ref().is_some_and(|e| !e.is_healthy());
    if work.ctx.dry_run {
        report.members_added = report
            .actions
            .iter()
            .filter(|a| !matches!(a.step, Step::UpdateMemberDetectors { .. }))
            .map(|a| a.step.member_count())
            .sum();
        report.outcome = if !report.actions.is_empty() {
            Outcome::Planned
        } else if !report.unprotected.is_empty() || export_broken {
            Outcome::Partial
        } else {
            Outcome::InSync
        };
    } else {
        report.members_added =
            work.changed.iter().filter(|id| statuses.get(id) == Some(&MemberStatus::Enabled)).count();
        report.outcome = if !report.unprotected.is_empty() || export_broken {
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

/// How a region ends where the designation rule refuses it (a reconcile's and an onboarding's alike), and why;
/// `None` where it is clear.
fn refusal(rule: &Designation, admin: &AccountId) -> Option<(Outcome, String)> {
    let outcome = match rule {
        Designation::Clear => return None,
        Designation::Blocked { .. } => Outcome::Blocked,
        Designation::Conflict { .. } => Outcome::Conflict,
    };
    Some((outcome, rule.why(admin)?))
}

#[cfg(test)]
mod tests {
    use crate::report::Outcome;
    use crate::state::MemberStatus;
    use crate::testing::{admin, enabler, World};

    const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-south-1"];

    #[tokio::test]
    async fn a_region_a_service_control_policy_denies_is_left_out_with_why_and_the_others_converge() {
        // Given three regions, one of which a service control policy denies GuardDuty to the admin.
        let mut world = World::organization(2, &REGIONS);
        world.denied.insert("ap-south-1".into());
        let enabler = enabler(world, |_| {});

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the denied region is left out, saying so, and the other two are protected.
        let left: Vec<_> = report.regions_left_out.iter().filter(|l| l.scp_denied).collect();
        assert_eq!(left.len(), 1, "{:?}", report.regions_left_out);
        assert_eq!(left[0].region, "ap-south-1");
        assert!(left[0].reason.contains("service control policy"), "{}", left[0].reason);
        assert!(report.is_success(), "{:?}", report.problems());
        assert_eq!(report.regions.len(), 2);
        let world = enabler.cloud().world();
        assert_eq!(world.member(admin(), "eu-west-1", World::account(3)), Some(MemberStatus::Enabled));
    }

    #[tokio::test]
    async fn a_region_listed_by_the_user_and_denied_fails_with_its_accounts_unprotected() {
        // Given a region the configuration names, which a service control policy denies.
        let mut world = World::organization(2, &REGIONS);
        world.denied.insert("ap-south-1".into());
        let listed = REGIONS.iter().map(|r| (*r).to_owned()).collect();
        let enabler = enabler(world, |s| s.regions = Some(listed));

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the run does not say it is in sync: the region failed, none of its accounts counted protected.
        assert!(!report.is_success());
        let denied = report.regions.iter().find(|r| r.region == "ap-south-1").expect("the denied region reported");
        assert_eq!(denied.outcome, Outcome::Failed);
        assert_eq!(denied.coverage.protected, 0);
        assert_eq!(denied.coverage.expected, 3, "the management account and the two members");
    }

    #[tokio::test]
    async fn a_failure_in_one_region_fails_that_region_only() {
        // Given CreateMembers failing in one region.
        let mut world = World::organization(2, &REGIONS);
        world.fail("CreateMembers", Some("eu-west-1"), "InternalServerErrorException", "try again");
        let enabler = enabler(world, |_| {});

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then that region failed with its accounts named unprotected, and the others are protected.
        assert!(!report.is_success());
        for r in &report.regions {
            if r.region == "eu-west-1" {
                assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
                assert_eq!(r.coverage.protected, 0);
                assert!(r.unprotected.iter().any(|u| u.reason.contains("try again")), "{:?}", r.unprotected);
            } else {
                assert!(matches!(r.outcome, Outcome::Changed | Outcome::InSync), "{}: {:?}", r.region, r.outcome);
                assert_eq!(r.coverage.protected, r.coverage.expected);
            }
        }
    }
}
