//! What a member must show beyond being Enabled: the protection plans it should have in a region ([`PlanSet`],
//! chosen per account by [`Wants`]), what it lacks ([`Shortfall`]), and the UpdateMemberDetectors steps that close
//! the gap, one call for up to 50 accounts that need the same change. Pure, like the rest of the planner.
//!
//! Why this is read per member and not trusted to the organization configuration: a plan's `AutoEnable` NEW
//! "reaches only accounts that join from now on", and ALL "may take up to 24 hours" to reach existing members
//! (GuardDuty API reference, `OrganizationFeatureConfiguration`); a plan switched off for one member stays off.
//! So a member counts as protected only when GetMemberDetectors shows every plan it should have ENABLED.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::config::Plan;
use crate::ids::AccountId;
use crate::plan::{Step, MEMBER_BATCH};
use crate::state::Features;

// The current Runtime Monitoring plan and the older, EKS-only one: GuardDuty refuses a request that names both
// ("specifying both EKS Runtime Monitoring (EKS_RUNTIME_MONITORING) and Runtime Monitoring (RUNTIME_MONITORING)
// will cause an error", UpdateMemberDetectors API reference).
use crate::config::{EKS_RUNTIME_MONITORING, RUNTIME_MONITORING};

/// The plans an account should have in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlanSet {
    /// Plans that must show ENABLED, each with the additional configurations that must show ENABLED.
    pub on: Vec<Plan>,
    /// Plans that must not be ENABLED: an exact set (GUARDDUTY_FEATURES_BY_OU) turns the region's other plans off.
    /// Empty otherwise: without it this tool never turns a plan off.
    pub off: Vec<String>,
    /// Plans whose status a GuardDuty organization policy decides for these accounts here: checked, never written
    /// (GuardDuty applies them, eventually).
    pub by_policy: BTreeSet<String>,
    /// Of those, the additional configurations the policy decides too, by plan. The others the API path keeps: a
    /// policy that enables `runtime_monitoring` without `additional_configuration` leaves the agents to it.
    pub agents_by_policy: BTreeMap<String, BTreeSet<String>>,
    /// Plans the policy turns off here (`"disabled"`): not expected, and named in the region's notes.
    pub off_by_policy: Vec<String>,
}

impl PlanSet {
    /// Whether a GuardDuty policy decides `agent` of `plan` for these accounts.
    fn agent_by_policy(&self, plan: &str, agent: &str) -> bool {
        self.agents_by_policy.get(plan).is_some_and(|a| a.contains(agent))
    }
}

/// The run's classes of accounts: accounts of one class want the same plans in a region (they share an effective
/// GuardDuty policy, or an organizational unit's plan set). Accounts not listed are of class 0. Read once per run and
/// shared by its regions.
pub(crate) type Classes = Arc<HashMap<AccountId, usize>>;

/// Which plan set each account wants in a region: the set of its class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Wants {
    /// The sets; never empty.
    pub sets: Vec<PlanSet>,
    /// Each account's class.
    pub classes: Classes,
    /// The set of each class; a class not listed wants the first set.
    pub set_of: Vec<usize>,
}

impl Wants {
    /// Every account wants `set`.
    #[cfg(test)]
    pub(crate) fn everyone(set: PlanSet) -> Self {
        Self { sets: vec![set], ..Self::default() }
    }

    /// The index of the set `account` wants.
    pub(crate) fn index(&self, account: &AccountId) -> usize {
        let class = self.classes.get(account).copied().unwrap_or(0);
        self.set_of.get(class).copied().unwrap_or(0)
    }

    /// Whether any account has to show any plan at all (else nothing needs to be read).
    pub(crate) fn any(&self) -> bool {
        self.sets.iter().any(|s| !s.on.is_empty() || !s.off.is_empty())
    }
}

/// What a region's check of its members' plans found: each Enabled member's shortfall against the set it wants, the
/// members whose plans could not be read (with GuardDuty's reason), GuardDuty's answers to the writes it refused, and
/// the members that show both Runtime Monitoring flavours ENABLED.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlanCheck {
    /// What each account should have.
    pub wants: Wants,
    /// Members that lack something, by account.
    pub shortfalls: BTreeMap<AccountId, Shortfall>,
    /// Members whose plans GuardDuty did not answer for, and why.
    pub unread: BTreeMap<AccountId, String>,
    /// Members whose plans were read.
    pub read: BTreeSet<AccountId>,
    /// GuardDuty's reason for each member an UpdateMemberDetectors did not process.
    pub refused: BTreeMap<AccountId, String>,
    /// Members that show both Runtime Monitoring flavours ENABLED.
    pub both_runtimes: BTreeSet<AccountId>,
}

