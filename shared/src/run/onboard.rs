//! Onboarding accounts: one, or a batch of them (a burst of new accounts is enrolled together, one CreateMembers and
//! one read-back per 50 accounts per region). A warm process reads the accounts' standing while it uses the
//! organization's shape it remembers. A fresh one reads the standing, the management account, the organization's
//! root and both accounts' regions together, and does not wait for the admin's own list (which needs the admin's
//! credentials first) to start on the regions every account has; the regions only the admin's list can confirm
//! follow when it arrives. Either way: four dependent round trips in a fresh process (credentials, the admin's
//! detector, the membership, its check with the members' plans), three in a warm one. Outside api mode each account's
//! effective GuardDuty policy is read in the first of them; a run that owns a policy re-asserts it (type, content,
//! attachments) once the regions are done.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::classes::{AccountClasses, PolicyFacts};
use super::context::{no_common_region, Context, Entry, Warmth};
use super::fanout::Ended;
use super::{Enabler, Gate, RunOptions};
use crate::config::Enablement;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::policy::Effective;
use crate::ports::{Cloud, OrganizationApi, PolicyTypeStatus, Side};
use crate::regions::{enabled_for_every_account, RegionChoice};
use crate::report::{ActionStatus, OrgAction, PolicyReport, Report, RunKind};
use crate::state::OrgAccount;

/// How many accounts' standings (DescribeAccount, and the unit or policy reads) an onboarding reads at once.
const STANDING_READS: usize = 8;

/// What an onboarding of several accounts came to: the report of the regions (none when every account was
/// refused), and each account refused before anything was written, with why.
#[derive(Debug)]
pub struct Onboarding {
    /// The run's report, when some account was enrolled.
    pub report: Option<Report>,
    /// The accounts refused with nothing written: not in the organization, not ACTIVE, or excluded.
    pub refused: Vec<(AccountId, Error)>,
}

/// What an onboarding reads of an account before it writes: its standing in the organization, and, where they
/// matter, its effective GuardDuty policy and its unit of GUARDDUTY_FEATURES_BY_OU.
struct Standing {
    account: AccountId,
    found: Option<OrgAccount>,
    effective: Option<String>,
    unit: Option<usize>,
}

/// The accounts an onboarding enrols, once their standing is known.
struct Enrolment {
    /// The accounts to make members (the admin is never one: its own detector protects it).
    members: Vec<MemberAccount>,
    /// The accounts enrolled, the admin among them when asked for.
    accepted: Vec<AccountId>,
    /// Those refused, with why.
    refused: Vec<(AccountId, Error)>,
    /// Their classes (units' plan sets, effective policies).
    facts: Vec<Standing>,
}

impl<C: Cloud> Enabler<C> {
    /// Makes one account an Enabled member in every governed region (or those of `options`), with its plans, and
    /// re-asserts what this tool keeps (api mode: the organization configuration; owning a GuardDuty policy: the
    /// policy). Refused, with nothing written, for an account that is not ACTIVE in the organization or is excluded.
    pub async fn onboard(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        single(self.onboard_as(&[*account], options, Entry::New).await?)
    }

    /// Brings an account that moved to another organizational unit to the plans it should have now (its unit's of
    /// GUARDDUTY_FEATURES_BY_OU, or its new effective GuardDuty policy's): as an onboarding, but reading its
    /// membership first, so that a member is never written with CreateMembers (which applies the organization's
    /// auto-enable settings to its plans).
    pub async fn replan(&self, account: &AccountId, options: &RunOptions) -> Result<Report, Error> {
        single(self.onboard_as(&[*account], options, Entry::Moved).await?)
    }

    /// Onboards several accounts together (as [`onboard`](Self::onboard), with [`Entry::Moved`] as
    /// [`replan`](Self::replan), with [`Entry::Stopped`] restarting their monitoring first): every region writes
    /// their memberships in one CreateMembers (or StartMonitoringMembers) and reads them back in one GetMembers per
    /// 50 accounts. An account refused (not in the organization, not ACTIVE, excluded) is named
    /// with why and does not stop the others; [`Report::protection_of`] says where each enrolled account ended.
    pub async fn onboard_all(
        &self,
        accounts: &[AccountId],
        entry: Entry,
        options: &RunOptions,
    ) -> Result<Onboarding, Error> {
        let unique: BTreeSet<AccountId> = accounts.iter().copied().collect();
        let unique: Vec<AccountId> = unique.into_iter().collect();
        self.onboard_as(&unique, options, entry).await
    }

