//! What the report reads in one region, through the ports, and nothing it writes: the designation (as the
//! management account), the admin's detector, and, where the admin is designated and has one, the organization
//! configuration, every member, every member's plans (GetMemberDetectors, 50 a call, a few calls at once, within the
//! run's limit on concurrent reads), the opt-in status of members recorded RegionDisabled (as a reconcile re-checks
//! it), the findings export, the saved filters and the trusted and threat lists.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MEMBER_BATCH;
use crate::ports::{Cloud, FindingList, GuardDutyApi, ListKind, PublishingDestination, SavedFilter, Side};
use crate::state::{AdminStatus, DelegatedAdmin, Detector, Features, MemberStatus, Members, OrgConfig};

/// The most member-plan reads (or other per-item reads) one region has in flight.
const READS_PER_REGION: usize = 4;

/// One region, as read.
#[derive(Clone, Debug, Default)]
pub(crate) struct RegionRead {
    /// The region.
    pub region: String,
    /// The delegated administrators GuardDuty lists here (ListOrganizationAdminAccounts).
    pub admins: Vec<DelegatedAdmin>,
    /// The admin's detector.
    pub admin_detector: Option<Detector>,
    /// What the admin sees, where it is designated and has a detector.
    pub side: Option<AdminView>,
}

/// What the delegated admin sees in a region.
#[derive(Clone, Debug, Default)]
pub(crate) struct AdminView {
    /// The organization configuration: also what the region offers.
    pub org_config: OrgConfig,
    /// Every member record, associated or not.
    pub members: Members,
    /// The plans of the members GetMemberDetectors answered for; members that show the same plans share them (most
    /// of a region's do, and 10,000 members' own copies took tens of megabytes a region).
    pub plans: BTreeMap<AccountId, Arc<Features>>,
    /// The members it did not answer for, with its reason.
    pub unread: BTreeMap<AccountId, String>,
    /// Of the members recorded RegionDisabled, whether each has enabled the region since.
    pub opted_in: BTreeMap<AccountId, bool>,
    /// The members whose opt-in status could not be read, and why.
    pub opt_in_unreadable: BTreeMap<AccountId, String>,
    /// The publishing destinations, described.
    pub destinations: Vec<PublishingDestination>,
    /// The saved filters.
    pub filters: Vec<SavedFilter>,
    /// The trusted and threat lists, by kind.
    pub lists: BTreeMap<ListKind, Vec<FindingList>>,
    /// The silencing places the admin may not read (its role lacks the permission), and why: shown as not read.
    pub unread_places: BTreeMap<&'static str, String>,
}

/// A region read, or left out because a service control policy denies the admin GuardDuty there.
pub(crate) enum Read {
    /// Read.
    Region(Box<RegionRead>),
    /// Left out, and why.
    Denied(String),
}

/// The limits on reads in flight: across the run's regions, and per region.
#[derive(Clone)]
pub(crate) struct Limits {
    pub run: Arc<Semaphore>,
}

impl Limits {
    /// At most `width` reads at once across the run.
    pub(crate) fn new(width: usize) -> Self {
        Self { run: Arc::new(Semaphore::new(width.max(1))) }
    }

    /// Runs `calls`, a few at once within the run's limit, into their answers (the first error stops them).
    async fn each<T, F>(&self, calls: Vec<F>) -> Result<Vec<T>, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        self.answers(calls).try_collect().await
    }

    /// Runs `calls`, a few at once within the run's limit: their answers as they come, so that each can be made
    /// smaller before the next (a region's members' plans, read whole, are megabytes).
    fn answers<T, F>(&self, calls: Vec<F>) -> impl futures_util::Stream<Item = Result<T, Error>>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let run = self.run.clone();
        stream::iter(calls.into_iter().map(move |call| {
            let run = run.clone();
            async move {
                let _permit = run.acquire_owned().await;
                call.await
            }
        }))
        .buffer_unordered(READS_PER_REGION)
    }
}

