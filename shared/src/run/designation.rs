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