    async fn onboard_as(
        &self,
        accounts: &[AccountId],
        options: &RunOptions,
        entry: Entry,
    ) -> Result<Onboarding, Error> {
        let started = Instant::now();
        self.check_partition()?;
        if self.memory.regions().is_none() && options.only_regions.is_none() {
            return self.onboard_fresh(accounts, options, entry, started).await;
        }
        let (standings, (mut ctx, choice), ()) = tokio::try_join!(
            self.standings(accounts),
            self.context(options, Warmth::Remembered),
            Gate::pass(options.gate.as_ref())
        )?;
        ctx.entry = entry;
        let enrolment = self.enrolment(standings).await?;
        if enrolment.accepted.is_empty() {
            return Ok(Onboarding { report: None, refused: enrolment.refused });
        }
        let facts = classes_for(&ctx, &enrolment.facts);
        let members = &enrolment.members;
        let (regions, organization) = tokio::join!(
            self.run_regions(&ctx, &choice.governed, options, |region| {
                self.onboard_region(&ctx, region, members, &facts)
            }),
            self.trusted_access(&ctx),
        );
        self.onboard_report(&ctx, enrolment, choice, regions, organization, facts, started).await
    }

    /// The onboarding of a fresh process: see the module's documentation.
    async fn onboard_fresh(
        &self,
        accounts: &[AccountId],
        options: &RunOptions,
        entry: Entry,
        started: Instant,
    ) -> Result<Onboarding, Error> {
        let admin_regions = self.cloud.enabled_regions(Side::Admin);
        tokio::pin!(admin_regions);
        let first = async {
            tokio::try_join!(
                self.standings(accounts),
                self.management(),
                self.cloud.enabled_regions(Side::Management),
                self.root(Warmth::Remembered),
                self.landing_zone(),
                self.check_units(),
                Gate::pass(options.gate.as_ref()),
            )
        };
        tokio::pin!(first);
        // The admin's list is polled along, so that it is under way (its credentials first), but not waited for.
        let mut admin_answer = None;
        let (standings, management, management_regions, root, zone, (), ()) = loop {
            tokio::select! {
                done = &mut first => break done?,
                answer = &mut admin_regions, if admin_answer.is_none() => admin_answer = Some(answer),
            }
        };
        let enrolment = self.enrolment(standings).await?;
        if enrolment.accepted.is_empty() {
            return Ok(Onboarding { report: None, refused: enrolment.refused });
        }
        let mut ctx = self.context_for(options, management, root)?;
        ctx.entry = entry;
        ctx.defaults = management_regions.iter().filter(|r| r.by_default).map(|r| r.name.clone()).collect();
        let facts = classes_for(&ctx, &enrolment.facts);
        let members = &enrolment.members;
        let every_account = enabled_for_every_account(&self.settings, &management_regions);
        let the_rest = async {
            let admin = match admin_answer {
                Some(answer) => answer,
                None => admin_regions.await,
            }?;
            let choice = self.choose_regions(management, &management_regions, &admin, zone.as_deref());
            let rest: Vec<String> = choice.governed.iter().filter(|r| !every_account.contains(r)).cloned().collect();
            let reports = self
                .run_regions(&ctx, &rest, options, |region| self.onboard_region(&ctx, region, members, &facts))
                .await;
            Ok::<_, Error>((reports, choice))
        };
        let (mut regions, rest, organization) = tokio::join!(
            self.run_regions(&ctx, &every_account, options, |region| {
                self.onboard_region(&ctx, region, members, &facts)
            }),
            the_rest,
            self.trusted_access(&ctx)
        );
        let (more, choice): (Vec<Ended>, RegionChoice) = rest?;
        regions.extend(more);
        if regions.is_empty() {
            return Err(no_common_region());
        }
        self.onboard_report(&ctx, enrolment, choice, regions, organization, facts, started).await
    }

