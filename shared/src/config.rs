//! The declared configuration: parsing and validating the `GUARDDUTY_*` variables before any AWS call.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::ids::{is_region_name, shorten, AccountId};

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

/// A GuardDuty protection plan (a detector feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Feature {
    /// S3 Protection.
    S3DataEvents,
    /// EKS Protection (audit logs).
    EksAuditLogs,
    /// Malware Protection for EC2.
    EbsMalwareProtection,
    /// RDS Protection.
    RdsLoginEvents,
    /// Lambda Protection.
    LambdaNetworkLogs,
    /// Runtime Monitoring (EKS, ECS Fargate and EC2).
    RuntimeMonitoring,
    /// The older EKS-only Runtime Monitoring; exclusive with [`Feature::RuntimeMonitoring`].
    EksRuntimeMonitoring,
}

/// An agent-management setting of a Runtime Monitoring plan (`additionalConfiguration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Agent {
    /// The GuardDuty security agent as an EKS add-on.
    EksAddonManagement,
    /// The agent as a sidecar in ECS Fargate tasks.
    EcsFargateAgentManagement,
    /// The agent on EC2 instances, through SSM.
    Ec2AgentManagement,
}

impl Feature {
    /// Every plan, in the API's order.
    pub const ALL: [Feature; 7] = [
        Self::S3DataEvents,
        Self::EksAuditLogs,
        Self::EbsMalwareProtection,
        Self::RdsLoginEvents,
        Self::LambdaNetworkLogs,
        Self::RuntimeMonitoring,
        Self::EksRuntimeMonitoring,
    ];

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3DataEvents => "S3_DATA_EVENTS",
            Self::EksAuditLogs => "EKS_AUDIT_LOGS",
            Self::EbsMalwareProtection => "EBS_MALWARE_PROTECTION",
            Self::RdsLoginEvents => "RDS_LOGIN_EVENTS",
            Self::LambdaNetworkLogs => "LAMBDA_NETWORK_LOGS",
            Self::RuntimeMonitoring => "RUNTIME_MONITORING",
            Self::EksRuntimeMonitoring => "EKS_RUNTIME_MONITORING",
        }
    }

    /// The agent settings this plan has.
    pub fn agents(self) -> &'static [Agent] {
        match self {
            Self::RuntimeMonitoring => {
                &[Agent::EksAddonManagement, Agent::EcsFargateAgentManagement, Agent::Ec2AgentManagement]
            }
            Self::EksRuntimeMonitoring => &[Agent::EksAddonManagement],
            _ => &[],
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl Agent {
    /// Every agent setting.
    pub const ALL: [Agent; 3] = [Self::EksAddonManagement, Self::EcsFargateAgentManagement, Self::Ec2AgentManagement];

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EksAddonManagement => "EKS_ADDON_MANAGEMENT",
            Self::EcsFargateAgentManagement => "ECS_FARGATE_AGENT_MANAGEMENT",
            Self::Ec2AgentManagement => "EC2_AGENT_MANAGEMENT",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A protection plan to turn on, with the agent settings to turn on with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The plan.
    pub feature: Feature,
    /// Its agent settings to enable (a subset of [`Feature::agents`]).
    pub agents: Vec<Agent>,
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
    /// GUARDDUTY_REGIONS: the regions to govern; `None` means every region enabled for the admin account.
    pub regions: Option<Vec<String>>,
    /// GUARDDUTY_EXCLUDED_REGIONS: taken out of the governed set.
    pub excluded_regions: BTreeSet<String>,
    /// GUARDDUTY_AUTO_ENABLE.
    pub auto_enable: AutoEnable,
    /// GUARDDUTY_FEATURES: the plans to turn on; plans not listed are left as they are.
    pub plans: Vec<Plan>,
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
}

/// The default role name in the admin account.
pub const DEFAULT_ADMIN_ROLE_NAME: &str = "GuardDutyEnablerAdmin";
/// The default number of regions worked on at once (every commercial region in one wave).
pub const DEFAULT_REGION_CONCURRENCY: usize = 32;

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
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable's value, or `None` when unset). Empty values count
    /// as unset, so that blank template parameters mean "the default".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut problems = Vec::new();
        let mut bad = |var: &'static str, message: String| problems.push(Problem { var, message });

        let admin_account = match get("GUARDDUTY_ADMIN_ACCOUNT_ID") {
            None => {
                bad(
                    "GUARDDUTY_ADMIN_ACCOUNT_ID",
                    "is required: the 12-digit id of the delegated GuardDuty administrator".into(),
                );
                None
            }
            Some(v) => match v.parse::<AccountId>() {
                Ok(id) => Some(id),
                Err(e) => {
                    bad("GUARDDUTY_ADMIN_ACCOUNT_ID", e.to_string());
                    None
                }
            },
        };

        let admin_role_name = get("GUARDDUTY_ADMIN_ROLE_NAME").unwrap_or_else(|| DEFAULT_ADMIN_ROLE_NAME.into());
        if admin_role_name.len() > 64
            || !admin_role_name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            bad(
                "GUARDDUTY_ADMIN_ROLE_NAME",
                format!(
                    "{:?} is not an IAM role name (1 to 64 of letters, digits and +=,.@_-)",
                    shorten(&admin_role_name)
                ),
            );
        }

        let mut region_list = |var: &'static str| -> Vec<String> {
            let items = list(get(var));
            for r in &items {
                if !is_region_name(r) {
                    bad(var, format!("{:?} is not a region name (like us-east-1)", shorten(r)));
                }
            }
            items
        };
        let regions = get("GUARDDUTY_REGIONS").map(|_| dedup(region_list("GUARDDUTY_REGIONS")));
        let excluded_regions: BTreeSet<String> = region_list("GUARDDUTY_EXCLUDED_REGIONS").into_iter().collect();
        if let Some(rs) = &regions {
            if rs.iter().all(|r| excluded_regions.contains(r)) {
                bad(
                    "GUARDDUTY_EXCLUDED_REGIONS",
                    "excludes every region in GUARDDUTY_REGIONS; nothing would be governed".into(),
                );
            }
        }

        let auto_enable = match get("GUARDDUTY_AUTO_ENABLE").as_deref() {
            None | Some("ALL") => AutoEnable::All,
            Some("NEW") => AutoEnable::New,
            Some("NONE") => AutoEnable::None,
            Some(other) => {
                bad("GUARDDUTY_AUTO_ENABLE", format!("{:?} is not allowed: use ALL, NEW or NONE", shorten(other)));
                AutoEnable::All
            }
        };

        let plans = match get("GUARDDUTY_FEATURES") {
            None => default_plans(),
            Some(v) => parse_plans(&v).unwrap_or_else(|message| {
                bad("GUARDDUTY_FEATURES", message);
                Vec::new()
            }),
        };

        let mut excluded_accounts = BTreeSet::new();
        for item in list(get("GUARDDUTY_EXCLUDED_ACCOUNTS")) {
            match item.parse::<AccountId>() {
                Ok(id) => {
                    excluded_accounts.insert(id);
                }
                Err(e) => bad("GUARDDUTY_EXCLUDED_ACCOUNTS", e.to_string()),
            }
        }
        let mut excluded_ous = BTreeSet::new();
        for item in list(get("GUARDDUTY_EXCLUDED_OUS")) {
            if is_ou_id(&item) {
                excluded_ous.insert(item);
            } else {
                bad(
                    "GUARDDUTY_EXCLUDED_OUS",
                    format!("{:?} is not an organizational unit id (like ou-ab12-cd34ef56)", shorten(&item)),
                );
            }
        }
        if auto_enable == AutoEnable::All && (!excluded_accounts.is_empty() || !excluded_ous.is_empty()) {
            bad(
                "GUARDDUTY_AUTO_ENABLE",
                "is ALL, which enrols every account, so exclusions cannot be honoured: use NEW or NONE with \
                 GUARDDUTY_EXCLUDED_ACCOUNTS or GUARDDUTY_EXCLUDED_OUS"
                    .into(),
            );
        }

        let finding_frequency = match get("GUARDDUTY_FINDING_FREQUENCY").as_deref() {
            None => None,
            Some("FIFTEEN_MINUTES") => Some(FindingFrequency::FifteenMinutes),
            Some("ONE_HOUR") => Some(FindingFrequency::OneHour),
            Some("SIX_HOURS") => Some(FindingFrequency::SixHours),
            Some(other) => {
                bad(
                    "GUARDDUTY_FINDING_FREQUENCY",
                    format!("{:?} is not allowed: use FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS", shorten(other)),
                );
                None
            }
        };

        let mut flag = |var: &'static str| match get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                bad(var, format!("{:?} is not allowed: use true or false", shorten(other)));
                false
            }
        };
        let dry_run = flag("GUARDDUTY_DRY_RUN");
        let allow_management_admin = flag("GUARDDUTY_ALLOW_MANAGEMENT_ADMIN");

        let region_concurrency = match get("GUARDDUTY_REGION_CONCURRENCY") {
            None => DEFAULT_REGION_CONCURRENCY,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    bad(
                        "GUARDDUTY_REGION_CONCURRENCY",
                        format!("{:?} is not allowed: use a whole number from 1 to 64", shorten(&v)),
                    );
                    DEFAULT_REGION_CONCURRENCY
                }
            },
        };

        match admin_account {
            Some(admin_account) if problems.is_empty() => Ok(Self {
                admin_account,
                admin_role_name,
                regions,
                excluded_regions,
                auto_enable,
                plans,
                excluded_accounts,
                excluded_ous,
                finding_frequency,
                dry_run,
                allow_management_admin,
                region_concurrency,
            }),
            _ => Err(ConfigError { problems }),
        }
    }

    /// A configuration with every default and the given admin, for tests and examples.
    pub fn with_admin(admin_account: AccountId) -> Self {
        Self {
            admin_account,
            admin_role_name: DEFAULT_ADMIN_ROLE_NAME.into(),
            regions: None,
            excluded_regions: BTreeSet::new(),
            auto_enable: AutoEnable::All,
            plans: default_plans(),
            excluded_accounts: BTreeSet::new(),
            excluded_ous: BTreeSet::new(),
            finding_frequency: None,
            dry_run: false,
            allow_management_admin: false,
            region_concurrency: DEFAULT_REGION_CONCURRENCY,
        }
    }
}

