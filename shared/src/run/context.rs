//! The organization's shape for one run: the management account and the region choice, read concurrently (or
//! remembered by a warm process), with the checks that must pass before anything is written; and the context every
//! region's work shares.

use std::sync::Arc;

use tokio::sync::{Mutex, Semaphore};

use super::{Enabler, Progress, RunOptions};
use crate::config::{ConfigError, Enablement};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{Cloud, EnabledRegion, OrganizationApi, Root, Side};
use crate::regions::{self, RegionChoice};

/// How this run enables GuardDuty, chosen once at its start from GUARDDUTY_ENABLEMENT and the organization's root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The organization configuration's auto-enable settings and explicit membership.
    Api,
    /// GuardDuty organization policies are in force: nothing a policy owns is written, and `owner` runs own one.
    Policy {
        /// Whether this run owns a policy (GUARDDUTY_ENABLEMENT=policy).
        owner: bool,
    },
}

impl Mode {
    /// The report's spelling: `api` or `policy`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Policy { .. } => "policy",
        }
    }

    /// Whether the run writes the organization configuration's auto-enable settings: in policy mode "the Regional
    /// GuardDuty auto-enablement settings no longer apply" (GuardDuty User Guide, GuardDuty organization policies).
    pub(crate) fn writes_org_config(self) -> bool {
        self == Self::Api
    }

    /// Whether GuardDuty policies are in force, so that each account's plans are those of its effective policy
    /// (read with DescribeEffectivePolicy), and what a policy covers is left to it.
    pub(crate) fn reads_effective_policies(self) -> bool {
        matches!(self, Self::Policy { .. })
    }

    /// Whether the run owns a GuardDuty policy (writes it, between its regions' two passes).
    pub(crate) fn owns_policy(self) -> bool {
        self == Self::Policy { owner: true }
    }

    /// The mode for `enablement` in an organization whose root is `root`; in api mode, refused where GuardDuty
    /// policies are in force. Amazon GuardDuty User Guide, GuardDuty organization policies: once the policy type is
    /// enabled, "the Regional GuardDuty auto-enablement settings no longer apply, whether or not a policy is
    /// attached".
    pub(crate) fn choose(enablement: Enablement, root: &Root) -> Result<Self, Error> {
        let in_force = root.guardduty_policies.in_force();
        match enablement {
            Enablement::Auto if in_force => Ok(Self::Policy { owner: false }),
            Enablement::Auto => Ok(Self::Api),
            Enablement::Api if in_force => Err(Error::PoliciesInForce(root.id.clone())),
            Enablement::Api => Ok(Self::Api),
            Enablement::Policy => Ok(Self::Policy { owner: true }),
        }
    }
}

/// How the accounts an onboarding enrols stand in GuardDuty, as the event that brought them says: what its first
/// write in each region is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Entry {
    /// New to GuardDuty (a new account, or one whose standing is unknown): created as a member, then read back.
    #[default]
    New,
    /// A member already, moved to another organizational unit: its membership is read first and it is never
    /// created again (CreateMembers applies the organization's auto-enable settings to the plans "irrespective of
    /// the accounts being new or existing members", CreateMembers API reference).
    Moved,
    /// A member whose monitoring someone stopped (StopMonitoringMembers): monitoring is restarted first
    /// (StartMonitoringMembers), then read back; an account that does not read back Enabled is planned again from
    /// what GuardDuty shows (created where it is no longer a member).
    Stopped,
}

/// What every region's work shares.
pub(crate) struct Context {
    pub(crate) management: AccountId,
    /// The organization's root, as the run found it.
    pub(crate) root: Root,
    /// How GuardDuty is enabled.
    pub(crate) mode: Mode,
    /// Whether the admin is the management account itself (allowed only by GUARDDUTY_ALLOW_MANAGEMENT_ADMIN).
    pub(crate) admin_is_management: bool,
    pub(crate) dry_run: bool,
    pub(crate) keep_members: bool,
    /// The regions enabled by default (every other is an opt-in one), for findings export's region rules.
    pub(crate) defaults: std::collections::BTreeSet<String>,
    /// How the accounts of an onboarding stand in GuardDuty, as the event that brought them says.
    pub(crate) entry: Entry,
    pub(crate) progress: Option<Progress>,
    /// No organization-wide write is started after this instant (the invocation's deadline, less its margins).
    pub(crate) deadline: Option<std::time::Instant>,
    /// Serialises the first EnableOrganizationAdminAccount of a run: designating in many regions at once races
    /// inside GuardDuty, designating one first and then the rest in parallel does not.
    pub(crate) first_designation: Mutex<bool>,
    /// The member-plan reads (GetMemberDetectors) in flight across the run's regions: at most
    /// GUARDDUTY_REGION_CONCURRENCY, the run's limit on concurrent work.
    pub(crate) member_reads: Arc<Semaphore>,
    /// The most member-plan reads one region has in flight.
    pub(crate) member_reads_per_region: usize,
}

