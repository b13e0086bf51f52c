//! `evidence.html`: one self-contained page (inline style, no script, nothing fetched from anywhere: it opens from a
//! USB stick in an air-gapped room), for a person and for print. [`report`] is a single observation's page,
//! [`history`] a range's. Every text that comes from AWS or the configuration is escaped.

mod history;
mod report;

pub(crate) use history::page as history;
pub(crate) use report::page as report;

use std::fmt::Write as _;

/// The page's only style.
const STYLE: &str = include_str!("style.css");

/// Text for HTML (element content or a quoted attribute value).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `header` (who, when, how: the part that differs between two observations of the same state, kept
/// between the `header` comments), then `body`.
fn page(title: &str, header: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + 2048);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n<!-- header -->\n{header}<!-- /header -->\n{body}</body>\n</html>\n",
        escape(title)
    );
    out
}

/// A table: the header cells (text) and rows of cells already written as HTML (`<td>` included).
fn table(class: &str, head: &[&str], rows: impl IntoIterator<Item = String>) -> String {
    let mut out = format!("<table class=\"{class}\">\n<thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        let _ = writeln!(out, "<tr>{row}</tr>");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A `<td>` of escaped text.
/// The "How to read this" list of `notes`, closing its section, and the footer that says how to check the files.
fn how_to_read(out: &mut String, notes: &[String]) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "<h2>How to read this</h2>\n<ul>");
    for n in notes {
        let _ = writeln!(out, "<li>{}</li>", escape(n));
    }
    let _ = writeln!(
        out,
        "</ul>\n</section>\n<footer>evidence.json, evidence.csv and this page are listed with their SHA-256 in \
         SHA256SUMS: <code>sha256sum -c SHA256SUMS</code>, or <code>guardduty-enabler report verify DIR</code>.</footer>"
    );
}

fn td(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

/// The facts of a header, as a two-column table.
fn facts(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<table class=\"facts\">\n");
    for (name, value) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(value));
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(escape("plain text"), "plain text");
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;", "escaped once more, never taken as an entity");
        assert_eq!(escape("ünïcödé ●"), "ünïcödé ●");
    }

    #[test]
    fn a_page_holds_its_header_between_markers_and_fetches_nothing() {
        let html = page("t <1>", "<p>who</p>\n", "<p>body</p>\n");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>t &lt;1&gt;</title>"));
        let header = &html[html.find("<!-- header -->").unwrap_or(0)..html.find("<!-- /header -->").unwrap_or(0)];
        assert!(header.contains("who") && !header.contains("body"));
        for fetch in ["<script", "<link", "<img", "src=", "href=", "url(", "@import", "@font-face"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
    }

    #[test]
    fn region_columns_are_short() {
        use crate::ids::short_region as short;
        assert_eq!(short("us-east-1"), "use1");
        assert_eq!(short("ap-southeast-2"), "apse2");
        assert_eq!(short("eu-central-1"), "euc1");
        assert_eq!(short("us-gov-west-1"), "usgovw1");
    }
}
