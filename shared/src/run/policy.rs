//! GuardDuty organization policies in a policy-mode run: which effective policy each account has, and, for a run
//! that owns policies (GUARDDUTY_ENABLEMENT=policy), the writes that keep them as configured.
//!
//! Effective policies are read per group, not per account: an account's effective policy is what the policies
//! attached along its path from the root inherit into ("Understanding declarative policy inheritance", AWS
//! Organizations User Guide), so accounts whose paths carry the same attachments share it, and one
//! DescribeEffectivePolicy per group says what AWS computed for all of them. ListAccountsWithInvalidEffectivePolicy
//! (one listing) names the accounts whose effective policy is invalid. A read that still fails after the SDK's
//! retries leaves those accounts' policy unknown (named in the report), never the run failed after its writes.
//!
//! The policies this tool owns carry the tag [`OWNER_TAG`] with GUARDDUTY_POLICY_NAME as its value; a policy without
//! it is never edited, attached, detached or deleted, whatever its name. Organizations throttles per account at a
//! few calls a second (its quotas page: 2 a second for the policy writes, 5 for ListTargetsForPolicy, 1 for
//! EnablePolicyType), so its calls go a few at a time, and the SDK retries the throttled ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::classes::PolicyFacts;
use super::context::Context;
use super::Enabler;
use crate::config::Plan;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::policy::{blocks, layout, part_name, plan_policies, Owned, PolicyStep, Wanted, ATTACHED_LIMIT};
use crate::policy::{self, Effective};
use crate::ports::{Cloud, OrganizationApi, PolicyRecord, PolicyTypeStatus, Root};
use crate::regions::RegionChoice;
use crate::report::{ActionStatus, OrgAction, OrgActionKind, OwnedPolicy};
use crate::state::OrgConfig;
use crate::tree::OrgTree;

/// The tag that marks a GuardDuty policy this tool wrote; its value is GUARDDUTY_POLICY_NAME.
pub(crate) const OWNER_TAG: &str = "guardduty-enabler:owner";

/// The description of every policy this tool writes. A policy an earlier release wrote (no tag yet) is adopted when
/// it has one of this tool's names and this description: tagged, then owned.
pub(crate) const DESCRIPTION: &str = "GuardDuty and its protection plans in every governed region (guardduty-enabler)";

/// How many Organizations reads a run has in flight at once.
const ORGANIZATIONS_READS: usize = 4;
/// How many Organizations policy writes a run has in flight at once (AttachPolicy and DetachPolicy: 2 a second, a
/// burst of 3, per account).
const ORGANIZATIONS_WRITES: usize = 2;

/// The organization's GuardDuty policies, as a run read them: each policy, and where each is attached.
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyMap {
    /// Every GuardDuty policy.
    pub(crate) records: Vec<PolicyRecord>,
    /// Each policy's targets, by policy id.
    pub(crate) targets: HashMap<String, Vec<String>>,
}

/// What a run found of the policies it owns: them, by name, and the others' attachments.
pub(super) struct Found {
    pub(super) ours: BTreeMap<String, Owned>,
    /// Other GuardDuty policies attached per target (root, unit or account).
    pub(super) foreign: HashMap<String, usize>,
}

impl<C: Cloud> Enabler<C> {
    /// Every GuardDuty policy of the organization, with its targets.
    pub(crate) async fn policy_map(&self) -> Result<PolicyMap, Error> {
        let org = self.cloud.organization();
        let records = org.guardduty_policies().await?;
        let targets = bounded(
            ORGANIZATIONS_READS,
            records.iter().map(|p| async { org.policy_targets(&p.id).await.map(|t| (p.id.clone(), t)) }),
        )
        .await?;
        Ok(PolicyMap { records, targets: targets.into_iter().collect() })
    }

