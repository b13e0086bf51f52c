//! The organization's shape for one run: the management account and the region choice, read concurrently (or
//! remembered by a warm process), with the checks that must pass before anything is written; and the context every
//! region's work shares.

use tokio::sync::Mutex;

use super::{Enabler, Progress, RunOptions};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{Cloud, EnabledRegion, OrganizationApi, Side};
use crate::regions::{self, RegionChoice};

/// What every region's work shares.
pub(crate) struct Context {
    pub(crate) management: AccountId,
    /// Whether the admin is the management account itself (allowed only by GUARDDUTY_ALLOW_MANAGEMENT_ADMIN).
    pub(crate) admin_is_management: bool,
    pub(crate) dry_run: bool,
    pub(crate) keep_members: bool,
    pub(crate) progress: Option<Progress>,
    /// Serialises the first EnableOrganizationAdminAccount of a run: designating in many regions at once races
    /// inside GuardDuty, designating one first and then the rest in parallel does not.
    pub(crate) first_designation: Mutex<bool>,
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
            let (m, a) = tokio::try_join!(
                self.cloud.enabled_regions(Side::Management),
                self.cloud.enabled_regions(Side::Admin)
            )?;
            Ok(Err((m, a)))
        };
        let (management, choice) = tokio::try_join!(self.management(), choice)?;
        let choice = match choice {
            Ok(remembered) => remembered,
            Err((m, a)) => self.choose_regions(management, &m, &a),
        };
        let choice = narrow(choice, options.only_regions.as_deref())?;
        Ok((self.context_for(options, management)?, choice))
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

    /// The region choice from both accounts' lists, remembered.
    pub(crate) fn choose_regions(
        &self,
        management: AccountId,
        management_regions: &[EnabledRegion],
        admin_regions: &[EnabledRegion],
    ) -> RegionChoice {
        let admin = self.settings.admin_account;
        let choice = regions::choose(&self.settings, (&management, management_regions), (&admin, admin_regions));
        self.memory.remember_regions(&choice);
        choice
    }

    /// The context of a run, refusing the management account as admin unless allowed.
    pub(crate) fn context_for(&self, options: &RunOptions, management: AccountId) -> Result<Context, Error> {
        let admin = self.settings.admin_account;
        if admin == management && !self.settings.allow_management_admin {
            return Err(Error::AdminIsManagement(admin));
        }
        Ok(Context {
            management,
            admin_is_management: admin == management,
            dry_run: options.dry_run.unwrap_or(self.settings.dry_run),
            keep_members: options.keep_members,
            progress: options.progress.clone(),
            first_designation: Mutex::new(false),
        })
    }
}

/// The choice narrowed to `only` (which must be governed); an error that says why when nothing is left.
pub(crate) fn narrow(mut choice: RegionChoice, only: Option<&[String]>) -> Result<RegionChoice, Error> {
    if let Some(only) = only {
        choice.governed.retain(|r| only.contains(r));
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
