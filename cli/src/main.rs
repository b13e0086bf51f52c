//! `guardduty-enabler`, the command line: a thin shell over the same library as the two functions. It runs with the
//! management account's credentials, reads the same `GUARDDUTY_*` configuration (each also a flag), and answers in
//! the exit-code convention of `terraform plan -detailed-exitcode`: 0 in sync or converged, 1 an error, 2 drift or
//! not converged.

mod access;
mod args;
mod progress;
mod render;
mod report;
mod retire;
mod scp;
mod usage;

use std::process::ExitCode;

use aws_config::Region;
use enablement::{AccountId, Failure, FailureKind, Report, RunOptions, Settings};

use args::{Command, Parsed};
use render::Verb;

#[tokio::main]
async fn main() -> ExitCode {
    match run(args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(failure) => {
            anstream::eprintln!("guardduty-enabler: {}: {failure}", failure.kind);
            ExitCode::from(1)
        }
    }
}

/// The SDK configuration of the command line: the profile and region given, else the loader's own region chain
/// (environment, profile, instance metadata through its HTTP client), else us-east-1.
async fn sdk_config(cli: &args::Cli) -> aws_config::SdkConfig {
    let mut loader = enablement::sdk_config_loader();
    if let Some(profile) = &cli.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &cli.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return base.to_builder().region(Region::from_static("us-east-1")).build();
    }
    base
}

/// The accounts `status` counts as governed: ACTIVE, not excluded, not the management account (which no SCP restricts).
fn governed(report: &Report) -> Vec<String> {
    let management = report.management_account.as_str();
    let entries = report.accounts.as_deref().unwrap_or_default();
    entries
        .iter()
        .filter(|a| a.state == "ACTIVE" && !a.excluded && a.id.as_str() != management)
        .map(|a| a.id.to_string())
        .collect()
}

/// Runs the subcommand; `true` when in sync (status, plan), converged (apply, onboard), done (retire-policy, scp), or
/// clean (report).
async fn run(parsed: Parsed) -> Result<bool, Failure> {
    let Parsed { cli, settings } = parsed;
    // Verifying a report's files needs neither the configuration nor AWS.
    if let Command::Report { verify: Some(args::Verify::Verify { dir }), .. } = &cli.command {
        return report::verify(dir, cli.json);
    }
    // Everything the user gave is checked before any AWS call (connecting makes none).
    let settings = settings?;
    // Printing the SCP makes no AWS call; `--apply` checks the credentials itself before its first.
    if let Command::Scp { except, target, .. } = &cli.command {
        return scp::run(&cli, settings, except, target.as_deref()).await;
    }
    let range = match &cli.command {
        Command::Report { from: Some(from), to: Some(to), .. } => Some(report::days(from, to, &settings)?),
        _ => None,
    };
    let base = sdk_config(&cli).await;
    // What needs the region is checked once it is known, still before any call.
    settings.check_partition(base.region().map_or("us-east-1", |r| r.as_ref())).map_err(Failure::from)?;
    // Credentials and the endpoint, checked once: their failure is one line that says what to do.
    let caller = access::caller(&base, cli.verbose).await?;
    let verb = match &cli.command {
        Command::Status => Verb::Status,
        // `apply --dry-run` is `plan`: the same reads, output and exit code.
        Command::Plan => Verb::Plan,
        Command::Apply if settings.dry_run => Verb::Plan,
        Command::Apply => Verb::Apply,
        Command::Onboard { .. } => Verb::Onboard,
        Command::Report { out, .. } => {
            let out = out.clone().unwrap_or_default();
            return report::report(&base, settings, &out, range, caller, cli.json).await;
        }
        Command::Usage => return usage(&base, settings, cli.json).await,
        Command::Scp { .. } => {
            return Err(Failure::new(FailureKind::InternalError, "scp is answered before connecting"))
        }
        Command::RetirePolicy { disable_policy_type } => {
            return retire_policy(&base, settings, *disable_policy_type, cli.json).await
        }
    };
    let enabler = enablement::connect_with(&base, settings).await;

    let display = progress::Display::for_stdout(cli.json);
    let read_only = RunOptions { dry_run: Some(true), ..RunOptions::default() };
    let written = RunOptions { progress: display.receiver(), ..RunOptions::default() };
    let report: Report = match &cli.command {
        Command::Status => enabler.reconcile_with(&RunOptions { keep_members: true, ..read_only }).await?,
        Command::Onboard { account } => {
            let account = account
                .parse::<AccountId>()
                .map_err(|e| Failure::new(FailureKind::InvalidRequest, format!("ACCOUNT_ID: {e}")))?;
            let report = enabler.onboard(&account, &written).await;
            display.finish();
            report?
        }
        Command::Apply if verb == Verb::Apply => {
            let report = enabler.reconcile_with(&written).await;
            display.finish();
            report?
        }
        _ => enabler.reconcile_with(&read_only).await?,
    };

    let clean = if verb.looks() { !render::drifted(&report) } else { report.is_success() };
    // `status` also says where the preventive SCP does not reach (a read that is refused says so instead).
    let prevention = match verb {
        Verb::Status => Some(scp::coverage(&base, &governed(&report)).await),
        _ => None,
    };
    print_run(verb, &report, prevention, cli.json)?;
    Ok(clean)
}

