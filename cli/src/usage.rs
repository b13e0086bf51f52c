//! `usage`: GuardDuty's estimate of the organization's cost, as a table per governed region and one per usage
//! feature, with what the figures are and are not.

use std::fmt::Write as _;

use comfy_table::CellAlignment;
use enablement::Usage;

use crate::render::table;

/// The tables, a region's missing estimate named, and what the figures mean.
pub fn render(usage: &Usage) -> String {
    let mut out = String::new();
    let money = |amount: f64| format!("{amount:.2} {}", usage.unit);
    let mut regions = table();
    regions.set_header(["region", "accounts", "estimate"]);
    for r in &usage.regions {
        let estimate = if r.missing.is_some() { "-".to_owned() } else { money(r.total) };
        regions.add_row([r.region.clone(), r.accounts.to_string(), estimate]);
    }
    align_right(&mut regions, &[1, 2]);
    let _ = writeln!(out, "{regions}");
    for r in &usage.regions {
        if let Some(why) = &r.missing {
            let _ = writeln!(out, "  no estimate in {}: {why}", r.region);
        }
    }
    let mut features = table();
    features.set_header(["usage feature", "estimate"]);
    for (feature, amount) in &usage.by_feature {
        features.add_row([feature.clone(), money(*amount)]);
    }
    align_right(&mut features, &[1]);
    let _ = writeln!(out, "\n{features}");
    let _ = writeln!(
        out,
        "\ntotal: {} over the last 30 days (the days since a plan was enabled, where fewer): GuardDuty's own estimate \
         (GetUsageStatistics), not the bill",
        money(usage.total)
    );
    out
}

fn align_right(t: &mut comfy_table::Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}