impl PlanCheck {
    /// A check of what `wants` asks for; nothing read yet.
    pub(crate) fn new(wants: Wants) -> Self {
        Self { wants, ..Self::default() }
    }

    /// Records a member's plans as GetMemberDetectors showed them.
    pub(crate) fn saw(&mut self, account: AccountId, features: &Features) {
        let index = self.wants.index(&account);
        let (s, both) = shortfall(index, &self.wants.sets[index], features);
        self.read.insert(account);
        self.unread.remove(&account);
        if s.is_none() {
            self.shortfalls.remove(&account);
        } else {
            self.shortfalls.insert(account, s);
        }
        if both {
            self.both_runtimes.insert(account);
        } else {
            self.both_runtimes.remove(&account);
        }
    }

    /// Records that GuardDuty did not answer for a member's plans.
    pub(crate) fn missed(&mut self, account: AccountId, reason: String) {
        self.read.insert(account);
        self.unread.insert(account, reason);
    }

    /// Forgets what was read of a member that turned out not to be Enabled (RegionDisabled, say): its plans are
    /// neither a gap nor something to write.
    pub(crate) fn forget(&mut self, account: &AccountId) {
        self.read.remove(account);
        self.unread.remove(account);
        self.shortfalls.remove(account);
        self.both_runtimes.remove(account);
    }

    /// Why an Enabled member is not protected, or `None` where it is.
    pub(crate) fn gap(&self, account: &AccountId) -> Option<String> {
        if let Some(reason) = self.unread.get(account) {
            return Some(format!("its protection plans could not be read: {reason}"));
        }
        let s = self.shortfalls.get(account)?;
        Some(shortfall_reason(&self.wants, s, self.refused.get(account).map(String::as_str)))
    }
}

/// Plans of a [`PlanSet`], by index: any number of them (a region offers nine today), none ever dropped, so that a
/// plan missing always counts against a member.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Bits(BTreeSet<usize>);

impl Bits {
    fn set(&mut self, i: usize) {
        self.0.insert(i);
    }

    /// Whether no bit is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn minus(&self, other: &Self) -> Self {
        Self(self.0.difference(&other.0).copied().collect())
    }

    /// The indices set, in order.
    pub(crate) fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().copied()
    }
}

/// What one member lacks against its set: plans of `on` not ENABLED (`missing`), plans of `off` ENABLED
/// (`unwanted`), and of those the ones a GuardDuty policy owns (`locked_on`, `locked_off`), which are never written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shortfall {
    /// The member's set.
    pub set: usize,
    /// Plans (or one of their additional configurations) that should be ENABLED and are not.
    pub missing: Bits,
    /// Plans that should not be ENABLED and are.
    pub unwanted: Bits,
    /// Of `missing`, those a policy owns.
    pub locked_on: Bits,
    /// Of `unwanted`, those a policy owns.
    pub locked_off: Bits,
}

impl Shortfall {
    /// Whether the member has exactly what it should.
    pub(crate) fn is_none(&self) -> bool {
        self.missing.is_empty() && self.unwanted.is_empty()
    }

    /// What this tool may write to close the gap: (plans to turn on, plans to turn off), as bits.
    fn writable(&self) -> (Bits, Bits) {
        (self.missing.minus(&self.locked_on), self.unwanted.minus(&self.locked_off))
    }
}