    /// The report of an onboarding; a run that owns a GuardDuty policy re-asserts it first, from what the regions
    /// read of their plans.
    #[allow(clippy::too_many_arguments)]
    async fn onboard_report(
        &self,
        ctx: &Context,
        enrolment: Enrolment,
        choice: RegionChoice,
        regions: Vec<Ended>,
        mut organization: Vec<OrgAction>,
        classes: AccountClasses,
        started: Instant,
    ) -> Result<Onboarding, Error> {
        let accounts = &enrolment.accepted[..];
        let mut policies = classes.policies().then(|| PolicyReport {
            policy_type: Some(ctx.root.guardduty_policies),
            uncovered: classes.uncovered(accounts.iter()),
            ..PolicyReport::default()
        });
        if ctx.mode.owns_policy() {
            let offered = Ended::offered_by_region(&regions);
            let mut targets = self.remembered_or_computed_targets(ctx).await?;
            // Where exclusions keep the main policy off the root, an account no policy covers yet (one that joined a
            // unit that holds something excluded, or the root itself) gets it attached to it.
            let uncovered = policies.as_ref().map(|p| p.uncovered.clone()).unwrap_or_default();
            if let Some(main) = targets.get_mut(&self.settings.policy_name) {
                if !main.contains(&ctx.root.id) {
                    for account in uncovered.iter().filter(|a| !self.settings.excluded_accounts.contains(a)) {
                        main.insert(account.to_string());
                    }
                }
            }
            let (actions, owned, _) = self.own_policies(ctx, &choice, &offered, targets).await;
            if let Some(p) = policies.as_mut() {
                if actions.iter().any(|a| {
                    a.action == crate::report::OrgActionKind::EnablePolicyType && a.status == ActionStatus::Done
                }) {
                    p.policy_type = Some(PolicyTypeStatus::Enabled);
                }
                p.owned = owned;
            }
            organization.extend(actions);
        }
        if let Some(p) = policies.as_mut() {
            p.uncovered_accounts = p.uncovered.len();
        }
        let kind = match ctx.entry {
            Entry::New => RunKind::Onboard,
            Entry::Moved => RunKind::Replan,
            Entry::Stopped => RunKind::Restart,
        };
        let mut report = self.report(kind, ctx, choice, regions, organization, started, enrolment.members.len())?;
        if let [account] = accounts {
            report.account = Some(account.to_string());
        }
        report.enrolled = accounts.to_vec();
        report.policies = policies;
        Ok(Onboarding { report: Some(report), refused: enrolment.refused })
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

    /// The account's effective GuardDuty policy, outside api mode (where policies cannot be in force). In `auto`, a
    /// warm process that remembers the root without the policy type in force runs in api mode: nothing to read.
    async fn effective_policy_of(&self, account: &AccountId) -> Result<Option<String>, Error> {
        if self.settings.enablement == Enablement::Api {
            return Ok(None);
        }
        if self.settings.enablement == Enablement::Auto
            && self.memory.root().is_some_and(|root| !root.guardduty_policies.in_force())
        {
            return Ok(None);
        }
        self.cloud.organization().effective_policy(account).await
    }

    /// Each account's standing, a few accounts at a time.
    async fn standings(&self, accounts: &[AccountId]) -> Result<Vec<Standing>, Error> {
        stream::iter(accounts.iter().copied())
            .map(|account| async move {
                let (found, effective, unit) = tokio::join!(
                    self.cloud.organization().account(&account),
                    self.effective_policy_of(&account),
                    self.unit_of(&account)
                );
                // An account outside the organization has no policy or unit to read (TargetNotFound, AccountNotFound):
                // it is refused for what it is.
                let Some(found) = found? else {
                    return Ok(Standing { account, found: None, effective: None, unit: None });
                };
                Ok::<_, Error>(Standing { account, found: Some(found), effective: effective?, unit: unit? })
            })
            .buffered(STANDING_READS)
            .try_collect()
            .await
    }

    /// The accounts to enrol, once their standing is known: those not in the organization, not ACTIVE, or excluded
    /// are refused; the admin is enrolled without a membership (its own detector protects it).
    async fn enrolment(&self, standings: Vec<Standing>) -> Result<Enrolment, Error> {
        let excluded = self.excluded_accounts().await?;
        let mut enrolment =
            Enrolment { members: Vec::new(), accepted: Vec::new(), refused: Vec::new(), facts: Vec::new() };
        for standing in standings {
            let account = standing.account;
            let found = match &standing.found {
                None => {
                    enrolment.refused.push((account, Error::NotInOrganization(account)));
                    continue;
                }
                Some(found) if !found.is_active() => {
                    enrolment.refused.push((account, Error::NotActive { account, state: found.state.clone() }));
                    continue;
                }
                Some(_) if excluded.contains(&account) => {
                    enrolment.refused.push((account, Error::Excluded(account)));
                    continue;
                }
                Some(found) => found,
            };
            if account != self.settings.admin_account {
                enrolment.members.push(MemberAccount { id: found.id, email: found.email.clone() });
            }
            enrolment.accepted.push(account);
            enrolment.facts.push(standing);
        }
        Ok(enrolment)
    }
}

/// The classes of the accounts an onboarding enrols: their units' plan sets, and in policy mode their effective
/// policies (one class per distinct policy text).
fn classes_for(ctx: &Context, standings: &[Standing]) -> AccountClasses {
    let units: HashMap<AccountId, usize> = standings.iter().filter_map(|s| Some((s.account, s.unit?))).collect();
    let policies = ctx.mode.reads_effective_policies().then(|| {
        let mut texts: Vec<&str> = Vec::new();
        let mut of = HashMap::new();
        for s in standings {
            let Some(text) = s.effective.as_deref() else { continue };
            let index = match texts.iter().position(|t| *t == text) {
                Some(i) => i,
                None => {
                    texts.push(text);
                    texts.len() - 1
                }
            };
            of.insert(s.account, index + 1);
        }
        let mut effective = vec![None];
        effective.extend(texts.iter().map(|text| Effective::parse(text).ok()));
        PolicyFacts { of, effective, ..PolicyFacts::default() }
    });
    AccountClasses::new(&units, policies)
}

/// The report of a one-account onboarding, or the reason its account was refused.
fn single(onboarding: Onboarding) -> Result<Report, Error> {
    match (onboarding.report, onboarding.refused.into_iter().next()) {
        (_, Some((_, refused))) => Err(refused),
        (Some(report), None) => Ok(report),
        (None, None) => Err(Error::Unexpected("an onboarding with no account".into())),
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::state::MemberStatus;
    use crate::testing::{admin, enabler, World};
    use crate::RunOptions;

    const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

    #[tokio::test]
    async fn a_new_account_is_made_an_enabled_member_in_every_region_with_its_plans() {
        // Given a reconciled organization, and an account that joins it afterwards.
        let enabler = enabler(World::organization(2, &REGIONS), |_| {});
        enabler.reconcile().await.expect("the reconcile");
        let newcomer = World::account(9);
        enabler.cloud().world().add_account(newcomer, "r-root");

        // When it is onboarded.
        let report = enabler.onboard(&newcomer, &RunOptions::default()).await.expect("the onboarding");

        // Then it is an Enabled member in each region, with the plans the organization configuration enables, and
        // the report counts it protected.
        assert!(report.is_success(), "{:?}", report.problems());
        assert_eq!(report.enrolled, [newcomer]);
        let world = enabler.cloud().world();
        for region in REGIONS {
            assert_eq!(world.member(admin(), region, newcomer), Some(MemberStatus::Enabled), "{region}");
            let own = &world.detectors[&(newcomer, region.to_owned())];
            assert!(own.features["S3_DATA_EVENTS"].enabled, "S3 protection in {region}");
        }
        assert_eq!(world.writes_of("CreateMembers").len(), 4, "two regions at the reconcile, two now");
    }

    #[tokio::test]
    async fn an_account_outside_the_organization_is_refused_and_nothing_is_written() {
        // Given a reconciled organization.
        let enabler = enabler(World::organization(2, &REGIONS), |_| {});
        enabler.reconcile().await.expect("the reconcile");
        let written = enabler.cloud().world().writes.len();

        // When an account it does not hold is onboarded.
        let stranger = World::account(77);
        let error = enabler.onboard(&stranger, &RunOptions::default()).await.expect_err("refused");

        // Then the refusal names it, and GuardDuty is untouched.
        assert!(matches!(error, Error::NotInOrganization(a) if a == stranger), "{error}");
        assert_eq!(enabler.cloud().world().writes[written..], []);
    }
}