/// Reads `region`.
pub(crate) async fn region<C: Cloud>(
    cloud: &C,
    admin_account: &AccountId,
    region: &str,
    limits: &Limits,
) -> Result<Read, Error> {
    let (mgmt, admin) = (cloud.guardduty(Side::Management, region), cloud.guardduty(Side::Admin, region));
    // The admin's first call is a read, as in a reconcile: a service control policy that denies it GuardDuty here
    // answers it, and the region is left out with that reason.
    let (admins, detector_id) = match tokio::try_join!(mgmt.delegated_admins(), admin.detector_id()) {
        Ok(read) => read,
        Err(e) if e.is_scp_denial() => return Ok(Read::Denied(denied(admin_account, &e))),
        Err(e) => return Err(e),
    };
    let admin_detector = match &detector_id {
        Some(id) => Some(admin.get_detector(id).await?),
        None => None,
    };
    let designated = admins.iter().any(|a| a.account == admin_account.as_str() && a.status == AdminStatus::Enabled);
    let side = match (&admin_detector, designated) {
        (Some(d), true) => Some(admin_view(cloud, &admin, &d.id, region, limits).await?),
        _ => None,
    };
    Ok(Read::Region(Box::new(RegionRead { region: region.to_owned(), admins, admin_detector, side })))
}

fn denied(admin: &AccountId, e: &Error) -> String {
    format!(
        "a service control policy denies the delegated admin {admin} GuardDuty here (an explicit deny, as AWS \
         Control Tower's Region deny control sets for regions it does not govern): {e}"
    )
}

/// Everything the admin sees in a region, read concurrently where nothing depends on another read.
async fn admin_view<C: Cloud>(
    cloud: &C,
    admin: &C::GuardDuty,
    detector: &str,
    region: &str,
    limits: &Limits,
) -> Result<AdminView, Error> {
    let (side, (filters, lists)) = tokio::join!(
        async {
            tokio::try_join!(admin.org_config(detector), admin.list_members(detector), export(admin, detector, limits))
        },
        async { tokio::join!(filters(admin, detector, limits), lists(admin, detector, limits)) },
    );
    let (org_config, members, destinations) = side?;
    let mut unread_places = BTreeMap::new();
    let filters = denied_or_empty(filters, FILTERS, &mut unread_places)?;
    let mut found = BTreeMap::new();
    for (kind, read) in lists {
        found.insert(kind, denied_or_empty(read, label(kind), &mut unread_places)?);
    }
    // Plans are read for every member record that can have them: not the invitation era's, not RegionDisabled.
    let readable: Vec<AccountId> = members
        .iter()
        .filter(|(_, s)| !s.is_invitation_era() && **s != MemberStatus::RegionDisabled)
        .map(|(id, _)| *id)
        .collect();
    // Every record RegionDisabled is re-checked, as a reconcile re-checks those of the accounts it enrols (which are
    // known only once the tree is read; the classification looks at those alone).
    let disabled: Vec<AccountId> =
        members.iter().filter(|(_, s)| **s == MemberStatus::RegionDisabled).map(|(id, _)| *id).collect();
    let ((plans, unread), (opted_in, opt_in_unreadable)) =
        tokio::try_join!(plans(admin, detector, &readable, limits), opt_in(cloud, region, &disabled, limits))?;
    Ok(AdminView {
        org_config,
        members,
        plans,
        unread,
        opted_in,
        opt_in_unreadable,
        destinations,
        filters,
        lists: found,
        unread_places,
    })
}

/// GetMemberDetectors for `ids`, 50 a call.
async fn plans<G: GuardDutyApi>(
    admin: &G,
    detector: &str,
    ids: &[AccountId],
    limits: &Limits,
) -> Result<(BTreeMap<AccountId, Arc<Features>>, BTreeMap<AccountId, String>), Error> {
    let calls: Vec<_> = ids.chunks(MEMBER_BATCH).map(|batch| admin.member_features(detector, batch)).collect();
    let mut plans = BTreeMap::new();
    let mut unread = BTreeMap::new();
    let mut shown = Shown::default();
    let mut answers = std::pin::pin!(limits.answers(calls));
    while let Some(answer) = answers.next().await {
        let (features, unprocessed) = answer?;
        plans.extend(features.into_iter().map(|(id, f)| (id, shown.share(f))));
        unread.extend(unprocessed);
    }
    let silent: Vec<AccountId> =
        ids.iter().filter(|id| !plans.contains_key(*id) && !unread.contains_key(*id)).copied().collect();
    for id in silent {
        unread.insert(id, "GetMemberDetectors did not answer for it".to_owned());
    }
    Ok((plans, unread))
}

