//! What the command line prints for a person: the account-by-region matrix and each region's organization
//! configuration (`status`), the writes per region (`plan`), the regions' outcomes (`apply`, `onboard`), and a
//! one-line summary. Colours only where the output is a terminal, never with NO_COLOR (anstream decides).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use enablement::{AccountEntry, MemberStatus, Outcome, PolicyTypeStatus, RegionReport, Report, Step};

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// A short column name for a region (the library's [`enablement::short_region`]).
pub fn short(region: &str) -> String {
    enablement::short_region(region)
}

pub fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// `status`: the account-by-region matrix, the problems named, each region's organization configuration, and the
/// summary.
pub fn status(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} management account {}, delegated admin {}, enablement: {}\n",
        paint(BOLD, "GuardDuty coverage:"),
        report.management_account,
        report.admin_account,
        report.enablement
    );
    let problems = matrix(&mut out, report);
    if !problems.is_empty() {
        let _ = writeln!(out, "\n{}", paint(BOLD, "Problems:"));
        for p in &problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    notes(&mut out, report);
    organization_configuration(&mut out, report);
    policies(&mut out, report);
    left_out(&mut out, report);
    let _ = writeln!(out, "\n{}", summary(report, Verb::Status));
    out
}

/// How many regions one table of the matrix shows: 10 keep a line within 100 columns.
const REGIONS_PER_TABLE: usize = 10;

/// The account-by-region matrix (a table per ten regions) and its legend; the problems its cells name.
fn matrix(out: &mut String, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let accounts = ordered_accounts(report);
    for (i, regions) in report.regions.chunks(REGIONS_PER_TABLE).enumerate() {
        let mut matrix = table();
        let mut header = vec!["account".to_owned(), "name".to_owned()];
        header.extend(regions.iter().map(|r| short(&r.region)));
        matrix.set_header(header);
        for account in &accounts {
            let mut row = vec![account.id.to_string(), account.name.clone()];
            for region in regions {
                // the problems are named once, from the first table that shows their region
                row.push(cell(report, region, account, &mut problems));
            }
            matrix.add_row(row);
        }
        for column in 2..regions.len() + 2 {
            if let Some(c) = matrix.column_mut(column) {
                c.set_cell_alignment(CellAlignment::Center);
            }
        }
        if i > 0 {
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "{matrix}");
    }
    let _ = writeln!(
        out,
        "{} protected   {} member, plans missing   · not a member   {} region not enabled for the account\n{} a problem (below)   {} delegated admin   {} excluded   {} not read",
        paint(GREEN, "●"),
        paint(YELLOW, "◐"),
        paint(DIM, "○"),
        paint(RED, "✗"),
        paint(CYAN, "A"),
        paint(DIM, "-"),
        paint(YELLOW, "?"),
    );
    let codes: Vec<String> = report.regions.iter().map(|r| format!("{} {}", short(&r.region), r.region)).collect();
    let _ = writeln!(out, "{}", paint(DIM, &wrap(&codes.join(", "), 100)));
    problems
}

/// What is worth knowing: the run's notes, then the regions', each note once with the regions it is about.
fn notes(out: &mut String, report: &Report) {
    let mut by_note: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in &report.regions {
        for n in &r.notes {
            match by_note.iter_mut().find(|(note, _)| note == n) {
                Some((_, regions)) => regions.push(&r.region),
                None => by_note.push((n, vec![&r.region])),
            }
        }
    }
    let every = report.regions.len();
    let mut notes: Vec<String> = report.notes.clone();
    notes.extend(by_note.into_iter().map(|(note, regions)| {
        let place = if regions.len() == every && every > 1 { "every region".to_owned() } else { regions.join(", ") };
        format!("{place}: {note}")
    }));
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", paint(BOLD, "Notes:"));
        for n in &notes {
            let _ = writeln!(out, "  {}", wrap(n, 98).replace('\n', "\n  "));
        }
    }
}

