//! The record over a range of days, read back: per account and region, the share of the days fully covered, and
//! every gap as an interval (PCI DSS 10.7.3's "date and time from start to end"): the first record that shows it,
//! the first record that no longer does, the cause as the record gives it, and what had changed when it closed.
//! Records are taken one at a time, in time order, so that a month of records of a large organization is never held
//! at once. A gap between two records is not seen: gaps shorter than the interval between records show as the records
//! show them. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::date::Day;
use super::document::{Cell, Coverage, Evidence, Header, Organization, PlanStatus, Tool};
use crate::ids::AccountId;
use crate::state::DetectorState;

/// The schema of a range's document.
pub const RANGE_SCHEMA: &str = "guardduty-enabler/evidence-range/1";

/// What the record says of a range of days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// [`RANGE_SCHEMA`].
    pub schema: String,
    /// The first day (UTC).
    pub from: String,
    /// The last day (UTC), included.
    pub to: String,
    /// Who read the record, and with which configuration.
    pub header: Header,
    /// The tool that read it.
    pub tool: Tool,
    /// The organization, as the latest record has it.
    pub organization: Option<Organization>,
    /// The records read, in time order.
    pub records: Vec<RecordRef>,
    /// Calendar days in the range.
    pub days: usize,
    /// The days no record was found for: no coverage is shown for them.
    pub days_without_record: Vec<String>,
    /// Per account and region expected on some day: the days fully covered.
    pub coverage: Vec<Share>,
    /// Every gap, by account, region and start.
    pub gaps: Vec<Gap>,
    /// The totals and the verdict.
    pub summary: RangeSummary,
    /// How to read it.
    pub notes: Vec<String>,
}

/// A record read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// Its key in the bucket.
    pub key: String,
    /// When it was observed.
    pub observed_at: String,
}

/// One account in one region over the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// The account.
    pub account: AccountId,
    /// Its name, as the latest record has it.
    pub name: String,
    /// The region.
    pub region: Arc<str>,
    /// Days whose records show it expected (protected or not, or the delegated admin).
    pub days_expected: usize,
    /// Days whose every record shows it expected and covered.
    pub days_fully_covered: usize,
    /// `days_fully_covered` of the calendar days of the range (0 to 1, four decimals): a day without a record is not
    /// a day shown covered.
    pub share: f64,
}

/// A gap in coverage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// The region.
    pub region: Arc<str>,
    /// The first record that shows it.
    pub start: String,
    /// The first record that no longer shows it; null while it is open at the end of the range.
    pub end: Option<String>,
    /// The cause, as the records give it (each distinct cause, in order).
    pub cause: String,
    /// What the record that ends it shows changed.
    pub repaired: Option<String>,
    /// How many records show it.
    pub records: usize,
}

/// The totals and the verdict of a range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSummary {
    /// Gaps.
    pub gaps: usize,
    /// Of those, open at the end of the range.
    pub open: usize,
    /// Days without a record.
    pub days_without_record: usize,
    /// No gap and a record every day.
    pub clean: bool,
}

/// How one record shows an account in a region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    coverage: Option<Coverage>,
    relationship: Option<String>,
    reason: Option<String>,
    /// Plans and additional configurations not ENABLED, among those offered.
    off: BTreeSet<String>,
}

impl Seen {
    fn of(cell: &Cell, admin_ok: bool) -> Self {
        let mut off = BTreeSet::new();
        for (plan, p) in cell.plans.0.iter() {
            if p.status == PlanStatus::Disabled {
                off.insert(plan.to_string());
            }
            for (agent, s) in &p.additional {
                if *s == PlanStatus::Disabled {
                    off.insert(format!("{plan}/{agent}"));
                }
            }
        }
        let reason = match cell.coverage {
            Coverage::Admin if !admin_ok => Some("the delegated admin's detector is not enabled".to_owned()),
            _ => cell.reason.clone(),
        };
        Self { coverage: Some(cell.coverage), relationship: cell.relationship.clone(), reason, off }
    }