    /// The effective GuardDuty policy of every ACTIVE account of `tree`, and the accounts whose effective policy is
    /// invalid; from `map` where the run knows the policies' attachments already.
    pub(crate) async fn policy_facts(&self, tree: &OrgTree, map: Option<PolicyMap>) -> Result<PolicyFacts, Error> {
        let org = self.cloud.organization();
        let invalid = async {
            org.invalid_policy_accounts().await.map_err(|e| {
                tracing::warn!(error = %e, "the accounts with an invalid effective GuardDuty policy could not be read");
                e
            })
        };
        let (map, invalid) = tokio::join!(
            async {
                match map {
                    Some(map) => Ok(map),
                    None => self.policy_map().await,
                }
            },
            invalid
        );
        let (map, invalid_unread) = (map?, invalid.as_ref().err().map(ToString::to_string));
        let (classes, representatives) = groups(tree, &map);
        let mut facts = PolicyFacts {
            of: classes,
            effective: vec![None; representatives.len() + 1],
            invalid: invalid.unwrap_or_default(),
            ..PolicyFacts::default()
        };
        facts.invalid_unread = invalid_unread;
        let reads: Vec<_> = representatives
            .iter()
            .enumerate()
            .map(|(i, a)| async move { (i + 1, org.effective_policy(a).await) })
            .collect();
        let read: Vec<(usize, Result<Option<String>, Error>)> =
            stream::iter(reads).buffer_unordered(ORGANIZATIONS_READS).collect().await;
        for (class, text) in read {
            match text {
                Ok(text) => facts.effective[class] = text.and_then(|t| Effective::parse(&t).ok()),
                Err(e) => {
                    tracing::warn!(error = %e, "an effective GuardDuty policy could not be read");
                    facts.unread.insert(class, e.to_string());
                }
            }
        }
        Ok(facts)
    }

    /// The policies this tool owns, by base name, each with the unit of GUARDDUTY_FEATURES_BY_OU it is for (by
    /// index): the main one (GUARDDUTY_POLICY_NAME, with GUARDDUTY_FEATURES), and one per listed unit
    /// (`<name>-<unit>`, with its exact plans), attached at that unit. A child's block overrides what it inherits key
    /// by key ("Understanding declarative policy inheritance"), and a unit's block names every plan the region
    /// offers, on or off: so the unit's accounts get exactly its plans, and AWS itself keeps them. A policy whose
    /// blocks do not fit in one is written in parts (`<name>-2`, ...).
    pub(crate) fn owned_names(&self) -> Vec<(String, Option<usize>)> {
        let main = &self.settings.policy_name;
        let mut names = vec![(main.clone(), None)];
        names.extend(self.settings.plans_by_ou.iter().enumerate().map(|(i, o)| (format!("{main}-{}", o.ou), Some(i))));
        names
    }

    /// Where each policy this tool owns must be attached (by base name): the main one at the root, or, with
    /// exclusions, at the highest units and the accounts whose whole subtree holds nothing excluded; a unit's at the
    /// unit, the same way. Neither is ever attached to a node of a unit below it that has its own policy, so no node
    /// holds two of this tool's policies that assign the same key.
    pub(crate) fn policy_targets(
        &self,
        ctx: &Context,
        tree: Option<&OrgTree>,
    ) -> Option<BTreeMap<String, BTreeSet<String>>> {
        let (ous, accounts) = (&self.settings.excluded_ous, &self.settings.excluded_accounts);
        let exclusions = !ous.is_empty() || !accounts.is_empty();
        let units: BTreeSet<String> = self.settings.plans_by_ou.iter().map(|o| o.ou.clone()).collect();
        let mut targets = BTreeMap::new();
        for (name, unit) in self.owned_names() {
            let top = unit.map_or(ctx.root.id.as_str(), |i| self.settings.plans_by_ou[i].ou.as_str());
            let cover: BTreeSet<String> = match (exclusions, tree) {
                (false, _) => [top.to_owned()].into(),
                (true, Some(tree)) => tree.cover(top, ous, accounts, &units).into_iter().collect(),
                (true, None) => return None,
            };
            targets.insert(name, cover);
        }
        Some(targets)
    }

