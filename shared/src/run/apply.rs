//! How a step is applied: one value per region holds what every step needs (the two GuardDuty ports, the admin's
//! detector, the report being written, and what GuardDuty answered about each account), and applies or records
//! the steps in order.

use std::collections::{BTreeMap, BTreeSet};

use super::context::Context;
use super::{Enabler, ProgressEvent};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::Step;
use crate::ports::{Cloud, GuardDutyApi, Side, Unprocessed};
use crate::report::{Action, ActionStatus, RegionReport};

/// The work on one region.
pub(crate) struct RegionWork<'a, C: Cloud> {
    pub(crate) enabler: &'a Enabler<C>,
    pub(crate) ctx: &'a Context,
    pub(crate) name: &'a str,
    /// The management account's GuardDuty here, made when first needed (an onboarding never needs it).
    mgmt: std::sync::OnceLock<C::GuardDuty>,
    pub(crate) admin: C::GuardDuty,
    /// The admin's detector here, once known.
    pub(crate) detector: Option<String>,
    pub(crate) report: RegionReport,
    /// What the region offers (its organization configuration), once read.
    pub(crate) offered: Option<crate::state::OrgConfig>,
    /// Why GuardDuty did not process an account, by account (the latest answer).
    pub(crate) refused: BTreeMap<AccountId, String>,
    /// Accounts a CreateMembers or StartMonitoringMembers processed.
    pub(crate) changed: BTreeSet<AccountId>,
    /// Whether a write changed anything (a member write that GuardDuty refused for every account did not).
    pub(crate) effective: bool,
    /// Why GuardDuty did not process an account of an UpdateMemberDetectors, by account.
    pub(crate) plans_refused: BTreeMap<AccountId, String>,
    /// The publishing destination a write created or updated here.
    pub(crate) export_id: Option<String>,
    /// A write of the admin's side that failed while the region went on to its members (so that their coverage is
    /// still measured); the region fails with it in the end.
    pub(crate) deferred: Option<Error>,
}

impl<'a, C: Cloud> RegionWork<'a, C> {
    pub(crate) fn new(enabler: &'a Enabler<C>, ctx: &'a Context, name: &'a str) -> Self {
        Self {
            enabler,
            ctx,
            name,
            mgmt: std::sync::OnceLock::new(),
            admin: enabler.cloud.guardduty(Side::Admin, name),
            detector: None,
            report: RegionReport::new(name),
            offered: None,
            refused: BTreeMap::new(),
            changed: BTreeSet::new(),
            effective: false,
            plans_refused: BTreeMap::new(),
            export_id: None,
            deferred: None,
        }
    }

    /// The management account's GuardDuty in this region.
    pub(crate) fn mgmt(&self) -> &C::GuardDuty {
        self.mgmt.get_or_init(|| self.enabler.cloud.guardduty(Side::Management, self.name))
    }

    /// Applies `steps` in order, or, in a dry run, records them as planned. Each step moves into the report as it is
    /// recorded (a bootstrap's membership steps name every account of the organization in every region: a copy of
    /// them would double the largest thing a run holds).
    pub(crate) async fn apply_all(&mut self, steps: Vec<Step>) -> Result<(), Error> {
        for step in steps {
            if self.ctx.dry_run {
                self.report.actions.push(Action { step, status: ActionStatus::Planned });
            } else {
                self.apply(step).await?;
            }
        }
        Ok(())
    }

