//! The command line's arguments: the subcommands, how to reach AWS, and one flag per `GUARDDUTY_*` variable,
//! derived from the library's definitions (the variable's name without its prefix: GUARDDUTY_REGIONS is
//! `--regions`), each also read from the variable itself and validated exactly as the functions validate it.

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use enablement::{ConfigError, Failure, Settings, Variable, VARIABLES};

/// The exit codes of the commands that read (status, plan), in their help.
const READ_EXIT_CODES: &str = "Exit codes: 0 in sync; 1 an error (bad usage or configuration, an AWS error; nothing \
                               was written); 2 drift found (the writes a reconcile would make).";
/// The exit codes of the commands that write (apply, onboard), in their help.
const WRITE_EXIT_CODES: &str = "Exit codes: 0 converged; 1 an error (bad usage or configuration, or an AWS error \
                                before any write); 2 not every region converged (with --dry-run: drift found, as \
                                `plan`).";

/// The exit codes of `scp`, in its help.
const SCP_EXIT_CODES: &str = "Exit codes: 0 printed, or applied (nothing was missing, or every write made); 1 an error \
                              (bad usage or configuration, a policy over the SCP size limit, or an AWS error before any \
                              write; nothing was written); 2 a write failed after an earlier one (run it again), or \
                              with --dry-run: writes to make.";

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
    /// On a credentials or connection error, also print the SDK's own account of it (where it looked, what failed).
    #[arg(long, global = true)]
    pub verbose: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Read only: which account is protected in which region, and each region's organization configuration.
    #[command(after_help = READ_EXIT_CODES)]
    Status,
    /// Read only: the writes a reconcile would make, per region.
    #[command(after_help = READ_EXIT_CODES)]
    Plan,
    /// Bring every governed region to the desired state (with --dry-run, the same as `plan`).
    #[command(after_help = WRITE_EXIT_CODES)]
    Apply,
    /// Enrol one account in every governed region, as the responder does for a new account.
    #[command(after_help = WRITE_EXIT_CODES)]
    Onboard {
        /// The account (12 digits).
        account: String,
    },
    /// Read only: evidence for an auditor, in a directory: evidence.json, evidence.csv, evidence.html and SHA256SUMS.
    /// With --from and --to, the record kept in GUARDDUTY_EVIDENCE_BUCKET over those days instead: every gap in
    /// coverage, with its start, end and cause. Exit code 0 when every expected account-region is protected and every
    /// control the configuration asks for passes (a range: no gap and a record every day), 2 when not.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "Exit codes: 0 clean; 1 an error (nothing was written to AWS); 2 not clean."
    )]
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
    /// Read only: GuardDuty's own estimate of what the organization's protection cost over the last 30 days, per
    /// governed region and usage feature (GetUsageStatistics, as the delegated admin). An estimate, not the bill.
    #[command(after_help = "Exit codes: 0 read; 1 an error (nothing was written).")]
    Usage,
    /// Stop owning the GuardDuty policies (GUARDDUTY_POLICY_NAME, and its units' `<name>-ou-...`): detach them
    /// everywhere and delete them. GuardDuty stays enabled where it is; nothing else does this.
    RetirePolicy {
        /// Also disable the GuardDuty policy type on the root, so that the organization configuration's auto-enable
        /// settings apply again (then run `apply --enablement api`).
        #[arg(long)]
        disable_policy_type: bool,
    },
    /// Print the service control policy that denies the writes that turn GuardDuty off, silence it or take it apart
    /// (and the Organizations writes on GuardDuty's policy type and delegation) to every principal but this tool's
    /// admin role (GUARDDUTY_ADMIN_ACCOUNT_ID, GUARDDUTY_ADMIN_ROLE_NAME) and the roles given with --except; reads and
    /// CreateSampleFindings stay allowed. With --apply, create it (or update its content), enable SCPs on the root if
    /// they are not, and attach it to --target, writing only what is missing. SCPs never restrict the management
    /// account.
    #[command(after_help = SCP_EXIT_CODES)]
    Scp {
        /// A break-glass role the policy does not restrict: its IAM role ARN (* and ? allowed in the path and name).
        /// Repeatable.
        #[arg(long = "except", value_name = "ROLE_ARN", value_parser = crate::scp::role_arn)]
        except: Vec<String>,
        /// Create or update the policy and attach it to --target (as the management account).
        #[arg(long, requires = "target")]
        apply: bool,
        /// Where --apply attaches the policy: an organizational unit (ou-...) or the root (r-...).
        #[arg(long, value_name = "ID", requires = "apply", value_parser = crate::scp::target_id)]
        target: Option<String>,
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

/// The arguments, and the configuration they declare (or why it is invalid, naming what the user gave: the flag
/// where it came from the command line, else the variable).
pub struct Parsed {
    pub cli: Cli,
    pub settings: Result<Settings, Failure>,
}

/// Parses the process's arguments (and the `GUARDDUTY_*` variables); on a usage error prints clap's message and
/// exits with 1 (an error, nothing written: 2 means drift), on --help or --version prints them and exits with 0.
pub fn parse() -> Parsed {
    parse_from(std::env::args_os()).unwrap_or_else(|e| {
        let _ = e.print();
        std::process::exit(if e.use_stderr() { 1 } else { 0 })
    })
}

/// Parses `args`.
pub fn parse_from<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let given = matches.subcommand().map(|(_, m)| m).unwrap_or(&matches);
    let settings = Settings::from_lookup(|name| given.try_get_one::<String>(name).ok().flatten().cloned())
        .map_err(|e| as_given(e, given));
    Ok(Parsed { cli, settings })
}

