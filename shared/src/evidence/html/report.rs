//! The page of one observation: the header, the verdict, the summary per region, Security Hub's controls (a control
//! by region table, then each failure), the account-by-region heat map (a symbol in every cell, so that it reads in
//! grey), the accounts not protected and why, the plans per region, the places where findings can be silenced, the
//! findings export, the frameworks, the accounts, and how to verify the files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{escape, facts, how_to_read, page as whole, table, td};
use crate::evidence::document::{Cell, ControlResult, Coverage, Evidence, List, PlanStatus, Region};
use crate::ids::short_region as short;

/// The page of `document`.
pub(crate) fn page(document: &Evidence) -> String {
    let mut body = String::new();
    verdict(&mut body, document);
    regions(&mut body, document);
    controls(&mut body, document);
    matrix(&mut body, document);
    problems(&mut body, document);
    plans(&mut body, document);
    silencing(&mut body, document);
    export(&mut body, document);
    prevention(&mut body, document);
    frameworks(&mut body, document);
    accounts(&mut body, document);
    notes(&mut body, document);
    let title = format!("GuardDuty coverage evidence: {}", document.organization.id);
    whole(&title, &header(document), &body)
}

fn header(d: &Evidence) -> String {
    let configuration = serde_json::to_string_pretty(&d.header.configuration).unwrap_or_default();
    format!(
        "<h1>GuardDuty coverage evidence</h1>\n{}<h3>Configuration</h3>\n<pre>{}</pre>\n",
        facts(&[
            ("Organization", d.organization.id.clone()),
            ("Management account", d.organization.management_account.to_string()),
            ("Delegated GuardDuty administrator", d.organization.admin_account.to_string()),
            ("Enablement", d.enablement.clone()),
            ("Observed at (UTC)", d.observed_at.clone()),
            ("Ran by", d.header.ran_by.clone()),
            ("Tool", format!("guardduty-enabler {}", d.tool.version)),
            ("Schema", d.schema.clone()),
        ]),
        escape(&configuration)
    )
}

fn verdict(out: &mut String, d: &Evidence) {
    let s = &d.summary;
    let text = if s.clean {
        format!(
            "✔ Every expected account-region protected ({} of {}); every control the configuration asks for passed \
             ({} failures, all accounted for by the configuration).",
            s.protected, s.expected, s.controls_failed
        )
    } else {
        format!(
            "✘ {} of {} expected account-regions protected; {} control results FAILED, {} of them not accounted for \
             by the configuration.",
            s.protected, s.expected, s.controls_failed, s.controls_failed_unexplained
        )
    };
    let class = if s.clean { "verdict" } else { "verdict bad" };
    let _ = writeln!(out, "<section class=\"first\">\n<p class=\"{class}\">{}</p>", escape(&text));
}

fn regions(out: &mut String, d: &Evidence) {
    let _ = writeln!(out, "<h2>Summary per region</h2>");
    let yes = |b: bool| if b { "✔ yes" } else { "✘ no" };
    let rows = d.regions.iter().map(|r| {
        format!(
            "{}{}{}{}<td class=\"r\">{}</td><td class=\"r\">{}</td><td class=\"r\">{}</td><td class=\"r\">{}</td>\
             <td class=\"r\">{}</td><td class=\"r\">{}</td>{}",
            td(&r.region),
            td(yes(r.admin_designated)),
            td(r.admin_detector.as_str()),
            td(r.auto_enable.as_deref().unwrap_or("-")),
            r.expected,
            r.protected,
            r.unprotected,
            r.excluded,
            r.not_enabled,
            r.not_active,
            td(r.export.as_ref().map_or("-", |e| e.status.as_str())),
        )
    });
    let head = [
        "region",
        "admin designated",
        "admin detector",
        "auto-enable",
        "expected",
        "protected",
        "unprotected",
        "excluded",
        "region not enabled",
        "not active",
        "findings export",
    ];
    out.push_str(&table("regions", &head, rows));
    for l in &d.regions_left_out {
        let _ = writeln!(out, "<p>Not governed: <b>{}</b>: {}</p>", escape(&l.region), escape(&l.reason));
    }
    for r in d.regions.iter().filter(|r| !r.notes.is_empty()) {
        for n in &r.notes {
            let _ = writeln!(out, "<p class=\"muted\">{}: {}</p>", escape(&r.region), escape(n));
        }
    }
    out.push_str("</section>\n");
}

fn result_cell(result: ControlResult) -> String {
    let (class, symbol) = match result {
        ControlResult::Passed => ("pass", "✔"),
        ControlResult::Failed => ("fail", "✘"),
        ControlResult::NotApplicable => ("na", "–"),
    };
    format!("<td class=\"c {class}\" title=\"{}\">{symbol}</td>", result.as_str())
}

