//! The declared configuration: the `GUARDDUTY_*` variables, read and validated before any AWS call. Each variable
//! is one definition in `variables`; `plans` reads GUARDDUTY_FEATURES and resolves it against what a region
//! offers.

mod plans;
mod variables;

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::ids::AccountId;

pub(crate) use plans::{guess_offered, EKS_RUNTIME_MONITORING, RUNTIME_MONITORING};
pub use plans::{OuPlans, Plan, PlanSelection, Resolved};
pub use variables::{Variable, VARIABLES};

/// `AutoEnableOrganizationMembers`: which organization accounts GuardDuty enrols by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AutoEnable {
    /// Existing and new accounts.
    All,
    /// Accounts that join from now on.
    New,
    /// None by itself; membership is explicit.
    None,
}

impl AutoEnable {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::New => "NEW",
            Self::None => "NONE",
        }
    }

    /// The `AutoEnable` value the organization configuration gives each desired protection plan: with ALL the
    /// plans cover every member; otherwise every member added from now on (explicitly or by auto-enable).
    pub fn for_plans(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::New | Self::None => "NEW",
        }
    }
}

/// GUARDDUTY_ENABLEMENT: how GuardDuty is enabled across the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enablement {
    /// Policy mode, without owning a policy, where the organization has the GuardDuty policy type enabled on its
    /// root; api mode otherwise.
    Auto,
    /// The organization configuration's auto-enable settings and explicit membership (refused where the policy
    /// type is enabled: those settings no longer apply there).
    Api,
    /// A GuardDuty organization policy this tool owns (created, attached and kept as configured).
    Policy,
}

impl Enablement {
    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Api => "api",
            Self::Policy => "policy",
        }
    }
}

/// GUARDDUTY_FINDINGS_DESTINATION and GUARDDUTY_FINDINGS_KMS_KEY: where every governed region's findings are
/// exported (GuardDuty User Guide, "Exporting generated findings to Amazon S3").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingsExport {
    /// The destination as configured: `arn:<partition>:s3:::BUCKET` or `arn:<partition>:s3:::BUCKET/PREFIX`.
    pub destination: String,
    /// The bucket.
    pub bucket: String,
    /// The KMS key ARN.
    pub kms_key: String,
    /// The partition of both.
    pub partition: String,
    /// The key's region, which is the bucket's: "Your Amazon S3 bucket or object, and AWS KMS key must belong to the
    /// same AWS Region".
    pub region: String,
}

/// How often GuardDuty publishes updated findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingFrequency {
    /// Every 15 minutes.
    FifteenMinutes,
    /// Every hour.
    OneHour,
    /// Every six hours (the service's default).
    SixHours,
}

impl FindingFrequency {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FifteenMinutes => "FIFTEEN_MINUTES",
            Self::OneHour => "ONE_HOUR",
            Self::SixHours => "SIX_HOURS",
        }
    }
}

