//! GuardDuty organization policies in a policy-mode run: which effective policy each account has, and, for a run
//! that owns a policy (GUARDDUTY_ENABLEMENT=policy), the writes that keep it as configured.
//!
//! Effective policies are read per group, not per account: an account's effective policy is what the policies
//! attached along its path from the root inherit into ("Understanding declarative policy inheritance", AWS
//! Organizations User Guide), so accounts whose paths carry the same attachments share it, and one
//! DescribeEffectivePolicy per group says what AWS computed for all of them. ListAccountsWithInvalidEffectivePolicy
//! (one call) names the accounts whose effective policy is invalid.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::classes::PolicyFacts;
use super::context::Context;
use super::Enabler;
use crate::config::Plan;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::policy::{content, plan_policies, Owned, PolicyStep, Wanted};
use crate::policy::{self, Effective};
use crate::ports::{Cloud, OrganizationApi, PolicyTypeStatus, Root};
use crate::regions::RegionChoice;
use crate::report::{ActionStatus, OrgAction, OwnedPolicy};
use crate::state::OrgConfig;
use crate::tree::OrgTree;

impl<C: Cloud> Enabler<C> {
    /// The effective GuardDuty policy of every ACTIVE account of `tree`, and the accounts whose effective policy is
    /// invalid.
    pub(crate) async fn policy_facts(&self, tree: &OrgTree) -> Result<PolicyFacts, Error> {
        let org = self.cloud.organization();
        let width = self.settings.region_concurrency.max(1);
        let (policies, invalid) = tokio::try_join!(org.guardduty_policies(), org.invalid_policy_accounts())?;
        let targets: Vec<(String, Vec<String>)> = bounded(
            width,
            policies.iter().map(|p| async { org.policy_targets(&p.id).await.map(|t| (p.id.clone(), t)) }),
        )
        .await?;
        let mut attached: HashMap<String, Vec<String>> = HashMap::new();
        for (policy, targets) in targets {
            for target in targets {
                attached.entry(target).or_default().push(policy.clone());
            }
        }
        attached.values_mut().for_each(|p| p.sort());
        let mut groups: HashMap<Vec<Vec<String>>, usize> = HashMap::new();
        let mut representatives: Vec<AccountId> = Vec::new();
        let mut classes: HashMap<AccountId, usize> = HashMap::new();
        for account in tree.accounts.iter().filter(|a| a.is_active()) {
            let signature: Vec<Vec<String>> =
                tree.path(account.id.as_str()).iter().filter_map(|node| attached.get(node).cloned()).collect();
            if signature.is_empty() {
                continue;
            }
            let next = groups.len() + 1;
            let class = *groups.entry(signature).or_insert_with(|| {
                representatives.push(account.id);
                next
            });
            classes.insert(account.id, class);
        }
        let mut effective: Vec<Option<Effective>> = vec![None; representatives.len() + 1];
        let read: Vec<(usize, Option<String>)> = bounded(
            width,
            representatives
                .iter()
                .enumerate()
                .map(|(i, a)| async move { org.effective_policy(a).await.map(|t| (i + 1, t)) }),
        )
        .await?;
        for (class, text) in read {
            effective[class] = text.and_then(|t| Effective::parse(&t).ok());
        }
        Ok(PolicyFacts { of: classes, effective, invalid })
    }

    /// The policies this tool owns, by name, each with the unit of GUARDDUTY_FEATURES_BY_OU it is for (by index):
    /// the main one (GUARDDUTY_POLICY_NAME, with GUARDDUTY_FEATURES), and one per listed unit (`<name>-<unit>`, with
    /// its exact plans), attached at that unit. A child's block overrides what it inherits key by key
    /// ("Understanding declarative policy inheritance"), and a unit's block names every plan the region offers, on
    /// or off: so the unit's accounts get exactly its plans, and AWS itself keeps them.
    pub(crate) fn owned_names(&self) -> Vec<(String, Option<usize>)> {
        let main = &self.settings.policy_name;
        let mut names = vec![(main.clone(), None)];
        names.extend(self.settings.plans_by_ou.iter().enumerate().map(|(i, o)| (format!("{main}-{}", o.ou), Some(i))));
        names
    }

    /// Where each policy this tool owns must be attached: the main one at the root, or, with exclusions, at the
    /// highest units and the accounts whose whole subtree holds nothing excluded; a unit's at the unit, the same way.
    pub(crate) fn policy_targets(
        &self,
        ctx: &Context,
        tree: Option<&OrgTree>,
    ) -> Option<BTreeMap<String, BTreeSet<String>>> {
        let (ous, accounts) = (&self.settings.excluded_ous, &self.settings.excluded_accounts);
        let exclusions = !ous.is_empty() || !accounts.is_empty();
        let mut targets = BTreeMap::new();
        for (name, unit) in self.owned_names() {
            let top = unit.map_or(ctx.root.id.as_str(), |i| self.settings.plans_by_ou[i].ou.as_str());
            let cover: BTreeSet<String> = match (exclusions, tree) {
                (false, _) => [top.to_owned()].into(),
                (true, Some(tree)) => tree.cover(top, ous, accounts).into_iter().collect(),
                (true, None) => return None,
            };
            targets.insert(name, cover);
        }
        Some(targets)
    }