/// Whether a run may use what a warm process remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Warmth {
    /// Read everything afresh (a full reconcile, which also refreshes the memory).
    Fresh,
    /// Use the memory where it is young enough.
    Remembered,
}

impl<C: Cloud> Enabler<C> {
    /// The context of a run and its regions (governed, narrowed by the options, and those left out): the management
    /// account and both accounts' region lists read concurrently or, where `warmth` allows, remembered.
    pub(crate) async fn context(&self, options: &RunOptions, warmth: Warmth) -> Result<(Context, RegionChoice), Error> {
        let remembered = if warmth == Warmth::Remembered { self.memory.regions() } else { None };
        let choice = async {
            if let Some(choice) = remembered {
                return Ok::<_, Error>(Ok(choice));
            }
            let (m, a, zone) = tokio::try_join!(
                self.cloud.enabled_regions(Side::Management),
                self.cloud.enabled_regions(Side::Admin),
                self.landing_zone()
            )?;
            Ok(Err((m, a, zone)))
        };
        let (management, choice, root, ()) =
            tokio::try_join!(self.management(), choice, self.root(warmth), self.check_units())?;
        let choice = match choice {
            Ok(remembered) => remembered,
            Err((m, a, zone)) => self.choose_regions(management, &m, &a, zone.as_deref()),
        };
        let choice = narrow(choice, options.only_regions.as_deref())?;
        let mut ctx = self.context_for(options, management, root)?;
        ctx.defaults = choice.defaults.clone();
        Ok((ctx, choice))
    }

    /// Refuses, before any write, a unit of GUARDDUTY_FEATURES_BY_OU under an excluded organizational unit (one
    /// listed in both is refused with the configuration): each unit's ancestors are read (ListParents, up to the
    /// root; Organizations nests at most five levels of units), once per process.
    pub(crate) async fn check_units(&self) -> Result<(), Error> {
        let excluded = &self.settings.excluded_ous;
        if self.settings.plans_by_ou.is_empty() || excluded.is_empty() || self.memory.units_outside_exclusions() {
            return Ok(());
        }
        let mut above: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for unit in &self.settings.plans_by_ou {
            let mut node = unit.ou.clone();
            for _ in 0..6 {
                node = self.cloud.organization().parent(&node).await?;
                if excluded.contains(&node) {
                    above.insert(unit.ou.clone(), node.clone());
                }
                if !node.starts_with("ou-") {
                    break;
                }
            }
        }
        let problems = self.settings.units_excluded(|unit| above.get(unit).cloned());
        if !problems.is_empty() {
            return Err(Error::Config(ConfigError { problems }));
        }
        self.memory.remember_units_outside_exclusions();
        Ok(())
    }

    /// The findings export's bucket and key in the partition of the home region, checked before any call.
    pub(crate) fn check_partition(&self) -> Result<(), Error> {
        Ok(self.settings.check_partition(self.cloud.home_region())?)
    }

    /// The organization's root and its policy types (ListRoots), remembered like the region choice.
    pub(crate) async fn root(&self, warmth: Warmth) -> Result<Root, Error> {
        if warmth == Warmth::Remembered {
            if let Some(root) = self.memory.root() {
                return Ok(root);
            }
        }
        let root = self.cloud.organization().root().await?;
        self.memory.remember_root(&root);
        Ok(root)
    }

    /// The management account, remembered once read.
    pub(crate) async fn management(&self) -> Result<AccountId, Error> {
        if let Some(id) = self.memory.management() {
            return Ok(id);
        }
        let id = self.cloud.organization().management_account().await?;
        self.memory.remember_management(id);
        Ok(id)
    }

    /// The regions the organization's Control Tower landing zone governs, where they decide the candidates (no
    /// GUARDDUTY_REGIONS): `None` without a landing zone. A landing zone that cannot be read (Control Tower not
    /// offered here, or not allowed) is taken as none, with a warning: the regions a control denies are still left out
    /// by the first read there (see [`Error::is_scp_denial`]).
    pub(crate) async fn landing_zone(&self) -> Result<Option<Vec<String>>, Error> {
        if self.settings.regions.is_some() {
            return Ok(None);
        }
        match self.cloud.landing_zone_regions().await {
            Ok(zone) => Ok(zone),
            Err(e) => {
                tracing::warn!(error = %e, "the Control Tower landing zone could not be read; governing every enabled region");
                Ok(None)
            }
        }
    }

