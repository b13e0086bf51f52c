//! Who wants what: a run sorts the accounts into classes that want the same plans in every region, from the two
//! things that decide it, the organizational unit's plan set (GUARDDUTY_FEATURES_BY_OU, the deepest listed unit on
//! the account's path) and, in policy mode, the account's effective GuardDuty policy. Then, per region, each class's
//! plan set: its unit's plans (exact, the region's other plans off) or GUARDDUTY_FEATURES (never anything off), with
//! what its policy's block decides for the plans it governs (checked, never written).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::config::{Plan, Settings};
use crate::ids::AccountId;
use crate::plan::protection::{PlanSet, Wants};
use crate::policy::{Block, Effective};
use crate::state::OrgConfig;
use crate::tree::OrgTree;

/// What decides a class's plans: its unit's plan set (0: GUARDDUTY_FEATURES; i: the i-th of
/// GUARDDUTY_FEATURES_BY_OU, from 1) and its effective policy (0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Kind {
    pub ou: usize,
    pub policy: usize,
}

/// The run's accounts by class.
#[derive(Clone, Debug)]
pub(crate) struct AccountClasses {
    /// Each account's class; an account not listed is of class 0 (GUARDDUTY_FEATURES, no policy).
    pub classes: Arc<HashMap<AccountId, usize>>,
    /// What decides each class.
    pub kinds: Vec<Kind>,
    /// The effective policies, by index (0: none); empty outside policy mode.
    pub effective: Vec<Option<Effective>>,
    /// Accounts whose effective policy is invalid.
    pub invalid: Vec<AccountId>,
    /// The effective policies that could not be read (by index), with why: their accounts are checked against the
    /// configured plans, and named.
    pub unread: HashMap<usize, String>,
    /// Why the accounts with an invalid effective policy could not be listed, where they could not.
    pub invalid_unread: Option<String>,
}

impl Default for AccountClasses {
    fn default() -> Self {
        Self {
            classes: Arc::default(),
            kinds: vec![Kind::default()],
            effective: Vec::new(),
            invalid: Vec::new(),
            unread: HashMap::new(),
            invalid_unread: None,
        }
    }
}

/// In policy mode, each account's effective policy, by index into `effective` (0: none), and the accounts whose
/// effective policy is invalid; and what could not be read: the effective policies of some groups (by index, with
/// why), and the list of invalid ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyFacts {
    pub of: HashMap<AccountId, usize>,
    pub effective: Vec<Option<Effective>>,
    pub invalid: Vec<AccountId>,
    pub unread: HashMap<usize, String>,
    pub invalid_unread: Option<String>,
}

impl AccountClasses {
    /// The classes of accounts from their units' plan sets (`ou`) and, in policy mode, their policies.
    pub(crate) fn new(ou: &HashMap<AccountId, usize>, policies: Option<PolicyFacts>) -> Self {
        let policies = policies.unwrap_or_default();
        let mut kinds = vec![Kind::default()];
        let mut index: HashMap<Kind, usize> = [(Kind::default(), 0)].into();
        let mut classes = HashMap::new();
        let accounts: BTreeSet<&AccountId> = ou.keys().chain(policies.of.keys()).collect();
        for account in accounts {
            let kind = Kind {
                ou: ou.get(account).copied().unwrap_or(0),
                policy: policies.of.get(account).copied().unwrap_or(0),
            };
            let class = *index.entry(kind).or_insert_with(|| {
                kinds.push(kind);
                kinds.len() - 1
            });
            if class != 0 {
                classes.insert(*account, class);
            }
        }
        Self {
            classes: Arc::new(classes),
            kinds,
            effective: policies.effective,
            invalid: policies.invalid,
            unread: policies.unread,
            invalid_unread: policies.invalid_unread,
        }
    }

