//! Onboarding one account. A warm process reads the account's standing while it uses the organization's shape it
//! remembers. A fresh one reads the standing, the management account, the organization's root and both accounts'
//! regions together, and does not wait for the admin's own list (which needs the admin's credentials first) to start
//! on the regions every account has; the regions only the admin's list can confirm follow when it arrives. Either
//! way: four dependent round trips in a fresh process (credentials, the admin's detector, the membership, its check
//! with the member's plans), three in a warm one. Outside api mode the account's effective GuardDuty policy is read
//! in the first of them; a run that owns a policy re-asserts it (type, content, attachments) once the regions are done.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use super::classes::{AccountClasses, PolicyFacts};
use super::context::{no_common_region, Context, Mode, Warmth};
use super::{Enabler, RunOptions};
use crate::config::Enablement;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::policy::Effective;
use crate::ports::{Cloud, OrganizationApi, PolicyTypeStatus, Side};
use crate::regions::{enabled_for_every_account, RegionChoice};
use crate::report::{ActionStatus, OrgAction, PolicyReport, RegionReport, Report};
use crate::state::{OrgAccount, OrgConfig};

impl<C: Cloud> Enabler<C> {
    /// Makes one account an Enabled member in every governed region (or those of `options`), with its plans, and
    /// re-asserts what this tool keeps (api mode: the organization configuration; owning a GuardDuty policy: the
    /// policy). Refused, with nothing written, for an account that is not ACTIVE in the organization or is excluded.
    pub async fn onboard(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        self.onboard_as(account, options, false).await
    }

    /// Brings an account that moved to another organizational unit to the plans it should have now (its unit's of
    /// GUARDDUTY_FEATURES_BY_OU, or its new effective GuardDuty policy's): as an onboarding, but reading its
    /// membership first, so that a member is never written with CreateMembers (which applies the organization's
    /// auto-enable settings to its plans).
    pub async fn replan(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        self.onboard_as(account, options, true).await
    }