    /// The region choice from both accounts' lists (and a landing zone's governed regions), remembered.
    pub(crate) fn choose_regions(
        &self,
        management: AccountId,
        management_regions: &[EnabledRegion],
        admin_regions: &[EnabledRegion],
        landing_zone: Option<&[String]>,
    ) -> RegionChoice {
        let admin = self.settings.admin_account;
        let choice =
            regions::choose(&self.settings, (&management, management_regions), (&admin, admin_regions), landing_zone);
        self.memory.remember_regions(&choice);
        choice
    }

    /// The context of a run, refusing the management account as admin unless allowed, and api mode where GuardDuty
    /// policies are in force.
    pub(crate) fn context_for(
        &self,
        options: &RunOptions,
        management: AccountId,
        root: Root,
    ) -> Result<Context, Error> {
        let admin = self.settings.admin_account;
        if admin == management && !self.settings.allow_management_admin {
            return Err(Error::AdminIsManagement(admin));
        }
        let mode = Mode::choose(self.settings.enablement, &root)?;
        Ok(Context {
            management,
            root,
            mode,
            admin_is_management: admin == management,
            dry_run: options.dry_run.unwrap_or(self.settings.dry_run),
            keep_members: options.keep_members,
            defaults: std::collections::BTreeSet::new(),
            entry: Entry::New,
            progress: options.progress.clone(),
            deadline: options.deadline,
            first_designation: Mutex::new(false),
            member_reads: Arc::new(Semaphore::new(self.settings.region_concurrency.max(1))),
            member_reads_per_region: self.settings.region_concurrency.max(1),
        })
    }
}

/// The choice narrowed to `only` (which must be governed); an error that says why when nothing is left.
pub(crate) fn narrow(mut choice: RegionChoice, only: Option<&[String]>) -> Result<RegionChoice, Error> {
    if let Some(only) = only {
        let (run, not_run) = choice.governed.into_iter().partition(|r| only.contains(r));
        (choice.governed, choice.not_run) = (run, not_run);
        choice.left_out.retain(|l| only.contains(&l.region));
        if choice.governed.is_empty() {
            let why: Vec<String> = only
                .iter()
                .map(|r| match choice.left_out.iter().find(|l| &l.region == r) {
                    Some(l) => format!("{r} is {}", l.reason),
                    None => format!("{r} is not among the governed regions"),
                })
                .collect();
            return Err(Error::NoRegions(why.join("; ")));
        }
    } else if choice.governed.is_empty() {
        return Err(no_common_region());
    }
    Ok(choice)
}

/// Why there is nothing to govern when no region is narrowed to: none is enabled for both accounts.
pub(crate) fn no_common_region() -> Error {
    Error::NoRegions("no region is enabled for both the management account and the admin".into())
}

#[cfg(test)]
mod tests {
    use crate::config::Enablement;
    use crate::error::Error;
    use crate::ports::PolicyTypeStatus;
    use crate::testing::{enabler, World};

    #[tokio::test]
    async fn api_mode_where_guardduty_policies_are_in_force_is_refused_before_any_write() {
        // Given an organization whose root has the GuardDuty policy type enabled, and GUARDDUTY_ENABLEMENT=api.
        let mut world = World::organization(2, &["us-east-1"]);
        world.root.as_mut().expect("a root").guardduty_policies = PolicyTypeStatus::Enabled;
        let enabler = enabler(world, |s| s.enablement = Enablement::Api);

        // When it is reconciled, then it is refused, naming the root, with nothing written.
        let error = enabler.reconcile().await.expect_err("refused");
        assert!(matches!(&error, Error::PoliciesInForce(root) if root == "r-root"), "{error}");
        assert_eq!(enabler.cloud().world().writes, []);
    }

    #[tokio::test]
    async fn the_management_account_as_admin_is_refused_unless_allowed() {
        // Given a configuration whose admin is the management account.
        let world = World::organization(2, &["us-east-1"]);
        let management = world.management();
        let refused = enabler(world.clone(), |s| s.admin_account = management);
        let allowed = enabler(world, |s| {
            s.admin_account = management;
            s.allow_management_admin = true;
        });

        // When each is reconciled, then the first is refused with nothing written, and the second goes on.
        let error = refused.reconcile().await.expect_err("refused");
        assert!(matches!(error, Error::AdminIsManagement(a) if a == management), "{error}");
        assert_eq!(refused.cloud().world().writes, []);
        let report = allowed.reconcile().await.expect("allowed");
        assert!(report.is_success(), "{:?}", report.problems());
        let designated = allowed.cloud().world().admins["us-east-1"].account.clone();
        assert_eq!(designated, management.to_string());
    }
}