    /// The accounts among `accounts` whose effective policy could not be read, with why.
    pub(crate) fn unread<'a>(&self, accounts: impl Iterator<Item = &'a AccountId>) -> Vec<(AccountId, String)> {
        accounts.filter_map(|a| Some((*a, self.unread.get(&self.kind(a).policy)?.clone()))).collect()
    }

    /// Whether the run is in policy mode (effective policies were read).
    pub(crate) fn policies(&self) -> bool {
        !self.effective.is_empty()
    }

    fn kind(&self, account: &AccountId) -> Kind {
        self.kinds[self.classes.get(account).copied().unwrap_or(0)]
    }

    fn effective(&self, kind: Kind) -> Option<&Effective> {
        self.effective.get(kind.policy).and_then(Option::as_ref)
    }

    /// The accounts among `accounts` no GuardDuty policy covers (those whose policy could not be read are not known
    /// to be).
    pub(crate) fn uncovered<'a>(&self, accounts: impl Iterator<Item = &'a AccountId>) -> Vec<AccountId> {
        accounts
            .filter(|a| {
                let kind = self.kind(a);
                self.effective(kind).is_none() && !self.unread.contains_key(&kind.policy)
            })
            .copied()
            .collect()
    }

    /// The plans `account`'s effective policy governs in `region` (the admin's own detector's, never written).
    pub(crate) fn owned(&self, account: &AccountId, region: &str) -> BTreeSet<String> {
        let block = self.effective(self.kind(account)).and_then(|e| e.block(region));
        block.map(|b| b.plans.keys().cloned().collect()).unwrap_or_default()
    }

    /// What each class wants in `region`, whose organization configuration lists `offered`; and the accounts a
    /// policy turns GuardDuty off for there (its block's `foundational` disabled), which are not enrolled.
    pub(crate) fn wants(&self, settings: &Settings, region: &str, offered: &OrgConfig) -> (Wants, BTreeSet<AccountId>) {
        let mut sets = Vec::with_capacity(self.kinds.len());
        let mut off_classes = BTreeSet::new();
        for (class, kind) in self.kinds.iter().enumerate() {
            let (on, off) = match kind.ou {
                0 => (settings.plans.resolve(offered).plans, Vec::new()),
                i => {
                    let (resolved, off) = settings.plans_by_ou[i - 1].resolve(offered);
                    (resolved.plans, off)
                }
            };
            let set = match self.effective(*kind).and_then(|e| e.block(region)) {
                None => PlanSet { on, off, ..PlanSet::default() },
                Some(block) => {
                    if block.foundational == Some(false) {
                        off_classes.insert(class);
                    }
                    with_policy(block, on, off, offered)
                }
            };
            sets.push(set);
        }
        let held = self.classes.iter().filter(|(_, c)| off_classes.contains(c)).map(|(a, _)| *a).collect();
        let set_of = (0..sets.len()).collect();
        (Wants { sets, classes: self.classes.clone(), set_of }, held)
    }
}

/// The plans a class wants where its effective policy's `block` governs some: what the block decides, for the plans
/// the region offers ("A feature listed in a Region where it is not available is ignored for that Region", GuardDuty
/// policy syntax); the configured plans (`on`, `off`) for the rest. A plan the block enables keeps the configured
/// additional configurations the block does not decide (the API path keeps them); a plan the block disables is not
/// expected; a plan the configuration turns off stays to be checked off, though the policy decides it.
fn with_policy(block: &Block, on: Vec<Plan>, off: Vec<String>, offered: &OrgConfig) -> PlanSet {
    let offers = |name: &str| offered.features.is_empty() || offered.features.contains_key(name);
    let governed: BTreeMap<&String, &(bool, BTreeMap<String, bool>)> =
        block.plans.iter().filter(|(name, _)| offers(name)).collect();
    let mut set = PlanSet { off, ..PlanSet::default() };
    for (name, (enabled, agents)) in &governed {
        set.by_policy.insert((*name).clone());
        set.agents_by_policy.insert((*name).clone(), agents.keys().cloned().collect());
        if !*enabled {
            set.off_by_policy.push((*name).clone());
            continue;
        }
        let mut wanted: Vec<String> = agents.iter().filter(|(_, on)| **on).map(|(a, _)| a.clone()).collect();
        if let Some(configured) = on.iter().find(|p| p.name == **name) {
            wanted.extend(configured.agents.iter().filter(|a| !agents.contains_key(*a)).cloned());
        }
        set.on.push(Plan { name: (*name).clone(), agents: wanted });
    }
    set.on.extend(on.into_iter().filter(|p| !governed.contains_key(&p.name)));
    set
}

/// Each account's unit plan set: the deepest unit of GUARDDUTY_FEATURES_BY_OU on its path (by index, from 1);
/// accounts under none are not listed.
pub(crate) fn ou_classes(settings: &Settings, tree: &OrgTree) -> HashMap<AccountId, usize> {
    if settings.plans_by_ou.is_empty() {
        return HashMap::new();
    }
    let mut of = HashMap::new();
    for account in &tree.accounts {
        let path = tree.path(account.id.as_str());
        let deepest = path.iter().rev().find_map(|node| settings.plans_by_ou.iter().position(|o| o.ou == *node));
        if let Some(i) = deepest {
            of.insert(account.id, i + 1);
        }
    }
    of
}