    /// The writes that keep the policies this run owns as configured: their content from what each governed region
    /// of `choice` offers (`offered`; a governed region whose plans this run did not read, because it failed there or
    /// did not run there, keeps its blocks as they are), in as many parts as it takes, attached at `targets`. A
    /// policy of a unit no longer listed, and a part no longer needed, is detached (never deleted: that is the
    /// user's call, `guardduty-enabler retire-policy`). Recorded as planned in a dry run. Also gives back the
    /// organization's GuardDuty policies as the writes left them, for the effective policies' read.
    pub(crate) async fn own_policies(
        &self,
        ctx: &Context,
        choice: &RegionChoice,
        offered: &BTreeMap<String, OrgConfig>,
        targets: BTreeMap<String, BTreeSet<String>>,
    ) -> (Vec<OrgAction>, Vec<OwnedPolicy>, Option<PolicyMap>) {
        let main = self.settings.policy_name.clone();
        let (found, map) = match self.found_policies().await {
            Ok(found) => found,
            Err(e) => return (vec![failed(OrgActionKind::ReadPolicy, &main, &e.to_string())], Vec::new(), None),
        };
        let unknown: Vec<String> =
            choice.governed.iter().chain(&choice.not_run).filter(|r| !offered.contains_key(*r)).cloned().collect();
        let wanted = match self.wanted_policies(offered, &unknown, &found.ours, targets) {
            Ok(wanted) => wanted,
            Err(why) => return (vec![failed(OrgActionKind::LayoutPolicy, &main, &why)], Vec::new(), Some(map)),
        };
        if let Err(why) = attachments_fit(&found, &wanted) {
            return (vec![failed(OrgActionKind::AttachPolicy, &main, &why)], Vec::new(), Some(map));
        }
        let pairs: Vec<(Option<&Owned>, &Wanted)> = wanted.iter().map(|w| (found.ours.get(&w.name), w)).collect();
        let (steps, mut actions) = withhold_type(ctx, plan_policies(&ctx.root, &pairs), &wanted, &main, &unknown);
        let mut ids: Vec<Option<String>> = pairs.iter().map(|(o, _)| o.map(|o| o.id.clone())).collect();
        actions.extend(self.write_policies(ctx, &steps, &wanted, &mut ids).await);
        let map = after_writes(map, &wanted, &ids, &actions);
        let reports = wanted
            .iter()
            .zip(&ids)
            .map(|(w, id)| OwnedPolicy {
                name: w.name.clone(),
                id: id.clone(),
                content: w.content.clone(),
                previous: found.ours.get(&w.name).map(|o| o.content.clone()).filter(|c| *c != w.content),
                targets: w.targets.iter().cloned().collect(),
            })
            .collect();
        let names = self.owned_names();
        let bases: BTreeMap<String, BTreeSet<String>> = wanted
            .iter()
            .filter(|w| names.iter().any(|(base, _)| *base == w.name))
            .map(|w| (w.name.clone(), w.targets.clone()))
            .collect();
        self.memory.remember_policy_targets(bases);
        (actions, reports, Some(map))
    }

    /// What each policy should say and where it belongs: every part of every owned base (the main one with
    /// GUARDDUTY_FEATURES, a unit's with its exact plans), then the strays (a unit no longer listed, a part no longer
    /// needed), which keep what they say and belong nowhere.
    fn wanted_policies(
        &self,
        offered: &BTreeMap<String, OrgConfig>,
        unknown: &[String],
        found: &BTreeMap<String, Owned>,
        mut targets: BTreeMap<String, BTreeSet<String>>,
    ) -> Result<Vec<Wanted>, String> {
        let mut wanted = Vec::new();
        for (base, unit) in self.owned_names() {
            let plans: BTreeMap<String, (Vec<Plan>, Vec<String>)> = offered
                .iter()
                .map(|(region, config)| {
                    let plans = match unit {
                        None => (self.settings.plans.resolve(config).plans, Vec::new()),
                        Some(i) => {
                            let (on, off) = self.settings.plans_by_ou[i].resolve(config);
                            (on.plans, off)
                        }
                    };
                    (region.clone(), plans)
                })
                .collect();
            let parts: Vec<Option<&Owned>> = (0..ATTACHED_LIMIT).map(|k| found.get(&part_name(&base, k))).collect();
            let held: Vec<BTreeSet<String>> = parts
                .iter()
                .map(|o| o.map(|o| policy::blocks(&o.content).into_keys().collect()).unwrap_or_default())
                .collect();
            let current: BTreeMap<String, serde_json::Value> =
                parts.iter().flatten().flat_map(|o| policy::blocks(&o.content)).collect();
            let laid = layout(&blocks(&plans, unknown, &current), &held).map_err(|e| format!("{base}: {e}"))?;
            let at = targets.remove(&base).unwrap_or_default();
            for (k, part) in laid.into_iter().enumerate() {
                let content = policy::content(part);
                wanted.push(Wanted { name: part_name(&base, k), content, targets: at.clone() });
            }
        }
        for (name, ours) in found {
            if !wanted.iter().any(|w| w.name == *name) {
                wanted.push(Wanted { name: name.clone(), content: ours.content.clone(), targets: BTreeSet::new() });
            }
        }
        Ok(wanted)
    }

