//! The organization's shape: which organizational units and accounts sit under which parent, read where a run needs
//! it (GuardDuty policy mode; plans by organizational unit). Pure once read: paths from the root, and where a policy
//! must be attached to cover every account but the excluded ones.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::ids::AccountId;
use crate::ports::Subtree;
use crate::state::OrgAccount;

/// The organization's tree, from its root.
#[derive(Clone, Debug, Default)]
pub(crate) struct OrgTree {
    /// Every account, with its standing.
    pub accounts: Vec<OrgAccount>,
    /// Each organizational unit's and account's parent.
    parent: HashMap<String, String>,
    /// Each root's and organizational unit's child organizational units.
    children: HashMap<String, Vec<String>>,
    /// Each root's and organizational unit's accounts.
    members: HashMap<String, Vec<usize>>,
}

impl OrgTree {
    /// The tree under the root, as [`crate::ports::OrganizationApi::subtree`] read it.
    pub(crate) fn new(subtree: Subtree) -> Self {
        let mut tree = Self::default();
        for (ou, parent) in subtree.ous {
            tree.children.entry(parent.clone()).or_default().push(ou.clone());
            tree.parent.insert(ou, parent);
        }
        for (account, parent) in subtree.accounts {
            tree.members.entry(parent.clone()).or_default().push(tree.accounts.len());
            tree.parent.insert(account.id.to_string(), parent);
            tree.accounts.push(account);
        }
        tree
    }

    /// The nodes from the root down to `node`, both included.
    pub(crate) fn path(&self, node: &str) -> Vec<String> {
        let mut path = vec![node.to_owned()];
        let mut at = node;
        while let Some(parent) = self.parent.get(at) {
            path.push(parent.clone());
            at = parent;
            if path.len() > 16 {
                break; // Organizations nests at most five levels of units; a cycle is not a tree.
            }
        }
        path.reverse();
        path
    }

    /// Where a policy must be attached so that it covers every ACTIVE account under `top` except the excluded ones:
    /// `top` itself when nothing under it is excluded; otherwise, recursively, the highest organizational units
    /// whose whole subtree holds nothing excluded, and the accounts directly under a unit that does. The units of
    /// `elsewhere` below `top` are passed over: another policy covers them (a unit's own, attached at the unit), and
    /// two of this tool's policies on one node would assign the same keys, which no documented rule merges.
    pub(crate) fn cover(
        &self,
        top: &str,
        excluded_ous: &BTreeSet<String>,
        excluded: &BTreeSet<AccountId>,
        elsewhere: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut dirty: HashSet<&str> = HashSet::new();
        let marks = excluded_ous.iter().map(String::as_str).chain(excluded.iter().map(AccountId::as_str));
        for node in marks {
            let mut at = node;
            dirty.insert(at);
            while let Some(parent) = self.parent.get(at) {
                if !dirty.insert(parent) {
                    break;
                }
                at = parent;
            }
        }
        let mut cover = Vec::new();
        let mut stack = vec![top];
        while let Some(node) = stack.pop() {
            if excluded_ous.contains(node) || (node != top && elsewhere.contains(node)) {
                continue;
            }
            if !dirty.contains(node) {
                cover.push(node.to_owned());
                continue;
            }
            stack.extend(self.children.get(node).into_iter().flatten().map(String::as_str));
            for &i in self.members.get(node).into_iter().flatten() {
                let account = &self.accounts[i];
                if account.is_active() && !excluded.contains(&account.id) {
                    cover.push(account.id.to_string());
                }
            }
        }
        cover.sort();
        cover
    }

    /// The ACTIVE accounts under `ou` (at any depth), or `ou` itself when it names an account.
    pub(crate) fn accounts_under(&self, ou: &str) -> impl Iterator<Item = &OrgAccount> + '_ {
        let ou = ou.to_owned();
        self.accounts.iter().filter(move |a| self.path(a.id.as_str()).contains(&ou))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn account(id: &str) -> OrgAccount {
        OrgAccount {
            id: id.parse().expect("id"),
            name: id.into(),
            email: Arc::from("a@example.com"),
            state: "ACTIVE".into(),
        }
    }

    /// r-root: accounts 1, 2; ou-a (account 3; ou-b with account 4; ou-c with account 5)
    fn tree() -> OrgTree {
        let subtree = Subtree {
            ous: vec![("ou-a".into(), "r-root".into()), ("ou-b".into(), "ou-a".into()), ("ou-c".into(), "ou-a".into())],
            accounts: vec![
                (account("111111111111"), "r-root".into()),
                (account("222222222222"), "r-root".into()),
                (account("333333333333"), "ou-a".into()),
                (account("444444444444"), "ou-b".into()),
                (account("555555555555"), "ou-c".into()),
            ],
            ..Subtree::default()
        };
        OrgTree::new(subtree)
    }

    #[test]
    fn paths_run_from_the_root_down() {
        assert_eq!(tree().path("444444444444"), ["r-root", "ou-a", "ou-b", "444444444444"]);
        assert_eq!(tree().path("r-root"), ["r-root"]);
    }

    #[test]
    fn with_nothing_excluded_the_root_covers_everything() {
        assert_eq!(tree().cover("r-root", &BTreeSet::new(), &BTreeSet::new(), &BTreeSet::new()), ["r-root"]);
    }

    #[test]
    fn an_excluded_unit_nested_under_a_governed_one_is_left_out_and_everything_else_covered() {
        // given ou-b excluded, nested in ou-a
        let excluded_ous: BTreeSet<String> = ["ou-b".to_owned()].into();
        let cover = tree().cover("r-root", &excluded_ous, &BTreeSet::new(), &BTreeSet::new());
        // then the root's own accounts, ou-a's own account and its other unit are covered, nothing above ou-b
        assert_eq!(cover, ["111111111111", "222222222222", "333333333333", "ou-c"]);
        // and an excluded account is left out the same way
        let excluded: BTreeSet<AccountId> = ["555555555555".parse().expect("id")].into();
        let cover = tree().cover("r-root", &BTreeSet::new(), &excluded, &BTreeSet::new());
        assert_eq!(cover, ["111111111111", "222222222222", "333333333333", "ou-b"]);
    }

    #[test]
    fn a_unit_another_policy_covers_is_passed_over_below_the_top_but_not_as_the_top() {
        // given an excluded account in ou-c, and ou-b covered by a unit's own policy
        let excluded: BTreeSet<AccountId> = ["555555555555".parse().expect("id")].into();
        let units: BTreeSet<String> = ["ou-b".to_owned()].into();
        // then the main policy goes around both, and never onto ou-b
        let cover = tree().cover("r-root", &BTreeSet::new(), &excluded, &units);
        assert_eq!(cover, ["111111111111", "222222222222", "333333333333"]);
        // and the unit's own policy, from ou-b, covers ou-b
        assert_eq!(tree().cover("ou-b", &BTreeSet::new(), &excluded, &units), ["ou-b"]);
        // with an excluded account inside a unit, the unit's policy goes to its clean parts
        let inside: BTreeSet<AccountId> = ["444444444444".parse().expect("id")].into();
        let a: BTreeSet<String> = ["ou-a".to_owned()].into();
        assert_eq!(tree().cover("ou-a", &BTreeSet::new(), &inside, &a), ["333333333333", "ou-c"]);
    }

    #[test]
    fn accounts_under_a_unit_are_found_at_any_depth() {
        let t = tree();
        let under: Vec<&str> = t.accounts_under("ou-a").map(|a| a.id.as_str()).collect();
        assert_eq!(under, ["333333333333", "444444444444", "555555555555"]);
    }
}