/// The command line: the subcommands, each with the flags of the variables it reads.
pub fn command() -> clap::Command {
    let mut command = Cli::command();
    for sub in ["status", "plan", "apply", "onboard", "report", "usage", "retire-policy", "scp"] {
        command = command
            .mut_subcommand(sub, |c| VARIABLES.iter().filter(|v| reads(sub, v)).fold(c, |c, v| c.arg(variable(v))));
    }
    command
}

/// Whether subcommand `sub` reads `v`: every one reads every variable, but the read-only ones not GUARDDUTY_DRY_RUN,
/// which they have no use for.
fn reads(sub: &str, v: &Variable) -> bool {
    // The tamper variables are the responder's alone; the read-only commands take no --dry-run.
    let read_only = matches!(sub, "status" | "plan" | "report" | "usage");
    let dry_run = v.name == "GUARDDUTY_DRY_RUN";
    !(read_only && dry_run || v.name.starts_with("GUARDDUTY_TAMPER_"))
}

/// The flag of one variable.
fn variable(v: &Variable) -> Arg {
    let doc = v.doc.replace('`', "");
    let help = if v.required {
        format!("{doc} (required)")
    } else {
        format!("{doc} [default: {}]", v.default.replace('`', ""))
    };
    let arg = Arg::new(v.name).long(v.flag()).env(v.name).help(help).value_name("VALUE");
    if v.switch {
        arg.num_args(0..=1).default_missing_value("true")
    } else {
        arg
    }
}

/// A configuration error in the words the user used: each variable given as a flag is named by its flag.
fn as_given(e: ConfigError, given: &ArgMatches) -> Failure {
    let mut failure = Failure::from(e);
    // Longest names first: GUARDDUTY_FEATURES_BY_OU is not GUARDDUTY_FEATURES followed by more.
    let mut flags: Vec<&Variable> = VARIABLES
        .iter()
        .filter(|v| given.ids().any(|id| id.as_str() == v.name))
        .filter(|v| given.value_source(v.name) == Some(ValueSource::CommandLine))
        .collect();
    flags.sort_by_key(|v| std::cmp::Reverse(v.name.len()));
    for v in flags {
        failure.message = replace_word(&failure.message, v.name, &format!("--{}", v.flag()));
    }
    failure
}