fn controls(out: &mut String, d: &Evidence) {
    let _ = writeln!(out, "<section>\n<h2>AWS Security Hub controls for GuardDuty</h2>");
    let _ = writeln!(
        out,
        "<p>Titles as Security Hub gives them; results computed from what GuardDuty showed, per region: ✔ PASSED, ✘ \
         FAILED (the failures are listed below), – NOT_APPLICABLE (the region does not offer the plan).</p>"
    );
    let mut by_id: BTreeMap<(usize, &str), Vec<&crate::evidence::document::Control>> = BTreeMap::new();
    for c in &d.controls {
        let number = c.id.trim_start_matches("GuardDuty.").parse().unwrap_or(usize::MAX);
        by_id.entry((number, &c.id)).or_default().push(c);
    }
    let codes: Vec<String> = d.regions.iter().map(|r| format!("{} {}", short(&r.region), r.region)).collect();
    let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(&codes.join(", ")));
    let _ = write!(out, "<table class=\"matrix controls\">\n<thead><tr><th>control</th><th>title</th>");
    for r in &d.regions {
        let _ = write!(out, "<th class=\"rg\">{}</th>", escape(&short(&r.region)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for cs in by_id.values() {
        let _ = write!(out, "<tr>{}{}", td(&cs[0].id), td(&cs[0].title));
        for c in cs {
            out.push_str(&result_cell(c.result));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    let failed: Vec<_> = d.controls.iter().filter(|c| c.result == ControlResult::Failed).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "<h3>Failures</h3>");
        let rows = failed.iter().map(|c| {
            let accounts: Vec<String> = c.failing_accounts.iter().map(ToString::to_string).collect();
            let accounted = if c.explained_by_configuration { "yes" } else { "✘ no" };
            format!(
                "{}{}{}{}{}",
                td(&c.id),
                td(&c.region),
                td(&accounts.join(", ")),
                td(accounted),
                td(c.note.as_deref().unwrap_or(""))
            )
        });
        let head = ["control", "region", "failing accounts", "accounted for by the configuration", "note"];
        out.push_str(&table("failures", &head, rows));
    }
    out.push_str("</section>\n");
}

/// A cell of the heat map: (class, symbol).
fn mark(cell: &Cell) -> (&'static str, &'static str) {
    match cell.coverage {
        Coverage::Protected => ("cp", "●"),
        Coverage::Unprotected if cell.relationship.as_deref() == Some("Enabled") => ("cm", "◐"),
        Coverage::Unprotected => ("cu", "✘"),
        Coverage::Excluded => ("cx", "–"),
        Coverage::RegionNotEnabled => ("co", "○"),
        Coverage::Admin if cell.reason.is_none() => ("ca", "A"),
        Coverage::Admin => ("cu", "A✘"),
        Coverage::NotActive => ("cn", "⊘"),
    }
}

const LEGEND: [(&str, &str, &str); 8] = [
    ("cp", "●", "protected"),
    ("cm", "◐", "member, a plan missing"),
    ("cu", "✘", "not protected"),
    ("cx", "–", "excluded"),
    ("co", "○", "region not enabled for the account"),
    ("ca", "A", "delegated admin (its own detector)"),
    ("cu", "A✘", "delegated admin without an enabled detector"),
    ("cn", "⊘", "account not active"),
];

fn matrix(out: &mut String, d: &Evidence) {
    let _ = writeln!(out, "<section>\n<h2>Coverage: accounts by region</h2>\n<ul class=\"legend\">");
    for (class, symbol, meaning) in LEGEND {
        let _ = writeln!(out, "<li><span class=\"k {class}\">{symbol}</span>{}</li>", escape(meaning));
    }
    let codes: Vec<String> = d.regions.iter().map(|r| format!("{} {}", short(&r.region), r.region)).collect();
    let _ = writeln!(out, "</ul>\n<p class=\"muted\">{}</p>", escape(&codes.join(", ")));
    let _ = write!(out, "<table class=\"matrix\">\n<thead><tr><th>account</th><th>name</th>");
    for r in &d.regions {
        let _ = write!(out, "<th class=\"rg\">{}</th>", escape(&short(&r.region)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let width = d.regions.len().max(1);
    for (account, cells) in d.accounts.iter().zip(d.matrix.chunks(width)) {
        let _ = write!(out, "<tr>{}{}", td(account.account.as_str()), td(&account.name));
        for cell in cells {
            let (class, symbol) = mark(cell);
            let title = cell.reason.as_deref().map(|r| format!(" title=\"{}\"", escape(r))).unwrap_or_default();
            let _ = write!(out, "<td class=\"c {class}\"{title}>{symbol}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn problems(out: &mut String, d: &Evidence) {
    let _ = writeln!(out, "<section>\n<h2>Accounts not protected, excluded or without the region</h2>");
    let names: BTreeMap<_, _> = d.accounts.iter().map(|a| (a.account, a.name.as_str())).collect();
    let rows: Vec<String> = d
        .matrix
        .iter()
        .filter(|c| c.reason.is_some())
        .map(|c| {
            let (class, symbol) = mark(c);
            format!(
                "<td class=\"c {class}\">{symbol}</td>{}{}{}{}{}",
                td(c.account.as_str()),
                td(names.get(&c.account).copied().unwrap_or_default()),
                td(&c.region),
                td(c.coverage.as_str()),
                td(c.reason.as_deref().unwrap_or_default())
            )
        })
        .collect();
    if rows.is_empty() {
        out.push_str("<p>None: every account is protected in every governed region.</p>\n");
    } else {
        out.push_str(&table("problems", &["", "account", "name", "region", "coverage", "why"], rows));
    }
    out.push_str("</section>\n");
}

fn plans(out: &mut String, d: &Evidence) {
    let _ = writeln!(
        out,
        "<section>\n<h2>Protection plans per region</h2>\n<p>Accounts whose plan GuardDuty shows ENABLED, of the \
         delegated admin and the accounts expected in the region; NOT OFFERED where the region does not offer it; not \
         configured where the configuration does not turn the plan on (its Security Hub control still counts it).</p>"
    );
    let width = d.regions.len().max(1);
    let counted = |c: &&Cell| matches!(c.coverage, Coverage::Protected | Coverage::Unprotected | Coverage::Admin);
    for (i, region) in d.regions.iter().enumerate() {
        let cells: Vec<&Cell> = d.matrix.iter().skip(i).step_by(width).filter(counted).collect();
        let mut tally: BTreeMap<&str, (usize, usize, bool)> = BTreeMap::new();
        for cell in &cells {
            for (plan, p) in cell.plans.0.iter() {
                let entry = tally.entry(&**plan).or_default();
                entry.0 += usize::from(p.status == PlanStatus::Enabled);
                entry.1 += usize::from(p.managed_by.is_some());
                entry.2 |= p.status == PlanStatus::NotOffered;
            }
        }
        let rows = tally.iter().map(|(plan, (on, managed, not_offered))| {
            let configured = region.plans_configured.iter().any(|p| p == plan);
            let (class, state) = match (*not_offered, configured, *on == cells.len()) {
                (true, _, _) => ("na", "– NOT OFFERED".to_owned()),
                (false, false, _) => ("na", format!("{on} of {} (not configured)", cells.len())),
                (false, true, true) => ("pass", format!("✔ {on} of {}", cells.len())),
                (false, true, false) => ("fail", format!("✘ {on} of {}", cells.len())),
            };
            format!("{}<td class=\"{class}\">{}</td><td class=\"r\">{managed}</td>", td(plan), escape(&state))
        });
        let _ = writeln!(out, "<h3>{}</h3>", escape(&region.region));
        out.push_str(&table("plans", &["plan", "enabled", "managed by a GuardDuty policy"], rows));
    }
    out.push_str("</section>\n");
}

fn lists(out: &mut String, caption: &str, lists: &[List], not_read: bool) {
    if not_read {
        let _ = writeln!(out, "<p class=\"fail\">✘ {}: not read (see the region's notes).</p>", escape(caption));
        return;
    }
    if lists.is_empty() {
        let _ = writeln!(out, "<p>{}: none.</p>", escape(caption));
        return;
    }
    let _ = writeln!(out, "<p>{}:</p>", escape(caption));
    let rows = lists.iter().map(|l| format!("{}{}{}{}", td(&l.name), td(&l.status), td(&l.format), td(&l.location)));
    out.push_str(&table("lists", &["name", "status", "format", "location"], rows));
}

fn silencing(out: &mut String, d: &Evidence) {
    let _ = writeln!(
        out,
        "<section>\n<h2>Where findings can be silenced</h2>\n<p>Saved filters whose action is ARCHIVE archive the \
         findings they match as they arrive; GuardDuty generates no findings for addresses and entities in an active \
         trusted list. Threat lists add findings. Only the delegated administrator manages these in an \
         organization; they apply to every member.</p>"
    );
    for r in &d.regions {
        section_of_region(out, r);
    }
    out.push_str("</section>\n");
}

fn section_of_region(out: &mut String, r: &Region) {
    let _ = writeln!(out, "<h3>{}</h3>", escape(&r.region));
    let unread = |what: &str| r.not_read.iter().any(|w| w == what);
    if unread("saved filters") {
        out.push_str("<p class=\"fail\">✘ Archive filters: not read (see the region's notes).</p>\n");
    } else if r.archive_filters.is_empty() {
        out.push_str("<p>Archive filters: none.</p>\n");
    } else {
        let rows = r.archive_filters.iter().map(|f| {
            let criteria = serde_json::to_string(&f.criteria).unwrap_or_default();
            let rank = f.rank.map(|n| n.to_string()).unwrap_or_default();
            format!(
                "{}{}<td><pre>{}</pre></td>{}",
                td(&f.name),
                td(&rank),
                escape(&criteria),
                td(f.description.as_deref().unwrap_or(""))
            )
        });
        out.push_str("<p>Archive filters:</p>\n");
        out.push_str(&table("filters", &["name", "rank", "criteria", "description"], rows));
    }
    if r.other_filters > 0 {
        let _ = writeln!(out, "<p class=\"muted\">Saved filters that archive nothing (NOOP): {}.</p>", r.other_filters);
    }
    lists(out, "Trusted IP lists", &r.trusted_ip_sets, unread("trusted IP lists"));
    lists(out, "Trusted entity lists", &r.trusted_entity_sets, unread("trusted entity lists"));
    lists(out, "Threat IP lists", &r.threat_intel_sets, unread("threat IP lists"));
    lists(out, "Threat entity lists", &r.threat_entity_sets, unread("threat entity lists"));
}

fn export(out: &mut String, d: &Evidence) {
    let _ = writeln!(out, "<section>\n<h2>Findings export</h2>");
    let rows = d.regions.iter().map(|r| match &r.export {
        None => format!("{}<td class=\"na\">– none</td><td></td><td></td><td></td>", td(&r.region)),
        Some(e) => {
            let healthy = e.status == crate::report::ExportStatus::Publishing;
            let class = if healthy { "pass" } else { "fail" };
            let mark = if healthy { "✔" } else { "✘" };
            format!(
                "{}<td class=\"{class}\">{mark} {}</td>{}{}{}",
                td(&r.region),
                escape(e.status.as_str()),
                td(&e.destination),
                td(&e.kms_key),
                td(e.failing_since.as_deref().unwrap_or(""))
            )
        }
    });
    out.push_str(&table("export", &["region", "status", "destination", "KMS key", "failing since"], rows));
    out.push_str("</section>\n");
}

/// The preventive SCP, where it was read: whether it exists, is in force, and which governed accounts it leaves out.
fn prevention(out: &mut String, d: &Evidence) {
    let Some(p) = &d.preventive_scp else { return };
    let _ = writeln!(out, "<section>\n<h2>Preventive service control policy</h2>");
    let text = match (&p.error, &p.policy_id, p.enabled) {
        (Some(e), _, _) => format!("✘ It could not be read: {e}"),
        (None, None, _) => format!(
            "✘ None: no policy named {} (guardduty-enabler scp writes it); nothing prevents a change to GuardDuty, \
             only the responder's repair answers it.",
            p.policy
        ),
        (None, Some(_), false) => format!(
            "✘ {} exists, but SCPs are not enabled on the root: it covers none of the {} governed accounts.",
            p.policy, p.governed
        ),
        (None, Some(id), true) if p.not_covered.is_empty() => {
            format!("✔ {} ({id}) covers all {} governed accounts.", p.policy, p.governed)
        }
        (None, Some(id), true) => format!(
            "✘ {} ({id}) does not cover {} of the {} governed accounts: {}.",
            p.policy,
            p.not_covered.len(),
            p.governed,
            p.not_covered.join(", ")
        ),
    };
    let class = if text.starts_with('✔') { "pass" } else { "fail" };
    let _ = writeln!(out, "<p class=\"{class}\" id=\"preventive-scp\">{}</p>", escape(&text));
    let _ = writeln!(
        out,
        "<p class=\"muted\">SCPs never restrict the management account: its GuardDuty calls are answered by the \
         responder's repair, not prevented.</p>\n</section>"
    );
}

fn frameworks(out: &mut String, d: &Evidence) {
    let _ = writeln!(
        out,
        "<section>\n<h2>What this shows toward each requirement</h2>\n<p>Requirements paraphrased, not quoted. PASSED or \
         FAILED only where the mapped controls decide it; EVIDENCE where an assessor weighs it.</p>"
    );
    let rows = d.frameworks.iter().map(|f| {
        let class = match f.result.as_str() {
            "PASSED" => "pass",
            "FAILED" => "fail",
            _ => "na",
        };
        format!(
            "{}{}{}<td class=\"{class}\">{}</td>{}{}{}",
            td(&f.framework),
            td(&f.requirement),
            td(&f.paraphrase),
            escape(&f.result),
            td(&f.shows),
            td(&f.does_not_show),
            td(&f.evidence.join(", "))
        )
    });
    let head = ["framework", "requirement", "in short", "result", "shows", "does not show", "where"];
    out.push_str(&table("frameworks", &head, rows));
    out.push_str("</section>\n");
}

fn accounts(out: &mut String, d: &Evidence) {
    let _ = writeln!(out, "<section>\n<h2>Accounts</h2>");
    let rows = d.accounts.iter().map(|a| {
        format!(
            "{}{}{}{}{}{}",
            td(a.account.as_str()),
            td(&a.name),
            td(&a.role),
            td(&a.status),
            td(&a.ou_path),
            td(a.excluded_reason.as_deref().unwrap_or(""))
        )
    });
    out.push_str(&table("accounts", &["account", "name", "role", "status", "organizational unit", "excluded"], rows));
    out.push_str("</section>\n");
}

fn notes(out: &mut String, d: &Evidence) {
    out.push_str("<section>\n");
    how_to_read(out, &d.notes);
}

#[cfg(test)]
mod tests {
    use crate::evidence::document::PreventiveScp;
    use crate::evidence::fixture;

    #[test]
    fn the_preventive_scp_is_shown_where_it_was_read_with_the_accounts_it_leaves_out() {
        // given a document without it, and one whose policy leaves out one governed account
        let mut d = fixture::evidence("2026-11-29T03:00:00Z", "me");
        assert!(!super::page(&d).contains("preventive-scp"));
        d.preventive_scp = Some(PreventiveScp {
            policy: "guardduty-enabler-protect-guardduty".into(),
            policy_id: Some("p-12345678".into()),
            enabled: true,
            governed: 3,
            not_covered: vec!["444455556666".into()],
            error: None,
        });
        // when the page is made, then it names the account left out, marked as a failure
        let html = super::page(&d);
        let line = html.lines().find(|l| l.contains("id=\"preventive-scp\"")).expect("the line");
        assert!(
            line.contains("class=\"fail\"")
                && line.contains("does not cover 1 of the 3")
                && line.contains("444455556666"),
            "{line}"
        );
        // and covering every account passes
        d.preventive_scp.as_mut().expect("set").not_covered.clear();
        let html = super::page(&d);
        assert!(html.contains(
            "<p class=\"pass\" id=\"preventive-scp\">✔ guardduty-enabler-protect-guardduty (p-12345678) covers all 3"
        ));
    }

    #[test]
    fn every_text_from_aws_is_escaped_and_nothing_is_fetched() {
        // given an account whose name is markup, and a filter whose description is
        let mut d = fixture::evidence("2026-11-29T03:00:00Z", "<b>me</b>");
        d.accounts[2].name = "<script>alert('x')</script> & co".into();
        let html = super::page(&d);
        assert!(!html.contains("<script"), "markup from AWS is never markup here");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
        assert!(html.contains("known &lt;scanner&gt;"));
        assert!(html.contains("&lt;b&gt;me&lt;/b&gt;"));
        for fetch in ["<link", "<img", "src=", "href=", "url(", "@import", "<iframe", "<object"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
    }

    #[test]
    fn the_page_has_each_part_and_a_symbol_in_every_cell_of_the_heat_map() {
        let d = fixture::evidence("2026-11-29T03:00:00Z", "me");
        let html = super::page(&d);
        for part in [
            "Summary per region",
            "AWS Security Hub controls for GuardDuty",
            "Coverage: accounts by region",
            "Where findings can be silenced",
            "Findings export",
            "What this shows toward each requirement",
            "GuardDuty S3 Protection should be enabled",
            "quiet-scanners",
            "office",
            "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY",
        ] {
            assert!(html.contains(part), "{part}");
        }
        let cells = html.matches("<td class=\"c ").count();
        let problems = d.matrix.iter().filter(|c| c.reason.is_some()).count();
        assert_eq!(cells, d.controls.len() + d.matrix.len() + problems, "the controls, the heat map, the problems");
        for symbol in ["●", "◐", "–", "○", "A", "⊘"] {
            assert!(html.contains(&format!("\">{symbol}</td>")), "{symbol}");
        }
        assert!(html.contains("@media print") && html.contains("break-before: page"));
    }
}