/// A member's plans compared with its set, and whether it shows both Runtime Monitoring flavours ENABLED (billed
/// twice: GuardDuty User Guide, "Migrating from EKS Runtime Monitoring to Runtime Monitoring").
pub(crate) fn shortfall(index: usize, set: &PlanSet, features: &Features) -> (Shortfall, bool) {
    let mut s = Shortfall { set: index, ..Shortfall::default() };
    for (i, plan) in set.on.iter().enumerate() {
        let shown = features.get(&plan.name);
        let enabled = shown.is_some_and(|f| f.enabled && plan.agents.iter().all(|a| f.agents.get(a) == Some(&true)));
        if !enabled {
            s.missing.set(i);
            // What is missing is the policy's to apply: the plan's status where the policy decides it, or an agent the
            // policy decides; agents it leaves to the API are written, the status sent as it is.
            let status_locked = set.by_policy.contains(&plan.name) || shown.is_some_and(|f| f.by_policy);
            let off = !shown.is_some_and(|f| f.enabled);
            let agent_locked = plan.agents.iter().any(|a| {
                shown.is_none_or(|f| f.agents.get(a) != Some(&true))
                    && (set.agent_by_policy(&plan.name, a) || shown.is_some_and(|f| f.agents_by_policy.contains(a)))
            });
            if (off && status_locked) || agent_locked {
                s.locked_on.set(i);
            }
        }
    }
    for (i, name) in set.off.iter().enumerate() {
        if let Some(f) = features.get(name).filter(|f| f.enabled) {
            s.unwanted.set(i);
            if set.by_policy.contains(name) || f.any_by_policy() {
                s.locked_off.set(i);
            }
        }
    }
    let on = |name: &str| features.get(name).is_some_and(|f| f.enabled);
    (s, on(RUNTIME_MONITORING) && on(EKS_RUNTIME_MONITORING))
}

/// The UpdateMemberDetectors steps that close the writable part of every shortfall: accounts that need the same
/// change share a call, at most 50 to a call. A change that would name both Runtime Monitoring flavours is split in
/// two calls, the older flavour apart.
pub(crate) fn plan_member_plans(wants: &Wants, shortfalls: &BTreeMap<AccountId, Shortfall>) -> Vec<Step> {
    let mut groups: BTreeMap<(usize, Bits, Bits), Vec<AccountId>> = BTreeMap::new();
    for (account, s) in shortfalls {
        let (on, off) = s.writable();
        if !on.is_empty() || !off.is_empty() {
            groups.entry((s.set, on, off)).or_default().push(*account);
        }
    }
    let mut steps = Vec::new();
    for ((index, on, off), accounts) in groups {
        let set = &wants.sets[index];
        // An agent a policy decides is never named: GuardDuty refuses a request that names one.
        let on: Vec<Plan> = on
            .indices()
            .map(|i| {
                let plan = &set.on[i];
                let agents = plan.agents.iter().filter(|a| !set.agent_by_policy(&plan.name, a)).cloned().collect();
                Plan { name: plan.name.clone(), agents }
            })
            .collect();
        let off: Vec<String> = off.indices().map(|i| set.off[i].clone()).collect();
        let names_both =
            on.iter().map(|p| p.name.as_str()).chain(off.iter().map(String::as_str)).any(|n| n == RUNTIME_MONITORING)
                && on
                    .iter()
                    .map(|p| p.name.as_str())
                    .chain(off.iter().map(String::as_str))
                    .any(|n| n == EKS_RUNTIME_MONITORING);
        let calls: Vec<(Vec<Plan>, Vec<String>)> = if names_both {
            let older = |n: &str| n == EKS_RUNTIME_MONITORING;
            vec![
                (
                    on.iter().filter(|p| !older(&p.name)).cloned().collect(),
                    off.iter().filter(|n| !older(n)).cloned().collect(),
                ),
                (
                    on.iter().filter(|p| older(&p.name)).cloned().collect(),
                    off.iter().filter(|n| older(n)).cloned().collect(),
                ),
            ]
        } else {
            vec![(on, off)]
        };
        for (on, off) in calls {
            for chunk in accounts.chunks(MEMBER_BATCH) {
                steps.push(Step::UpdateMemberDetectors { accounts: chunk.to_vec(), on: on.clone(), off: off.clone() });
            }
        }
    }
    steps
}