/// `usage`: GuardDuty's cost estimate, read as the delegated admin.
async fn usage(base: &aws_config::SdkConfig, settings: Settings, json: bool) -> Result<bool, Failure> {
    let enabler = enablement::connect_with(base, settings).await;
    let usage = enabler.usage().await?;
    if json {
        let text = serde_json::to_string_pretty(&usage)
            .map_err(|e| Failure::new(FailureKind::InternalError, e.to_string()))?;
        println!("{text}");
    } else {
        anstream::print!("{}", usage::render(&usage));
    }
    Ok(true)
}

/// `retire-policy`: the GuardDuty policies this tool owns detached and deleted (and the type disabled, if asked).
async fn retire_policy(
    base: &aws_config::SdkConfig,
    settings: Settings,
    disable_policy_type: bool,
    json: bool,
) -> Result<bool, Failure> {
    let dry_run = settings.dry_run;
    let enabler = enablement::connect_with(base, settings).await;
    let done = retire::retire(&enabler, disable_policy_type).await?;
    if json {
        println!("{}", serde_json::json!({"dry_run": dry_run, "done": done}));
    } else {
        let verb = if dry_run { "would" } else { "did" };
        for line in &done {
            anstream::println!("{verb}: {line}");
        }
    }
    Ok(true)
}

/// What a run prints: its report as JSON (with the preventive SCP's coverage where it was read), or as the
/// subcommand's text, the coverage line before the summary, which stays the last line.
fn print_run(
    verb: Verb,
    report: &Report,
    prevention: Option<Result<scp::Coverage, Failure>>,
    json: bool,
) -> Result<(), Failure> {
    if json {
        let mut value =
            serde_json::to_value(report).map_err(|e| Failure::new(FailureKind::InternalError, e.to_string()))?;
        if let Some(prevention) = &prevention {
            value["preventive_scp"] = match prevention {
                Ok(coverage) => coverage.to_json(),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            };
        }
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| Failure::new(FailureKind::InternalError, e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let mut text = match verb {
        Verb::Status => render::status(report),
        Verb::Plan => render::plan(report),
        Verb::Apply | Verb::Onboard => render::outcome_table(report, verb),
    };
    let said = match &prevention {
        Some(Ok(coverage)) => Some(coverage.line()),
        Some(Err(e)) => Some(format!("preventive SCP: could not be read: {e}")),
        None => None,
    };
    if let Some(said) = said {
        let body = text.trim_end_matches('\n');
        let at = body.rfind('\n').map_or(0, |i| i + 1);
        text.insert_str(at, &format!("{said}\n\n"));
    }
    anstream::print!("{text}");
    Ok(())
}