/// The distinct plan sets a region's members show, each kept once: a member's is shared with the others that show the
/// same. A region shows few (the configured set, and a drifted member's); past [`Shown::KEEP`] distinct ones a set is
/// kept as it is, so that a region of all-different members costs a scan of that many, not of every member.
#[derive(Default)]
struct Shown(Vec<Arc<Features>>);

impl Shown {
    const KEEP: usize = 64;

    fn share(&mut self, features: Features) -> Arc<Features> {
        if let Some(same) = self.0.iter().find(|f| ***f == features) {
            return same.clone();
        }
        let kept = Arc::new(features);
        if self.0.len() < Self::KEEP {
            self.0.push(kept.clone());
        }
        kept
    }
}

/// Whether each account has enabled `region` since GuardDuty recorded it RegionDisabled (account:GetRegionOptStatus),
/// as a reconcile re-checks it; where a status cannot be read, why (and the record is taken as it is).
async fn opt_in<C: Cloud>(
    cloud: &C,
    region: &str,
    ids: &[AccountId],
    limits: &Limits,
) -> Result<(BTreeMap<AccountId, bool>, BTreeMap<AccountId, String>), Error> {
    let calls: Vec<_> =
        ids.iter().map(|id| async move { Ok::<_, Error>((*id, cloud.region_enabled_for(id, region).await)) }).collect();
    let mut opted_in = BTreeMap::new();
    let mut unreadable = BTreeMap::new();
    for (id, answer) in limits.each(calls).await? {
        match answer {
            Ok(enabled) => {
                opted_in.insert(id, enabled);
            }
            Err(e) => {
                unreadable.insert(id, e.to_string());
            }
        }
    }
    Ok((opted_in, unreadable))
}

/// The detector's publishing destinations, described.
async fn export<G: GuardDutyApi>(
    admin: &G,
    detector: &str,
    limits: &Limits,
) -> Result<Vec<PublishingDestination>, Error> {
    let found = admin.publishing_destinations(detector).await?;
    let calls: Vec<_> = found.iter().map(|(id, _)| admin.publishing_destination(detector, id)).collect();
    let mut described = limits.each(calls).await?;
    described.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(described)
}

/// The detector's saved filters, each read (at most 100: "The maximum number of saved filters per Amazon Web Services
/// account per Region is 100", CreateFilter API reference).
async fn filters<G: GuardDutyApi>(admin: &G, detector: &str, limits: &Limits) -> Result<Vec<SavedFilter>, Error> {
    let names = admin.filter_names(detector).await?;
    let calls: Vec<_> = names.iter().map(|name| admin.filter(detector, name)).collect();
    let mut filters = limits.each(calls).await?;
    filters.sort_by(|a, b| (a.rank, &a.name).cmp(&(b.rank, &b.name)));
    Ok(filters)
}

/// Every trusted and threat list of the detector, each read, by kind.
async fn lists<G: GuardDutyApi>(
    admin: &G,
    detector: &str,
    limits: &Limits,
) -> Vec<(ListKind, Result<Vec<FindingList>, Error>)> {
    let kinds = ListKind::ALL.map(|kind| async move {
        let read = async {
            let ids = admin.list_ids(detector, kind).await?;
            let calls: Vec<_> = ids.iter().map(|id| admin.list(detector, kind, id)).collect();
            let mut read = limits.each(calls).await?;
            read.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            Ok::<_, Error>(read)
        };
        (kind, read.await)
    });
    futures_util::future::join_all(kinds).await
}

/// What the report calls the saved filters.
pub(crate) const FILTERS: &str = "saved filters";

/// What the report calls each kind of list.
pub(crate) fn label(kind: ListKind) -> &'static str {
    match kind {
        ListKind::TrustedIps => "trusted IP lists",
        ListKind::ThreatIps => "threat IP lists",
        ListKind::TrustedEntities => "trusted entity lists",
        ListKind::ThreatEntities => "threat entity lists",
    }
}

/// A silencing place read, or, where the admin's role may not read it (access denied: the templates grant the
/// functions what they call, and the report reads more), nothing, with `what` and why in `unread`; any other failure
/// stays one.
fn denied_or_empty<T: Default>(
    read: Result<T, Error>,
    what: &'static str,
    unread: &mut BTreeMap<&'static str, String>,
) -> Result<T, Error> {
    match read {
        Err(e) if matches!(e.code(), Some("AccessDeniedException" | "AccessDenied")) => {
            unread.insert(what, e.to_string());
            Ok(T::default())
        }
        other => other,
    }
}