    fn expected(&self) -> bool {
        matches!(self.coverage, Some(Coverage::Protected | Coverage::Unprotected | Coverage::Admin))
    }

    fn in_gap(&self) -> bool {
        self.coverage == Some(Coverage::Unprotected)
            || (self.coverage == Some(Coverage::Admin) && self.reason.is_some())
    }
}

/// An open gap.
#[derive(Clone, Debug)]
struct Open {
    start: String,
    causes: Vec<String>,
    last: Seen,
    records: usize,
}

/// One account in one region, as the records so far show it.
#[derive(Clone, Debug, Default)]
struct Pair {
    day: Option<Day>,
    /// Whether the current day's records all show it expected, and all covered.
    expected_today: bool,
    covered_today: bool,
    days_expected: usize,
    days_covered: usize,
    seen_in: usize,
    open: Option<Open>,
}

impl Pair {
    fn close_day(&mut self) {
        if self.day.take().is_some() {
            self.days_expected += usize::from(self.expected_today);
            self.days_covered += usize::from(self.expected_today && self.covered_today);
        }
    }
}

/// The record over a range, taken a record at a time.
pub struct History {
    from: Day,
    to: Day,
    pairs: BTreeMap<(AccountId, Arc<str>), Pair>,
    names: BTreeMap<AccountId, String>,
    records: Vec<RecordRef>,
    days: BTreeSet<Day>,
    gaps: Vec<Gap>,
    organization: Option<Organization>,
}

impl History {
    /// A history of the days `from` to `to`, both included.
    pub fn new(from: Day, to: Day) -> Self {
        Self {
            from,
            to,
            pairs: BTreeMap::new(),
            names: BTreeMap::new(),
            records: Vec::new(),
            days: BTreeSet::new(),
            gaps: Vec::new(),
            organization: None,
        }
    }

    /// Takes the next record, `key`'s (records come in time order).
    pub fn add(&mut self, key: &str, record: &Evidence) {
        let index = self.records.len() + 1;
        self.records.push(RecordRef { key: key.to_owned(), observed_at: record.observed_at.clone() });
        let day = Day::of_timestamp(&record.observed_at);
        if let Some(day) = day {
            self.days.insert(day);
        }
        self.names.extend(record.accounts.iter().map(|a| (a.account, a.name.clone())));
        self.organization = Some(record.organization.clone());
        let admin_ok: BTreeMap<&str, bool> =
            record.regions.iter().map(|r| (&*r.region, r.admin_detector == DetectorState::Enabled)).collect();
        for cell in &record.matrix {
            let seen = Seen::of(cell, admin_ok.get(&*cell.region).copied().unwrap_or(false));
            let pair = self.pairs.entry((cell.account, cell.region.clone())).or_default();
            if pair.day != day {
                pair.close_day();
                pair.day = day;
                pair.expected_today = seen.expected();
                pair.covered_today = true;
            }
            pair.expected_today &= seen.expected();
            pair.covered_today &= !seen.in_gap();
            pair.seen_in = index;
            step(&mut self.gaps, pair, (cell.account, &cell.region), &record.observed_at, seen);
        }
        // A pair the record does not show (the account left, the region is no longer governed) ends its gap.
        for ((account, region), pair) in self.pairs.iter_mut().filter(|(_, p)| p.seen_in != index && p.open.is_some()) {
            if let Some(open) = pair.open.take() {
                let repaired = "not in the record (the account left the organization, or the region is no longer \
                                governed)";
                self.gaps.push(gap(open, *account, region, Some(&record.observed_at), Some(repaired.to_owned())));
            }
        }
    }

