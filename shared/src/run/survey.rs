//! A read-only look at the organization as a reconcile sees it, for the evidence report: the run's shape (the
//! management account, the mode, the governed regions), then the whole tree under the root, the accounts a reconcile
//! would enrol with every account's standing, and which plans each account wants (its classes). The same reads and
//! the same rules as a reconcile's, so that what the report counts and what `status` counts never disagree. In two
//! parts, so that the regions can be read while the tree is.

use std::collections::BTreeMap;

use super::classes::{ou_classes, AccountClasses};
use super::context::{Mode, Warmth};
use super::{Enabler, Roster, RunOptions};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{Cloud, OrganizationApi, Root};
use crate::regions::RegionChoice;
use crate::tree::OrgTree;

/// The organization's shape, as a reconcile reads it first.
pub(crate) struct Shape {
    /// The management account.
    pub(crate) management: AccountId,
    /// How GuardDuty is enabled.
    mode: Mode,
    /// The governed regions, and those left out.
    pub(crate) choice: RegionChoice,
    /// The root.
    root: Root,
}

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
    /// The organization's shape, checked as a reconcile checks it first: the partition of the findings export, the
    /// admin an ACTIVE account, the management account not the admin unless allowed, api mode not where GuardDuty
    /// policies are in force.
    pub(crate) async fn shape(&self) -> Result<Shape, Error> {
        self.check_partition()?;
        let admin = self.settings.admin_account;
        let options = RunOptions { dry_run: Some(true), ..RunOptions::default() };
        let ((ctx, choice), standing) =
            tokio::try_join!(self.context(&options, Warmth::Fresh), self.cloud.organization().account(&admin))?;
        if !standing.is_some_and(|a| a.is_active()) {
            return Err(Error::AdminNotInOrganization(admin));
        }
        Ok(Shape { management: ctx.management, mode: ctx.mode, choice, root: ctx.root })
    }

    /// The organization of `shape`: its tree and, in policy mode, every account's effective GuardDuty policy.
    pub(crate) async fn survey(&self, shape: Shape) -> Result<Survey, Error> {
        let subtree = self.cloud.organization().subtree(&shape.root.id).await?;
        let unit_names = subtree.names.clone();
        let tree = OrgTree::new(subtree);
        let facts =
            if shape.mode.reads_effective_policies() { Some(self.policy_facts(&tree, None).await?) } else { None };
        let classes = AccountClasses::new(&ou_classes(&self.settings, &tree), facts);
        let roster = self.roster_of(&tree, true);
        Ok(Survey {
            management: shape.management,
            mode: shape.mode.as_str(),
            choice: shape.choice,
            tree,
            unit_names,
            roster,
            classes,
        })
    }
}
