//! The command line's arguments: the subcommands, how to reach AWS, and one flag per `GUARDDUTY_*` variable,
//! derived from the library's definitions (the variable's name without its prefix: GUARDDUTY_REGIONS is
//! `--regions`), each also read from the variable itself and validated exactly as the functions validate it.

use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand};
use enablement::{ConfigError, Settings, Variable, VARIABLES};

/// GuardDuty across every account and region of an AWS Organization: see coverage, plan, apply, onboard.
///
/// Runs with the management account's credentials from the standard chain (--profile, AWS_PROFILE, environment,
/// CloudShell's). Exit codes: 0 in sync (status, plan) or converged (apply, onboard); 1 an error (bad
/// configuration, an AWS error; nothing was written); 2 drift found (status, plan) or not every region converged
/// (apply, onboard).
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
    /// Stop owning the GuardDuty policies (GUARDDUTY_POLICY_NAME, and its units' `<name>-ou-...`): detach them
    /// everywhere and delete them. GuardDuty stays enabled where it is; nothing else does this.
    RetirePolicy {
        /// Also disable the GuardDuty policy type on the root, so that the organization configuration's auto-enable
        /// settings apply again (then run `apply --enablement api`).
        #[arg(long)]
        disable_policy_type: bool,
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
    fn onboard_takes_the_account() {
        let parsed = parse_from(["guardduty-enabler", "onboard", "444455556666", "--json"]);
        assert_eq!(parsed.cli.command, Command::Onboard { account: "444455556666".into() });
        assert!(parsed.cli.json);
    }
}
