//! The organization's shape for one run: the management account and the region choice, read concurrently (or
//! remembered by a warm process), with the checks that must pass before anything is written.

use futures_util::future::join_all;
use tokio::sync::Mutex;

use super::{Enabler, Progress, RunOptions};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{Cloud, EnabledRegion, GuardDutyApi, OrganizationApi, Side};
use crate::regions::{self, RegionChoice};

/// What every region's work shares.
pub(crate) struct Context {
    pub(crate) management: AccountId,
    /// Whether the admin is the management account itself (allowed only by GUARDDUTY_ALLOW_MANAGEMENT_ADMIN).
    pub(crate) admin_is_management: bool,
    /// The regions of this run (governed, and narrowed by the options) and those left out.
    pub(crate) regions: RegionChoice,
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
    /// Use the memory where it is young enough; where it is empty, read, and look up the admin's detectors in
    /// the regions every account has while the admin's own region list is still being read.
    Remembered,
}

impl<C: Cloud> Enabler<C> {
    pub(crate) async fn context(&self, options: &RunOptions, warmth: Warmth) -> Result<Context, Error> {
        let remembered = if warmth == Warmth::Remembered { self.memory.regions() } else { None };
        let known_management = self.memory.management();
        let management = async {
            match known_management {
                Some(id) => Ok(id),
                None => self.cloud.organization().management_account().await,
            }
        };
        let choice = async {
            if let Some(choice) = remembered {
                return Ok::<_, Error>(Ok(choice));
            }
            let management_regions = async {
                let regions = self.cloud.enabled_regions(Side::Management).await?;
                if warmth == Warmth::Remembered {
                    self.prefetch_detectors(&regions).await;
                }
                Ok::<_, Error>(regions)
            };
            let (m, a) = tokio::try_join!(management_regions, self.cloud.enabled_regions(Side::Admin))?;
            Ok(Err((m, a)))
        };
        let (management, choice) = tokio::try_join!(management, choice)?;
        self.memory.remember_management(management);
        let admin = self.settings.admin_account;
        if admin == management && !self.settings.allow_management_admin {
            return Err(Error::AdminIsManagement(admin));
        }
        let choice = match choice {
            Ok(remembered) => remembered,
            Err((m, a)) => {
                let choice = regions::choose(&self.settings, (&management, &m), (&admin, &a));
                self.memory.remember_regions(&choice);
                choice
            }
        };
        Ok(Context {
            management,
            admin_is_management: admin == management,
            regions: narrow(choice, options.only_regions.as_deref())?,
            dry_run: options.dry_run.unwrap_or(self.settings.dry_run),
            keep_members: options.keep_members,
            progress: options.progress.clone(),
            first_designation: Mutex::new(false),
        })
    }

    /// Looks up the admin's detector in every candidate region enabled by default (which every account has, so
    /// no call goes to a region the admin might lack) and remembers what it finds. A failure here only means the
    /// region's own work looks again.
    async fn prefetch_detectors(&self, management_regions: &[EnabledRegion]) {
        let settings = &self.settings;
        let wanted = management_regions.iter().filter(|r| {
            r.by_default
                && settings.regions.as_ref().is_none_or(|listed| listed.contains(&r.name))
                && !settings.excluded_regions.contains(&r.name)
                && self.memory.detector(&r.name).is_none()
        });
        join_all(wanted.map(|r| async move {
            if let Ok(Some(id)) = self.cloud.guardduty(Side::Admin, &r.name).detector_id().await {
                self.memory.remember_detector(&r.name, &id);
            }
        }))
        .await;
    }
}

/// The choice narrowed to `only` (which must be governed); an error that says why when nothing is left.
fn narrow(mut choice: RegionChoice, only: Option<&[String]>) -> Result<RegionChoice, Error> {
    if let Some(only) = only {
        choice.governed.retain(|r| only.contains(r));
        choice.by_default.retain(|r| only.contains(r));
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
        return Err(Error::NoRegions("no region is enabled for both the management account and the admin".into()));
    }
    Ok(choice)
}
