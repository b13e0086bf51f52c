//! `report`: evidence for an auditor. `report --out DIR` observes the organization (reads only) and writes
//! evidence.json, evidence.csv, evidence.html and SHA256SUMS; `report --from DAY --to DAY --out DIR` reads the record
//! kept in GUARDDUTY_EVIDENCE_BUCKET back into every gap of the range; `report verify DIR` checks a report's files
//! against its SHA256SUMS. Exit codes as `status`: 0 every expected account-region protected and every control the
//! configuration asks for passed (a range: no gap and a record every day), 2 not, 1 an error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use aws_config::SdkConfig;
use enablement::evidence::{self, Day, Header, S3Records};
use enablement::{Failure, FailureKind, Settings};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::scp;

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// `report verify DIR`: every file's check, as `sha256sum -c` prints them; `true` when all are OK.
pub fn verify(dir: &Path, json: bool) -> Result<bool, Failure> {
    let checked = evidence::verify(dir)?;
    if json {
        let files: Vec<serde_json::Value> = checked
            .files
            .iter()
            .map(|(name, check)| serde_json::json!({"file": name, "check": check.to_string()}))
            .collect();
        println!("{}", serde_json::json!({"dir": dir, "ok": checked.ok(), "files": files}));
    } else {
        for (name, check) in &checked.files {
            let style = if *check == evidence::Check::Ok { GREEN } else { RED };
            anstream::println!("{name}: {}", paint(style, &check.to_string()));
        }
        let verdict = if checked.ok() { paint(GREEN, "verified") } else { paint(RED, "NOT verified") };
        anstream::println!("{}: {verdict}", dir.display());
    }
    Ok(checked.ok())
}

/// `report --out DIR`, or with `range`, `report --from --to --out DIR`; `ran_by` is the caller's ARN, if STS said.
pub async fn report(
    base: &SdkConfig,
    settings: Settings,
    out: &Path,
    range: Option<Range>,
    ran_by: Option<String>,
    json: bool,
) -> Result<bool, Failure> {
    let spinner = Spinner::start(json);
    let result = match range {
        Some((from, to, bucket)) => history(base, &settings, &bucket, from, to, ran_by, out).await,
        None => observe(base, settings, ran_by, out).await,
    };
    spinner.finish();
    let (written, clean, summary) = result?;
    if json {
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("{}", serde_json::json!({"dir": out, "files": files, "clean": clean, "summary": summary}));
    } else {
        anstream::println!("evidence written to {}", out.display());
        for path in &written {
            anstream::println!("  {}", path.display());
        }
        anstream::println!("{}", paint(if clean { GREEN } else { RED }, &summary_line(&summary, clean)));
    }
    Ok(clean)
}

/// A range of days to read back, and the bucket that keeps the record.
pub type Range = (Day, Day, String);

/// The range's days and the bucket that keeps the record, or why not: checked before any AWS call.
pub fn days(from: &str, to: &str, settings: &Settings) -> Result<Range, Failure> {
    let day = |flag: &str, text: &str| {
        Day::parse(text).ok_or_else(|| {
            Failure::new(FailureKind::InvalidRequest, format!("{flag} {text:?} is not a day (YYYY-MM-DD)"))
        })
    };
    let (from, to) = (day("--from", from)?, day("--to", to)?);
    if to < from {
        return Err(Failure::new(FailureKind::InvalidRequest, format!("--to {to} is before --from {from}")));
    }
    let bucket = settings.record_bucket().ok_or_else(|| {
        Failure::new(
            FailureKind::InvalidConfiguration,
            "invalid configuration: GUARDDUTY_EVIDENCE_BUCKET: is required to read the record (--from, --to): the \
             bucket the scheduled run keeps it in (the stack's EvidenceBucket output)",
        )
    })?;
    Ok((from, to, bucket.to_owned()))
}

/// One observation, written.
async fn observe(
    base: &SdkConfig,
    settings: Settings,
    ran_by: Option<String>,
    out: &Path,
) -> Result<(Vec<PathBuf>, bool, serde_json::Value), Failure> {
    let enabler = enablement::connect_with(base, settings).await;
    let mut document = evidence::collect(&enabler, ran_by).await?;
    // Where the preventive SCP reaches, for the accounts the document governs (reads only).
    let governed: Vec<String> = document
        .accounts
        .iter()
        .filter(|a| a.status == "ACTIVE" && !a.excluded && a.role != "management")
        .map(|a| a.account.to_string())
        .collect();
    document.preventive_scp = Some(match scp::coverage(base, &governed).await {
        Ok(coverage) => coverage.evidence(),
        Err(e) => evidence::PreventiveScp {
            policy: scp::POLICY_NAME.into(),
            error: Some(e.to_string()),
            ..evidence::PreventiveScp::default()
        },
    });
    let written = evidence::write(out, &document)?;
    let summary = serde_json::to_value(&document.summary).unwrap_or_default();
    Ok((written, document.summary.clean, summary))
}

/// The record of a range, read back and written.
async fn history(
    base: &SdkConfig,
    settings: &Settings,
    bucket: &str,
    from: Day,
    to: Day,
    ran_by: Option<String>,
    out: &Path,
) -> Result<(Vec<PathBuf>, bool, serde_json::Value), Failure> {
    let records = S3Records::connect(base, bucket);
    let header = Header {
        ran_by: ran_by.unwrap_or_else(|| "not known (STS GetCallerIdentity did not answer)".into()),
        configuration: serde_json::to_value(settings).unwrap_or_default(),
    };
    let range = evidence::history(&records, from, to, header).await?;
    let written = evidence::write_range(out, &range)?;
    let summary = serde_json::to_value(&range.summary).unwrap_or_default();
    Ok((written, range.summary.clean, summary))
}

fn summary_line(summary: &serde_json::Value, clean: bool) -> String {
    let n = |key: &str| summary[key].as_u64().unwrap_or_default();
    if summary.get("gaps").is_some() {
        return if clean {
            "no gap in coverage, and a record every day".into()
        } else {
            format!("{} gaps ({} still open); {} days without a record", n("gaps"), n("open"), n("days_without_record"))
        };
    }
    let protected = format!("{} of {} account-regions protected", n("protected"), n("expected"));
    let controls = format!(
        "{} control results FAILED, {} not accounted for by the configuration",
        n("controls_failed"),
        n("controls_failed_unexplained")
    );
    format!("{}: {protected}; {controls}", if clean { "clean" } else { "not clean" })
}

/// A spinner on the terminal while AWS is read; nothing when stdout is not a terminal, or with --json.
struct Spinner(Option<ProgressBar>);

impl Spinner {
    fn start(json: bool) -> Self {
        if json || !std::io::stdout().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("reading GuardDuty in every governed region (reads only)");
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