    /// The GuardDuty policies this tool owns as AWS holds them (those tagged with GUARDDUTY_POLICY_NAME; one of an
    /// earlier release adopted), by name, with their content and attachments; and how many other GuardDuty
    /// policies each target holds.
    pub(super) async fn found_policies(&self) -> Result<(Found, PolicyMap), Error> {
        let org = self.cloud.organization();
        let map = self.policy_map().await?;
        let owned: Vec<Option<&PolicyRecord>> =
            bounded(ORGANIZATIONS_READS, map.records.iter().map(|p| self.ownership(p))).await?;
        let mine: Vec<&PolicyRecord> = owned.into_iter().flatten().collect();
        let contents = bounded(
            ORGANIZATIONS_READS,
            mine.iter().map(|p| async move { org.policy_content(&p.id).await.map(|text| (*p, text)) }),
        )
        .await?;
        let mut ours = BTreeMap::new();
        for (p, text) in contents {
            // Compared as JSON: content that does not parse is content to replace.
            let content = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            let targets = map.targets.get(&p.id).cloned().unwrap_or_default().into_iter().collect();
            ours.insert(p.name.clone(), Owned { id: p.id.clone(), content, targets });
        }
        let mut foreign: HashMap<String, usize> = HashMap::new();
        for p in map.records.iter().filter(|p| !mine.iter().any(|m| m.id == p.id)) {
            for target in map.targets.get(&p.id).into_iter().flatten() {
                *foreign.entry(target.clone()).or_default() += 1;
            }
        }
        Ok((Found { ours, foreign }, map))
    }