/// Everything the configuration declares. Build it with [`Settings::from_env`] or [`Settings::from_lookup`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// GUARDDUTY_ADMIN_ACCOUNT_ID: the delegated GuardDuty administrator.
    pub admin_account: AccountId,
    /// GUARDDUTY_ADMIN_ROLE_NAME: the role assumed in the admin account.
    pub admin_role_name: String,
    /// GUARDDUTY_REGIONS: the regions to govern; `None` means every region enabled for both the admin and the
    /// management account.
    pub regions: Option<Vec<String>>,
    /// GUARDDUTY_EXCLUDED_REGIONS: taken out of the governed set.
    pub excluded_regions: BTreeSet<String>,
    /// GUARDDUTY_AUTO_ENABLE.
    pub auto_enable: AutoEnable,
    /// GUARDDUTY_FEATURES: the protection plans to turn on; plans not selected are left as they are.
    pub plans: PlanSelection,
    /// GUARDDUTY_FEATURES_BY_OU: organizational units whose accounts want exactly other plans.
    pub plans_by_ou: Vec<OuPlans>,
    /// GUARDDUTY_EXCLUDED_ACCOUNTS: never made members.
    pub excluded_accounts: BTreeSet<AccountId>,
    /// GUARDDUTY_EXCLUDED_OUS: accounts under these organizational units (at any depth) are never made members.
    pub excluded_ous: BTreeSet<String>,
    /// GUARDDUTY_FINDING_FREQUENCY: set on the admin's detector when given.
    pub finding_frequency: Option<FindingFrequency>,
    /// GUARDDUTY_DRY_RUN: read and plan, write nothing.
    pub dry_run: bool,
    /// GUARDDUTY_ALLOW_MANAGEMENT_ADMIN: allow the management account to be the admin.
    pub allow_management_admin: bool,
    /// GUARDDUTY_REGION_CONCURRENCY: how many regions are worked on at once.
    pub region_concurrency: usize,
    /// GUARDDUTY_ENABLEMENT: organization configuration, GuardDuty policies, or whichever the organization uses.
    pub enablement: Enablement,
    /// GUARDDUTY_POLICY_NAME: the name of the GuardDuty policy this tool owns with GUARDDUTY_ENABLEMENT=policy.
    pub policy_name: String,
    /// GUARDDUTY_FINDINGS_DESTINATION and GUARDDUTY_FINDINGS_KMS_KEY, when given (both or neither).
    pub findings: Option<FindingsExport>,
    /// GUARDDUTY_EVIDENCE_BUCKET, when given: the bucket that keeps the evidence record. Never a default: a run
    /// writes only where it was told to (the template names the findings bucket it deploys, and grants the writes).
    pub evidence_bucket: Option<String>,
    /// GUARDDUTY_TAMPER_REVERT: the silencing kinds the responder reverts (`filters`, `ip_sets`, `threat_lists`).
    pub tamper_revert: BTreeSet<String>,
    /// GUARDDUTY_TAMPER_ALLOWED_FILTERS: saved filters that are legitimate suppression.
    pub tamper_allowed_filters: BTreeSet<String>,
    /// GUARDDUTY_TAMPER_PAUSE_UNTIL, in milliseconds since the epoch: no repair before then.
    pub tamper_pause_until_ms: Option<i64>,
    /// GUARDDUTY_FINDINGS_DESTINATION as given, until it is joined with the key.
    #[serde(skip)]
    pub(crate) destination: Option<(String, String, String)>,
    /// GUARDDUTY_FINDINGS_KMS_KEY as given, until it is joined with the destination.
    #[serde(skip)]
    pub(crate) kms_key: Option<(String, String, String)>,
}

/// The default role name in the admin account.
pub const DEFAULT_ADMIN_ROLE_NAME: &str = "GuardDutyEnablerAdmin";
/// The default name of the GuardDuty policy this tool owns (the template passes the stack's name).
pub(crate) const DEFAULT_POLICY_NAME: &str = "guardduty-enabler";
/// The default number of regions worked on at once (every commercial region in one wave).
pub(crate) const DEFAULT_REGION_CONCURRENCY: usize = 32;

/// One bad configuration value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The variable.
    pub var: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

/// The configuration is invalid; every bad value is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    /// One entry per bad value.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// Whether `var` is among the problems.
    pub fn names(&self, var: &str) -> bool {
        self.problems.iter().any(|p| p.var == var)
    }
}

impl Settings {
    /// Whether the findings destination is in the partition of `home` (the region the run is in): findings can
    /// only be exported within a partition. Checked before any AWS call.
    pub fn check_partition(&self, home: &str) -> Result<(), ConfigError> {
        let Some(findings) = &self.findings else { return Ok(()) };
        let partition = crate::ids::partition_of(home);
        if findings.partition == partition {
            return Ok(());
        }
        let message = format!(
            "{} is in partition {}, but this runs in {partition} (home region {home}): findings can only be exported \
             within a partition",
            findings.destination, findings.partition,
        );
        Err(ConfigError { problems: vec![Problem { var: "GUARDDUTY_FINDINGS_DESTINATION", message }] })
    }

