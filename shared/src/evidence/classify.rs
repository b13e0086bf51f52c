//! Where each account stands in a region, by the crate's own rules: the accounts a reconcile enrols (the survey's
//! roster), the plans each wants there ([`AccountClasses::wants`](crate::run::AccountClasses)), each Enabled member's
//! plans checked as a reconcile checks them ([`PlanCheck`]), and the accounts sorted as a reconcile sorts them
//! ([`classify`]): so that the report's `protected` is `status`'s, account for account. Pure.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::document::{Account, Cell, Coverage, Export, Filter, List, PlanCell, PlanStatus, Plans, Region};
use super::error::EvidenceError;
use super::read::{AdminView, RegionRead};
use crate::config::{Plan, Settings};
use crate::ids::AccountId;
use crate::plan::protection::{PlanCheck, Wants};
use crate::plan::{classify, Left, MemberAccount, Unprotected};
use crate::ports::ListKind;
use crate::run::Survey;
use crate::state::{AdminStatus, Detector, DetectorState, Features, MemberStatus, Members, OrgAccount, OrgConfig};

/// The organization, as every region's classification needs it.
pub(crate) struct Org<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) survey: &'a Survey,
    /// The accounts in the document's order: the management account, the admin, then by name.
    pub(crate) order: Vec<&'a OrgAccount>,
    /// Why each excluded account is excluded.
    pub(crate) excluded: BTreeMap<AccountId, String>,
}

impl<'a> Org<'a> {
    pub(crate) fn new(settings: &'a Settings, survey: &'a Survey) -> Self {
        let mut order: Vec<&OrgAccount> = survey.tree.accounts.iter().collect();
        let rank = |a: &OrgAccount| match a.id {
            id if id == survey.management => 0,
            id if id == settings.admin_account => 1,
            _ => 2,
        };
        order.sort_by(|a, b| (rank(a), &a.name, a.id).cmp(&(rank(b), &b.name, b.id)));
        order.dedup_by_key(|a| a.id);
        let mut excluded = BTreeMap::new();
        for ou in &settings.excluded_ous {
            let name = survey.unit_names.get(ou).map(|n| format!(" ({n})")).unwrap_or_default();
            for a in survey.tree.accounts_under(ou) {
                excluded.entry(a.id).or_insert_with(|| format!("GUARDDUTY_EXCLUDED_OUS: under {ou}{name}"));
            }
        }
        for id in &settings.excluded_accounts {
            excluded.insert(*id, "GUARDDUTY_EXCLUDED_ACCOUNTS".to_owned());
        }
        Self { settings, survey, order, excluded }
    }

    fn is_excluded(&self, id: &AccountId) -> bool {
        self.survey.roster.entries.iter().any(|e| e.id == *id && e.excluded)
    }

    /// Every account, as the document lists them.
    pub(crate) fn accounts(&self) -> Vec<Account> {
        self.order
            .iter()
            .map(|a| {
                let excluded = self.is_excluded(&a.id);
                Account {
                    account: a.id,
                    name: a.name.clone(),
                    status: a.state.clone(),
                    ou_path: self.ou_path(&a.id),
                    role: self.role(&a.id).to_owned(),
                    excluded,
                    excluded_reason: excluded.then(|| {
                        self.excluded.get(&a.id).cloned().unwrap_or_else(|| "excluded by the configuration".into())
                    }),
                }
            })
            .collect()
    }

    fn role(&self, id: &AccountId) -> &'static str {
        if *id == self.survey.management {
            "management"
        } else if *id == self.settings.admin_account {
            "admin"
        } else {
            "member"
        }
    }

    /// `Root/Prod/Legacy`: the root (always named Root by Organizations), then each unit's name.
    fn ou_path(&self, id: &AccountId) -> String {
        let path = self.survey.tree.path(id.as_str());
        let units = path.iter().skip(1).take(path.len().saturating_sub(2));
        let names = units.map(|u| self.survey.unit_names.get(u).map_or(u.as_str(), String::as_str));
        std::iter::once("Root").chain(names).collect::<Vec<_>>().join("/")
    }
}