    /// What the records say of the range.
    pub fn finish(mut self, header: Header) -> Range {
        let mut gaps = std::mem::take(&mut self.gaps);
        let mut coverage = Vec::new();
        let days = usize::try_from(self.to.0 - self.from.0 + 1).unwrap_or(0);
        for ((account, region), mut pair) in std::mem::take(&mut self.pairs) {
            pair.close_day();
            if let Some(open) = pair.open.take() {
                gaps.push(gap(open, account, &region, None, None));
            }
            if pair.days_expected > 0 {
                let share = (pair.days_covered as f64 / days.max(1) as f64 * 10_000.0).round() / 10_000.0;
                let name = self.names.get(&account).cloned().unwrap_or_default();
                coverage.push(Share {
                    account,
                    name,
                    region,
                    days_expected: pair.days_expected,
                    days_fully_covered: pair.days_covered,
                    share,
                });
            }
        }
        for g in &mut gaps {
            g.name = self.names.get(&g.account).cloned().unwrap_or_default();
        }
        gaps.sort_by(|a, b| (a.account, &a.region, &a.start).cmp(&(b.account, &b.region, &b.start)));
        let mut without = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            if !self.days.contains(&day) {
                without.push(day.to_string());
            }
            day = day.next();
        }
        let open = gaps.iter().filter(|g| g.end.is_none()).count();
        let summary = RangeSummary {
            gaps: gaps.len(),
            open,
            days_without_record: without.len(),
            clean: gaps.is_empty() && without.is_empty(),
        };
        Range {
            schema: RANGE_SCHEMA.into(),
            from: self.from.to_string(),
            to: self.to.to_string(),
            header,
            tool: Tool { version: env!("CARGO_PKG_VERSION").into() },
            organization: self.organization,
            records: self.records,
            days,
            days_without_record: without,
            coverage,
            gaps,
            summary,
            notes: NOTES.iter().map(|n| (*n).to_owned()).collect(),
        }
    }
}

const NOTES: [&str; 3] = [
    "A gap starts at the first record that shows the account-region expected and not covered, and ends at the first \
     record that no longer shows it; what happened between two records is not seen, so a gap shorter than the \
     interval between records shows as the records show it, or not at all.",
    "A day is fully covered when it has records and every one of them shows the account-region covered; the share is \
     of the calendar days of the range, and a day without a record counts as not shown covered.",
    "The cause is the record's own reason; what repaired it is what the record that ends the gap shows changed \
     (a member's status, its plans), not a claim about who changed it.",
];

/// One record's view of a pair, against its open gap.
fn step(gaps: &mut Vec<Gap>, pair: &mut Pair, (account, region): (AccountId, &Arc<str>), at: &str, seen: Seen) {
    match (pair.open.as_mut(), seen.in_gap()) {
        (None, true) => {
            let causes = seen.reason.iter().cloned().collect();
            pair.open = Some(Open { start: at.to_owned(), causes, last: seen, records: 1 });
        }
        (Some(open), true) => {
            if let Some(reason) = seen.reason.as_ref().filter(|r| !open.causes.contains(r)) {
                open.causes.push(reason.clone());
            }
            open.records += 1;
            open.last = seen;
        }
        (Some(_), false) => {
            if let Some(open) = pair.open.take() {
                let repaired = repaired(&open.last, &seen);
                gaps.push(gap(open, account, region, Some(at), Some(repaired)));
            }
        }
        (None, false) => {}
    }
}

fn gap(open: Open, account: AccountId, region: &Arc<str>, end: Option<&str>, repaired: Option<String>) -> Gap {
    Gap {
        account,
        name: String::new(),
        region: region.clone(),
        start: open.start,
        end: end.map(str::to_owned),
        cause: open.causes.join("; "),
        repaired,
        records: open.records,
    }
}

