//! Who the delegated GuardDuty administrator is, before anything is written: a deploy whose configured admin is not
//! the one designated is refused whole (moving the delegated admin is a procedure of its own, and half-doing it would
//! leave every region in conflict), and an onboarding checks the designation in a region before it writes there;
//! all by one rule ([`crate::plan::designation`]).

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};

use super::Enabler;
use crate::error::Error;
use crate::plan::{designation, Designation};
use crate::ports::{Cloud, GuardDutyApi, Side};
use crate::state::DelegatedAdmin;

impl<C: Cloud> Enabler<C> {
    /// Refuses, with nothing written, a configuration whose admin differs from the account designated as the
    /// delegated GuardDuty administrator in any candidate region (ListOrganizationAdminAccounts as the management
    /// account, in every region it has enabled that the configuration does not leave out). Needs nothing of the admin
    /// account: a new admin may not have the role yet. A region whose designation cannot be read is left to the run.
    pub async fn check_designation(&self) -> Result<(), Error> {
        let enabled = self.cloud.enabled_regions(Side::Management).await?;
        let candidates: Vec<String> = enabled
            .into_iter()
            .map(|r| r.name)
            .filter(|r| self.settings.regions.as_ref().is_none_or(|listed| listed.contains(r)))
            .filter(|r| !self.settings.excluded_regions.contains(r))
            .collect();
        // A region that cannot be read here is not evidence of anything: the run reads it again, and reports it.
        let answers: Vec<(String, Vec<DelegatedAdmin>)> = stream::iter(candidates)
            .map(|region| async move {
                match self.cloud.guardduty(Side::Management, &region).delegated_admins().await {
                    Ok(admins) => Some((region, admins)),
                    Err(e) => {
                        tracing::warn!(%region, error = %e, "the designation could not be read before the run");
                        None
                    }
                }
            })
            .buffer_unordered(self.settings.region_concurrency.max(1))
            .filter_map(std::future::ready)
            .collect()
            .await;
        let configured = self.settings.admin_account;
        let mut others: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Only another designation refuses the deploy; a removal in progress is the region's to report (blocked):
        // it is how moving the delegated admin ends.
        for (region, admins) in answers {
            if let Designation::Conflict { account } = designation(&configured, &admins) {
                others.entry(account).or_default().push(region);
            }
        }
        match others.into_iter().next() {
            None => Ok(()),
            Some((designated, mut regions)) => {
                regions.sort();
                Err(Error::AdminChanged { configured, designated, regions: regions.join(", ") })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::state::{AdminStatus, DelegatedAdmin};
    use crate::testing::{enabler, World};

    fn designated(account: usize, status: AdminStatus) -> DelegatedAdmin {
        DelegatedAdmin { account: World::account(account).to_string(), status }
    }

    #[tokio::test]
    async fn another_admin_designated_refuses_the_deploy_naming_it_and_where() {
        // Given another account designated in one of two regions.
        let mut world = World::organization(2, &["us-east-1", "eu-west-1"]);
        world.admins.insert("eu-west-1".into(), designated(3, AdminStatus::Enabled));
        let enabler = enabler(world, |_| {});

        // When the designation is checked.
        let error = enabler.check_designation().await.expect_err("refused");

        // Then the refusal names the other admin and the region, and nothing was written.
        match error {
            Error::AdminChanged { designated, regions, .. } => {
                assert_eq!(designated, World::account(3).to_string());
                assert_eq!(regions, "eu-west-1");
            }
            other => panic!("expected AdminChanged, got {other}"),
        }
        assert_eq!(enabler.cloud().world().writes, []);
    }

    #[tokio::test]
    async fn a_removal_in_progress_is_not_a_conflict_and_the_configured_admin_passes() {
        // Given the configured admin designated in one region and another admin being removed in the other.
        let mut world = World::organization(2, &["us-east-1", "eu-west-1"]);
        world.admins.insert("us-east-1".into(), designated(2, AdminStatus::Enabled));
        world.admins.insert("eu-west-1".into(), designated(3, AdminStatus::DisableInProgress));
        let enabler = enabler(world, |_| {});

        // When the designation is checked, then it passes (the run reports the blocked region).
        enabler.check_designation().await.expect("no conflict");
        let report = enabler.reconcile().await.expect("the reconcile");
        let blocked = report.regions.iter().find(|r| r.region == "eu-west-1").expect("reported");
        assert_eq!(blocked.outcome, crate::report::Outcome::Blocked, "{blocked:?}");
    }
}