    async fn onboard_as(&self, account: &AccountId, options: &RunOptions, moved: bool) -> Result<Report, Error> {
        let started = Instant::now();
        self.check_partition()?;
        if self.memory.regions().is_none() && options.only_regions.is_none() {
            return self.onboard_fresh(account, options, moved, started).await;
        }
        let (found, (mut ctx, choice), effective, unit) = tokio::try_join!(
            self.cloud.organization().account(account),
            self.context(options, Warmth::Remembered),
            self.effective_policy_of(account),
            self.unit_of(account)
        )?;
        ctx.moved = moved;
        let members = self.enrolment(account, found).await?;
        let facts = classes_for(&ctx, account, effective, unit);
        let (regions, organization) = tokio::join!(
            self.run_regions(&ctx, &choice.governed, options, |region| {
                self.onboard_region(&ctx, region, &members, &facts)
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
        moved: bool,
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
                self.effective_policy_of(account),
                self.unit_of(account)
            )
        };
        tokio::pin!(first);
        // The admin's list is polled along, so that it is under way (its credentials first), but not waited for.
        let mut admin_answer = None;
        let (found, management, management_regions, root, effective, unit) = loop {
            tokio::select! {
                done = &mut first => break done?,
                answer = &mut admin_regions, if admin_answer.is_none() => admin_answer = Some(answer),
            }
        };
        let members = self.enrolment(account, found).await?;
        let mut ctx = self.context_for(options, management, root)?;
        ctx.moved = moved;
        ctx.defaults = management_regions.iter().filter(|r| r.by_default).map(|r| r.name.clone()).collect();
        let facts = classes_for(&ctx, account, effective, unit);
        let every_account = enabled_for_every_account(&self.settings, &management_regions);
        let the_rest = async {
            let admin = match admin_answer {
                Some(answer) => answer,
                None => admin_regions.await,
            }?;
            let choice = self.choose_regions(management, &management_regions, &admin);
            let rest: Vec<String> = choice.governed.iter().filter(|r| !every_account.contains(r)).cloned().collect();
            let reports = self
                .run_regions(&ctx, &rest, options, |region| self.onboard_region(&ctx, region, &members, &facts))
                .await;
            Ok::<_, Error>((reports, choice))
        };
        let (mut regions, rest, organization) = tokio::join!(
            self.run_regions(&ctx, &every_account, options, |region| {
                self.onboard_region(&ctx, region, &members, &facts)
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
        classes: AccountClasses,
        started: Instant,
    ) -> Result<Report, Error> {
        let mut policies = classes.policies().then(|| PolicyReport {
            policy_type: Some(ctx.root.guardduty_policies),
            uncovered: classes.uncovered([*account].iter()),
            ..PolicyReport::default()
        });
        if ctx.mode == (Mode::Policy { owner: true }) {
            let offered: BTreeMap<String, OrgConfig> =
                regions.iter().filter_map(|r| Some((r.region.clone(), r.offered.clone()?))).collect();
            let unknown: Vec<String> = governed.iter().filter(|r| !offered.contains_key(*r)).cloned().collect();
            let mut targets = self.remembered_or_computed_targets(ctx).await?;
            // Where exclusions keep the main policy off the root, an account no policy covers yet (one that joined a
            // unit that holds something excluded, or the root itself) gets it attached to it.
            let uncovered = policies.as_ref().is_some_and(|p| !p.uncovered.is_empty());
            if let Some(main) = targets.get_mut(&self.settings.policy_name) {
                if uncovered && !main.contains(&ctx.root.id) && !self.settings.excluded_accounts.contains(account) {
                    main.insert(account.to_string());
                }
            }
            let (actions, owned) = self.own_policies(ctx, &offered, &unknown, targets).await;
            if let Some(p) = policies.as_mut() {
                if actions.iter().any(|a| a.action == "enable_policy_type" && a.status == ActionStatus::Done) {
                    p.policy_type = Some(PolicyTypeStatus::Enabled);
                }
                p.owned = owned;
            }
            organization.extend(actions);
        }
        if let Some(p) = policies.as_mut() {
            p.uncovered_accounts = p.uncovered.len();
        }
        let kind = if ctx.moved { "replan" } else { "onboard" };
        let mut report = self.report(kind, ctx, left_out, regions, organization, started);
        report.account = Some(account.to_string());
        report.policies = policies;
        Ok(report)
    }

    /// Where each policy this tool owns must be attached, as the last full reconcile of this process computed it;
    /// computed afresh (with exclusions, from the organization's tree) where it did not.
    async fn remembered_or_computed_targets(&self, ctx: &Context) -> Result<BTreeMap<String, BTreeSet<String>>, Error> {
        if let Some(targets) = self.policy_targets(ctx, None) {
            return Ok(targets);
        }
        if let Some(targets) = self.memory.policy_targets() {
            return Ok(targets);
        }
        let tree = self.tree(ctx).await?;
        Ok(self.policy_targets(ctx, Some(&tree)).unwrap_or_default())
    }

    /// The unit of GUARDDUTY_FEATURES_BY_OU the account is under (the deepest; by index, from 1): its parents, read
    /// up to the first listed unit or the root; none without that variable.
    async fn unit_of(&self, account: &AccountId) -> Result<Option<usize>, Error> {
        let listed = &self.settings.plans_by_ou;
        if listed.is_empty() {
            return Ok(None);
        }
        let mut node = account.to_string();
        // Organizations nests at most five levels of organizational units under the root.
        for _ in 0..6 {
            node = self.cloud.organization().parent(&node).await?;
            if let Some(i) = listed.iter().position(|o| o.ou == node) {
                return Ok(Some(i + 1));
            }
            if !node.starts_with("ou-") {
                break;
            }
        }
        Ok(None)
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

/// The class of the one account an onboarding enrols: its unit's plan set, and in policy mode its effective policy.
fn classes_for(ctx: &Context, account: &AccountId, effective: Option<String>, unit: Option<usize>) -> AccountClasses {
    let units: HashMap<AccountId, usize> = unit.map(|i| (*account, i)).into_iter().collect();
    let policies = match ctx.mode {
        Mode::Api => None,
        Mode::Policy { .. } => Some(PolicyFacts {
            of: [(*account, 1)].into(),
            effective: vec![None, effective.and_then(|text| Effective::parse(&text).ok())],
            invalid: Vec::new(),
        }),
    };
    AccountClasses::new(&units, policies)
}