/// A region, classified: its summary (without what the controls add), its rows in account order, and what each
/// account should have there.
pub(crate) struct Classified {
    pub(crate) region: Region,
    pub(crate) rows: Vec<Cell>,
    pub(crate) wants: Wants,
    /// The plans the configuration turns on for the admin's own detector (GUARDDUTY_FEATURES, resolved here).
    pub(crate) admin_plans: Vec<Plan>,
    /// What the region offers, where it could be read.
    pub(crate) offered: Option<OrgConfig>,
}

/// Classifies one region read.
pub(crate) fn region(org: &Org<'_>, read: &RegionRead) -> Result<Classified, EvidenceError> {
    let side = read.side.as_ref();
    let offered = side.map(|s| &s.org_config);
    let empty = OrgConfig::default();
    let (wants, held) = org.survey.classes.wants(org.settings, &read.region, offered.unwrap_or(&empty));
    let enrolled: Vec<MemberAccount> =
        org.survey.roster.members.iter().filter(|m| !held.contains(&m.id)).cloned().collect();
    let statuses = as_a_reconcile_sees(side, &org.survey.roster.members);
    let check = checked(&wants, &enrolled, &statuses, side);
    let sorted = classify(&enrolled, &statuses, &check, &BTreeMap::new(), false);
    let admin_plans = org.settings.plans.resolve(offered.unwrap_or(&empty)).plans;
    let places = Places::new(&read.region, offered);
    let standing = Standing {
        held: &held,
        left: sorted.left.iter().map(|l| (l.account, l)).collect(),
        unprotected: sorted.unprotected.iter().map(|u| (u.account, u)).collect(),
    };
    let rows: Vec<Cell> = org.order.iter().map(|a| row(org, read, &places, &standing, a)).collect();
    let mut summary = summary(org, read, &admin_plans);
    count(&mut summary, &rows, org, sorted.protected, enrolled.len() - sorted.left.len())?;
    Ok(Classified { region: summary, rows, wants, admin_plans, offered: offered.cloned() })
}

/// The member statuses as a reconcile classifies them: an account it enrols whose record says AccountSuspended
/// (Organizations shows it ACTIVE), or RegionDisabled while it has enabled the region since, has a stale record a
/// reconcile replaces; until then it is not a member.
fn as_a_reconcile_sees(side: Option<&AdminView>, enrolled: &[MemberAccount]) -> Members {
    let Some(side) = side else { return Members::new() };
    let mut statuses = side.members.clone();
    for m in enrolled {
        let stale = match statuses.get(&m.id) {
            Some(MemberStatus::AccountSuspended) => true,
            Some(MemberStatus::RegionDisabled) => side.opted_in.get(&m.id) == Some(&true),
            _ => false,
        };
        if stale {
            statuses.remove(&m.id);
        }
    }
    statuses
}

/// The plans of every Enabled account to enrol, checked against what it wants, as a reconcile checks them (read
/// only where anything is wanted at all).
fn checked(wants: &Wants, enrolled: &[MemberAccount], statuses: &Members, side: Option<&AdminView>) -> PlanCheck {
    let mut check = PlanCheck::new(wants.clone());
    let Some(side) = side.filter(|_| wants.any()) else { return check };
    for m in enrolled.iter().filter(|m| statuses.get(&m.id) == Some(&MemberStatus::Enabled)) {
        match (side.plans.get(&m.id), side.unread.get(&m.id)) {
            (Some(features), _) => check.saw(m.id, features),
            (None, Some(reason)) => check.missed(m.id, reason.clone()),
            (None, None) => check.missed(m.id, "GetMemberDetectors did not answer for it".into()),
        }
    }
    check
}

/// Where the accounts a reconcile enrols ended.
struct Standing<'a> {
    held: &'a BTreeSet<AccountId>,
    left: HashMap<AccountId, &'a Left>,
    unprotected: HashMap<AccountId, &'a Unprotected>,
}

