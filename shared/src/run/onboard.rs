//! Onboarding one account. A warm process reads the account's standing while it uses the organization's shape it
//! remembers. A fresh one reads the standing, the management account and both accounts' regions together, and
//! does not wait for the admin's own list (which needs the admin's credentials first) to start on the regions every
//! account has; the regions only the admin's list can confirm follow when it arrives. Either way: four dependent
//! round trips in a fresh process (credentials, the admin's detector, the membership, its check), three in a warm
//! one.

use std::time::Instant;

use super::context::{no_common_region, Warmth};
use super::{Enabler, RunOptions};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::ports::{Cloud, OrganizationApi, Side};
use crate::regions::{enabled_for_every_account, RegionChoice};
use crate::report::{RegionReport, Report};
use crate::state::OrgAccount;

impl<C: Cloud> Enabler<C> {
    /// Makes one account an Enabled member in every governed region (or those of `options`) and re-asserts the
    /// organization configuration. Refused, with nothing written, for an account that is not ACTIVE in the
    /// organization or is excluded.
    pub async fn onboard(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        let started = Instant::now();
        if self.memory.regions().is_none() && options.only_regions.is_none() {
            return self.onboard_fresh(account, options, started).await;
        }
        let (found, (ctx, choice)) =
            tokio::try_join!(self.cloud.organization().account(account), self.context(options, Warmth::Remembered))?;
        let members = self.enrolment(account, found).await?;
        let (regions, organization) = tokio::join!(
            self.run_regions(&ctx, &choice.governed, options, |region| self.onboard_region(&ctx, region, &members)),
            self.trusted_access(&ctx),
        );
        let mut report = self.report("onboard", &ctx, choice.left_out, regions, organization, started);
        report.account = Some(account.to_string());
        Ok(report)
    }

    /// The onboarding of a fresh process: see the module's documentation.
    async fn onboard_fresh(
        &self,
        account: &AccountId,
        options: &RunOptions,
        started: Instant,
    ) -> Result<Report, Error> {
        let admin_regions = self.cloud.enabled_regions(Side::Admin);
        tokio::pin!(admin_regions);
        let first = async {
            tokio::try_join!(
                self.cloud.organization().account(account),
                self.management(),
                self.cloud.enabled_regions(Side::Management)
            )
        };
        tokio::pin!(first);
        // The admin's list is polled along, so that it is under way (its credentials first), but not waited for.
        let mut admin_answer = None;
        let (found, management, management_regions) = loop {
            tokio::select! {
                done = &mut first => break done?,
                answer = &mut admin_regions, if admin_answer.is_none() => admin_answer = Some(answer),
            }
        };
        let members = self.enrolment(account, found).await?;
        let ctx = self.context_for(options, management)?;
        let every_account = enabled_for_every_account(&self.settings, &management_regions);
        let the_rest = async {
            let admin = match admin_answer {
                Some(answer) => answer,
                None => admin_regions.await,
            }?;
            let choice = self.choose_regions(management, &management_regions, &admin);
            let rest: Vec<String> = choice.governed.iter().filter(|r| !every_account.contains(r)).cloned().collect();
            let reports =
                self.run_regions(&ctx, &rest, options, |region| self.onboard_region(&ctx, region, &members)).await;
            Ok::<_, Error>((reports, choice))
        };
        let (mut regions, rest, organization) = tokio::join!(
            self.run_regions(&ctx, &every_account, options, |region| self.onboard_region(&ctx, region, &members)),
            the_rest,
            self.trusted_access(&ctx)
        );
        let (more, choice): (Vec<RegionReport>, RegionChoice) = rest?;
        regions.extend(more);
        if regions.is_empty() {
            return Err(no_common_region());
        }
        let mut report = self.report("onboard", &ctx, choice.left_out, regions, organization, started);
        report.account = Some(account.to_string());
        Ok(report)
    }

    /// The account to enrol, once its standing is known: refused when it is not in the organization, not ACTIVE, or
    /// excluded; none when it is the admin (its own detector protects it).
    async fn enrolment(&self, account: &AccountId, found: Option<OrgAccount>) -> Result<Vec<MemberAccount>, Error> {
        let found = found.ok_or(Error::NotInOrganization(*account))?;
        if !found.is_active() {
            return Err(Error::NotActive { account: *account, state: found.state });
        }
        if self.excluded_accounts().await?.contains(account) {
            return Err(Error::Excluded(*account));
        }
        Ok(if *account == self.settings.admin_account {
            Vec::new()
        } else {
            vec![MemberAccount { id: found.id, email: found.email }]
        })
    }
}
