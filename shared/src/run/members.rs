//! Memberships, converged and then checked: the planned writes, then GetMembers for every account written to, so
//! that an account counts as protected only when GuardDuty shows it Enabled; then, for an account those writes did
//! not make Enabled, one more round (a record CreateMembers would not replace is deleted and created again).

use std::collections::BTreeSet;
use std::time::Instant;

use super::apply::RegionWork;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::{plan_members, MemberAccount, Round, Step, MEMBER_BATCH};
use crate::ports::{Cloud, GuardDutyApi};
use crate::state::{MemberStatus, Members};

impl<C: Cloud> RegionWork<'_, C> {
    /// Brings `accounts` to Enabled where this tool can, starting from `statuses` (what was read before; empty for
    /// an onboarding, which creates first and checks after), and returns every account's status as GuardDuty last
    /// showed it. In a dry run the first round is recorded as planned and nothing is read back.
    pub(crate) async fn converge_members(
        &mut self,
        accounts: &[MemberAccount],
        mut statuses: Members,
    ) -> Result<Members, Error> {
        let mut round = Round::First;
        let mut candidates: Vec<MemberAccount> = accounts.to_vec();
        loop {
            let steps = plan_members(&candidates, &statuses, round);
            if steps.is_empty() {
                return Ok(statuses);
            }
            self.apply_all(&steps).await?;
            if self.ctx.dry_run {
                return Ok(statuses);
            }
            let touched = touched(&steps);
            let seen = self.verify(&touched).await?;
            for id in &touched {
                match seen.get(id) {
                    Some(status) => statuses.insert(*id, status.clone()),
                    None => statuses.remove(id),
                };
            }
            if round == Round::Second {
                return Ok(statuses);
            }
            // Round two: the accounts written to that GuardDuty shows with a record, but not Enabled.
            candidates.retain(|a| {
                touched.contains(&a.id) && statuses.get(&a.id).is_some_and(|s| *s != MemberStatus::Enabled)
            });
            round = Round::Second;
        }
    }

    /// GetMembers for `ids`, in batches of 50. An account a write just processed but GuardDuty does not show yet
    /// is still settling: it is asked about again, with backoff, within the executor's patience.
    async fn verify(&self, ids: &BTreeSet<AccountId>) -> Result<Members, Error> {
        let detector = self.detector_id()?;
        let patience = self.enabler.patience;
        let started = Instant::now();
        let mut wait = patience.first;
        let mut seen = Members::new();
        let mut pending: Vec<AccountId> = ids.iter().copied().collect();
        loop {
            for batch in pending.chunks(MEMBER_BATCH) {
                seen.extend(self.admin.get_members(&detector, batch).await?);
            }
            pending.retain(|id| !seen.contains_key(id) && self.changed.contains(id));
            if pending.is_empty() || started.elapsed() + wait > patience.total {
                return Ok(seen);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(patience.longest);
        }
    }
}

/// The accounts the member steps name.
fn touched(steps: &[Step]) -> BTreeSet<AccountId> {
    let mut ids = BTreeSet::new();
    for step in steps {
        match step {
            Step::CreateMembers { accounts } => ids.extend(accounts.iter().map(|a| a.id)),
            Step::StartMonitoringMembers { accounts } | Step::DeleteMembers { accounts } => ids.extend(accounts),
            _ => {}
        }
    }
    ids
}