/// One account's row.
fn row(org: &Org<'_>, read: &RegionRead, places: &Places, standing: &Standing<'_>, a: &OrgAccount) -> Cell {
    let side = read.side.as_ref();
    let relationship = side.and_then(|s| s.members.get(&a.id)).map(|s| s.as_str().to_owned());
    let admin = a.id == org.settings.admin_account;
    let features = if admin {
        read.admin_detector.as_ref().map(|d| &d.features)
    } else {
        side.and_then(|s| s.plans.get(&a.id)).map(|f| &**f)
    };
    let (coverage, reason) = if admin {
        (Coverage::Admin, admin_reason(read.admin_detector.as_ref()))
    } else if !a.is_active() {
        (Coverage::NotActive, Some(format!("the account is {} in the organization", a.state)))
    } else if org.is_excluded(&a.id) {
        (Coverage::Excluded, org.excluded.get(&a.id).cloned().or_else(|| Some("excluded by the configuration".into())))
    } else if standing.held.contains(&a.id) {
        (Coverage::Excluded, Some("its GuardDuty policy turns GuardDuty off here (foundational disabled)".into()))
    } else if let Some(l) = standing.left.get(&a.id) {
        (Coverage::RegionNotEnabled, Some(l.reason.clone()))
    } else if let Some(u) = standing.unprotected.get(&a.id) {
        (Coverage::Unprotected, Some(u.reason.clone()))
    } else {
        (Coverage::Protected, None)
    };
    Cell { account: a.id, region: places.region.clone(), coverage, relationship, plans: places.plans(features), reason }
}

fn admin_reason(detector: Option<&Detector>) -> Option<String> {
    match detector {
        None => Some("the delegated admin has no detector here".into()),
        Some(d) if !d.enabled => Some("the delegated admin's detector is DISABLED here".into()),
        Some(_) => None,
    }
}

/// The additional configurations a region offers for a plan; `None` where it does not offer the plan.
type Offered = Option<Vec<Arc<str>>>;

/// The names a region's rows share (one allocation each per region), and what the region offers.
struct Places {
    region: Arc<str>,
    /// Every plan GuardDuty knows or the region offers, in name order, with the additional configurations the region
    /// offers for it (`None`: not offered).
    plans: Vec<(Arc<str>, Offered)>,
    /// The distinct lists of plans the region's rows show, each kept once and shared by the rows that show it.
    shown: RefCell<HashSet<Plans>>,
}

impl Places {
    fn new(region: &str, offered: Option<&OrgConfig>) -> Self {
        let known = aws_sdk_guardduty::types::OrgFeature::values().iter().map(|p| (*p).to_owned());
        let names: BTreeSet<String> =
            known.chain(offered.into_iter().flat_map(|o| o.features.keys().cloned())).collect();
        let plans = names
            .into_iter()
            .map(|name| {
                let agents = match offered {
                    None => Some(Vec::new()),
                    Some(o) => o.features.get(&name).map(|f| f.agents.keys().map(|a| Arc::from(a.as_str())).collect()),
                };
                (Arc::from(name.as_str()), agents)
            })
            .collect();
        Self { region: Arc::from(region), plans, shown: RefCell::default() }
    }

    /// Every plan as GuardDuty shows `features` (none: it shows the account no detector), shared with the region's
    /// other rows that show the same.
    fn plans(&self, features: Option<&Features>) -> Plans {
        let plans = self.read(features);
        let mut shown = self.shown.borrow_mut();
        match shown.get(&plans) {
            Some(same) => same.clone(),
            None => {
                shown.insert(plans.clone());
                plans
            }
        }
    }