/// What changed between the last record of a gap and the record that ends it.
fn repaired(before: &Seen, after: &Seen) -> String {
    if !after.expected() {
        let coverage = after.coverage.map_or("absent", Coverage::as_str);
        let why = after.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        return format!("no longer expected ({coverage}{why})");
    }
    let mut parts = Vec::new();
    if before.relationship != after.relationship {
        let show = |r: &Option<String>| r.clone().unwrap_or_else(|| "not a member".into());
        parts.push(format!("member status {} to {}", show(&before.relationship), show(&after.relationship)));
    }
    let enabled: Vec<&String> = before.off.difference(&after.off).collect();
    if !enabled.is_empty() {
        parts.push(format!("enabled {}", enabled.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if parts.is_empty() {
        parts.push(match after.coverage {
            Some(Coverage::Admin) => "the delegated admin's detector enabled".into(),
            _ => "protected".into(),
        });
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, *};
    use super::*;
    use crate::state::MemberStatus;

    /// Three records over two of three days: prod-b without S3 Protection on day 1 (twice), then repaired; the
    /// newcomer's monitoring stopped in us-east-1 from day 2.
    fn records() -> Vec<(String, Evidence)> {
        let repaired = |read: &mut super::super::read::RegionRead| {
            let side = read.side.as_mut().expect("side");
            if let Some(f) = side.plans.get_mut(&id(MISSING_S3)) {
                std::sync::Arc::make_mut(f).get_mut("S3_DATA_EVENTS").expect("s3").enabled = true;
            }
            if read.region == "us-east-1" {
                side.members.insert(id(NO_OPT_IN), MemberStatus::Disabled);
            }
        };
        vec![
            fixture::evidence("2026-11-01T09:00:00Z", "a"),
            fixture::evidence("2026-11-01T21:00:00Z", "a"),
            fixture::evidence_with("2026-11-02T09:00:00Z", "a", repaired),
        ]
        .into_iter()
        .map(|d| (super::super::record::key(&d.observed_at).expect("key"), d))
        .collect()
    }

    fn range(records: &[(String, Evidence)]) -> Range {
        let mut h = History::new(Day::parse("2026-11-01").expect("day"), Day::parse("2026-11-03").expect("day"));
        for (key, d) in records {
            h.add(key, d);
        }
        h.finish(Header::default())
    }

    #[test]
    fn every_gap_is_an_interval_from_the_first_record_that_shows_it_to_the_first_that_does_not() {
        let r = range(&records());
        type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str, Option<&'a str>, usize);
        let gaps: Vec<Row<'_>> = r
            .gaps
            .iter()
            .map(|g| {
                (
                    g.account.as_str(),
                    &*g.region,
                    g.start.as_str(),
                    g.end.as_deref(),
                    g.cause.as_str(),
                    g.repaired.as_deref(),
                    g.records,
                )
            })
            .collect();
        let s3 = "protection plans not enabled: S3_DATA_EVENTS";
        assert_eq!(
            gaps,
            [
                (
                    MISSING_S3,
                    "eu-west-1",
                    "2026-11-01T09:00:00Z",
                    Some("2026-11-02T09:00:00Z"),
                    s3,
                    Some("enabled S3_DATA_EVENTS"),
                    2
                ),
                (
                    MISSING_S3,
                    "us-east-1",
                    "2026-11-01T09:00:00Z",
                    Some("2026-11-02T09:00:00Z"),
                    s3,
                    Some("enabled S3_DATA_EVENTS"),
                    2
                ),
                (NO_OPT_IN, "us-east-1", "2026-11-02T09:00:00Z", None, "monitoring is stopped (Disabled)", None, 1),
            ]
        );
        assert_eq!(r.gaps[0].name, "prod-b");
        assert_eq!((r.summary.gaps, r.summary.open, r.summary.clean), (3, 1, false));
    }

    #[test]
    fn the_share_of_days_fully_covered_counts_calendar_days_and_a_day_without_a_record_is_not_covered() {
        let r = range(&records());
        assert_eq!((r.days, r.days_without_record.clone()), (3, vec!["2026-11-03".to_owned()]));
        let share = |account: &str, region: &str| {
            r.coverage
                .iter()
                .find(|s| s.account.as_str() == account && &*s.region == region)
                .map(|s| (s.days_expected, s.days_fully_covered, s.share))
        };
        assert_eq!(share(PROTECTED, "us-east-1"), Some((2, 2, 0.6667)));
        assert_eq!(share(MISSING_S3, "us-east-1"), Some((2, 1, 0.3333)));
        assert_eq!(share(NO_OPT_IN, "us-east-1"), Some((2, 1, 0.3333)));
        assert_eq!(share(ADMIN, "eu-west-1"), Some((2, 2, 0.6667)), "the admin's own detector counts");
        assert_eq!(share(NO_OPT_IN, "eu-west-1"), None, "never expected there");
        assert_eq!(share(EXCLUDED, "us-east-1"), None);
        assert_eq!(r.records.len(), 3);
    }

    #[test]
    fn an_account_that_leaves_ends_its_gap_with_the_record_that_no_longer_shows_it() {
        let mut records = records();
        let mut gone = fixture::evidence("2026-11-03T09:00:00Z", "a");
        gone.matrix.retain(|c| c.account != id(NO_OPT_IN) && c.account != id(MISSING_S3));
        records.push((super::super::record::key(&gone.observed_at).expect("key"), gone));
        let r = range(&records);
        let newcomer = r.gaps.iter().find(|g| g.account == id(NO_OPT_IN)).expect("gap");
        assert_eq!(newcomer.end.as_deref(), Some("2026-11-03T09:00:00Z"));
        assert!(newcomer.repaired.as_deref().is_some_and(|t| t.starts_with("not in the record")), "{newcomer:?}");
        assert!(r.days_without_record.is_empty());
        assert_eq!(r.summary.open, 0);
        // and the CSV has one line per gap, quoted where needed
        let csv = super::super::csv::gaps(&r);
        assert_eq!(csv.lines().count(), 1 + r.gaps.len());
        assert!(csv.starts_with("account,name,region,start,end,cause,repaired,records\r\n"));
    }

    #[test]
    fn a_gap_whose_cause_changes_keeps_each_cause_and_its_repair_is_against_its_last_record() {
        // given prod-b without S3 Protection, then also without Lambda Protection, then with both
        let off = |plans: &'static [&'static str]| {
            move |read: &mut super::super::read::RegionRead| {
                let side = read.side.as_mut().expect("side");
                if let Some(f) = side.plans.get_mut(&id(MISSING_S3)) {
                    for (name, state) in std::sync::Arc::make_mut(f).iter_mut() {
                        state.enabled = !plans.contains(&name.as_str());
                    }
                }
            }
        };
        let docs = [
            fixture::evidence_with("2026-11-01T09:00:00Z", "a", off(&["S3_DATA_EVENTS"])),
            fixture::evidence_with("2026-11-01T21:00:00Z", "a", off(&["S3_DATA_EVENTS", "LAMBDA_NETWORK_LOGS"])),
            fixture::evidence_with("2026-11-02T09:00:00Z", "a", off(&[])),
        ];
        let records: Vec<(String, Evidence)> =
            docs.into_iter().map(|d| (super::super::record::key(&d.observed_at).expect("key"), d)).collect();
        let r = range(&records);
        let gap = r.gaps.iter().find(|g| g.account == id(MISSING_S3) && &*g.region == "us-east-1").expect("gap");
        assert_eq!(
            gap.cause,
            "protection plans not enabled: S3_DATA_EVENTS; protection plans not enabled: LAMBDA_NETWORK_LOGS, \
             S3_DATA_EVENTS"
        );
        assert_eq!(gap.repaired.as_deref(), Some("enabled LAMBDA_NETWORK_LOGS, S3_DATA_EVENTS"));
        assert_eq!(gap.records, 2);
    }

    #[test]
    fn a_clean_range_has_no_gap_and_a_record_every_day() {
        let d = fixture::evidence_with("2026-11-01T09:00:00Z", "a", |read| {
            let side = read.side.as_mut().expect("side");
            if let Some(f) = side.plans.get_mut(&id(MISSING_S3)) {
                std::sync::Arc::make_mut(f).get_mut("S3_DATA_EVENTS").expect("s3").enabled = true;
            }
        });
        let key = super::super::record::key(&d.observed_at).expect("key");
        let mut h = History::new(Day::parse("2026-11-01").expect("day"), Day::parse("2026-11-01").expect("day"));
        h.add(&key, &d);
        let r = h.finish(Header::default());
        assert!(r.summary.clean, "{:?}", r.summary);
        assert!(r.coverage.iter().all(|s| s.share == 1.0), "{:?}", r.coverage);
    }
}