    /// Whether this tool owns `p`: it carries the owner tag with GUARDDUTY_POLICY_NAME. A policy named as this tool
    /// names its policies, with this tool's description and no owner tag, was written by an earlier release: it is
    /// tagged (outside a dry run) and owned. Only names that start with GUARDDUTY_POLICY_NAME are asked about.
    async fn ownership<'p>(&self, p: &'p PolicyRecord) -> Result<Option<&'p PolicyRecord>, Error> {
        let name = &self.settings.policy_name;
        if !self.settings.may_own_policy(&p.name) {
            return Ok(None);
        }
        let org = self.cloud.organization();
        let tags = org.policy_tags(&p.id).await?;
        match tags.get(OWNER_TAG) {
            Some(owner) => Ok((owner == name).then_some(p)),
            None if p.description == DESCRIPTION => {
                if !self.settings.dry_run {
                    org.tag_policy(&p.id, OWNER_TAG, name).await?;
                }
                tracing::info!(policy = %p.name, id = %p.id, "adopted a GuardDuty policy an earlier release wrote");
                Ok(Some(p))
            }
            None => Ok(None),
        }
    }

    /// Applies `steps` in order (or records them as planned in a dry run). The policy type is waited for, once it
    /// is enabled, until it shows ENABLED before the first attachment; writes after a failed content or type write,
    /// and those the run's deadline leaves no time for, are withheld for the next run.
    async fn write_policies(
        &self,
        ctx: &Context,
        steps: &[(usize, PolicyStep)],
        wanted: &[Wanted],
        ids: &mut [Option<String>],
    ) -> Vec<OrgAction> {
        let mut actions = Vec::new();
        let mut stopped: Option<String> = None;
        let (contents, rest): (Vec<_>, Vec<_>) = steps.iter().partition(|(_, s)| {
            matches!(s, PolicyStep::CreatePolicy | PolicyStep::UpdatePolicy | PolicyStep::EnablePolicyType { .. })
        });
        for (i, step) in contents {
            let (action, target) = describe(step, &wanted[*i].name, &ctx.root.id);
            if ctx.dry_run || stopped.is_some() {
                actions.push(held(action, target, stopped.as_deref().unwrap_or_default(), ctx.dry_run));
                continue;
            }
            let result = self.policy_write(step, &mut ids[*i], &wanted[*i]).await;
            if let (PolicyStep::EnablePolicyType { .. }, Ok(())) = (step, &result) {
                // A warm process's onboardings must not enable it again.
                let root = Root { guardduty_policies: PolicyTypeStatus::PendingEnable, ..ctx.root.clone() };
                self.memory.remember_root(&root);
            }
            if let Err(e) = &result {
                stopped = Some(format!("{action} {target} failed: {e}"));
            }
            actions.push(done(action, target, result));
        }
        let waits = ctx.root.guardduty_policies != PolicyTypeStatus::Enabled;
        if waits && !ctx.dry_run && stopped.is_none() && !rest.is_empty() {
            stopped = self.wait_for_policy_type(ctx).await.err();
        }
        actions.extend(self.attachments(ctx, &rest, wanted, ids, stopped).await);
        actions
    }

    /// The attachments and detachments, a few at a time; each withheld when `stopped` says why, or once half of the
    /// run's time left has gone to them.
    async fn attachments(
        &self,
        ctx: &Context,
        steps: &[&(usize, PolicyStep)],
        wanted: &[Wanted],
        ids: &[Option<String>],
        stopped: Option<String>,
    ) -> Vec<OrgAction> {
        // At most half of the time left: the members are still converged and checked in the same run (with exclusions
        // by account, a first run may have thousands to attach at Organizations' two writes a second).
        let now = Instant::now();
        let cutoff = ctx.deadline.map(|d| now + d.saturating_duration_since(now) / 2);
        // What each write needs, owned and small; its future is made only when its turn comes (thousands of SDK call
        // futures made at once would hold tens of megabytes).
        let writes: Vec<(OrgActionKind, String, Option<String>, PolicyStep)> = steps
            .iter()
            .map(|(i, step)| {
                let (action, target) = describe(step, &wanted[*i].name, &ctx.root.id);
                (action, target, ids[*i].clone(), step.clone())
            })
            .collect();
        let stopped = stopped.as_deref();
        stream::iter(writes)
            .map(|(action, target, id, step)| async move {
                if ctx.dry_run {
                    return held(action, target, "", true);
                }
                if let Some(why) = stopped {
                    return held(action, target, why, false);
                }
                if cutoff.is_some_and(|d| Instant::now() >= d) {
                    let why = "the invocation's time for attachments ran out; the next run makes it";
                    return held(action, target, why, false);
                }
                let org = self.cloud.organization();
                let result = match (id, &step) {
                    (None, _) => Err(Error::Unexpected("the policy has no id yet; nothing was sent".into())),
                    (Some(id), PolicyStep::AttachPolicy { target }) => org.attach_policy(&id, target).await,
                    (Some(id), PolicyStep::DetachPolicy { target }) => org.detach_policy(&id, target).await,
                    (Some(_), other) => Err(Error::Unexpected(format!("{other:?} is not an attachment"))),
                };
                done(action, target, result)
            })
            .buffered(ORGANIZATIONS_WRITES)
            .collect()
            .await
    }

    /// Polls ListRoots until GUARDDUTY_POLICY shows ENABLED (EnablePolicyType "is an asynchronous request that AWS
    /// performs in the background", and AttachPolicy answers PolicyTypeNotEnabledException until it is done), with
    /// backoff, for at most the executor's patience for it (and never past the run's deadline); why not, where it
    /// does not.
    async fn wait_for_policy_type(&self, ctx: &Context) -> Result<(), String> {
        let mut waits = self.patience.policy_type_enabled().waits(Instant::now(), ctx.deadline);
        loop {
            let status = self.cloud.organization().root().await.map_err(|e| e.to_string())?.guardduty_policies;
            if status == PolicyTypeStatus::Enabled {
                self.memory.remember_root(&Root { guardduty_policies: status, ..ctx.root.clone() });
                return Ok(());
            }
            if !waits.sleep().await {
                return Err(format!(
                    "the GuardDuty policy type still shows {status:?} on {} after {} s (enabling it is asynchronous); \
                     the next run attaches the policies",
                    ctx.root.id,
                    waits.elapsed().as_secs()
                ));
            }
        }
    }

    async fn policy_write(&self, step: &PolicyStep, id: &mut Option<String>, wanted: &Wanted) -> Result<(), Error> {
        let org = self.cloud.organization();
        let content = wanted.content.to_string();
        match step {
            PolicyStep::CreatePolicy => {
                let tag = (OWNER_TAG, self.settings.policy_name.as_str());
                *id = Some(org.create_policy(&wanted.name, DESCRIPTION, &content, tag).await?);
                Ok(())
            }
            PolicyStep::UpdatePolicy => match id {
                Some(id) => org.update_policy(id, &content).await,
                None => Err(Error::Unexpected("the policy has no id yet; nothing was sent".into())),
            },
            PolicyStep::EnablePolicyType { root } => org.enable_policy_type(root).await,
            other => Err(Error::Unexpected(format!("{other:?} is not a content write"))),
        }
    }
}