    fn read(&self, features: Option<&Features>) -> Plans {
        let on = |enabled: bool| if enabled { PlanStatus::Enabled } else { PlanStatus::Disabled };
        Plans(
            self.plans
                .iter()
                .map(|(name, agents)| {
                    let shown = features.and_then(|f| f.get(&**name));
                    let cell = match agents {
                        None => PlanCell { status: PlanStatus::NotOffered, managed_by: None, additional: Vec::new() },
                        Some(agents) => {
                            let mut additional: Vec<(Arc<str>, PlanStatus)> = agents
                                .iter()
                                .map(|a| (a.clone(), on(shown.and_then(|f| f.agents.get(&**a)) == Some(&true))))
                                .collect();
                            // Additional configurations GuardDuty shows beyond those the region lists.
                            for (a, enabled) in shown.into_iter().flat_map(|f| &f.agents) {
                                if !additional.iter().any(|(n, _)| **n == **a) {
                                    additional.push((Arc::from(a.as_str()), on(*enabled)));
                                }
                            }
                            additional.sort();
                            PlanCell {
                                status: on(shown.is_some_and(|f| f.enabled)),
                                managed_by: shown.filter(|f| f.by_policy).map(|_| "GUARDDUTY_POLICY".to_owned()),
                                additional,
                            }
                        }
                    };
                    (name.clone(), cell)
                })
                .collect(),
        )
    }
}

/// The region's summary, counts apart.
fn summary(org: &Org<'_>, read: &RegionRead, admin_plans: &[Plan]) -> Region {
    let admin = org.settings.admin_account;
    let side = read.side.as_ref();
    let designated = read.admins.iter().any(|a| a.account == admin.as_str() && a.status == AdminStatus::Enabled);
    let auto_enable = match (org.survey.mode, side) {
        ("policy", _) => Some("POLICY".to_owned()),
        (_, Some(s)) => s.org_config.auto_enable.clone(),
        _ => None,
    };
    let destinations = side.map(|s| s.destinations.as_slice()).unwrap_or_default();
    let mut region = Region {
        region: Arc::from(read.region.as_str()),
        admin_designated: designated,
        delegated_admin: read.admins.first().map(|a| a.account.clone()),
        admin_detector: DetectorState::of(read.admin_detector.as_ref()),
        auto_enable,
        expected: 0,
        protected: 0,
        unprotected: 0,
        excluded: 0,
        not_enabled: 0,
        not_active: 0,
        plans_offered: side.map(|s| s.org_config.features.keys().cloned().collect()).unwrap_or_default(),
        plans_configured: admin_plans.iter().map(|p| p.name.clone()).collect(),
        export: destinations.first().map(|d| Export {
            destination: d.destination.clone(),
            kms_key: d.kms_key.clone(),
            status: crate::report::ExportStatus::parse(&d.status),
            failing_since: d.failing_since_ms.map(|ms| super::date::timestamp(ms.div_euclid(1000))),
        }),
        archive_filters: Vec::new(),
        other_filters: 0,
        trusted_ip_sets: Vec::new(),
        threat_intel_sets: Vec::new(),
        trusted_entity_sets: Vec::new(),
        threat_entity_sets: Vec::new(),
        not_read: Vec::new(),
        notes: notes(org, read),
    };
    if let Some(side) = side {
        silencing(&mut region, side);
    }
    region
}

/// What is worth knowing about how a region was read.
fn notes(org: &Org<'_>, read: &RegionRead) -> Vec<String> {
    let admin = org.settings.admin_account;
    let mut notes = Vec::new();
    if let Some(other) = read.admins.iter().find(|a| a.account != admin.as_str()) {
        notes.push(format!(
            "{} is the delegated GuardDuty administrator here, not the configured {admin}",
            other.account
        ));
    }
    match &read.side {
        None => notes.push(
            "the members, the plans the region offers and the silencing places could not be read: the configured \
             admin is not the designated delegated administrator here, or has no detector"
                .into(),
        ),
        Some(side) => {
            let enrolled = |id: &AccountId| org.survey.roster.members.iter().any(|m| m.id == *id);
            if let Some(why) = side.opt_in_unreadable.iter().find(|(id, _)| enrolled(id)).map(|(_, why)| why) {
                notes.push(format!(
                    "members recorded RegionDisabled could not be re-checked (account:GetRegionOptStatus needs \
                     trusted access for account.amazonaws.com in Organizations): {why}"
                ));
            }
            for (what, why) in &side.unread_places {
                notes.push(format!("the {what} could not be read, and none is shown: {why}"));
            }
            if side.destinations.len() > 1 {
                notes.push(format!(
                    "{} publishing destinations on the admin's detector; the first is shown",
                    side.destinations.len()
                ));
            }
        }
    }
    notes
}

