//! Repairs: what a call made by someone else broke, put back where it broke it and nowhere else (see
//! [`crate::tamper`]). Memberships and members' plans go through an onboarding of exactly those accounts in that
//! region, which reads them back (a stopped member's first write restarts its monitoring); the foundation of a region
//! (the designation, the admin's and the management account's detectors, the organization configuration, the findings
//! export) through the first part of that region's reconcile, members untouched, then read back by the same part as a
//! dry run, which must find nothing to write; a call that took a region's memberships with it (the admin's detector
//! deleted, the admin removed), by that region's whole reconcile.

use std::time::Instant;

use super::context::{Entry, Warmth};
use super::fanout::{Ended, Staged};
use super::{Enabler, Gate, RunOptions};
use crate::error::Error;
use crate::ports::{Cloud, GuardDutyApi, ListKind, Side};
use crate::report::Report;
use crate::tamper::{Repair, Silencing};

/// What a repair did, and whether what it wrote reads back as it should.
#[derive(Debug)]
pub struct Repaired {
    /// The run's report (its kind `repair`): what was found, written and left.
    pub report: Report,
    /// Whether a read after the writes shows what was broken as it should be: every account named protected
    /// where it was repaired, or a foundation with nothing left to write.
    pub verified: bool,
    /// Where it is not, and why (empty when verified).
    pub shortfall: Vec<String>,
}

impl<C: Cloud> Enabler<C> {
    /// The organization's management account (DescribeOrganization, once per process).
    pub async fn management_account(&self) -> Result<crate::ids::AccountId, Error> {
        self.management().await
    }

    /// Puts back what `repair` names, and nothing else (see the module's documentation). Within `options`' time; in
    /// a dry run, plans only.
    pub async fn repair(&self, repair: &Repair, options: &RunOptions) -> Result<Repaired, Error> {
        let here = |region: &str| RunOptions { only_regions: Some(vec![region.to_owned()]), ..options.clone() };
        match repair {
            Repair::Members { region, accounts }
            | Repair::MemberPlans { region, accounts }
            | Repair::Monitoring { region, accounts } => {
                let entry = match repair {
                    Repair::MemberPlans { .. } => Entry::Moved,
                    Repair::Monitoring { .. } => Entry::Stopped,
                    _ => Entry::New,
                };
                let onboarding = self.onboard_all(accounts, entry, &here(region)).await?;
                let mut shortfall: Vec<String> = onboarding
                    .refused
                    .iter()
                    .map(|(account, why)| format!("{account} is not this tool's to enrol: {why}"))
                    .collect();
                let Some(report) = onboarding.report else {
                    return Err(Error::Unexpected(format!("no account to repair: {}", shortfall.join("; "))));
                };
                let refused: Vec<_> = onboarding.refused.iter().map(|(a, _)| *a).collect();
                for account in accounts.iter().filter(|a| !refused.contains(a)) {
                    if let Err(why) = report.protection_of(account) {
                        shortfall.push(why);
                    }
                }
                let verified = shortfall.len() == refused.len() && report.is_success();
                Ok(Repaired { report, verified, shortfall })
            }
            // The gate first: these begin with reads of their own, which do not take it.
            Repair::Foundation { region } => {
                Gate::pass(options.gate.as_ref()).await?;
                self.repair_foundation(&here(region), false).await
            }
            Repair::Region { region } => self.repair_whole(&here(region)).await,
            Repair::Organization => {
                self.memory.forget_trusted();
                self.repair_whole(options).await
            }
            Repair::Policies => {
                Gate::pass(options.gate.as_ref()).await?;
                self.repair_foundation(options, true).await
            }
        }
    }

    /// Puts back what a silencing change did on the admin's detector in `region` (GUARDDUTY_TAMPER_REVERT): a
    /// filter's action back to NOOP (its criteria kept), a trusted IP list deactivated, a threat list activated; then
    /// reads it back. `Ok(false)` when the read shows it is not as it should be; in a dry run, nothing is written
    /// and the answer is `Ok(false)`.
    pub async fn revert(&self, region: &str, what: Silencing, target: &str) -> Result<bool, Error> {
        let admin = self.cloud.guardduty(Side::Admin, region);
        let Some(detector) = admin.detector_id().await? else {
            return Err(Error::Unexpected(format!("the admin has no detector in {region}: nothing to revert")));
        };
        if self.settings.dry_run {
            return Ok(false);
        }
        match what {
            Silencing::Filter => {
                admin.set_filter_action(&detector, target, "NOOP").await?;
                Ok(admin.filter(&detector, target).await?.action.eq_ignore_ascii_case("NOOP"))
            }
            Silencing::IpSet => {
                admin.set_list_active(&detector, ListKind::TrustedIps, target, false).await?;
                let status = admin.list(&detector, ListKind::TrustedIps, target).await?.status;
                Ok(matches!(status.as_str(), "INACTIVE" | "DEACTIVATING"))
            }
            Silencing::ThreatList => {
                admin.set_list_active(&detector, ListKind::ThreatIps, target, true).await?;
                let status = admin.list(&detector, ListKind::ThreatIps, target).await?.status;
                Ok(matches!(status.as_str(), "ACTIVE" | "ACTIVATING"))
            }
        }
    }