/// Each region's organization configuration: auto-enable, how many plans (named once below the table), the plans a
/// policy manages and those not offered (columns shown only where some region has one), findings export (where it is
/// configured), and where the region ended.
fn organization_configuration(out: &mut String, report: &Report) {
    let regions = &report.regions;
    let by_policy = regions.iter().any(|r| !r.plans_by_policy.is_empty());
    let not_offered = regions.iter().any(|r| !r.plans_not_offered.is_empty());
    let exported = regions.iter().any(|r| r.export.is_some());
    let _ = writeln!(out, "\n{}", paint(BOLD, "Organization configuration:"));
    let mut config = table();
    let mut header = vec!["region", "auto-enable", "plans"];
    header.extend(by_policy.then_some("P: by a policy"));
    header.extend(not_offered.then_some("not offered"));
    header.extend(exported.then_some("findings export"));
    header.push("state");
    config.set_header(header);
    let list = |names: &[String]| if names.is_empty() { "-".to_owned() } else { names.join(", ") };
    for r in regions {
        let mut row = vec![
            r.region.clone(),
            r.found.auto_enable.clone().unwrap_or_else(|| "-".into()),
            if r.plans.is_empty() { "-".into() } else { r.plans.len().to_string() },
        ];
        row.extend(by_policy.then(|| list(&r.plans_by_policy)));
        row.extend(not_offered.then(|| list(&r.plans_not_offered)));
        row.extend(exported.then(|| export(r)));
        row.push(outcome(r));
        config.add_row(row);
    }
    let _ = writeln!(out, "{config}");
    let mut plans: Vec<&String> = regions.iter().flat_map(|r| r.plans.iter()).collect();
    plans.sort();
    plans.dedup();
    if !plans.is_empty() {
        let names: Vec<&str> = plans.iter().map(|p| p.as_str()).collect();
        let _ = writeln!(out, "{}", paint(DIM, &wrap(&format!("plans: {}", names.join(", ")), 100)));
    }
    if by_policy {
        let _ = writeln!(
            out,
            "{}",
            paint(
                DIM,
                "P: plans a GuardDuty organization policy manages for some accounts; this tool never writes them"
            )
        );
    }
}

/// `text` broken into lines of at most `width` characters, at spaces (continuation lines indented by two).
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("a line");
        if !line.trim().is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("  {word}"));
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join("\n")
}

/// Management account first, then the admin, then by name.
fn ordered_accounts(report: &Report) -> Vec<&AccountEntry> {
    let mut accounts: Vec<&AccountEntry> = report.accounts.iter().flatten().filter(|a| a.state == "ACTIVE").collect();
    let rank = |a: &AccountEntry| {
        if a.id.as_str() == report.management_account {
            0
        } else if a.id.as_str() == report.admin_account {
            1
        } else {
            2
        }
    };
    accounts.sort_by(|a, b| (rank(a), &a.name, a.id).cmp(&(rank(b), &b.name, b.id)));
    accounts
}

fn cell(report: &Report, region: &RegionReport, account: &AccountEntry, problems: &mut Vec<String>) -> String {
    if account.id.as_str() == report.admin_account {
        // the admin is protected by its own detector
        return if region.found.admin_detector == enablement::DetectorState::Enabled {
            paint(CYAN, "A")
        } else {
            "·".to_owned()
        };
    }
    if account.excluded {
        return paint(DIM, "-");
    }
    let Some(members) = &region.members else { return paint(YELLOW, "?") };
    let unprotected = || region.unprotected.iter().find(|u| u.account == account.id);
    match members.get(&account.id) {
        Some(MemberStatus::Enabled) => match unprotected() {
            None => paint(GREEN, "●"),
            Some(u) => {
                problems.push(format!("{} {} in {}: {}", account.id, account.name, region.region, u.reason));
                paint(YELLOW, "◐")
            }
        },
        Some(MemberStatus::RegionDisabled) => paint(DIM, "○"),
        None => "·".to_owned(),
        Some(other) => {
            let why = unprotected()
                .map(|u| u.reason.clone())
                .unwrap_or_else(|| format!("GuardDuty reports the member {other}"));
            problems.push(format!("{} {} in {}: {why}", account.id, account.name, region.region));
            paint(RED, "✗")
        }
    }
}

