//! GuardDuty organization policies in a policy-mode run: which effective policy each account has, and, for a run
//! that owns a policy (GUARDDUTY_ENABLEMENT=policy), the writes that keep it as configured.
//!
//! Effective policies are read per group, not per account: an account's effective policy is what the policies
//! attached along its path from the root inherit into ("Understanding declarative policy inheritance", AWS
//! Organizations User Guide), so accounts whose paths carry the same attachments share it, and one
//! DescribeEffectivePolicy per group says what AWS computed for all of them. ListAccountsWithInvalidEffectivePolicy
//! (one call) names the accounts whose effective policy is invalid.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::context::Context;
use super::Enabler;
use crate::config::Plan;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::policy::{content, plan_policy, Owned, PolicyStep, Wanted};
use crate::plan::protection::{Classes, PlanSet};
use crate::policy::Effective;
use crate::ports::{Cloud, OrganizationApi, PolicyTypeStatus, Root};
use crate::report::{ActionStatus, OrgAction, OwnedPolicy};
use crate::tree::OrgTree;

/// What a policy-mode run knows of the organization's GuardDuty policies.
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyFacts {
    /// The effective policy of each class of accounts; class 0 has none (no GuardDuty policy covers it).
    pub effective: Vec<Option<Effective>>,
    /// Each account's class.
    pub classes: Classes,
    /// Accounts whose effective policy is invalid.
    pub invalid: Vec<AccountId>,
}

impl PolicyFacts {
    /// The facts of one account whose effective policy was read on its own (an onboarding).
    pub(crate) fn of_one(account: AccountId, effective: Option<Effective>) -> Self {
        let classes: HashMap<AccountId, usize> = [(account, 1)].into();
        Self { effective: vec![None, effective], classes: Arc::new(classes), invalid: Vec::new() }
    }

    /// The accounts among `accounts` no GuardDuty policy covers.
    pub(crate) fn uncovered<'a>(&'a self, accounts: impl Iterator<Item = &'a AccountId> + 'a) -> Vec<AccountId> {
        accounts
            .filter(|a| self.effective.get(self.classes.get(a).copied().unwrap_or(0)).is_none_or(Option::is_none))
            .copied()
            .collect()
    }

    /// The plan set of each class in `region`, given the configured plans there (`configured`), and the classes a
    /// policy turns GuardDuty off for there (`foundational` disabled: not enrolled). A class without a block here
    /// wants the configured plans, all written by this tool; a class with one wants what its block enables, never
    /// written (GuardDuty applies it), plus the configured plans the block does not govern.
    pub(crate) fn sets(&self, region: &str, configured: &[Plan]) -> (Vec<PlanSet>, Vec<usize>, BTreeSet<usize>) {
        let mut sets = vec![PlanSet { on: configured.to_vec(), ..PlanSet::default() }];
        let mut set_of = vec![0];
        let mut off = BTreeSet::new();
        for (class, effective) in self.effective.iter().enumerate().skip(1) {
            let Some(block) = effective.as_ref().and_then(|e| e.block(region)) else {
                set_of.push(0);
                continue;
            };
            if block.foundational == Some(false) {
                off.insert(class);
            }
            let mut on = block.enabled();
            on.extend(configured.iter().filter(|p| !block.plans.contains_key(&p.name)).cloned());
            let by_policy = block.plans.keys().cloned().collect();
            set_of.push(sets.len());
            sets.push(PlanSet { on, off: Vec::new(), by_policy });
        }
        (sets, set_of, off)
    }
}

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
        Ok(PolicyFacts { effective, classes: Arc::new(classes), invalid })
    }

    /// The writes that keep the policy this run owns as configured: its content from each governed region's plans
    /// (`plans`: the plans on, and the plans off; `unknown`: the governed regions whose plans this run could not
    /// read), attached at `targets`. Recorded as planned in a dry run.
    pub(crate) async fn own_policy(
        &self,
        ctx: &Context,
        plans: &BTreeMap<String, (Vec<Plan>, Vec<String>)>,
        unknown: &[String],
        targets: BTreeSet<String>,
    ) -> (Vec<OrgAction>, OwnedPolicy) {
        let name = self.settings.policy_name.clone();
        let mut report = OwnedPolicy {
            name: name.clone(),
            id: None,
            content: serde_json::Value::Null,
            previous: None,
            targets: targets.iter().cloned().collect(),
        };
        let failed = |action: &'static str, target: &str, e: Error| OrgAction {
            action,
            target: target.to_owned(),
            status: ActionStatus::Failed,
            error: Some(e.to_string()),
        };
        let ours = match self.owned_policy(&name).await {
            Ok(ours) => ours,
            Err(e) => {
                report.content = content(plans, unknown, None);
                return (vec![failed("read_policy", &name, e)], report);
            }
        };
        let wanted =
            Wanted { name: name.clone(), content: content(plans, unknown, ours.as_ref().map(|o| &o.content)), targets };
        report.content = wanted.content.clone();
        report.id = ours.as_ref().map(|o| o.id.clone());
        report.previous = ours.as_ref().map(|o| o.content.clone()).filter(|c| *c != wanted.content);
        let steps = plan_policy(&ctx.root, ours.as_ref(), &wanted);
        let mut actions = Vec::new();
        let mut id = ours.map(|o| o.id);
        for step in &steps {
            let (action, target) = describe(step, &name, &ctx.root.id);
            if ctx.dry_run {
                actions.push(OrgAction { action, target, status: ActionStatus::Planned, error: None });
                continue;
            }
            let result = self.policy_write(step, &mut id, &wanted).await;
            if let (PolicyStep::EnablePolicyType { .. }, Ok(())) = (step, &result) {
                // A warm process's onboardings must not enable it again.
                let root = Root { guardduty_policies: PolicyTypeStatus::Enabled, ..ctx.root.clone() };
                self.memory.remember_root(&root);
            }
            let stop =
                result.is_err() && !matches!(step, PolicyStep::AttachPolicy { .. } | PolicyStep::DetachPolicy { .. });
            actions.push(match result {
                Ok(()) => OrgAction { action, target, status: ActionStatus::Done, error: None },
                Err(e) => failed(action, &target, e),
            });
            if stop {
                break;
            }
        }
        if let Some(id) = &id {
            self.memory.remember_policy(id, &report.targets);
        }
        report.id = id;
        (actions, report)
    }

    /// The GuardDuty policy named `name`, with its content and attachments; `None` where there is none.
    async fn owned_policy(&self, name: &str) -> Result<Option<Owned>, Error> {
        let org = self.cloud.organization();
        let Some(found) = org.guardduty_policies().await?.into_iter().find(|p| p.name == name) else {
            return Ok(None);
        };
        let (text, targets) = tokio::try_join!(org.policy_content(&found.id), org.policy_targets(&found.id))?;
        // Compared as JSON: content that does not parse is content to replace.
        let content = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok(Some(Owned { id: found.id, content, targets: targets.into_iter().collect() }))
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