/// The places where findings can be silenced (or added): the archive filters and the lists.
fn silencing(region: &mut Region, side: &AdminView) {
    let lists = |kind: ListKind| -> Vec<List> {
        side.lists
            .get(&kind)
            .into_iter()
            .flatten()
            .map(|l| List {
                name: l.name.clone(),
                status: l.status.clone(),
                location: l.location.clone(),
                format: l.format.clone(),
                id: l.id.clone(),
            })
            .collect()
    };
    region.archive_filters = side
        .filters
        .iter()
        .filter(|f| f.action == "ARCHIVE")
        .map(|f| Filter {
            name: f.name.clone(),
            criteria: f.criteria.clone(),
            rank: f.rank,
            description: f.description.clone(),
        })
        .collect();
    region.other_filters = side.filters.len() - region.archive_filters.len();
    region.trusted_ip_sets = lists(ListKind::TrustedIps);
    region.threat_intel_sets = lists(ListKind::ThreatIps);
    region.trusted_entity_sets = lists(ListKind::TrustedEntities);
    region.threat_entity_sets = lists(ListKind::ThreatEntities);
    region.not_read = side.unread_places.keys().map(|w| (*w).to_owned()).collect();
}

/// The region's counts, from its rows, checked: every ACTIVE account in exactly one class, and `expected` what the
/// reconcile's rules expect (`protected` + `unprotected`).
fn count(
    region: &mut Region,
    rows: &[Cell],
    org: &Org<'_>,
    protected: usize,
    expected: usize,
) -> Result<(), EvidenceError> {
    let of = |c: Coverage| rows.iter().filter(|r| r.coverage == c).count();
    region.protected = of(Coverage::Protected);
    region.unprotected = of(Coverage::Unprotected);
    region.excluded = of(Coverage::Excluded);
    region.not_enabled = of(Coverage::RegionNotEnabled);
    region.not_active = of(Coverage::NotActive);
    region.expected = region.protected + region.unprotected;
    let active = org.order.iter().filter(|a| a.is_active()).count();
    let admins = rows.iter().filter(|r| r.coverage == Coverage::Admin).count();
    let classes = region.expected + region.excluded + region.not_enabled + admins;
    let mismatch = if region.protected != protected || region.expected != expected {
        Some(format!(
            "{} protected of {} expected by the rows, {protected} of {expected} by the reconcile's rules",
            region.protected, region.expected
        ))
    } else if classes != active || admins != 1 {
        Some(format!("{active} ACTIVE accounts, {classes} in the classes ({admins} admin)"))
    } else {
        None
    };
    match mismatch {
        Some(detail) => Err(EvidenceError::Counts { region: region.region.to_string(), detail }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, *};
    use super::*;

    fn rows_of(c: &Classified) -> BTreeMap<&str, &Cell> {
        c.rows.iter().map(|r| (r.account.as_str(), r)).collect()
    }

    #[test]
    fn every_account_stands_in_one_class_by_the_reconciles_rules_and_the_counts_reconcile() {
        // given the small organization, in the region where one member has not enabled the opt-in region
        let s = settings();
        let survey = survey(&s);
        let org = Org::new(&s, &survey);
        // when classified
        let c = region(&org, &fixture::read("eu-west-1")).expect("the counts reconcile");
        // then the rows follow the accounts: the management account, the admin, then by name
        let order: Vec<&str> = c.rows.iter().map(|r| r.account.as_str()).collect();
        assert_eq!(order, [MANAGEMENT, ADMIN, SUSPENDED, NO_OPT_IN, PROTECTED, MISSING_S3, EXCLUDED]);
        let rows = rows_of(&c);
        let coverage: Vec<Coverage> = order.iter().map(|a| rows[a].coverage).collect();
        assert_eq!(
            coverage,
            [
                Coverage::Protected,
                Coverage::Admin,
                Coverage::NotActive,
                Coverage::RegionNotEnabled,
                Coverage::Protected,
                Coverage::Unprotected,
                Coverage::Excluded
            ]
        );
        // and each says why in the words status uses
        assert_eq!(rows[MISSING_S3].reason.as_deref(), Some("protection plans not enabled: S3_DATA_EVENTS"));
        assert_eq!(rows[NO_OPT_IN].reason.as_deref(), Some("the account has not enabled this opt-in region"));
        assert_eq!(rows[EXCLUDED].reason.as_deref(), Some("GUARDDUTY_EXCLUDED_ACCOUNTS"));
        assert_eq!(rows[NO_OPT_IN].relationship.as_deref(), Some("RegionDisabled"));
        assert_eq!(rows[EXCLUDED].relationship, None);
        // and the counts: 3 expected (management, prod-a, prod-b), 2 protected
        let r = &c.region;
        let counts = (r.expected, r.protected, r.unprotected, r.excluded, r.not_enabled, r.not_active);
        assert_eq!(counts, (3, 2, 1, 1, 1, 1));
        assert_eq!(r.export.as_ref().map(|e| e.failing_since.as_deref()), Some(Some("2026-11-29T00:00:00Z")));
    }

    #[test]
    fn plans_show_as_guardduty_shows_them_and_not_offered_where_the_region_lacks_them() {
        let s = settings();
        let survey = survey(&s);
        let org = Org::new(&s, &survey);
        let c = region(&org, &fixture::read("eu-west-1")).expect("classified");
        let rows = rows_of(&c);
        let plans = &rows[MISSING_S3].plans;
        assert_eq!(plans.get("S3_DATA_EVENTS").map(|p| p.status), Some(PlanStatus::Disabled));
        assert_eq!(plans.get("RDS_LOGIN_EVENTS").map(|p| p.status), Some(PlanStatus::NotOffered));
        assert_eq!(plans.get("EKS_RUNTIME_MONITORING").map(|p| p.status), Some(PlanStatus::NotOffered));
        let runtime = plans.get("RUNTIME_MONITORING").expect("runtime");
        assert_eq!(runtime.status, PlanStatus::Enabled);
        assert_eq!(runtime.agent("EC2_AGENT_MANAGEMENT"), Some(PlanStatus::Enabled));
        // an account GuardDuty shows no detector for has every offered plan DISABLED
        assert!(rows[EXCLUDED].plans.0.iter().all(|(_, p)| p.status != PlanStatus::Enabled));
        let names: Vec<&str> = plans.0.iter().map(|(n, _)| &**n).collect();
        assert_eq!(names.len(), aws_sdk_guardduty::types::OrgFeature::values().len(), "every plan GuardDuty knows");
    }

    #[test]
    fn a_stale_record_is_not_a_membership_as_a_reconcile_sees_it() {
        // given the account recorded RegionDisabled that has enabled the region since, and a member of the
        // organization recorded AccountSuspended while Organizations shows it ACTIVE
        let s = settings();
        let survey = survey(&s);
        let org = Org::new(&s, &survey);
        let mut read = fixture::read("eu-west-1");
        let side = read.side.as_mut().expect("side");
        side.opted_in.insert(id(NO_OPT_IN), true);
        side.members.insert(id(PROTECTED), MemberStatus::AccountSuspended);
        // when classified, then both are expected and not protected: not members, until a reconcile replaces them
        let c = region(&org, &read).expect("classified");
        let rows = rows_of(&c);
        for account in [NO_OPT_IN, PROTECTED] {
            assert_eq!(rows[account].coverage, Coverage::Unprotected, "{account}");
            assert_eq!(rows[account].reason.as_deref(), Some("not a member"), "{account}");
        }
        assert_eq!((c.region.expected, c.region.protected), (4, 1));
    }

    #[test]
    fn where_the_admin_cannot_read_the_members_every_expected_account_is_unprotected_and_it_says_why() {
        let s = settings();
        let survey = survey(&s);
        let org = Org::new(&s, &survey);
        let mut read = fixture::read("us-east-1");
        read.admins = vec![DelegatedAdminLike::other()];
        read.side = None;
        let c = region(&org, &read).expect("classified");
        assert!(!c.region.admin_designated);
        assert_eq!((c.region.expected, c.region.protected), (4, 0));
        assert!(c.region.notes.iter().any(|n| n.contains("999999999999 is the delegated GuardDuty administrator")));
        assert_eq!(c.region.auto_enable, None);
    }

    #[test]
    fn an_opt_in_status_that_cannot_be_read_is_noted_only_for_an_account_to_enrol() {
        let s = settings();
        let survey = survey(&s);
        let org = Org::new(&s, &survey);
        let mut read = fixture::read("eu-west-1");
        let side = read.side.as_mut().expect("side");
        side.opted_in.clear();
        side.opt_in_unreadable.insert(id(EXCLUDED), "AccessDeniedException".into());
        let quiet = region(&org, &read).expect("classified");
        assert!(quiet.region.notes.is_empty(), "{:?}", quiet.region.notes);
        read.side.as_mut().expect("side").opt_in_unreadable.insert(id(NO_OPT_IN), "AccessDeniedException".into());
        let noted = region(&org, &read).expect("classified");
        assert!(noted.region.notes.iter().any(|n| n.contains("could not be re-checked")), "{:?}", noted.region.notes);
        // and the record is taken as it is: not expected here
        assert_eq!(rows_of(&noted)[NO_OPT_IN].coverage, Coverage::RegionNotEnabled);
    }

    #[test]
    fn a_silencing_place_the_admin_may_not_read_is_shown_as_not_read_never_as_none() {
        let s = settings();
        let survey = survey(&s);
        let org = Org::new(&s, &survey);
        let mut read = fixture::read("us-east-1");
        let side = read.side.as_mut().expect("side");
        side.filters.clear();
        side.unread_places.insert("saved filters", "ListFilters in us-east-1 failed: AccessDeniedException".into());
        let c = region(&org, &read).expect("classified");
        assert_eq!(c.region.not_read, ["saved filters"]);
        assert!(c.region.archive_filters.is_empty());
        assert!(
            c.region.notes.iter().any(|n| n.starts_with("the saved filters could not be read")),
            "{:?}",
            c.region.notes
        );
        let mut d = fixture::evidence("2026-11-29T03:00:00Z", "a");
        d.regions[1] = c.region;
        let html = super::super::html::report(&d);
        assert!(html.contains("✘ Archive filters: not read"), "the page says so");
    }

    struct DelegatedAdminLike;

    impl DelegatedAdminLike {
        fn other() -> crate::state::DelegatedAdmin {
            crate::state::DelegatedAdmin { account: "999999999999".into(), status: AdminStatus::Enabled }
        }
    }

    #[test]
    fn accounts_carry_their_path_role_and_exclusion() {
        let s = settings();
        let survey = survey(&s);
        let accounts = Org::new(&s, &survey).accounts();
        let find = |a: &str| accounts.iter().find(|x| x.account.as_str() == a).expect("account");
        assert_eq!(find(PROTECTED).ou_path, "Root/Prod/Legacy");
        assert_eq!(find(MISSING_S3).ou_path, "Root/Prod");
        assert_eq!(find(MANAGEMENT).ou_path, "Root");
        assert_eq!((find(MANAGEMENT).role.as_str(), find(ADMIN).role.as_str()), ("management", "admin"));
        assert!(find(EXCLUDED).excluded);
        assert_eq!(find(EXCLUDED).excluded_reason.as_deref(), Some("GUARDDUTY_EXCLUDED_ACCOUNTS"));
        assert_eq!(find(SUSPENDED).status, "SUSPENDED");
    }
}