/// A region's findings export: its status, and, when it fails, since when.
fn export(r: &RegionReport) -> String {
    let Some(e) = &r.export else { return "-".into() };
    let since = e.failing_since_ms.map(|ms| format!(" since {}", date(ms))).unwrap_or_default();
    let text = format!("{}{since}", e.status);
    paint(if e.is_healthy() { GREEN } else { RED }, &text)
}

/// A day from milliseconds since the epoch, as YYYY-MM-DD (proleptic Gregorian, UTC).
fn date(ms: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn abbreviate(names: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        let _ = write!(s, ", ...");
    }
    s
}

fn outcome(r: &RegionReport) -> String {
    let text = match (r.outcome, &r.error) {
        (Outcome::Planned, _) => format!("drift: {} writes planned", r.actions.len()),
        (o, Some(e)) => format!("{}: {}", o.as_str(), enablement::shorten(e, 90)),
        (o, None) => o.as_str().replace('_', " "),
    };
    let style = match r.outcome {
        Outcome::InSync | Outcome::Changed => GREEN,
        Outcome::Planned | Outcome::Unfinished => YELLOW,
        _ => RED,
    };
    paint(style, &text)
}

/// What the run found of GuardDuty organization policies (policy mode): the type, the policy this tool owns, the
/// accounts a policy has not reached yet, those no policy covers, and those whose effective policy is invalid.
fn policies(out: &mut String, report: &Report) {
    let Some(p) = &report.policies else { return };
    let _ = writeln!(out, "\n{}", paint(BOLD, "GuardDuty policies:"));
    let state = p.policy_type.map_or("unknown", |t| match t {
        PolicyTypeStatus::Enabled => "ENABLED",
        PolicyTypeStatus::PendingEnable => "PENDING_ENABLE",
        PolicyTypeStatus::PendingDisable => "PENDING_DISABLE",
        PolicyTypeStatus::NotEnabled => "not enabled",
    });
    let _ = writeln!(out, "  GUARDDUTY_POLICY on the root: {state}");
    for owned in &p.owned {
        let id = owned.id.as_deref().unwrap_or("not created yet");
        let at = if owned.targets.is_empty() { "nowhere".to_owned() } else { owned.targets.join(", ") };
        let _ = writeln!(out, "  owned by this tool: {} ({id}), attached at {at}", owned.name);
    }
    let waiting: Vec<String> = report
        .regions
        .iter()
        .flat_map(|r| {
            r.unprotected
                .iter()
                .filter(|u| u.reason.contains("policy not yet applied"))
                .map(move |u| format!("{} in {}", u.account, r.region))
        })
        .collect();
    if !waiting.is_empty() {
        let _ = writeln!(out, "  not yet reached by a policy ({}): {}", waiting.len(), abbreviate_list(&waiting, 10));
    }
    if p.uncovered_accounts > 0 {
        let named: Vec<String> = p.uncovered.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  covered by no GuardDuty policy ({}; AWS will not enable them, this tool enrols them): {}",
            p.uncovered_accounts,
            abbreviate_list(&named, 10)
        );
    }
    if !p.invalid_accounts.is_empty() {
        let named: Vec<String> = p.invalid_accounts.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "  {} {}", paint(RED, "effective policy invalid:"), abbreviate_list(&named, 10));
    }
}

fn abbreviate_list(items: &[String], shown: usize) -> String {
    let mut s = items.iter().take(shown).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > shown {
        let _ = write!(s, ", and {} more", items.len() - shown);
    }
    s
}

/// The change of each policy this tool owns, as a diff of its JSON content (a new policy: all of it added).
fn policy_diff(out: &mut String, report: &Report) {
    let owned = report.policies.iter().flat_map(|p| p.owned.iter());
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    for owned in owned {
        let (old, new) = match (&owned.id, &owned.previous) {
            (None, _) => (String::new(), pretty(&owned.content)),
            (Some(_), Some(previous)) => (pretty(previous), pretty(&owned.content)),
            (Some(_), None) => continue,
        };
        let _ = writeln!(out, "{}", paint(BOLD, &format!("GuardDuty policy {}:", owned.name)));
        let diff = similar::TextDiff::from_lines(&old, &new);
        for change in diff.iter_all_changes() {
            let (sign, style) = match change.tag() {
                similar::ChangeTag::Delete => ("-", RED),
                similar::ChangeTag::Insert => ("+", GREEN),
                similar::ChangeTag::Equal => (" ", DIM),
            };
            let _ = write!(out, "{}", paint(style, &format!("{sign} {change}")));
        }
    }
}

