//! Memberships and their protection plans, converged and then checked. The planned membership writes, then
//! GetMembers for every account written to (with, when asked, GetMemberDetectors for the same accounts at once), so
//! that an account counts as protected only when GuardDuty shows it Enabled; then, for an account those writes did
//! not make Enabled, one more round (a record CreateMembers would not replace is deleted and created again). Then
//! every Enabled member's plans: read (GetMemberDetectors, 50 a call, several calls at once), the writable gaps
//! closed (UpdateMemberDetectors), and what was written read back.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use super::apply::RegionWork;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::protection::{plan_member_plans, PlanCheck};
use crate::plan::{plan_members, MemberAccount, Round, Step, MEMBER_BATCH};
use crate::ports::{Cloud, GuardDutyApi};
use crate::state::{MemberStatus, Members};

/// GuardDuty's answer for a member that a CreateMembers made a moment ago and that it does not show yet.
const NOT_ASSOCIATED: &str = "not an associated member";

impl<C: Cloud> RegionWork<'_, C> {
    /// Brings `accounts` to Enabled where this tool can, starting from `statuses` (what was read before), which it
    /// keeps as GuardDuty last showed each account (also when a call fails part way). With `plans`, the plans of every
    /// account written to are read together with its status. In a dry run the first round is recorded as planned and
    /// nothing is read back.
    pub(crate) async fn converge_members(
        &mut self,
        accounts: &[MemberAccount],
        statuses: &mut Members,
        plans: Option<&mut PlanCheck>,
    ) -> Result<(), Error> {
        self.member_rounds(accounts, statuses, None, plans).await
    }

    /// The membership rounds, two at most: each plans from what GuardDuty showed, writes, and reads back. `blind`
    /// names the accounts of a first write the caller made before anything was read (an onboarding writes the
    /// membership while it reads the organization configuration) and the round the rest is planned in: the second
    /// after a CreateMembers, the first after a StartMonitoringMembers (whose accounts may not be members at all).
    pub(crate) async fn member_rounds(
        &mut self,
        accounts: &[MemberAccount],
        statuses: &mut Members,
        mut blind: Option<(BTreeSet<AccountId>, Round)>,
        mut plans: Option<&mut PlanCheck>,
    ) -> Result<(), Error> {
        let mut next = Round::First;
        let mut candidates: Cow<'_, [MemberAccount]> = Cow::Borrowed(accounts);
        for pass in 1..=2 {
            let touched = match blind.take() {
                Some((touched, then)) => {
                    next = then;
                    touched
                }
                None => {
                    let steps = plan_members(&candidates, statuses, next);
                    next = Round::Second;
                    let touched = touched(&steps);
                    self.apply_all(steps).await?;
                    touched
                }
            };
            if touched.is_empty() || self.ctx.dry_run {
                return Ok(());
            }
            match plans.as_deref_mut() {
                Some(check) => {
                    // The plans are read while the statuses are, in the same round trip; only the accounts whose
                    // status may still settle are waited for after that.
                    let started = Instant::now();
                    let ids: Vec<AccountId> = touched.iter().copied().collect();
                    let (seen, settling) =
                        tokio::try_join!(self.verify(&touched, statuses), self.plans_once(&ids, check))?;
                    record(&touched, seen, statuses);
                    let settling = settled_out(&touched, statuses, settling, check);
                    self.plans_until_settled(settling, check, started).await?;
                }
                None => {
                    let seen = self.verify(&touched, statuses).await?;
                    record(&touched, seen, statuses);
                }
            }
            if pass == 2 {
                break;
            }
            // The next round: the accounts written to that GuardDuty shows, but not Enabled; planned in the first
            // round (after a blind StartMonitoringMembers), those it does not show as members too.
            let informed = next == Round::First;
            candidates = Cow::Owned(
                candidates
                    .iter()
                    .filter(|a| {
                        touched.contains(&a.id)
                            && match statuses.get(&a.id) {
                                Some(status) => *status != MemberStatus::Enabled,
                                None => informed,
                            }
                    })
                    .cloned()
                    .collect(),
            );
        }
        Ok(())
    }

    /// The protection plans of every account of `accounts` that `statuses` shows Enabled: read where `check` has not
    /// read them yet, the gaps this tool may close written (or, in a dry run, planned), and what was written read
    /// back.
    pub(crate) async fn converge_plans(
        &mut self,
        accounts: &[MemberAccount],
        statuses: &Members,
        check: &mut PlanCheck,
    ) -> Result<(), Error> {
        if !check.wants.any() {
            return Ok(());
        }
        let unread: Vec<AccountId> = accounts
            .iter()
            .filter(|a| statuses.get(&a.id) == Some(&MemberStatus::Enabled) && !check.read.contains(&a.id))
            .map(|a| a.id)
            .collect();
        self.read_plans(&unread, check).await?;
        let steps = plan_member_plans(&check.wants, &check.shortfalls);
        let written: Vec<AccountId> = touched(&steps).into_iter().collect();
        self.apply_all(steps).await?;
        check.refused.append(&mut self.plans_refused);
        if self.ctx.dry_run || written.is_empty() {
            return Ok(());
        }
        self.read_plans(&written, check).await
    }

    /// GetMemberDetectors for `ids`, 50 a call, as many calls at once as the run's member reads allow, each answer
    /// recorded in `check`. A member this run just wrote to that GuardDuty does not answer for yet ("not an
    /// associated member") is asked about again, with backoff, within the executor's patience; any other account
    /// GuardDuty does not answer for is recorded with its reason. Every account of `ids` is one GuardDuty shows
    /// Enabled.
    pub(crate) async fn read_plans(&self, ids: &[AccountId], check: &mut PlanCheck) -> Result<(), Error> {
        let started = Instant::now();
        let settling = self.plans_once(ids, check).await?;
        self.plans_until_settled(settling, check, started).await
    }

    /// Reads `pending` again, with backoff, until GuardDuty answers for each or the patience that began at
    /// `started` is spent.
    async fn plans_until_settled(
        &self,
        mut pending: Vec<AccountId>,
        check: &mut PlanCheck,
        started: Instant,
    ) -> Result<(), Error> {
        let mut waits = self.enabler.patience.members().waits(started, None);
        while !pending.is_empty() && waits.sleep().await {
            pending = self.plans_once(&pending, check).await?;
        }
        Ok(())
    }

    /// One read of `ids`' plans (see [`read_plans`](Self::read_plans)); returns the accounts this run wrote to that
    /// GuardDuty did not answer for yet.
    async fn plans_once(&self, ids: &[AccountId], check: &mut PlanCheck) -> Result<Vec<AccountId>, Error> {
        if ids.is_empty() || !check.wants.any() {
            return Ok(Vec::new());
        }
        let detector = self.detector_id()?;
        let reads = self.ctx.member_reads.clone();
        let calls = ids.chunks(MEMBER_BATCH).map(|batch| {
            let (detector, reads) = (&detector, reads.clone());
            async move {
                let _permit = reads.acquire_owned().await;
                self.admin.member_features(detector, batch).await.map(|answer| (batch, answer))
            }
        });
        let mut answers = stream::iter(calls).buffer_unordered(self.ctx.member_reads_per_region);
        let mut settling = Vec::new();
        while let Some(answer) = answers.next().await {
            let (batch, (features, unprocessed)) = answer?;
            let silent: Vec<AccountId> = batch
                .iter()
                .filter(|id| !features.contains_key(id) && !unprocessed.iter().any(|(u, _)| u == *id))
                .copied()
                .collect();
            for (id, plans) in &features {
                check.saw(*id, plans);
            }
            for (id, reason) in unprocessed {
                if reason.contains(NOT_ASSOCIATED) && self.changed.contains(&id) {
                    settling.push(id);
                }
                check.missed(id, reason);
            }
            for id in silent {
                check.missed(id, "GetMemberDetectors did not answer for it".into());
            }
        }
        Ok(settling)
    }

    /// GetMembers for `ids`, in batches of 50. An account a write just processed but GuardDuty does not show yet,
    /// or shows with the status it had before the write (not Enabled), is still settling: it is asked about again,
    /// with backoff, within the executor's patience; what GuardDuty shows then is taken as it is.
    async fn verify(&self, ids: &BTreeSet<AccountId>, before: &Members) -> Result<Members, Error> {
        let detector = self.detector_id()?;
        let mut waits = self.enabler.patience.members().waits(Instant::now(), None);
        let mut seen = Members::new();
        let mut pending: Vec<AccountId> = ids.iter().copied().collect();
        loop {
            for batch in pending.chunks(MEMBER_BATCH) {
                seen.extend(self.admin.get_members(&detector, batch).await?);
            }
            // Still settling: not shown yet, shown Created or Invited on the way to Enabled, or shown as it was
            // before the write.
            pending.retain(|id| {
                self.changed.contains(id)
                    && match seen.get(id) {
                        None => true,
                        Some(MemberStatus::Enabled) => false,
                        Some(status) => status.may_settle() || before.get(id) == Some(status),
                    }
            });
            if pending.is_empty() || !waits.sleep().await {
                return Ok(seen);
            }
        }
    }
}

