//! `evidence.csv`: the matrix, one line per account and region after a header line, each plan (and each additional
//! configuration, as `PLAN/ADDITIONAL`) a column; for a range of the record, one line per gap. RFC 4180: CRLF line
//! ends; a field with a comma, a double quote, a CR or a LF is enclosed in double quotes, a double quote inside
//! doubled.

use std::collections::BTreeSet;

use super::document::{Account, Cell, Evidence};
use super::history::Range;

/// One field, quoted where RFC 4180 needs it.
pub(crate) fn field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One record: the fields, quoted, comma-separated, CRLF-terminated.
pub(crate) fn record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields.iter().map(|f| field(f.as_ref())).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// The matrix of `document` as CSV.
pub(crate) fn matrix(document: &Evidence) -> String {
    let columns: BTreeSet<String> = document
        .matrix
        .iter()
        .flat_map(|c| {
            c.plans.0.iter().flat_map(|(plan, cell)| {
                std::iter::once(plan.to_string()).chain(cell.additional.iter().map(move |(a, _)| format!("{plan}/{a}")))
            })
        })
        .collect();
    let mut header = vec!["account", "name", "region", "coverage", "relationship", "reason", "managed_by_policy"];
    header.extend(columns.iter().map(String::as_str));
    let mut out = record(&header);
    let names = |id| document.accounts.iter().find(|a: &&Account| a.account == id).map(|a| a.name.as_str());
    let mut last: Option<(&str, &str)> = None;
    for cell in &document.matrix {
        // The matrix is account-major: the name is looked up once per account.
        let name = match last {
            Some((id, name)) if id == cell.account.as_str() => name,
            _ => names(cell.account).unwrap_or_default(),
        };
        last = Some((cell.account.as_str(), name));
        out.push_str(&record(&row(cell, name, &columns)));
    }
    out
}

fn row(cell: &Cell, name: &str, columns: &BTreeSet<String>) -> Vec<String> {
    let managed: Vec<&str> =
        cell.plans.0.iter().filter(|(_, p)| p.managed_by.is_some()).map(|(plan, _)| &**plan).collect();
    let mut fields = vec![
        cell.account.to_string(),
        name.to_owned(),
        cell.region.to_string(),
        cell.coverage.as_str().to_owned(),
        cell.relationship.clone().unwrap_or_default(),
        cell.reason.clone().unwrap_or_default(),
        managed.join(" "),
    ];
    for column in columns {
        let value = match column.split_once('/') {
            None => cell.plans.get(column).map(|p| p.status.as_str()),
            Some((plan, agent)) => cell.plans.get(plan).and_then(|p| p.agent(agent)).map(|s| s.as_str()),
        };
        fields.push(value.unwrap_or_default().to_owned());
    }
    fields
}

/// The gaps of a range as CSV, one line per gap.
pub(crate) fn gaps(range: &Range) -> String {
    let mut out = record(&["account", "name", "region", "start", "end", "cause", "repaired", "records"]);
    for g in &range.gaps {
        out.push_str(&record(&[
            g.account.to_string(),
            g.name.clone(),
            g.region.to_string(),
            g.start.clone(),
            g.end.clone().unwrap_or_default(),
            g.cause.clone(),
            g.repaired.clone().unwrap_or_default(),
            g.records.to_string(),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_exactly_where_rfc_4180_needs_it() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field("semi;colon 'single'"), "semi;colon 'single'");
        assert_eq!(record(&["a", "b,c", ""]), "a,\"b,c\",\r\n");
    }

    #[test]
    fn a_quoted_record_reads_back_field_for_field() {
        // a minimal RFC 4180 reader, to check the writer against the grammar rather than against itself
        fn read(line: &str) -> Vec<String> {
            let (mut fields, mut current, mut quoted, mut chars) =
                (Vec::new(), String::new(), false, line.chars().peekable());
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        current.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut current)),
                    ('\r', false) if chars.peek() == Some(&'\n') => break,
                    (c, _) => current.push(c),
                }
            }
            fields.push(current);
            fields
        }
        let values = ["Prod, \"Legacy\"", "line\r\nbreak", "=1+1", "ünïcödé", ""];
        assert_eq!(read(&record(&values)), values);
    }
}