/// Why a member with a shortfall is not protected, in words: the plans missing (and which of them a policy has not
/// applied yet), the plans on that its set turns off, and GuardDuty's answer to the last write, if it refused.
pub(crate) fn shortfall_reason(wants: &Wants, s: &Shortfall, refused: Option<&str>) -> String {
    let set = &wants.sets[s.set];
    let name = |plan: &Plan| {
        if plan.agents.is_empty() {
            plan.name.clone()
        } else {
            format!("{} ({})", plan.name, plan.agents.join(", "))
        }
    };
    let (writable_on, _) = s.writable();
    let mut parts = Vec::new();
    let missing: Vec<String> = writable_on.indices().map(|i| name(&set.on[i])).collect();
    if !missing.is_empty() {
        parts.push(format!("protection plans not enabled: {}", missing.join(", ")));
    }
    let pending: Vec<String> = s.locked_on.indices().map(|i| name(&set.on[i])).collect();
    if !pending.is_empty() {
        parts.push(format!("policy not yet applied: {}", pending.join(", ")));
    }
    let unwanted: Vec<&str> = s.unwanted.minus(&s.locked_off).indices().map(|i| set.off[i].as_str()).collect();
    if !unwanted.is_empty() {
        parts.push(format!("plans enabled that its organizational unit turns off: {}", unwanted.join(", ")));
    }
    let forced: Vec<&str> = s.locked_off.indices().map(|i| set.off[i].as_str()).collect();
    if !forced.is_empty() {
        parts.push(format!(
            "plans its organizational unit turns off and a GuardDuty policy keeps on (this tool cannot turn a \
             policy's plan off): {}",
            forced.join(", ")
        ));
    }
    let mut reason = parts.join("; ");
    if let Some(r) = refused {
        reason.push_str(&format!(" (GuardDuty: {r})"));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::FeatureState;

    fn plan(name: &str, agents: &[&str]) -> Plan {
        Plan { name: name.into(), agents: agents.iter().map(|a| (*a).to_owned()).collect() }
    }

    #[test]
    fn a_plan_past_the_thirty_second_is_missed_and_written_like_any_other() {
        // given a set of 40 plans, and a member that shows every one but the 36th
        let names: Vec<String> = (0..40).map(|i| format!("PLAN_{i}")).collect();
        let set = PlanSet { on: names.iter().map(|n| plan(n, &[])).collect(), ..PlanSet::default() };
        let shown: Vec<(&str, &[(&str, bool)])> =
            names.iter().filter(|n| *n != "PLAN_35").map(|n| (n.as_str(), &[][..])).collect();
        // when compared, then the member is short of it, and the step writes it
        let (short, _) = shortfall(0, &set, &features(&shown, &[]));
        assert!(!short.is_none(), "{short:?}");
        assert_eq!(short.missing.indices().collect::<Vec<_>>(), vec![35]);
        let account: AccountId = "111122223333".parse().expect("id");
        let steps = plan_member_plans(&Wants::everyone(set), &BTreeMap::from([(account, short)]));
        assert!(
            matches!(&steps[..], [Step::UpdateMemberDetectors { on, .. }] if on.len() == 1 && on[0].name == "PLAN_35"),
            "{steps:?}"
        );
    }

    fn features(on: &[(&str, &[(&str, bool)])], policy: &[&str]) -> Features {
        on.iter()
            .map(|(name, agents)| {
                let agents = agents.iter().map(|(a, e)| ((*a).to_owned(), *e)).collect();
                let by_policy = policy.contains(name);
                ((*name).to_owned(), FeatureState { enabled: true, agents, by_policy, ..FeatureState::default() })
            })
            .collect()
    }

    fn id(i: u64) -> AccountId {
        format!("{:012}", 300_000_000_000 + i).parse().expect("id")
    }

    fn set() -> PlanSet {
        PlanSet {
            on: vec![plan("S3_DATA_EVENTS", &[]), plan(RUNTIME_MONITORING, &["EC2_AGENT_MANAGEMENT"])],
            ..PlanSet::default()
        }
    }

    #[test]
    fn a_member_with_every_plan_and_agent_enabled_lacks_nothing() {
        let f = features(&[("S3_DATA_EVENTS", &[]), (RUNTIME_MONITORING, &[("EC2_AGENT_MANAGEMENT", true)])], &[]);
        let (s, both) = shortfall(0, &set(), &f);
        assert!(s.is_none(), "{s:?}");
        assert!(!both);
    }

    #[test]
    fn a_plan_off_or_an_agent_off_is_missing_and_a_policy_owned_one_is_not_written() {
        // given a member whose S3 plan is off and whose Runtime Monitoring lacks its agent, both owned by a policy
        let mut f = features(&[(RUNTIME_MONITORING, &[("EC2_AGENT_MANAGEMENT", false)])], &[RUNTIME_MONITORING]);
        f.get_mut(RUNTIME_MONITORING).expect("rm").agents_by_policy.insert("EC2_AGENT_MANAGEMENT".into());
        f.insert("S3_DATA_EVENTS".into(), FeatureState::default());
        // when compared
        let (s, _) = shortfall(0, &set(), &f);
        // then both are missing, only S3 is written, and the reason names each for what it is
        assert_eq!(s.missing.indices().collect::<Vec<_>>(), [0, 1]);
        let wants = Wants::everyone(set());
        let steps = plan_member_plans(&wants, &[(id(1), s.clone())].into_iter().collect());
        assert_eq!(
            steps,
            vec![Step::UpdateMemberDetectors {
                accounts: vec![id(1)],
                on: vec![plan("S3_DATA_EVENTS", &[])],
                off: vec![]
            }]
        );
        let reason = shortfall_reason(&wants, &s, None);
        assert_eq!(
            reason,
            "protection plans not enabled: S3_DATA_EVENTS; policy not yet applied: RUNTIME_MONITORING (EC2_AGENT_MANAGEMENT)"
        );
    }

    #[test]
    fn an_agent_a_policy_leaves_to_the_api_is_written_under_the_plan_the_policy_owns() {
        // given Runtime Monitoring enabled and owned by a policy that decides ECS's agent (on) but not EC2's (off)
        let mut set = set();
        set.on[1].agents.push("ECS_FARGATE_AGENT_MANAGEMENT".into());
        set.by_policy.insert(RUNTIME_MONITORING.into());
        set.agents_by_policy.insert(RUNTIME_MONITORING.into(), ["ECS_FARGATE_AGENT_MANAGEMENT".to_owned()].into());
        let f = features(
            &[
                ("S3_DATA_EVENTS", &[]),
                (RUNTIME_MONITORING, &[("EC2_AGENT_MANAGEMENT", false), ("ECS_FARGATE_AGENT_MANAGEMENT", true)]),
            ],
            &[RUNTIME_MONITORING],
        );
        // when compared
        let (s, _) = shortfall(0, &set, &f);
        // then the plan is missing its agent, not locked, and the write names only the agent the policy leaves
        assert_eq!(s.missing.indices().collect::<Vec<_>>(), [1]);
        assert!(s.locked_on.is_empty(), "{s:?}");
        let steps = plan_member_plans(&Wants::everyone(set), &[(id(1), s)].into_iter().collect());
        assert_eq!(
            steps,
            vec![Step::UpdateMemberDetectors {
                accounts: vec![id(1)],
                on: vec![plan(RUNTIME_MONITORING, &["EC2_AGENT_MANAGEMENT"])],
                off: vec![]
            }]
        );
    }

    #[test]
    fn members_needing_the_same_change_share_calls_of_at_most_fifty() {
        let wants = Wants::everyone(set());
        let lacking_s3 = features(&[(RUNTIME_MONITORING, &[("EC2_AGENT_MANAGEMENT", true)])], &[]);
        let lacking_all = Features::new();
        let mut shortfalls = BTreeMap::new();
        for i in 0..120 {
            shortfalls.insert(id(i), shortfall(0, &wants.sets[0], &lacking_s3).0);
        }
        for i in 120..125 {
            shortfalls.insert(id(i), shortfall(0, &wants.sets[0], &lacking_all).0);
        }
        let steps = plan_member_plans(&wants, &shortfalls);
        let sizes: Vec<(usize, usize)> = steps
            .iter()
            .map(|s| match s {
                Step::UpdateMemberDetectors { accounts, on, .. } => (accounts.len(), on.len()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(sizes, [(50, 1), (50, 1), (20, 1), (5, 2)]);
    }

    #[test]
    fn both_runtime_flavours_on_is_protected_and_noted_and_never_written_together() {
        // given a member with both flavours on: protected, and noted as billed twice
        let f = features(
            &[
                ("S3_DATA_EVENTS", &[]),
                (RUNTIME_MONITORING, &[("EC2_AGENT_MANAGEMENT", true)]),
                (EKS_RUNTIME_MONITORING, &[]),
            ],
            &[],
        );
        let (s, both) = shortfall(0, &set(), &f);
        assert!(s.is_none() && both);
        // given an exact set that wants neither flavour, the two are turned off in separate calls
        let exact = PlanSet {
            on: vec![],
            off: vec![RUNTIME_MONITORING.into(), EKS_RUNTIME_MONITORING.into(), "S3_DATA_EVENTS".into()],
            ..PlanSet::default()
        };
        let wants = Wants::everyone(exact);
        let (s, _) = shortfall(0, &wants.sets[0], &f);
        let steps = plan_member_plans(&wants, &[(id(1), s)].into_iter().collect());
        let offs: Vec<Vec<String>> = steps
            .iter()
            .map(|s| match s {
                Step::UpdateMemberDetectors { off, .. } => off.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            offs,
            [vec![RUNTIME_MONITORING.to_owned(), "S3_DATA_EVENTS".to_owned()], vec![EKS_RUNTIME_MONITORING.to_owned()]]
        );
    }
}
