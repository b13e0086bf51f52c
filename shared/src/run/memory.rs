//! What a warm process remembers between invocations, so that an onboarding makes only the calls that matter: the
//! management account (it never changes), the region choice, the organization's root with its policy types and where
//! the GuardDuty policy this tool owns must be attached (refreshed by every full reconcile, and when older than
//! [`REGIONS_TTL`]), the admin's detector id per region (forgotten when a region fails) and the trusted
//! access already seen enabled.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::ids::AccountId;
use crate::ports::Root;
use crate::regions::RegionChoice;

/// How long an onboarding trusts the remembered region choice.
pub(super) const REGIONS_TTL: Duration = Duration::from_secs(3600);

/// The warm process's memory.
#[derive(Default)]
pub(crate) struct Memory {
    inner: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    management: Option<AccountId>,
    regions: Option<(Instant, RegionChoice)>,
    root: Option<(Instant, Root)>,
    policy_targets: Option<(Instant, BTreeMap<String, BTreeSet<String>>)>,
    detectors: HashMap<String, String>,
    trusted: BTreeSet<String>,
    units_outside_exclusions: bool,
}

impl Memory {
    fn lock(&self) -> MutexGuard<'_, Remembered> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn management(&self) -> Option<AccountId> {
        self.lock().management
    }

    pub(crate) fn remember_management(&self, id: AccountId) {
        self.lock().management = Some(id);
    }

    /// The region choice, if one younger than [`REGIONS_TTL`] is remembered.
    pub(crate) fn regions(&self) -> Option<RegionChoice> {
        self.lock().regions.as_ref().filter(|(at, _)| at.elapsed() < REGIONS_TTL).map(|(_, c)| c.clone())
    }

    pub(crate) fn remember_regions(&self, choice: &RegionChoice) {
        self.lock().regions = Some((Instant::now(), choice.clone()));
    }

    /// The organization's root, if one read less than [`REGIONS_TTL`] ago is remembered.
    pub(crate) fn root(&self) -> Option<Root> {
        self.lock().root.as_ref().filter(|(at, _)| at.elapsed() < REGIONS_TTL).map(|(_, r)| r.clone())
    }

    pub(crate) fn remember_root(&self, root: &Root) {
        self.lock().root = Some((Instant::now(), root.clone()));
    }

    /// Where each policy this tool owns must be attached, as computed less than [`REGIONS_TTL`] ago.
    pub(crate) fn policy_targets(&self) -> Option<BTreeMap<String, BTreeSet<String>>> {
        self.lock().policy_targets.as_ref().filter(|(at, _)| at.elapsed() < REGIONS_TTL).map(|(_, t)| t.clone())
    }

    pub(crate) fn remember_policy_targets(&self, targets: BTreeMap<String, BTreeSet<String>>) {
        self.lock().policy_targets = Some((Instant::now(), targets));
    }

    pub(crate) fn detector(&self, region: &str) -> Option<String> {
        self.lock().detectors.get(region).cloned()
    }

    pub(crate) fn remember_detector(&self, region: &str, id: &str) {
        self.lock().detectors.insert(region.to_owned(), id.to_owned());
    }

    /// Forgets every detector id found (a repair after someone deleted one must read them again).
    pub(crate) fn forget_regions_detectors(&self) {
        self.lock().detectors.clear();
    }

    pub(crate) fn forget_detector(&self, region: &str) {
        self.lock().detectors.remove(region);
    }

    pub(crate) fn knows_trusted(&self, principal: &str) -> bool {
        self.lock().trusted.contains(principal)
    }

    pub(crate) fn remember_trusted(&self, principal: &str) {
        self.lock().trusted.insert(principal.to_owned());
    }

    /// Forgets every trusted access found (someone may have disabled it since).
    pub(crate) fn forget_trusted(&self) {
        self.lock().trusted.clear();
    }

    /// Whether the units of GUARDDUTY_FEATURES_BY_OU were found outside the excluded ones (the configuration does not
    /// change within a process; the organization's shape rarely does, and every process checks it once).
    pub(crate) fn units_outside_exclusions(&self) -> bool {
        self.lock().units_outside_exclusions
    }

    pub(crate) fn remember_units_outside_exclusions(&self) {
        self.lock().units_outside_exclusions = true;
    }
}