    /// The regions of `options` reconciled whole (their foundation and every member), read back as a reconcile
    /// reads its writes back: verified when every region converged with every expected account protected.
    async fn repair_whole(&self, options: &RunOptions) -> Result<Repaired, Error> {
        self.memory.forget_regions_detectors();
        let report = Box::pin(self.reconcile_with(options)).await?;
        let shortfall = report.problems();
        let verified = shortfall.is_empty() && report.is_success();
        Ok(Repaired { report, verified, shortfall })
    }

    /// The foundation of the regions of `options` (and, with `policies`, the GuardDuty policies this tool owns),
    /// then its read-back: the same reads as a dry run, which must plan no write.
    async fn repair_foundation(&self, options: &RunOptions, policies: bool) -> Result<Repaired, Error> {
        let report = self.foundation(options, policies).await?;
        let dry = RunOptions { dry_run: Some(true), progress: None, ..options.clone() };
        let check = self.foundation(&dry, policies).await?;
        let mut shortfall: Vec<String> = check
            .regions
            .iter()
            .flat_map(|r| r.actions.iter().map(move |a| format!("{}: {} still to write", r.region, a.step.operation())))
            .collect();
        shortfall.extend(check.organization.iter().map(|a| format!("{} {} still to write", a.action, a.target)));
        shortfall.extend(report.problems());
        let verified = shortfall.is_empty() && report.is_success();
        Ok(Repaired { report, verified, shortfall })
    }

    /// The first part of each region's reconcile (observe, the foundation, the admin's side, the export), the
    /// organization's trusted access, and with `policies`, in a run that owns GuardDuty policies, those policies.
    async fn foundation(&self, options: &RunOptions, policies: bool) -> Result<Report, Error> {
        let started = Instant::now();
        self.check_partition()?;
        let (ctx, choice) = self.context(options, Warmth::Fresh).await?;
        // Each region's first part, ended there (members untouched), within the region's own time and report.
        let (regions, mut organization) = tokio::join!(
            self.run_regions(&ctx, &choice.governed, options, |region| async {
                match self.prepare_region(&ctx, region, None).await {
                    Staged::Done(ended) => *ended,
                    Staged::Halfway(h) => self.foundation_only(*h),
                }
            }),
            self.trusted_access(&ctx),
        );
        if policies && ctx.mode.owns_policy() {
            let offered = Ended::offered_by_region(&regions);
            let tree = self.tree(&ctx).await?;
            let targets = self.policy_targets(&ctx, Some(&tree)).unwrap_or_default();
            let (actions, _, _) = self.own_policies(&ctx, &choice, &offered, targets).await;
            organization.extend(actions);
        }
        self.report(crate::report::RunKind::Repair, &ctx, choice, regions, organization, started, 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::state::MemberStatus;
    use crate::tamper::Repair;
    use crate::testing::{admin, enabler, World};
    use crate::RunOptions;

    #[tokio::test]
    async fn a_stopped_member_is_repaired_in_its_region_only_and_read_back() {
        // Given a reconciled organization in two regions, and one member's monitoring stopped in one of them.
        let enabler = enabler(World::organization(2, &["us-east-1", "eu-west-1"]), |_| {});
        enabler.reconcile().await.expect("the reconcile");
        let member = World::account(3);
        let key = (admin(), "eu-west-1".to_owned());
        enabler
            .cloud()
            .world()
            .detectors
            .get_mut(&key)
            .expect("detector")
            .members
            .insert(member, MemberStatus::Disabled);
        let written = enabler.cloud().world().writes.len();

        // When the stop is repaired.
        let repair = Repair::Monitoring { region: "eu-west-1".into(), accounts: vec![member] };
        let repaired = enabler.repair(&repair, &RunOptions::default()).await.expect("the repair");

        // Then it is verified, the member is Enabled, and every write was in that region.
        assert!(repaired.verified, "{:?}", repaired.shortfall);
        let world = enabler.cloud().world();
        assert_eq!(world.member(admin(), "eu-west-1", member), Some(MemberStatus::Enabled));
        let now = &world.writes[written..];
        assert!(now.iter().any(|w| w.operation == "StartMonitoringMembers"), "{now:?}");
        assert!(!now.iter().any(|w| w.operation == "CreateMembers"), "restarted, not created again: {now:?}");
        assert!(now.iter().all(|w| w.region == "eu-west-1"), "{now:?}");
    }

    #[tokio::test]
    async fn a_foundation_repair_brings_back_the_admins_detector_and_leaves_members_alone() {
        // Given a reconciled organization whose admin detector someone disabled.
        let enabler = enabler(World::organization(2, &["us-east-1"]), |_| {});
        enabler.reconcile().await.expect("the reconcile");
        let key = (admin(), "us-east-1".to_owned());
        enabler.cloud().world().detectors.get_mut(&key).expect("detector").enabled = false;
        let written = enabler.cloud().world().writes.len();

        // When the region's foundation is repaired.
        let repair = Repair::Foundation { region: "us-east-1".into() };
        let repaired = enabler.repair(&repair, &RunOptions::default()).await.expect("the repair");

        // Then the detector is enabled again, verified by a dry run that plans nothing, and no member was written.
        assert!(repaired.verified, "{:?}", repaired.shortfall);
        let world = enabler.cloud().world();
        assert!(world.detectors[&key].enabled);
        let now: Vec<&str> = world.writes[written..].iter().map(|w| w.operation).collect();
        assert!(now.contains(&"UpdateDetector"), "{now:?}");
        assert!(!now.iter().any(|op| op.contains("Member")), "{now:?}");
    }
}
