//! Onboarding one account. A warm process reads the account's standing while it uses the organization's shape it
//! remembers. A fresh one reads the standing, the management account, the organization's root and both accounts'
//! regions together, and does not wait for the admin's own list (which needs the admin's credentials first) to start
//! on the regions every account has; the regions only the admin's list can confirm follow when it arrives. Either
//! way: four dependent round trips in a fresh process (credentials, the admin's detector, the membership, its check
//! with the member's plans), three in a warm one. Outside api mode the account's effective GuardDuty policy is read
//! in the first of them; a run that owns a policy re-asserts it (type, content, attachments) once the regions are done.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::context::{no_common_region, Context, Mode, Warmth};
use super::policy::PolicyFacts;
use super::{Enabler, RunOptions};
use crate::config::{Enablement, Plan};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::policy::Effective;
use crate::ports::{Cloud, OrganizationApi, PolicyTypeStatus, Side};
use crate::regions::{enabled_for_every_account, RegionChoice};
use crate::report::{ActionStatus, OrgAction, PolicyReport, RegionReport, Report};
use crate::state::OrgAccount;

impl<C: Cloud> Enabler<C> {
    /// Makes one account an Enabled member in every governed region (or those of `options`), with its plans, and
    /// re-asserts what this tool keeps (api mode: the organization configuration; owning a GuardDuty policy: the
    /// policy). Refused, with nothing written, for an account that is not ACTIVE in the organization or is excluded.
    pub async fn onboard(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        let started = Instant::now();
        if self.memory.regions().is_none() && options.only_regions.is_none() {
            return self.onboard_fresh(account, options, started).await;
        }
        let (found, (ctx, choice), effective) = tokio::try_join!(
            self.cloud.organization().account(account),
            self.context(options, Warmth::Remembered),
            self.effective_policy_of(account)
        )?;
        let members = self.enrolment(account, found).await?;
        let facts = facts_for(&ctx, account, effective);
        let (regions, organization) = tokio::join!(
            self.run_regions(&ctx, &choice.governed, options, |region| {
                self.onboard_region(&ctx, region, &members, facts.as_ref())
            }),
            self.trusted_access(&ctx),
        );
        self.onboard_report(&ctx, account, &choice.governed, choice.left_out, regions, organization, facts, started)
            .await
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
                self.cloud.enabled_regions(Side::Management),
                self.root(Warmth::Remembered),
                self.effective_policy_of(account)
            )
        };
        tokio::pin!(first);
        // The admin's list is polled along, so that it is under way (its credentials first), but not waited for.
        let mut admin_answer = None;
        let (found, management, management_regions, root, effective) = loop {
            tokio::select! {
                done = &mut first => break done?,
                answer = &mut admin_regions, if admin_answer.is_none() => admin_answer = Some(answer),
            }
        };
        let members = self.enrolment(account, found).await?;
        let ctx = self.context_for(options, management, root)?;
        let facts = facts_for(&ctx, account, effective);
        let every_account = enabled_for_every_account(&self.settings, &management_regions);
        let the_rest = async {
            let admin = match admin_answer {
                Some(answer) => answer,
                None => admin_regions.await,
            }?;
            let choice = self.choose_regions(management, &management_regions, &admin);
            let rest: Vec<String> = choice.governed.iter().filter(|r| !every_account.contains(r)).cloned().collect();
            let reports = self
                .run_regions(&ctx, &rest, options, |region| self.onboard_region(&ctx, region, &members, facts.as_ref()))
                .await;
            Ok::<_, Error>((reports, choice))
        };
        let (mut regions, rest, organization) = tokio::join!(
            self.run_regions(&ctx, &every_account, options, |region| {
                self.onboard_region(&ctx, region, &members, facts.as_ref())
            }),
            the_rest,
            self.trusted_access(&ctx)
        );
        let (more, choice): (Vec<RegionReport>, RegionChoice) = rest?;
        regions.extend(more);
        if regions.is_empty() {
            return Err(no_common_region());
        }
        self.onboard_report(&ctx, account, &choice.governed, choice.left_out, regions, organization, facts, started)
            .await
    }

    /// The report of an onboarding; a run that owns a GuardDuty policy re-asserts it first, from what the regions
    /// read of their plans.
    #[allow(clippy::too_many_arguments)]
    async fn onboard_report(
        &self,
        ctx: &Context,
        account: &AccountId,
        governed: &[String],
        left_out: Vec<crate::report::RegionLeftOut>,
        regions: Vec<RegionReport>,
        mut organization: Vec<OrgAction>,
        facts: Option<PolicyFacts>,
        started: Instant,
    ) -> Result<Report, Error> {
        let mut policies = facts.as_ref().map(|f| PolicyReport {
            policy_type: Some(ctx.root.guardduty_policies),
            uncovered: f.uncovered([*account].iter()),
            ..PolicyReport::default()
        });
        if ctx.mode == (Mode::Policy { owner: true }) {
            let plans: BTreeMap<String, (Vec<Plan>, Vec<String>)> =
                regions.iter().filter_map(|r| Some((r.region.clone(), (r.resolved.clone()?, Vec::new())))).collect();
            let unknown: Vec<String> = governed.iter().filter(|r| !plans.contains_key(*r)).cloned().collect();
            let mut targets = self.remembered_or_computed_targets(ctx).await?;
            // Where exclusions keep the policy off the root, an account no policy covers yet (one that joined a
            // unit that holds something excluded, or the root itself) gets the policy attached to it.
            let uncovered = policies.as_ref().is_some_and(|p| !p.uncovered.is_empty());
            if uncovered && !targets.contains(&ctx.root.id) && !self.settings.excluded_accounts.contains(account) {
                targets.insert(account.to_string());
            }
            let (actions, owned) = self.own_policy(ctx, &plans, &unknown, targets).await;
            if let Some(p) = policies.as_mut() {
                if actions.iter().any(|a| a.action == "enable_policy_type" && a.status == ActionStatus::Done) {
                    p.policy_type = Some(PolicyTypeStatus::Enabled);
                }
                p.owned = Some(owned);
            }
            organization.extend(actions);
        }
        if let Some(p) = policies.as_mut() {
            p.uncovered_accounts = p.uncovered.len();
        }
        let mut report = self.report("onboard", ctx, left_out, regions, organization, started);
        report.account = Some(account.to_string());
        report.policies = policies;
        Ok(report)
    }

    /// Where the policy this tool owns must be attached, as the last full reconcile of this process computed it;
    /// computed afresh (the organization's tree read) where it did not.
    async fn remembered_or_computed_targets(&self, ctx: &Context) -> Result<BTreeSet<String>, Error> {
        if self.settings.excluded_accounts.is_empty() && self.settings.excluded_ous.is_empty() {
            return Ok([ctx.root.id.clone()].into());
        }
        if let Some(targets) = self.memory.policy_targets() {
            return Ok(targets.into_iter().collect());
        }
        let tree = self.tree(ctx).await?;
        Ok(self.policy_targets(ctx, &tree))
    }

    /// The account's effective GuardDuty policy, outside api mode (where policies cannot be in force).
    async fn effective_policy_of(&self, account: &AccountId) -> Result<Option<String>, Error> {
        if self.settings.enablement == Enablement::Api {
            return Ok(None);
        }
        self.cloud.organization().effective_policy(account).await
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

/// In policy mode, the facts of the one account an onboarding enrols.
fn facts_for(ctx: &Context, account: &AccountId, effective: Option<String>) -> Option<PolicyFacts> {
    match ctx.mode {
        Mode::Api => None,
        Mode::Policy { .. } => {
            Some(PolicyFacts::of_one(*account, effective.and_then(|text| Effective::parse(&text).ok())))
        }
    }
}