    /// Applies one step, recording it (done or failed) in the report.
    async fn apply(&mut self, step: Step) -> Result<(), Error> {
        let result = self.call(&step).await;
        self.effective |= step.member_count() == 0 && result.is_ok();
        let status = if result.is_ok() { ActionStatus::Done } else { ActionStatus::Failed };
        let operation = step.operation();
        if let Some(progress) = &self.ctx.progress {
            progress(ProgressEvent::Wrote { region: self.name, operation, ok: result.is_ok() });
        }
        let result = match (result, &step) {
            // Where GuardDuty organization policies are in force, nothing documents that a policy forbids
            // CreateMembers (GuardDuty User Guide, GuardDuty organization policies); if GuardDuty refuses it anyway,
            // the accounts are left to the policy that covers them and the region goes on: each is reported
            // unprotected with GuardDuty's answer, and no run fails for it.
            (Err(e), Step::CreateMembers { accounts })
                if self.ctx.mode.reads_effective_policies() && e.is_refusal() =>
            {
                let reason = format!("CreateMembers was refused, so it is left to its GuardDuty policy: {e}");
                let refused = accounts.iter().map(|a| (a.id, reason.clone())).collect();
                self.record(accounts.iter().map(|a| a.id), refused, true);
                Ok(())
            }
            // A membership write that failed costs only the accounts it was for: each is reported unprotected with the
            // error, the other members are still converged and their plans read, and the region fails with it in
            // the end.
            (Err(e), step) if step.member_count() > 0 => {
                let reason = format!("{} failed: {e}", step.operation());
                let ids = member_ids(step);
                if matches!(step, Step::UpdateMemberDetectors { .. }) {
                    self.plans_refused.extend(ids.into_iter().map(|a| (a, reason.clone())));
                } else {
                    let refused = ids.iter().map(|a| (*a, reason.clone())).collect();
                    self.record(ids.into_iter(), refused, false);
                }
                self.deferred.get_or_insert(e);
                Ok(())
            }
            (result, _) => result,
        };
        self.report.actions.push(Action { step, status });
        result
    }

    /// The admin's detector id; never empty, so that no call goes out with an empty one.
    pub(crate) fn detector_id(&self) -> Result<String, Error> {
        match &self.detector {
            Some(id) if !id.is_empty() => Ok(id.clone()),
            _ => Err(Error::Unexpected(format!("the admin has no detector in {} yet; nothing was sent", self.name))),
        }
    }

    async fn call(&mut self, step: &Step) -> Result<(), Error> {
        match step {
            Step::CreateManagementDetector => match self.mgmt().create_detector(&[], None).await {
                Err(e) if is_detector_exists(&e) => Ok(()),
                other => other.map(drop),
            },
            Step::EnableManagementDetector { detector_id } => self.mgmt().update_detector(detector_id, &[], None).await,
            Step::DesignateAdmin { admin } => {
                let mut first = self.ctx.first_designation.lock().await;
                if *first {
                    drop(first);
                    self.mgmt().designate_admin(admin).await
                } else {
                    self.mgmt().designate_admin(admin).await?;
                    *first = true;
                    Ok(())
                }
            }
            Step::CreateAdminDetector { frequency } => {
                let id = match self.admin.create_detector(&[], *frequency).await {
                    Ok(id) => id,
                    // GuardDuty made one meanwhile (a designation can): adopt it.
                    Err(e) if is_detector_exists(&e) => self.admin.detector_id().await?.ok_or(e)?,
                    Err(e) => return Err(e),
                };
                self.detector = Some(id);
                Ok(())
            }
            Step::UpdateAdminDetector { detector_id, plans, frequency } => {
                self.admin.update_detector(detector_id, plans, *frequency).await
            }
            Step::UpdateOrganizationConfiguration { auto_enable, plans, new_only } => {
                self.admin.update_org_config(&self.detector_id()?, *auto_enable, plans, new_only).await
            }
            Step::DeleteMembers { accounts } => {
                let unprocessed = self.admin.delete_members(&self.detector_id()?, accounts).await?;
                self.record(accounts.iter().copied(), unprocessed, false);
                Ok(())
            }
            Step::CreateMembers { accounts } => {
                let unprocessed = self.admin.create_members(&self.detector_id()?, accounts).await?;
                self.record(accounts.iter().map(|a| a.id), unprocessed, true);
                Ok(())
            }
            Step::StartMonitoringMembers { accounts } => {
                let unprocessed = self.admin.start_monitoring(&self.detector_id()?, accounts).await?;
                self.record(accounts.iter().copied(), unprocessed, true);
                Ok(())
            }
            Step::CreatePublishingDestination { destination } => {
                let key = self.kms_key()?;
                let detector = self.detector_id()?;
                let token = crate::plan::export::client_token(&detector);
                let id = self.admin.create_publishing_destination(&detector, destination, &key, &token).await?;
                self.export_id = Some(id);
                Ok(())
            }
            Step::UpdatePublishingDestination { destination_id, destination } => {
                let key = self.kms_key()?;
                self.admin
                    .update_publishing_destination(&self.detector_id()?, destination_id, destination, &key)
                    .await?;
                self.export_id = Some(destination_id.clone());
                Ok(())
            }
            Step::UpdateMemberDetectors { accounts, on, off } => {
                let unprocessed = self.admin.update_member_features(&self.detector_id()?, accounts, on, off).await?;
                let refused: BTreeMap<AccountId, String> = unprocessed.into_iter().collect();
                self.effective |= accounts.iter().any(|a| !refused.contains_key(a));
                self.plans_refused.extend(refused);
                Ok(())
            }
        }
    }

