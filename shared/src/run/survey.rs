//! A read-only look at the organization as a reconcile sees it, for the evidence report: the run's shape (the
//! management account, the mode, the governed regions), the whole tree under the root, the accounts a reconcile
//! would enrol with every account's standing, and which plans each account wants (its classes). The same reads and
//! the same rules as a reconcile's, so that what the report counts and what `status` counts never disagree.

use std::collections::BTreeMap;

use super::classes::{ou_classes, AccountClasses};
use super::context::{Mode, Warmth};
use super::{Enabler, Roster, RunOptions};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{Cloud, OrganizationApi};
use crate::regions::RegionChoice;
use crate::tree::OrgTree;

/// The organization as a reconcile would find it; nothing written.
pub(crate) struct Survey {
    /// The management account.
    pub(crate) management: AccountId,
    /// How GuardDuty is enabled: `api` or `policy`.
    pub(crate) mode: &'static str,
    /// The governed regions, and those left out.
    pub(crate) choice: RegionChoice,
    /// The tree under the root, every account with its standing.
    pub(crate) tree: OrgTree,
    /// The organizational units' names, by id.
    pub(crate) unit_names: BTreeMap<String, String>,
    /// The accounts a reconcile enrols, and every account with its standing (excluded or not).
    pub(crate) roster: Roster,
    /// Which plans each account wants.
    pub(crate) classes: AccountClasses,
}

impl<C: Cloud> Enabler<C> {
    /// The organization as a reconcile finds it: checked as a reconcile checks it first (the partition of the
    /// findings export, the admin an ACTIVE account, the management account not the admin unless allowed, api mode
    /// not where GuardDuty policies are in force), then its tree and, in policy mode, every account's effective
    /// GuardDuty policy.
    pub(crate) async fn survey(&self) -> Result<Survey, Error> {
        self.check_partition()?;
        let admin = self.settings.admin_account;
        let options = RunOptions { dry_run: Some(true), ..RunOptions::default() };
        let ((ctx, choice), standing) =
            tokio::try_join!(self.context(&options, Warmth::Fresh), self.cloud.organization().account(&admin))?;
        if !standing.is_some_and(|a| a.is_active()) {
            return Err(Error::AdminNotInOrganization(admin));
        }
        let subtree = self.cloud.organization().subtree(&ctx.root.id).await?;
        let unit_names = subtree.names.clone();
        let tree = OrgTree::new(subtree);
        let facts = match ctx.mode {
            Mode::Policy { .. } => Some(self.policy_facts(&tree).await?),
            Mode::Api => None,
        };
        let classes = AccountClasses::new(&ou_classes(&self.settings, &tree), facts);
        let roster = self.roster_of(&tree, true);
        Ok(Survey { management: ctx.management, mode: ctx.mode.as_str(), choice, tree, unit_names, roster, classes })
    }
}