    /// Whether the GuardDuty policy named `name` may be one this tool wrote, by its name: GUARDDUTY_POLICY_NAME, or
    /// named after it (a unit's `<name>-ou-...`, a part `<name>-2`, ...). Whether it is, its owner tag says.
    pub fn may_own_policy(&self, name: &str) -> bool {
        let main = self.policy_name.as_str();
        name == main || name.strip_prefix(main).is_some_and(|rest| rest.starts_with('-'))
    }

    /// The end of the tamper maintenance window (GUARDDUTY_TAMPER_PAUSE_UNTIL) as RFC 3339, while it is still ahead
    /// of `now_ms` (milliseconds since the epoch); `None` once it has passed, or without one.
    pub fn tamper_paused(&self, now_ms: i64) -> Option<String> {
        let until = self.tamper_pause_until_ms.filter(|until| *until > now_ms)?;
        let at = aws_smithy_types::DateTime::from_millis(until);
        Some(at.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_else(|_| until.to_string()))
    }

    /// The bucket that keeps the evidence record (GUARDDUTY_EVIDENCE_BUCKET); `None` where no record is kept.
    pub fn record_bucket(&self) -> Option<&str> {
        self.evidence_bucket.as_deref()
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable's value by its `GUARDDUTY_*` name, or `None` when
    /// unset). Empty values count as unset, so that blank template parameters mean "the default". Every variable
    /// is read with its definition in [`VARIABLES`]; then the rules that join several of them are checked.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut settings = Self::with_admin(AccountId::UNSET);
        let mut problems = Vec::new();
        for var in &VARIABLES {
            let value = lookup(var.name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            match value {
                Some(value) => {
                    if let Err(message) = (var.read)(&value, &mut settings) {
                        problems.push(Problem { var: var.name, message });
                    }
                }
                None if var.required => problems.push(Problem { var: var.name, message: var.required_message() }),
                None => {}
            }
        }
        problems.extend(settings.joint_problems());
        settings.findings = settings.export();
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The rules that join several variables.
    fn joint_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(regions) = &self.regions {
            if regions.iter().all(|r| self.excluded_regions.contains(r)) {
                problems.push(Problem {
                    var: "GUARDDUTY_EXCLUDED_REGIONS",
                    message: "excludes every region in GUARDDUTY_REGIONS; nothing would be governed".into(),
                });
            }
        }
        // UpdateOrganizationConfiguration (API reference): with NEW, "when a new account joins the organization,
        // they will have GuardDuty enabled automatically"; with ALL every account is. GuardDuty has no exclusion
        // list, so only NONE leaves enrolment, and therefore exclusion, to this tool.
        // A GuardDuty policy, unlike auto-enable, can leave accounts out: with GUARDDUTY_ENABLEMENT=policy it is
        // attached only where nothing below is excluded.
        let excludes = !self.excluded_accounts.is_empty() || !self.excluded_ous.is_empty();
        if excludes && self.auto_enable != AutoEnable::None && self.enablement != Enablement::Policy {
            problems.push(Problem {
                var: "GUARDDUTY_AUTO_ENABLE",
                message: format!(
                    "is {}, with which GuardDuty itself enables accounts as they join the organization, whatever \
                     their organizational unit, so GUARDDUTY_EXCLUDED_ACCOUNTS and GUARDDUTY_EXCLUDED_OUS cannot be \
                     honoured: set GUARDDUTY_AUTO_ENABLE=NONE (this tool then enrols every account that is not \
                     excluded), or GUARDDUTY_ENABLEMENT=policy (a GuardDuty policy attached around them), or \
                     remove the exclusions",
                    self.auto_enable.as_str()
                ),
            });
        }
        problems.extend(self.units_excluded(|unit| self.excluded_ous.contains(unit).then(|| unit.to_owned())));
        match (&self.destination, &self.kms_key) {
            (Some(_), None) => problems.push(Problem {
                var: "GUARDDUTY_FINDINGS_KMS_KEY",
                message: "is required with GUARDDUTY_FINDINGS_DESTINATION: GuardDuty encrypts exported findings with \
                          a KMS key"
                    .into(),
            }),
            (None, Some(_)) => problems.push(Problem {
                var: "GUARDDUTY_FINDINGS_DESTINATION",
                message: "is required with GUARDDUTY_FINDINGS_KMS_KEY".into(),
            }),
            (Some((_, bucket_partition, _)), Some((_, key_partition, _))) if bucket_partition != key_partition => {
                problems.push(Problem {
                    var: "GUARDDUTY_FINDINGS_KMS_KEY",
                    message: format!(
                        "is in partition {key_partition}, the destination in {bucket_partition}: the bucket and the \
                         key must be in one region"
                    ),
                })
            }
            _ => {}
        }
        problems
    }

    /// A unit of GUARDDUTY_FEATURES_BY_OU at or under an excluded organizational unit (`excluded_above` gives the
    /// excluded unit at or above a listed one): its policy or plans would turn GuardDuty on for accounts that are
    /// excluded, which this tool could never undo. One problem per such unit, naming both.
    pub(crate) fn units_excluded(&self, excluded_above: impl Fn(&str) -> Option<String>) -> Vec<Problem> {
        self.plans_by_ou
            .iter()
            .filter_map(|unit| {
                let excluded = excluded_above(&unit.ou)?;
                let place =
                    if excluded == unit.ou { "is".to_owned() } else { format!("is under {excluded}, which is") };
                Some(Problem {
                    var: "GUARDDUTY_FEATURES_BY_OU",
                    message: format!(
                        "lists {}, which {place} excluded by GUARDDUTY_EXCLUDED_OUS: plans for it would turn \
                         GuardDuty on for excluded accounts; remove one or the other",
                        unit.ou
                    ),
                })
            })
            .collect()
    }

    /// The findings export, from the destination and the key (checked by [`Self::joint_problems`]).
    fn export(&self) -> Option<FindingsExport> {
        let ((destination, partition, bucket), (kms_key, _, region)) =
            (self.destination.clone()?, self.kms_key.clone()?);
        Some(FindingsExport { destination, bucket, kms_key, partition, region })
    }

    /// A configuration with every default and the given admin, for tests and examples.
    pub fn with_admin(admin_account: AccountId) -> Self {
        Self {
            admin_account,
            admin_role_name: DEFAULT_ADMIN_ROLE_NAME.into(),
            regions: None,
            excluded_regions: BTreeSet::new(),
            auto_enable: AutoEnable::All,
            plans: PlanSelection::Offered,
            plans_by_ou: Vec::new(),
            excluded_accounts: BTreeSet::new(),
            excluded_ous: BTreeSet::new(),
            finding_frequency: None,
            dry_run: false,
            allow_management_admin: false,
            region_concurrency: DEFAULT_REGION_CONCURRENCY,
            enablement: Enablement::Auto,
            policy_name: DEFAULT_POLICY_NAME.into(),
            findings: None,
            evidence_bucket: None,
            tamper_revert: BTreeSet::new(),
            tamper_allowed_filters: BTreeSet::new(),
            tamper_pause_until_ms: None,
            destination: None,
            kms_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_policies_it_may_own_are_named_after_guardduty_policy_name() {
        let s = parse(&[ADMIN, ("GUARDDUTY_POLICY_NAME", "gd")]).expect("valid");
        assert!(s.may_own_policy("gd") && s.may_own_policy("gd-ou-ab12-cdef5678") && s.may_own_policy("gd-2"));
        assert!(!s.may_own_policy("gd2-ou-ab12-cdef5678") && !s.may_own_policy("g") && !s.may_own_policy("gdx"));
    }

    const ADMIN: (&str, &str) = ("GUARDDUTY_ADMIN_ACCOUNT_ID", "111111111111");

    #[test]
    fn defaults_apply_when_only_the_admin_is_given() {
        let s = parse(&[ADMIN]).expect("valid");
        assert_eq!(s.admin_account.as_str(), "111111111111");
        assert_eq!(s.admin_role_name, DEFAULT_ADMIN_ROLE_NAME);
        assert_eq!(s.regions, None);
        assert_eq!(s.auto_enable, AutoEnable::All);
        assert_eq!(s.plans, PlanSelection::Offered, "the default plans are what each region offers");
        assert!(!s.dry_run && !s.allow_management_admin);
        assert_eq!(s.finding_frequency, None);
        assert_eq!(s.region_concurrency, DEFAULT_REGION_CONCURRENCY);
        assert_eq!((s.enablement, s.policy_name.as_str()), (Enablement::Auto, DEFAULT_POLICY_NAME));
    }

    #[test]
    fn a_missing_admin_is_named() {
        let err = parse(&[]).unwrap_err();
        assert!(err.names("GUARDDUTY_ADMIN_ACCOUNT_ID"), "{err}");
        assert!(err.to_string().contains("is required"), "{err}");
    }

    #[test]
    fn every_bad_value_is_reported_with_its_variable() {
        let err = parse(&[
            ("GUARDDUTY_ADMIN_ACCOUNT_ID", "12345"),
            ("GUARDDUTY_AUTO_ENABLE", "SOME"),
            ("GUARDDUTY_REGIONS", "us-east-1,mars-north-1x"),
            ("GUARDDUTY_FINDING_FREQUENCY", "HOURLY"),
            ("GUARDDUTY_DRY_RUN", "yes"),
            ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS,XRAY"),
            ("GUARDDUTY_EXCLUDED_OUS", "finance"),
            ("GUARDDUTY_ADMIN_ROLE_NAME", "bad role"),
            ("GUARDDUTY_REGION_CONCURRENCY", "0"),
        ])
        .unwrap_err();
        for var in [
            "GUARDDUTY_ADMIN_ACCOUNT_ID",
            "GUARDDUTY_AUTO_ENABLE",
            "GUARDDUTY_REGIONS",
            "GUARDDUTY_FINDING_FREQUENCY",
            "GUARDDUTY_DRY_RUN",
            "GUARDDUTY_FEATURES",
            "GUARDDUTY_EXCLUDED_OUS",
            "GUARDDUTY_ADMIN_ROLE_NAME",
            "GUARDDUTY_REGION_CONCURRENCY",
        ] {
            assert!(err.names(var), "{var} missing from: {err}");
        }
        assert!(err.to_string().contains("use ALL, NEW or NONE"), "{err}");
    }

    #[test]
    fn exclusions_are_refused_unless_auto_enable_is_none() {
        // given exclusions with ALL (the default) or NEW, then the error says why
        for auto in ["ALL", "NEW"] {
            for (var, value) in
                [("GUARDDUTY_EXCLUDED_ACCOUNTS", "222222222222"), ("GUARDDUTY_EXCLUDED_OUS", "ou-ab12-cd34ef56")]
            {
                let err = parse(&[ADMIN, ("GUARDDUTY_AUTO_ENABLE", auto), (var, value)]).unwrap_err();
                assert!(err.names("GUARDDUTY_AUTO_ENABLE"), "{auto} {var}: {err}");
                let text = err.to_string();
                assert!(text.contains("whatever their organizational unit") && text.contains("NONE"), "{text}");
            }
        }
        // and with NONE they hold
        let ok = parse(&[
            ADMIN,
            ("GUARDDUTY_AUTO_ENABLE", "NONE"),
            ("GUARDDUTY_EXCLUDED_ACCOUNTS", "222222222222, 333333333333"),
        ])
        .expect("valid");
        assert_eq!(ok.excluded_accounts.len(), 2);
    }

    #[test]
    fn with_enablement_policy_exclusions_hold_whatever_auto_enable_says() {
        let ok = parse(&[
            ADMIN,
            ("GUARDDUTY_ENABLEMENT", "policy"),
            ("GUARDDUTY_EXCLUDED_OUS", "ou-ab12-cd34ef56"),
            ("GUARDDUTY_POLICY_NAME", "security-baseline"),
        ])
        .expect("valid");
        assert_eq!(ok.enablement, Enablement::Policy);
        assert_eq!(ok.policy_name, "security-baseline");
        let err = parse(&[ADMIN, ("GUARDDUTY_ENABLEMENT", "auto"), ("GUARDDUTY_EXCLUDED_OUS", "ou-ab12-cd34ef56")])
            .unwrap_err();
        assert!(err.names("GUARDDUTY_AUTO_ENABLE"), "{err}");
        let err =
            parse(&[ADMIN, ("GUARDDUTY_ENABLEMENT", "policies"), ("GUARDDUTY_POLICY_NAME", "bad name!")]).unwrap_err();
        assert!(err.names("GUARDDUTY_ENABLEMENT") && err.names("GUARDDUTY_POLICY_NAME"), "{err}");
        assert!(err.to_string().contains("use auto, api or policy"), "{err}");
    }

    #[test]
    fn regions_are_trimmed_deduplicated_and_excluded_regions_kept_apart() {
        let s = parse(&[
            ADMIN,
            ("GUARDDUTY_REGIONS", " us-east-1, eu-west-1,us-east-1 "),
            ("GUARDDUTY_EXCLUDED_REGIONS", "eu-west-1"),
        ])
        .expect("valid");
        assert_eq!(s.regions, Some(vec!["us-east-1".to_string(), "eu-west-1".to_string()]));
        assert!(s.excluded_regions.contains("eu-west-1"));
    }

    #[test]
    fn regions_of_every_partition_are_accepted() {
        let s = parse(&[ADMIN, ("GUARDDUTY_REGIONS", "eusc-de-east-1,us-isob-east-1,cn-north-1")]).expect("valid");
        assert_eq!(s.regions.map(|r| r.len()), Some(3));
    }

    #[test]
    fn excluding_every_listed_region_is_an_error() {
        let err = parse(&[ADMIN, ("GUARDDUTY_REGIONS", "us-east-1"), ("GUARDDUTY_EXCLUDED_REGIONS", "us-east-1")])
            .unwrap_err();
        assert!(err.names("GUARDDUTY_EXCLUDED_REGIONS"));
    }

    #[test]
    fn blank_values_mean_the_default() {
        let s = parse(&[ADMIN, ("GUARDDUTY_AUTO_ENABLE", ""), ("GUARDDUTY_FEATURES", " "), ("GUARDDUTY_DRY_RUN", "")])
            .expect("valid");
        assert_eq!(s.auto_enable, AutoEnable::All);
        assert_eq!(s.plans, PlanSelection::Offered);
    }

    #[test]
    fn flags_accept_true_and_false_in_any_case() {
        let s = parse(&[ADMIN, ("GUARDDUTY_DRY_RUN", "TRUE"), ("GUARDDUTY_ALLOW_MANAGEMENT_ADMIN", "False")])
            .expect("valid");
        assert!(s.dry_run);
        assert!(!s.allow_management_admin);
    }

    #[test]
    fn the_evidence_record_goes_only_to_the_bucket_named_for_it() {
        let none = parse(&[ADMIN]).expect("valid");
        assert_eq!(none.record_bucket(), None);
        let findings = [
            ADMIN,
            ("GUARDDUTY_FINDINGS_DESTINATION", "arn:aws:s3:::findings-bucket/guardduty"),
            ("GUARDDUTY_FINDINGS_KMS_KEY", "arn:aws:kms:us-east-1:111111111111:key/k"),
        ];
        // The findings bucket is no default: nothing granted the writes there, and the record must not fail daily.
        assert_eq!(parse(&findings).expect("valid").record_bucket(), None);
        let mut named = findings.to_vec();
        named.push(("GUARDDUTY_EVIDENCE_BUCKET", "org-evidence"));
        assert_eq!(parse(&named).expect("valid").record_bucket(), Some("org-evidence"));
        let err = parse(&[ADMIN, ("GUARDDUTY_EVIDENCE_BUCKET", "s3://org-evidence")]).unwrap_err();
        assert!(err.names("GUARDDUTY_EVIDENCE_BUCKET"), "{err}");
    }

    #[test]
    fn a_huge_value_gives_a_short_error() {
        let huge = "x".repeat(100_000);
        let err = parse(&[ADMIN, ("GUARDDUTY_AUTO_ENABLE", &huge)]).unwrap_err();
        assert!(err.to_string().len() < 300);
    }
}