/// Every current plan, Runtime Monitoring with its three agent settings (the default of GUARDDUTY_FEATURES).
pub fn default_plans() -> Vec<Plan> {
    Feature::ALL
        .into_iter()
        .filter(|f| *f != Feature::EksRuntimeMonitoring)
        .map(|feature| Plan { feature, agents: feature.agents().to_vec() })
        .collect()
}

/// Parses GUARDDUTY_FEATURES: plan names, and agent names that narrow the agents of the Runtime Monitoring plan
/// listed with them (a Runtime Monitoring plan listed without agent names gets all of its agents).
fn parse_plans(value: &str) -> Result<Vec<Plan>, String> {
    let items = list(Some(value.to_owned()));
    if items.len() == 1 && items[0] == "NONE" {
        return Ok(Vec::new());
    }
    let mut features = Vec::new();
    let mut agents = Vec::new();
    for item in &items {
        if let Some(f) = Feature::parse(item) {
            if !features.contains(&f) {
                features.push(f);
            }
        } else if let Some(a) = Agent::parse(item) {
            if !agents.contains(&a) {
                agents.push(a);
            }
        } else {
            let names: Vec<&str> =
                Feature::ALL.iter().map(|f| f.as_str()).chain(Agent::ALL.iter().map(|a| a.as_str())).collect();
            return Err(format!(
                "{:?} is not a protection plan: use NONE or a comma list of {}",
                shorten(item),
                names.join(", ")
            ));
        }
    }
    if features.contains(&Feature::RuntimeMonitoring) && features.contains(&Feature::EksRuntimeMonitoring) {
        return Err("lists both RUNTIME_MONITORING and EKS_RUNTIME_MONITORING; GuardDuty accepts one of them".into());
    }
    let runtime = features.iter().copied().find(|f| !f.agents().is_empty());
    match runtime {
        None if !agents.is_empty() => {
            return Err(format!("lists {} without RUNTIME_MONITORING or EKS_RUNTIME_MONITORING", agents[0].as_str()));
        }
        Some(f) => {
            if let Some(a) = agents.iter().find(|a| !f.agents().contains(a)) {
                return Err(format!("{} is not an agent setting of {}", a.as_str(), f.as_str()));
            }
        }
        None => {}
    }
    Ok(features
        .into_iter()
        .map(|feature| {
            let chosen = if feature.agents().is_empty() {
                Vec::new()
            } else if agents.is_empty() {
                feature.agents().to_vec()
            } else {
                feature.agents().iter().copied().filter(|a| agents.contains(a)).collect()
            };
            Plan { feature, agents: chosen }
        })
        .collect())
}