fn left_out(out: &mut String, report: &Report) {
    if report.regions_left_out.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", paint(BOLD, "Regions left out:"));
    for l in &report.regions_left_out {
        let _ = writeln!(out, "  {}: {}", l.region, l.reason);
    }
}

/// `plan`: per region, the writes a reconcile would make (member writes counted), and the summary.
pub fn plan(report: &Report) -> String {
    let mut out = String::new();
    for action in &report.organization {
        let _ = writeln!(out, "organization: {} {}", action.action.to_string().replace('_', " "), action.target);
    }
    policy_diff(&mut out, report);
    for r in &report.regions {
        if r.actions.is_empty() && r.outcome == Outcome::InSync {
            continue;
        }
        let _ = writeln!(out, "{} ({})", paint(BOLD, &r.region), outcome(r));
        let mut grouped: BTreeMap<usize, (String, usize, usize)> = BTreeMap::new();
        for (i, a) in r.actions.iter().enumerate() {
            let (label, accounts) = describe(&a.step);
            let key = grouped.iter().find(|(_, (l, _, _))| *l == label).map_or(i, |(k, _)| *k);
            let entry = grouped.entry(key).or_insert((label, 0, 0));
            entry.1 += 1;
            entry.2 += accounts;
        }
        for (label, calls, accounts) in grouped.values() {
            let detail = match (calls, accounts) {
                (_, 0) => String::new(),
                (1, n) => format!(": {}", count(*n, "account")),
                (c, n) => format!(": {} in {c} calls", count(*n, "account")),
            };
            let _ = writeln!(out, "  + {label}{detail}");
        }
        for u in r.unprotected.iter().filter(|u| u.status.is_some()) {
            let _ = writeln!(out, "  {} {}: {}", paint(RED, "✗"), u.account, u.reason);
        }
    }
    left_out(&mut out, report);
    let _ = writeln!(out, "\n{}", summary(report, Verb::Plan));
    out
}

fn describe(step: &Step) -> (String, usize) {
    let plans = |p: &[enablement::Plan]| p.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    match step {
        Step::CreateManagementDetector => ("CreateDetector in the management account".into(), 0),
        Step::EnableManagementDetector { .. } => ("UpdateDetector: enable the management account's detector".into(), 0),
        Step::DesignateAdmin { admin } => (format!("EnableOrganizationAdminAccount: {admin}"), 0),
        Step::CreateAdminDetector { .. } => ("CreateDetector in the admin account".into(), 0),
        Step::UpdateAdminDetector { plans: p, .. } => (
            format!(
                "UpdateDetector (admin): enable {}",
                if p.is_empty() { "it".into() } else { abbreviate(&plans(p)) }
            ),
            0,
        ),
        Step::UpdateOrganizationConfiguration { auto_enable, plans: p, new_only } => {
            let narrowed = match new_only.len() {
                0 => String::new(),
                n => format!(" ({n} for new accounts only)"),
            };
            (
                format!(
                    "UpdateOrganizationConfiguration: auto-enable {}, {} plans{narrowed}",
                    auto_enable.as_str(),
                    p.len()
                ),
                0,
            )
        }
        Step::UpdateMemberDetectors { accounts, on, off } => {
            let mut change = Vec::new();
            if !on.is_empty() {
                change.push(format!("enable {}", plans(on).join(", ")));
            }
            if !off.is_empty() {
                change.push(format!("disable {}", off.join(", ")));
            }
            (format!("UpdateMemberDetectors: {}", change.join("; ")), accounts.len())
        }
        other => (other.operation().to_owned(), other.member_count()),
    }
}

