//! The command line's arguments: the subcommands, how to reach AWS, and one flag per `GUARDDUTY_*` variable,
//! derived from the library's definitions (the variable's name without its prefix: GUARDDUTY_REGIONS is
//! `--regions`), each also read from the variable itself and validated exactly as the functions validate it.

use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand};
use enablement::{ConfigError, Settings, Variable, VARIABLES};

/// GuardDuty across every account and region of an AWS Organization: see coverage, plan, apply, onboard, and report
/// evidence for auditors.
///
/// Runs with the management account's credentials from the standard chain (--profile, AWS_PROFILE, environment,
/// CloudShell's). Exit codes: 0 in sync (status, plan), converged (apply, onboard) or clean (report); 1 an error (bad
/// configuration, an AWS error; nothing was written); 2 drift found (status, plan), not every region converged
/// (apply, onboard), or not clean (report).
#[derive(Parser, Debug)]
#[command(name = "guardduty-enabler", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The named AWS profile to use.
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// The region Organizations and STS are called in (else AWS_REGION or the profile's; us-east-1 if none).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Print the report as JSON on stdout, and nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Read only: which account is protected in which region, and each region's organization configuration.
    Status,
    /// Read only: the writes a reconcile would make, per region.
    Plan,
    /// Bring every governed region to the desired state.
    Apply,
    /// Enrol one account in every governed region, as the responder does for a new account.
    Onboard {
        /// The account (12 digits).
        account: String,
    },
    /// Read only: evidence for an auditor, in a directory: evidence.json, evidence.csv, evidence.html and SHA256SUMS.
    /// With --from and --to, the record kept in GUARDDUTY_EVIDENCE_BUCKET over those days instead: every gap in
    /// coverage, with its start, end and cause. Exit code 0 when every expected account-region is protected and every
    /// control the configuration asks for passes (a range: no gap and a record every day), 2 when not.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Report {
        /// Check a report's files against its SHA256SUMS.
        #[command(subcommand)]
        verify: Option<Verify>,
        /// The directory to write the report into (created if needed).
        #[arg(long, value_name = "DIR", required = true)]
        out: Option<std::path::PathBuf>,
        /// The first day of the record to read (UTC), with --to.
        #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
        from: Option<String>,
        /// The last day of the record to read (UTC, included), with --from.
        #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
        to: Option<String>,
    },
    /// Stop owning the GuardDuty policies (GUARDDUTY_POLICY_NAME, and its units' `<name>-ou-...`): detach them
    /// everywhere and delete them. GuardDuty stays enabled where it is; nothing else does this.
    RetirePolicy {
        /// Also disable the GuardDuty policy type on the root, so that the organization configuration's auto-enable
        /// settings apply again (then run `apply --enablement api`).
        #[arg(long)]
        disable_policy_type: bool,
    },
}

/// `report verify DIR`.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Check the report in DIR against its SHA256SUMS (as `sha256sum -c SHA256SUMS` would): exit code 0 when every
    /// file matches, 2 when one does not, 1 when SHA256SUMS cannot be read.
    Verify {
        /// The report's directory.
        dir: std::path::PathBuf,
    },
}

/// The arguments, and the configuration they declare (or why it is invalid).
pub struct Parsed {
    pub cli: Cli,
    pub settings: Result<Settings, ConfigError>,
}

/// Parses the process's arguments (and the `GUARDDUTY_*` variables); exits on a usage error, as clap does.
pub fn parse() -> Parsed {
    parse_from(std::env::args_os())
}

/// Parses `args`.
pub fn parse_from<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = VARIABLES.iter().fold(Cli::command(), |command, v| command.arg(variable(v)));
    let matches = command.get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let settings = Settings::from_lookup(|name| matches.get_one::<String>(name).cloned());
    Parsed { cli, settings }
}

/// The flag of one variable.
fn variable(v: &Variable) -> Arg {
    let help = format!("{} [default: {}]", v.doc.replace('`', ""), v.default.replace('`', ""));
    let arg = Arg::new(v.name).long(v.flag()).env(v.name).help(help).global(true).value_name("VALUE");
    if v.switch {
        arg.num_args(0..=1).default_missing_value("true")
    } else {
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_a_flag_named_without_its_prefix() {
        let parsed = parse_from([
            "guardduty-enabler",
            "plan",
            "--admin-account-id",
            "222233334444",
            "--regions",
            "eu-west-1,us-east-1",
            "--dry-run",
        ]);
        assert_eq!(parsed.cli.command, Command::Plan);
        let settings = parsed.settings.expect("valid");
        assert_eq!(settings.admin_account.as_str(), "222233334444");
        assert_eq!(settings.regions, Some(vec!["eu-west-1".to_owned(), "us-east-1".to_owned()]));
        assert!(settings.dry_run, "a switch without a value means true");
    }

    #[test]
    fn a_bad_value_is_the_same_error_the_functions_give() {
        let parsed =
            parse_from(["guardduty-enabler", "status", "--admin-account-id", "12345", "--auto-enable", "SOME"]);
        let err = parsed.settings.expect_err("invalid");
        assert!(err.names("GUARDDUTY_ADMIN_ACCOUNT_ID") && err.names("GUARDDUTY_AUTO_ENABLE"), "{err}");
    }

    #[test]
    fn report_takes_a_directory_a_range_or_verify() {
        let out = |args: &[&str]| parse_from(args.iter().copied()).cli.command;
        let report = out(&["guardduty-enabler", "report", "--out", "evidence"]);
        assert_eq!(report, Command::Report { verify: None, out: Some("evidence".into()), from: None, to: None });
        let range = out(&["guardduty-enabler", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "nov"]);
        assert!(
            matches!(range, Command::Report { from: Some(f), to: Some(t), .. } if f == "2026-11-01" && t == "2026-11-30")
        );
        let verify = out(&["guardduty-enabler", "report", "verify", "evidence"]);
        assert_eq!(
            verify,
            Command::Report {
                verify: Some(Verify::Verify { dir: "evidence".into() }),
                out: None,
                from: None,
                to: None
            }
        );
        let cmd = VARIABLES.iter().fold(Cli::command(), |command, v| command.arg(variable(v)));
        for bad in [
            &["guardduty-enabler", "report"][..],
            &["guardduty-enabler", "report", "--out", "d", "--from", "2026-11-01"],
        ] {
            assert!(cmd.clone().try_get_matches_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn onboard_takes_the_account() {
        let parsed = parse_from(["guardduty-enabler", "onboard", "444455556666", "--json"]);
        assert_eq!(parsed.cli.command, Command::Onboard { account: "444455556666".into() });
        assert!(parsed.cli.json);
    }
}