fn list(value: Option<String>) -> Vec<String> {
    value.map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.into_iter().filter(|i| seen.insert(i.clone())).collect()
}

fn is_ou_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0] == "ou"
        && (4..=32).contains(&parts[1].len())
        && (8..=32).contains(&parts[2].len())
        && parts[1..].iter().all(|p| p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const ADMIN: (&str, &str) = ("GUARDDUTY_ADMIN_ACCOUNT_ID", "111111111111");

    #[test]
    fn defaults_apply_when_only_the_admin_is_given() {
        let s = parse(&[ADMIN]).expect("valid");
        assert_eq!(s.admin_account.as_str(), "111111111111");
        assert_eq!(s.admin_role_name, DEFAULT_ADMIN_ROLE_NAME);
        assert_eq!(s.regions, None);
        assert_eq!(s.auto_enable, AutoEnable::All);
        assert_eq!(s.plans, default_plans());
        assert!(!s.dry_run && !s.allow_management_admin);
        assert_eq!(s.finding_frequency, None);
    }

    #[test]
    fn the_default_plans_are_current_runtime_monitoring_with_three_agents() {
        let plans = default_plans();
        assert_eq!(plans.len(), 6);
        assert!(!plans.iter().any(|p| p.feature == Feature::EksRuntimeMonitoring));
        let rm = plans.iter().find(|p| p.feature == Feature::RuntimeMonitoring).expect("runtime monitoring");
        assert_eq!(rm.agents.len(), 3);
    }

    #[test]
    fn a_missing_admin_is_named() {
        let err = parse(&[]).unwrap_err();
        assert!(err.names("GUARDDUTY_ADMIN_ACCOUNT_ID"), "{err}");
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
    fn exclusions_are_refused_together_with_all() {
        let err = parse(&[ADMIN, ("GUARDDUTY_EXCLUDED_ACCOUNTS", "222222222222")]).unwrap_err();
        assert!(err.names("GUARDDUTY_AUTO_ENABLE"), "{err}");
        let ok = parse(&[
            ADMIN,
            ("GUARDDUTY_AUTO_ENABLE", "NEW"),
            ("GUARDDUTY_EXCLUDED_ACCOUNTS", "222222222222, 333333333333"),
        ])
        .expect("valid");
        assert_eq!(ok.excluded_accounts.len(), 2);
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
        assert_eq!(s.plans, default_plans());
    }

    #[test]
    fn features_none_manages_no_plan() {
        let s = parse(&[ADMIN, ("GUARDDUTY_FEATURES", "NONE")]).expect("valid");
        assert!(s.plans.is_empty());
    }

    #[test]
    fn agent_names_narrow_runtime_monitoring() {
        let s = parse(&[ADMIN, ("GUARDDUTY_FEATURES", "S3_DATA_EVENTS,RUNTIME_MONITORING,EC2_AGENT_MANAGEMENT")])
            .expect("valid");
        assert_eq!(
            s.plans,
            vec![
                Plan { feature: Feature::S3DataEvents, agents: vec![] },
                Plan { feature: Feature::RuntimeMonitoring, agents: vec![Agent::Ec2AgentManagement] },
            ]
        );
    }

    #[test]
    fn both_runtime_flavours_or_orphan_agents_are_refused() {
        for bad in [
            "RUNTIME_MONITORING,EKS_RUNTIME_MONITORING",
            "S3_DATA_EVENTS,EC2_AGENT_MANAGEMENT",
            "EKS_RUNTIME_MONITORING,EC2_AGENT_MANAGEMENT",
            "NONE,S3_DATA_EVENTS",
        ] {
            let err = parse(&[ADMIN, ("GUARDDUTY_FEATURES", bad)]).unwrap_err();
            assert!(err.names("GUARDDUTY_FEATURES"), "{bad}: {err}");
        }
    }

    #[test]
    fn flags_accept_true_and_false_in_any_case() {
        let s = parse(&[ADMIN, ("GUARDDUTY_DRY_RUN", "TRUE"), ("GUARDDUTY_ALLOW_MANAGEMENT_ADMIN", "False")])
            .expect("valid");
        assert!(s.dry_run);
        assert!(!s.allow_management_admin);
    }

    #[test]
    fn a_huge_value_gives_a_short_error() {
        let huge = "x".repeat(100_000);
        let err = parse(&[ADMIN, ("GUARDDUTY_AUTO_ENABLE", &huge)]).unwrap_err();
        assert!(err.to_string().len() < 300);
    }
}