/// `text` with every whole-word `name` (not followed by a letter, digit or underscore) replaced by `with`.
fn replace_word(text: &str, name: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let after = &rest[at + name.len()..];
        let whole = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(&rest[..at]);
        out.push_str(if whole { with } else { name });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Parsed {
        parse_from(args.iter().copied()).expect("parses")
    }

    #[test]
    fn every_variable_is_a_flag_named_without_its_prefix() {
        let parsed = parsed(&[
            "guardduty-enabler",
            "apply",
            "--admin-account-id",
            "222233334444",
            "--regions",
            "eu-west-1,us-east-1",
            "--dry-run",
        ]);
        assert_eq!(parsed.cli.command, Command::Apply);
        let settings = parsed.settings.expect("valid");
        assert_eq!(settings.admin_account.as_str(), "222233334444");
        assert_eq!(settings.regions, Some(vec!["eu-west-1".to_owned(), "us-east-1".to_owned()]));
        assert!(settings.dry_run, "a switch without a value means true");
    }

    #[test]
    fn a_bad_value_is_the_same_error_the_functions_give_naming_the_flag_given() {
        let parsed = parsed(&["guardduty-enabler", "status", "--admin-account-id", "12345", "--auto-enable", "SOME"]);
        let err = parsed.settings.expect_err("invalid");
        assert_eq!(err.kind, enablement::FailureKind::InvalidConfiguration);
        assert!(err.message.contains("--admin-account-id: ") && err.message.contains("--auto-enable: "), "{err}");
        assert!(!err.message.contains("GUARDDUTY_AUTO_ENABLE:"), "{err}");
    }

    #[test]
    fn a_word_is_replaced_only_whole() {
        let text = "GUARDDUTY_FEATURES_BY_OU: needs GUARDDUTY_FEATURES; GUARDDUTY_FEATURES.";
        assert_eq!(
            replace_word(text, "GUARDDUTY_FEATURES", "--features"),
            "GUARDDUTY_FEATURES_BY_OU: needs --features; --features."
        );
    }

    #[test]
    fn read_only_commands_do_not_take_dry_run_and_a_typo_is_a_usage_error() {
        for args in [
            &["guardduty-enabler", "status", "--dry-run"][..],
            &["guardduty-enabler", "plan", "--dry-run"],
            &["guardduty-enabler", "stauts"],
            &["guardduty-enabler", "status", "--bogus"],
        ] {
            let err = parse_from(args.iter().copied()).err().unwrap_or_else(|| panic!("{args:?} parsed"));
            assert!(err.use_stderr(), "{args:?}: a usage error, exit 1");
        }
        let help = parse_from(["guardduty-enabler", "status", "--help"]).err().expect("help");
        assert!(!help.use_stderr(), "help is not an error");
        assert!(help.to_string().contains("Exit codes: 0 in sync"), "{help}");
        assert!(!help.to_string().contains("--dry-run"), "{help}");
        assert!(!help.to_string().contains("[default: required]"), "{help}");
        let apply = parse_from(["guardduty-enabler", "apply", "--help"]).err().expect("help");
        assert!(apply.to_string().contains("--dry-run") && apply.to_string().contains("Exit codes: 0 converged"));
    }

    #[test]
    fn report_takes_a_directory_a_range_or_verify() {
        let out = |args: &[&str]| parsed(args).cli.command;
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
        for bad in [
            &["guardduty-enabler", "report"][..],
            &["guardduty-enabler", "report", "--out", "d", "--from", "2026-11-01"],
        ] {
            assert!(command().try_get_matches_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn onboard_takes_the_account() {
        let parsed = parsed(&["guardduty-enabler", "onboard", "444455556666", "--json"]);
        assert_eq!(parsed.cli.command, Command::Onboard { account: "444455556666".into() });
        assert!(parsed.cli.json);
    }
}