/// The accounts of `tree` grouped by the attachments along their paths, and one account of each group: an account
/// no GuardDuty policy reaches has no group.
fn groups(tree: &OrgTree, map: &PolicyMap) -> (HashMap<AccountId, usize>, Vec<AccountId>) {
    let mut attached: HashMap<&str, Vec<&str>> = HashMap::new();
    for (policy, targets) in &map.targets {
        for target in targets {
            attached.entry(target).or_default().push(policy);
        }
    }
    attached.values_mut().for_each(|p| p.sort_unstable());
    let mut groups: HashMap<Vec<Vec<&str>>, usize> = HashMap::new();
    let mut representatives: Vec<AccountId> = Vec::new();
    let mut classes: HashMap<AccountId, usize> = HashMap::new();
    for account in tree.accounts.iter().filter(|a| a.is_active()) {
        let path = tree.path(account.id.as_str());
        let signature: Vec<Vec<&str>> = path.iter().filter_map(|node| attached.get(node.as_str()).cloned()).collect();
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
    (classes, representatives)
}

/// Whether every target keeps within [`ATTACHED_LIMIT`] GuardDuty policies once this tool's parts are attached
/// there, beside the other policies it holds; why not, naming the target, where one would not.
fn attachments_fit(found: &Found, wanted: &[Wanted]) -> Result<(), String> {
    let mut ours: HashMap<&str, usize> = HashMap::new();
    for w in wanted {
        for target in &w.targets {
            *ours.entry(target).or_default() += 1;
        }
    }
    match ours.iter().find(|(t, n)| **n + found.foreign.get(**t).copied().unwrap_or(0) > ATTACHED_LIMIT) {
        Some((target, n)) => Err(format!(
            "{target} would hold {n} of this tool's GuardDuty policies beside {} others, over the {ATTACHED_LIMIT} \
             a root, unit or account may hold; nothing was written (fewer governed regions or plans need fewer parts)",
            found.foreign.get(*target).copied().unwrap_or(0)
        )),
        None => Ok(()),
    }
}

/// Holds back the policy type while a governed region would have no block in the main policy (its plans could not
/// be read this run, and the policy has none for it yet): once the type is enabled, "the Regional GuardDuty
/// auto-enablement settings no longer apply, whether or not a policy is attached" (GuardDuty User Guide, GuardDuty
/// organization policies), and new accounts there would have neither. Nothing is written while no region has one.
fn withhold_type(
    ctx: &Context,
    mut steps: Vec<(usize, PolicyStep)>,
    wanted: &[Wanted],
    main: &str,
    unknown: &[String],
) -> (Vec<(usize, PolicyStep)>, Vec<OrgAction>) {
    let base_parts = wanted.iter().filter(|w| w.name == main || w.name.strip_prefix(main).is_some_and(is_part_suffix));
    let blocks: BTreeSet<String> = base_parts.flat_map(|w| policy::blocks(&w.content).into_keys()).collect();
    let missing: Vec<&str> = unknown.iter().filter(|r| !blocks.contains(*r)).map(String::as_str).collect();
    if missing.is_empty() || !steps.iter().any(|(_, s)| matches!(s, PolicyStep::EnablePolicyType { .. })) {
        return (steps, Vec::new());
    }
    steps.retain(|(_, s)| !blocks.is_empty() && matches!(s, PolicyStep::CreatePolicy | PolicyStep::UpdatePolicy));
    let why = format!(
        "not enabled yet: the plans of {} could not be read this run, so the policy has no block there, and once the \
         type is enabled the organization's auto-enable settings no longer apply; the next run that reads them \
         enables it",
        missing.join(", ")
    );
    (steps, vec![held(OrgActionKind::EnablePolicyType, ctx.root.id.clone(), &why, false)])
}

/// Whether `rest` (what follows a base name) names one of its parts: `-2`, `-3`, ...
fn is_part_suffix(rest: &str) -> bool {
    rest.strip_prefix('-').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The organization's GuardDuty policies once the writes are made: this tool's where they were attached and
/// detached, the others as they were read.
fn after_writes(mut map: PolicyMap, wanted: &[Wanted], ids: &[Option<String>], actions: &[OrgAction]) -> PolicyMap {
    let owed: BTreeSet<&str> = actions
        .iter()
        .filter(|a| a.status.is_owed() || a.status == ActionStatus::Planned)
        .map(|a| a.target.as_str())
        .collect();
    for (w, id) in wanted.iter().zip(ids) {
        let Some(id) = id else { continue };
        let before = map.targets.remove(id).unwrap_or_default();
        // Where a write is still owed, what was there before still is.
        let mut now: BTreeSet<String> = w.targets.iter().filter(|t| !owed.contains(t.as_str())).cloned().collect();
        now.extend(before.into_iter().filter(|t| owed.contains(t.as_str())));
        map.targets.insert(id.clone(), now.into_iter().collect());
        if !map.records.iter().any(|r| r.id == *id) {
            map.records.push(PolicyRecord { id: id.clone(), name: w.name.clone(), description: DESCRIPTION.into() });
        }
    }
    map
}

/// Runs `calls`, at most `width` at once, into their answers (the first error stops them).
async fn bounded<T, F>(width: usize, calls: impl Iterator<Item = F>) -> Result<Vec<T>, Error>
where
    F: std::future::Future<Output = Result<T, Error>>,
{
    // Collected first: a stream over the iterator itself would hold its closure, which borrows each item, and a
    // future that holds such a closure cannot be proven Send.
    let calls: Vec<F> = calls.collect();
    stream::iter(calls).buffered(width).try_collect().await
}

/// A policy step as the report names it: the action and what it is done to.
fn describe(step: &PolicyStep, name: &str, root: &str) -> (OrgActionKind, String) {
    match step {
        PolicyStep::CreatePolicy => (OrgActionKind::CreatePolicy, name.to_owned()),
        PolicyStep::UpdatePolicy => (OrgActionKind::UpdatePolicy, name.to_owned()),
        PolicyStep::EnablePolicyType { .. } => (OrgActionKind::EnablePolicyType, root.to_owned()),
        PolicyStep::AttachPolicy { target } => (OrgActionKind::AttachPolicy, target.clone()),
        PolicyStep::DetachPolicy { target } => (OrgActionKind::DetachPolicy, target.clone()),
    }
}

fn failed(action: OrgActionKind, target: &str, why: &str) -> OrgAction {
    OrgAction { action, target: target.to_owned(), status: ActionStatus::Failed, error: Some(why.to_owned()) }
}

/// A write not made: planned (a dry run), or withheld for `why`.
fn held(action: OrgActionKind, target: String, why: &str, planned: bool) -> OrgAction {
    if planned {
        OrgAction { action, target, status: ActionStatus::Planned, error: None }
    } else {
        OrgAction { action, target, status: ActionStatus::Withheld, error: Some(why.to_owned()) }
    }
}

fn done(action: OrgActionKind, target: String, result: Result<(), Error>) -> OrgAction {
    match result {
        Ok(()) => OrgAction { action, target, status: ActionStatus::Done, error: None },
        Err(e) => failed(action, &target, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Enablement;
    use crate::ports::PolicyTypeStatus;
    use crate::state::MemberStatus;
    use crate::testing::{admin, enabler, World};

    const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

    #[tokio::test]
    async fn a_run_that_owns_a_policy_writes_it_between_the_regions_two_passes() {
        // Given an organization without GuardDuty policies, and GUARDDUTY_ENABLEMENT=policy.
        let enabler = enabler(World::organization(2, &REGIONS), |s| s.enablement = Enablement::Policy);

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the policy type is enabled (it was pending once), the policy is written and attached to the root, and
        // every member is Enabled with the plans the policy gives it.
        assert!(report.is_success(), "{:?}", report.problems());
        assert_eq!(report.enablement, "policy");
        let world = enabler.cloud().world();
        assert_eq!(world.root.as_ref().map(|r| r.guardduty_policies), Some(PolicyTypeStatus::Enabled));
        let policy = world.policies.values().next().expect("a policy written");
        assert!(policy.targets.contains("r-root"), "{:?}", policy.targets);
        assert!(policy.content.contains("s3_data_events"), "{}", policy.content);
        for region in REGIONS {
            assert_eq!(world.member(admin(), region, World::account(3)), Some(MemberStatus::Enabled), "{region}");
        }
        // The two passes: every region's foundation before the policy, every membership after it is attached.
        let order: Vec<&str> = world.writes.iter().map(|w| w.operation).collect();
        let at = |op: &str| order.iter().position(|o| *o == op).unwrap_or_else(|| panic!("{op} in {order:?}"));
        let last = |op: &str| order.iter().rposition(|o| *o == op).unwrap_or_else(|| panic!("{op} in {order:?}"));
        assert!(last("EnableOrganizationAdminAccount") < at("CreatePolicy"), "{order:?}");
        assert!(at("AttachPolicy") < at("CreateMembers"), "{order:?}");
        assert!(world.writes_of("UpdateOrganizationConfiguration").is_empty(), "policy mode writes no auto-enable");
        // The type was pending once after EnablePolicyType: the attachment waited for it instead of failing.
        assert_eq!(world.writes_of("EnablePolicyType").len(), 1);
        assert_eq!(world.writes_of("AttachPolicy").len(), 1, "one attachment, made once the type was enabled");
    }

    #[tokio::test]
    async fn a_policy_for_thirty_regions_is_split_into_parts_organizations_accepts() {
        // Given thirty governed regions: a block per region does not fit in one policy, and Organizations refuses
        // more than 10,000 characters.
        let regions: Vec<String> = (0..30).map(|i| format!("eu-test-{i}")).collect();
        let names: Vec<&str> = regions.iter().map(String::as_str).collect();
        let enabler = enabler(World::organization(1, &names), |s| s.enablement = Enablement::Policy);

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the content is split into parts that each fit, every part attached, and no write was refused.
        assert!(report.is_success(), "{:?}", report.problems());
        let world = enabler.cloud().world();
        assert!(world.policies.len() >= 2, "{} policies", world.policies.len());
        assert!(world.policies.values().all(|p| p.content.chars().count() <= 10_000 && p.targets.contains("r-root")));
        assert!(report.organization.iter().all(|a| a.error.is_none()), "{:?}", report.organization);
    }
}