    /// The writes that keep the policies this run owns as configured: their content from what each governed region
    /// of `choice` offers (`offered`; a governed region whose plans this run did not read, because it failed there or
    /// did not run there, keeps its blocks as they are), attached at `targets`. A policy of a unit no longer listed is detached (never deleted: that is the
    /// user's call, `guardduty-enabler retire-policy`). Recorded as planned in a dry run.
    pub(crate) async fn own_policies(
        &self,
        ctx: &Context,
        choice: &RegionChoice,
        offered: &BTreeMap<String, OrgConfig>,
        mut targets: BTreeMap<String, BTreeSet<String>>,
    ) -> (Vec<OrgAction>, Vec<OwnedPolicy>) {
        let failed = |action: &'static str, target: &str, e: Error| OrgAction {
            action,
            target: target.to_owned(),
            status: ActionStatus::Failed,
            error: Some(e.to_string()),
        };
        let unknown: Vec<String> =
            choice.governed.iter().chain(&choice.not_run).filter(|r| !offered.contains_key(*r)).cloned().collect();
        let unknown = &unknown[..];
        let names = self.owned_names();
        let main = self.settings.policy_name.clone();
        let found = match self.owned_policies().await {
            Ok(found) => found,
            Err(e) => return (vec![failed("read_policy", &main, e)], Vec::new()),
        };
        // What each policy should say: the main one GUARDDUTY_FEATURES, a unit's its exact plans; a stray one (a unit
        // no longer listed) what it says, and nowhere.
        let mut wanted: Vec<Wanted> = Vec::new();
        for (name, unit) in &names {
            let plans: BTreeMap<String, (Vec<Plan>, Vec<String>)> = offered
                .iter()
                .map(|(region, config)| {
                    let plans = match unit {
                        None => (self.settings.plans.resolve(config).plans, Vec::new()),
                        Some(i) => {
                            let (on, off) = self.settings.plans_by_ou[*i].resolve(config);
                            (on.plans, off)
                        }
                    };
                    (region.clone(), plans)
                })
                .collect();
            let current = found.get(name).map(|o| &o.content);
            let content = content(&plans, unknown, current);
            wanted.push(Wanted { name: name.clone(), content, targets: targets.remove(name).unwrap_or_default() });
        }
        for (name, ours) in &found {
            if !names.iter().any(|(n, _)| n == name) {
                wanted.push(Wanted { name: name.clone(), content: ours.content.clone(), targets: BTreeSet::new() });
            }
        }
        let pairs: Vec<(Option<&Owned>, &Wanted)> = wanted.iter().map(|w| (found.get(&w.name), w)).collect();
        let mut steps = plan_policies(&ctx.root, &pairs);
        let mut ids: Vec<Option<String>> = pairs.iter().map(|(o, _)| o.map(|o| o.id.clone())).collect();
        let mut actions = Vec::new();
        // Once the type is enabled, "the Regional GuardDuty auto-enablement settings no longer apply, whether or not
        // a policy is attached" (GuardDuty User Guide, GuardDuty organization policies): it is not enabled while a
        // governed region would have no block (its plans could not be read this run, and the policy has none for it
        // yet), for new accounts there would have neither. Nothing is written while no region has one.
        let blocks = policy::blocks(&wanted[0].content);
        let missing: Vec<&String> = unknown.iter().filter(|r| !blocks.contains_key(*r)).collect();
        if !missing.is_empty() && steps.iter().any(|(_, s)| matches!(s, PolicyStep::EnablePolicyType { .. })) {
            let regions: Vec<&str> = missing.iter().map(|r| r.as_str()).collect();
            steps.retain(|(_, s)| {
                !blocks.is_empty() && matches!(s, PolicyStep::CreatePolicy | PolicyStep::UpdatePolicy)
            });
            actions.push(OrgAction {
                action: "enable_policy_type",
                target: ctx.root.id.clone(),
                status: ActionStatus::Withheld,
                error: Some(format!(
                    "not enabled yet: the plans of {} could not be read this run, so the policy has no block there,                      and once the type is enabled the organization's auto-enable settings no longer apply; the next                      run that reads them enables it",
                    regions.join(", ")
                )),
            });
        }
        let mut stopped = false;
        for (i, step) in &steps {
            let (action, target) = describe(step, &wanted[*i].name, &ctx.root.id);
            if ctx.dry_run || stopped {
                if !stopped {
                    actions.push(OrgAction { action, target, status: ActionStatus::Planned, error: None });
                }
                continue;
            }
            let result = self.policy_write(step, &mut ids[*i], &wanted[*i]).await;
            if let (PolicyStep::EnablePolicyType { .. }, Ok(())) = (step, &result) {
                // A warm process's onboardings must not enable it again.
                let root = Root { guardduty_policies: PolicyTypeStatus::Enabled, ..ctx.root.clone() };
                self.memory.remember_root(&root);
            }
            // Without its content or the type, nothing after it can hold: it waits for the next run.
            stopped =
                result.is_err() && !matches!(step, PolicyStep::AttachPolicy { .. } | PolicyStep::DetachPolicy { .. });
            actions.push(match result {
                Ok(()) => OrgAction { action, target, status: ActionStatus::Done, error: None },
                Err(e) => failed(action, &target, e),
            });
        }
        let reports: Vec<OwnedPolicy> = wanted
            .iter()
            .zip(&ids)
            .map(|(w, id)| OwnedPolicy {
                name: w.name.clone(),
                id: id.clone(),
                content: w.content.clone(),
                previous: found.get(&w.name).map(|o| o.content.clone()).filter(|c| *c != w.content),
                targets: w.targets.iter().cloned().collect(),
            })
            .collect();
        let remembered: BTreeMap<String, BTreeSet<String>> =
            wanted.iter().map(|w| (w.name.clone(), w.targets.clone())).collect();
        self.memory.remember_policy_targets(remembered);
        (actions, reports)
    }

    /// The GuardDuty policies this tool owns as AWS holds them (the main one, and those named after it and a unit),
    /// by name, with their content and attachments.
    async fn owned_policies(&self) -> Result<BTreeMap<String, Owned>, Error> {
        let org = self.cloud.organization();
        let ours: Vec<_> =
            org.guardduty_policies().await?.into_iter().filter(|p| self.settings.owns_policy(&p.name)).collect();
        let read = bounded(
            self.settings.region_concurrency.max(1),
            ours.iter().map(|p| async move {
                let (text, targets) = tokio::try_join!(org.policy_content(&p.id), org.policy_targets(&p.id))?;
                // Compared as JSON: content that does not parse is content to replace.
                let content = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                Ok((p.name.clone(), Owned { id: p.id.clone(), content, targets: targets.into_iter().collect() }))
            }),
        )
        .await?;
        Ok(read.into_iter().collect())
    }

    async fn policy_write(&self, step: &PolicyStep, id: &mut Option<String>, wanted: &Wanted) -> Result<(), Error> {
        let org = self.cloud.organization();
        let policy =
            || id.clone().ok_or_else(|| Error::Unexpected("the policy has no id yet; nothing was sent".into()));
        match step {
            PolicyStep::CreatePolicy => {
                let description = "GuardDuty and its protection plans in every governed region (guardduty-enabler)";
                *id = Some(org.create_policy(&wanted.name, description, &wanted.content.to_string()).await?);
                Ok(())
            }
            PolicyStep::UpdatePolicy => org.update_policy(&policy()?, &wanted.content.to_string()).await,
            PolicyStep::EnablePolicyType { root } => org.enable_policy_type(root).await,
            PolicyStep::AttachPolicy { target } => org.attach_policy(&policy()?, target).await,
            PolicyStep::DetachPolicy { target } => org.detach_policy(&policy()?, target).await,
        }
    }
}

/// Runs `calls`, at most `width` at once, into their answers (the first error stops them).
async fn bounded<T, F>(width: usize, calls: impl Iterator<Item = F>) -> Result<Vec<T>, Error>
where
    F: std::future::Future<Output = Result<T, Error>>,
{
    // Collected first: a stream over the iterator itself would hold its closure, which borrows each item, and a
    // future that holds such a closure cannot be proven Send.
    let calls: Vec<F> = calls.collect();
    stream::iter(calls).buffer_unordered(width).try_collect().await
}

/// A policy step as the report names it: the action and what it is done to.
fn describe(step: &PolicyStep, name: &str, root: &str) -> (&'static str, String) {
    match step {
        PolicyStep::CreatePolicy => ("create_policy", name.to_owned()),
        PolicyStep::UpdatePolicy => ("update_policy", name.to_owned()),
        PolicyStep::EnablePolicyType { .. } => ("enable_policy_type", root.to_owned()),
        PolicyStep::AttachPolicy { target } => ("attach_policy", target.clone()),
        PolicyStep::DetachPolicy { target } => ("detach_policy", target.clone()),
    }
}