/// Keeps what GuardDuty showed of the accounts `touched`: its status, or none where it shows no record.
fn record(touched: &BTreeSet<AccountId>, seen: Members, statuses: &mut Members) {
    for id in touched {
        match seen.get(id) {
            Some(status) => statuses.insert(*id, status.clone()),
            None => statuses.remove(id),
        };
    }
}

/// Of the accounts whose plans GuardDuty did not answer for yet (`settling`), those still worth waiting for: the
/// ones it shows in a status that may still settle, or not at all yet. What was read of an account written to whose
/// status is final for now (RegionDisabled: the account has not enabled this opt-in region; AccountSuspended;
/// Removed) is forgotten: it is left out or unprotected for its status, and its plans are not waited for.
fn settled_out(
    touched: &BTreeSet<AccountId>,
    statuses: &Members,
    settling: Vec<AccountId>,
    check: &mut PlanCheck,
) -> Vec<AccountId> {
    let final_for_now = |id: &AccountId| statuses.get(id).is_some_and(|s| !s.may_settle());
    for id in touched.iter().filter(|id| final_for_now(id)) {
        check.forget(id);
    }
    settling.into_iter().filter(|id| !final_for_now(id)).collect()
}

/// The accounts the member steps name.
pub(super) fn touched(steps: &[Step]) -> BTreeSet<AccountId> {
    let mut ids = BTreeSet::new();
    for step in steps {
        match step {
            Step::CreateMembers { accounts } => ids.extend(accounts.iter().map(|a| a.id)),
            Step::StartMonitoringMembers { accounts }
            | Step::DeleteMembers { accounts }
            | Step::UpdateMemberDetectors { accounts, .. } => ids.extend(accounts),
            _ => {}
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use crate::state::MemberStatus;
    use crate::testing::{admin, enabler, World};

    #[tokio::test]
    async fn a_stopped_member_is_restarted_and_a_plan_turned_off_is_turned_back_on() {
        // Given a reconciled organization in which one member's monitoring was stopped and another's S3 protection
        // turned off.
        let enabler = enabler(World::organization(2, &["us-east-1"]), |_| {});
        enabler.reconcile().await.expect("the reconcile");
        let (stopped, bare) = (World::account(3), World::account(4));
        {
            let mut world = enabler.cloud().world();
            let key = (admin(), "us-east-1".to_owned());
            world
                .detectors
                .get_mut(&key)
                .expect("the admin's detector")
                .members
                .insert(stopped, MemberStatus::Disabled);
            let own = world.detectors.get_mut(&(bare, "us-east-1".to_owned())).expect("the member's detector");
            own.features.get_mut("S3_DATA_EVENTS").expect("S3 protection").enabled = false;
        }
        let written = enabler.cloud().world().writes.len();

        // When it is reconciled again.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then monitoring is restarted, the plan is back, each by its own write, and both count protected.
        assert!(report.is_success(), "{:?}", report.problems());
        let world = enabler.cloud().world();
        let now: Vec<&str> = world.writes[written..].iter().map(|w| w.operation).collect();
        assert!(now.contains(&"StartMonitoringMembers"), "{now:?}");
        assert!(now.contains(&"UpdateMemberDetectors"), "{now:?}");
        assert!(!now.contains(&"CreateMembers"), "{now:?}");
        assert_eq!(world.member(admin(), "us-east-1", stopped), Some(MemberStatus::Enabled));
        assert!(world.detectors[&(bare, "us-east-1".to_owned())].features["S3_DATA_EVENTS"].enabled);
    }

    #[tokio::test]
    async fn members_whose_plans_cannot_be_read_are_not_counted_protected() {
        // Given GuardDuty failing every read of the members' plans (GetMemberDetectors).
        let mut world = World::organization(1, &["us-east-1"]);
        world.fail("GetMemberDetectors", None, "InternalServerErrorException", "plans unreadable");
        let enabler = enabler(world, |_| {});

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the run does not claim the members protected: their plans could not be checked.
        assert!(!report.is_success());
        let region = &report.regions[0];
        assert!(region.coverage.protected < region.coverage.expected, "{:?}", region.coverage);
        assert!(report.problems().iter().any(|p| p.contains("plans unreadable")), "{:?}", report.problems());
    }
}