    /// The KMS key findings are exported with (GUARDDUTY_FINDINGS_KMS_KEY).
    fn kms_key(&self) -> Result<String, Error> {
        let findings = self.enabler.settings.findings.as_ref();
        findings.map(|f| f.kms_key.clone()).ok_or_else(|| Error::Unexpected("no GUARDDUTY_FINDINGS_KMS_KEY".into()))
    }

    /// Notes what GuardDuty answered about each account of a member write. What it did not process is not
    /// counted as done: whether the account is protected is read back afterwards.
    fn record(&mut self, accounts: impl Iterator<Item = AccountId>, unprocessed: Unprocessed, enables: bool) {
        let refused: BTreeMap<AccountId, String> = unprocessed.into_iter().collect();
        for account in accounts {
            match refused.get(&account) {
                Some(reason) => {
                    self.refused.insert(account, reason.clone());
                }
                None => {
                    self.effective = true;
                    if enables {
                        self.changed.insert(account);
                    }
                }
            }
        }
    }
}

/// The accounts a membership step is for.
fn member_ids(step: &Step) -> Vec<AccountId> {
    match step {
        Step::CreateMembers { accounts } => accounts.iter().map(|a| a.id).collect(),
        Step::StartMonitoringMembers { accounts }
        | Step::DeleteMembers { accounts }
        | Step::UpdateMemberDetectors { accounts, .. } => accounts.clone(),
        _ => Vec::new(),
    }
}

fn is_detector_exists(e: &Error) -> bool {
    e.aws_message().is_some_and(|m| m.contains("detector already exists"))
}

#[cfg(test)]
mod tests {
    use crate::config::Enablement;
    use crate::ports::PolicyTypeStatus;
    use crate::report::Outcome;
    use crate::testing::{enabler, World};
    use crate::RunOptions;

    #[tokio::test]
    async fn a_dry_run_plans_every_write_and_makes_none() {
        // Given an organization without GuardDuty.
        let enabler = enabler(World::organization(2, &["us-east-1"]), |_| {});

        // When it is reconciled as a dry run.
        let options = RunOptions { dry_run: Some(true), ..RunOptions::default() };
        let report = enabler.reconcile_with(&options).await.expect("the dry run");

        // Then the region is planned, naming the designation, the detectors and the members, and nothing was written.
        let region = &report.regions[0];
        assert_eq!(region.outcome, Outcome::Planned);
        let planned: Vec<&str> = region.actions.iter().map(|a| a.step.operation()).collect();
        for op in ["EnableOrganizationAdminAccount", "CreateDetector", "CreateMembers"] {
            assert!(planned.contains(&op), "{op} in {planned:?}");
        }
        assert_eq!(enabler.cloud().world().writes, []);
    }

    #[tokio::test]
    async fn where_policies_are_in_force_a_refused_create_members_is_left_to_the_policy() {
        // Given GuardDuty policies in force (not this tool's), and GuardDuty refusing CreateMembers.
        let mut world = World::organization(2, &["us-east-1"]);
        world.root.as_mut().expect("a root").guardduty_policies = PolicyTypeStatus::Enabled;
        world.fail("CreateMembers", None, "BadRequestException", "managed by a policy");
        let enabler = enabler(world, |s| s.enablement = Enablement::Auto);

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the region does not fail on it: each account is named unprotected with GuardDuty's answer.
        let region = &report.regions[0];
        assert_ne!(region.outcome, Outcome::Failed, "{:?}", region.error);
        assert_eq!(region.coverage.protected, 0);
        assert_eq!(region.unprotected.len(), region.coverage.expected, "{region:?}");
        assert!(region.unprotected.iter().all(|u| u.reason.contains("left to its GuardDuty policy")), "{region:?}");
        assert!(!report.is_success(), "unprotected accounts are never in sync");
    }
}
