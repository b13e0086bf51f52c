//! The page of a range of the record: the header, the verdict, every gap with its start, end, cause and what
//! repaired it, the days without a record, the share of days fully covered per account and region, the records read,
//! and how to read it.

use std::fmt::Write as _;

use super::{escape, facts, how_to_read, page as whole, table, td};
use crate::evidence::history::Range;

/// The page of `range`.
pub(crate) fn page(range: &Range) -> String {
    let organization = range.organization.as_ref();
    let header = format!(
        "<h1>GuardDuty coverage over time</h1>\n{}",
        facts(&[
            ("Organization", organization.map(|o| o.id.clone()).unwrap_or_default()),
            ("Management account", organization.map(|o| o.management_account.to_string()).unwrap_or_default()),
            (
                "Delegated GuardDuty administrator",
                organization.map(|o| o.admin_account.to_string()).unwrap_or_default()
            ),
            ("From (UTC)", range.from.clone()),
            ("To (UTC, included)", range.to.clone()),
            ("Read by", range.header.ran_by.clone()),
            ("Tool", format!("guardduty-enabler {}", range.tool.version)),
            ("Schema", range.schema.clone()),
        ])
    );
    let mut body = String::new();
    let s = &range.summary;
    let verdict = if s.clean {
        format!("✔ No gap in coverage, and a record every day of the {} days.", range.days)
    } else {
        format!(
            "✘ {} gaps ({} still open at the end of the range); {} of {} days without a record.",
            s.gaps, s.open, s.days_without_record, range.days
        )
    };
    let class = if s.clean { "verdict" } else { "verdict bad" };
    let _ = writeln!(body, "<section class=\"first\">\n<p class=\"{class}\">{}</p>", escape(&verdict));
    gaps(&mut body, range);
    if !range.days_without_record.is_empty() {
        let _ = writeln!(body, "<p>Days without a record: {}.</p>", escape(&range.days_without_record.join(", ")));
    }
    body.push_str("</section>\n");
    shares(&mut body, range);
    records(&mut body, range);
    whole(&format!("GuardDuty coverage {} to {}", range.from, range.to), &header, &body)
}

fn gaps(out: &mut String, range: &Range) {
    let _ = writeln!(out, "<h2>Gaps</h2>");
    if range.gaps.is_empty() {
        out.push_str("<p>None in the records of the range.</p>\n");
        return;
    }
    let rows = range.gaps.iter().map(|g| {
        format!(
            "{}{}{}{}<td class=\"{}\">{}</td>{}{}<td class=\"r\">{}</td>",
            td(g.account.as_str()),
            td(&g.name),
            td(&g.region),
            td(&g.start),
            if g.end.is_some() { "pass" } else { "fail" },
            escape(g.end.as_deref().unwrap_or("✘ open")),
            td(&g.cause),
            td(g.repaired.as_deref().unwrap_or("")),
            g.records
        )
    });
    let head = [
        "account",
        "name",
        "region",
        "start (first record)",
        "end (first record without)",
        "cause",
        "repaired",
        "records",
    ];
    out.push_str(&table("gaps", &head, rows));
}

fn shares(out: &mut String, range: &Range) {
    let _ = writeln!(
        out,
        "<section>\n<h2>Days fully covered</h2>\n<p>Of the {} calendar days of the range, per account and region \
         expected on some day.</p>",
        range.days
    );
    let rows = range.coverage.iter().map(|c| {
        let class = if c.days_fully_covered == range.days { "pass" } else { "fail" };
        format!(
            "{}{}{}<td class=\"r\">{}</td><td class=\"r\">{}</td><td class=\"r {class}\">{:.2} %</td>",
            td(c.account.as_str()),
            td(&c.name),
            td(&c.region),
            c.days_expected,
            c.days_fully_covered,
            c.share * 100.0
        )
    });
    let head = ["account", "name", "region", "days expected", "days fully covered", "share of the days"];
    out.push_str(&table("shares", &head, rows));
    out.push_str("</section>\n");
}

fn records(out: &mut String, range: &Range) {
    let _ = writeln!(out, "<section>\n<h2>Records read</h2>");
    let rows = range.records.iter().map(|r| format!("{}{}", td(&r.observed_at), td(&r.key)));
    out.push_str(&table("records", &["observed at", "key"], rows));
    how_to_read(out, &range.notes);
}