/// What a run subcommand does, for what it prints and how it exits: it looks (`status`, and `plan`, which `apply
/// --dry-run` is) or it writes (`apply`, `onboard`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `status`.
    Status,
    /// `plan`, or `apply --dry-run`.
    Plan,
    /// `apply`.
    Apply,
    /// `onboard`.
    Onboard,
}

impl Verb {
    /// Whether it only looks: its summary says drift or in sync (and drift exits 2).
    pub fn looks(self) -> bool {
        matches!(self, Self::Status | Self::Plan)
    }
}

/// `apply` and `onboard`: each region's outcome, and the summary.
pub fn outcome_table(report: &Report, verb: Verb) -> String {
    let mut out = String::new();
    let mut t = table();
    t.set_header(["region", "outcome", "writes", "members added", "protected"]);
    for r in &report.regions {
        t.add_row([
            r.region.clone(),
            outcome(r),
            r.writes().to_string(),
            r.members_added.to_string(),
            format!("{} of {}", r.coverage.protected, r.coverage.expected),
        ]);
    }
    let _ = writeln!(out, "{t}");
    for r in &report.regions {
        for u in &r.unprotected {
            let _ = writeln!(out, "  {} {} in {}: {}", paint(RED, "✗"), u.account, r.region, u.reason);
        }
    }
    for a in report.organization.iter().filter(|a| a.status.is_owed()) {
        let _ = writeln!(
            out,
            "  {} {} {}: {}",
            paint(RED, "✗"),
            a.action.to_string().replace('_', " "),
            a.target,
            a.error.as_deref().unwrap_or("")
        );
    }
    left_out(&mut out, report);
    let _ = writeln!(out, "\n{}", summary(report, verb));
    out
}

/// `n thing`, or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Whether a read-only report found anything to change or anything not protected.
pub fn drifted(report: &Report) -> bool {
    !report.organization.is_empty()
        || report.regions.iter().any(|r| {
            r.outcome != Outcome::InSync
                || !r.unprotected.is_empty()
                || r.export.as_ref().is_some_and(|e| !e.is_healthy())
        })
}

/// The one-line summary.
pub fn summary(report: &Report, verb: Verb) -> String {
    let s = &report.summary;
    let protected = format!("{} of {} account-regions protected", s.accounts_protected, s.accounts_expected);
    let left = match s.regions_left_out {
        0 => String::new(),
        n => format!("; {} left out", count(n, "region")),
    };
    let (good, text) = match verb {
        _ if verb.looks() && drifted(report) => {
            let needing = report.regions.iter().filter(|r| r.outcome != Outcome::InSync).count();
            let planned: usize =
                report.regions.iter().map(|r| r.actions.len()).sum::<usize>() + report.organization.len();
            let needing = format!("{needing} of {}", count(s.regions, "region"));
            (false, format!("drift: {needing} not in sync ({} planned); {protected}{left}", count(planned, "write")))
        }
        _ if verb.looks() => (true, format!("in sync: {}; {protected}{left}", count(s.regions, "region"))),
        _ if report.is_success() => (
            true,
            format!(
                "converged: {} ({} changed, {} already in sync); {}, {} added; {protected}{left}",
                count(s.regions, "region"),
                s.changed,
                s.in_sync,
                count(s.writes, "write"),
                count(s.members_added, "membership")
            ),
        ),
        _ => (
            false,
            format!(
                "not converged: {} of {} did not reach the desired state; {}; {protected}{left}",
                s.regions - s.changed - s.in_sync,
                count(s.regions, "region"),
                count(s.writes, "write")
            ),
        ),
    };
    paint(if good { GREEN } else { RED }, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_times_read_as_days() {
        assert_eq!(date(1_795_939_200_000), "2026-11-29");
        assert_eq!(date(0), "1970-01-01");
    }

    #[test]
    fn region_columns_are_short_and_distinct() {
        let names = [
            "us-east-1",
            "ap-southeast-2",
            "eu-central-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eusc-de-east-1",
        ];
        let shorts: Vec<String> = names.iter().map(|n| short(n)).collect();
        assert_eq!(shorts, ["use1", "apse2", "euc1", "usgovw1", "usisoe1", "usisobe1", "euscdee1"]);
    }
}
