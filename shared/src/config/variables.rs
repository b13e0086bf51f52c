//! One definition per `GUARDDUTY_*` variable: its name, the template parameter (and custom-resource property) that
//! carries it, a line of documentation, its default as documented, and how its value is read. The functions, the
//! command line (which derives its flags from these) and the README's table all come from this list.

use std::collections::BTreeSet;

use super::plans::{OuPlans, PlanSelection};
use super::{AutoEnable, Enablement, FindingFrequency, Settings, DEFAULT_REGION_CONCURRENCY};
use crate::ids::{is_region_name, shorten, AccountId};

/// A configuration variable.
pub struct Variable {
    /// The environment variable, `GUARDDUTY_...`.
    pub name: &'static str,
    /// The template parameter and custom-resource property that carries it (CamelCase).
    pub property: &'static str,
    /// What it means, in one line.
    pub doc: &'static str,
    /// Its default, as documented.
    pub default: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// Whether it is `true` or `false` (a command-line flag may then be given without a value, meaning `true`).
    pub switch: bool,
    /// Reads a non-empty, trimmed value into the settings, or says what is wrong and what is allowed.
    pub(crate) read: fn(&str, &mut Settings) -> Result<(), String>,
}

impl Variable {
    /// The command-line flag: the name without its `GUARDDUTY_` prefix, in lower case with dashes
    /// (GUARDDUTY_ADMIN_ACCOUNT_ID is `admin-account-id`).
    pub fn flag(&self) -> String {
        self.name.trim_start_matches("GUARDDUTY_").to_ascii_lowercase().replace('_', "-")
    }

    pub(crate) fn required_message(&self) -> String {
        format!("is required: {}", self.doc)
    }
}

/// Every variable, in the order the README lists them.
pub const VARIABLES: [Variable; 21] = [
    Variable {
        name: "GUARDDUTY_ADMIN_ACCOUNT_ID",
        property: "AdminAccountId",
        doc: "the delegated GuardDuty administrator (12 digits)",
        default: "required",
        switch: false,
        required: true,
        read: |v, s| {
            s.admin_account = v.parse::<AccountId>().map_err(|e| e.to_string())?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_ADMIN_ROLE_NAME",
        property: "AdminRoleName",
        doc: "the role assumed in the admin account",
        default: "`GuardDutyEnablerAdmin`",
        switch: false,
        required: false,
        read: |v, s| {
            if v.len() > 64 || !v.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
                return Err(format!(
                    "{:?} is not an IAM role name (1 to 64 of letters, digits and +=,.@_-)",
                    shorten(v, 64)
                ));
            }
            s.admin_role_name = v.to_owned();
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_REGIONS",
        property: "Regions",
        doc: "comma list of regions to govern",
        default: "every region enabled for both the admin and the management account (`account:ListRegions`)",
        switch: false,
        required: false,
        read: |v, s| {
            let mut seen = BTreeSet::new();
            s.regions = Some(regions(v)?.into_iter().filter(|r| seen.insert(r.clone())).collect());
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_EXCLUDED_REGIONS",
        property: "ExcludedRegions",
        doc: "comma list taken out of that set",
        default: "empty",
        switch: false,
        required: false,
        read: |v, s| {
            s.excluded_regions = regions(v)?.into_iter().collect();
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_ENABLEMENT",
        property: "Enablement",
        doc: "`auto`, `api` or `policy`: how GuardDuty is enabled (see GuardDuty policies or organization settings)",
        default: "`auto`: `policy` where the organization has the GuardDuty policy type enabled, else `api`",
        switch: false,
        required: false,
        read: |v, s| {
            s.enablement = match v {
                "auto" => Enablement::Auto,
                "api" => Enablement::Api,
                "policy" => Enablement::Policy,
                other => return Err(format!("{:?} is not allowed: use auto, api or policy", shorten(other, 64))),
            };
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_POLICY_NAME",
        property: "PolicyName",
        doc: "the name of the GuardDuty policy this tool owns with `GUARDDUTY_ENABLEMENT=policy`",
        default: "`guardduty-enabler` (the template passes the stack's name)",
        switch: false,
        required: false,
        read: |v, s| {
            // CreatePolicy API reference: Name, 1 to 128 characters of the pattern [\s\S]*; kept to the characters a
            // stack name has, so that it reads the same in every console.
            if v.len() > 128 || !v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(format!(
                    "{:?} is not a policy name this tool writes (1 to 128 letters, digits, -, _ and .)",
                    shorten(v, 64)
                ));
            }
            s.policy_name = v.to_owned();
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_AUTO_ENABLE",
        property: "AutoEnable",
        doc: "`ALL`, `NEW` or `NONE` (`AutoEnableOrganizationMembers`); exclusions need `NONE`",
        default: "`ALL`",
        switch: false,
        required: false,
        read: |v, s| {
            s.auto_enable = match v {
                "ALL" => AutoEnable::All,
                "NEW" => AutoEnable::New,
                "NONE" => AutoEnable::None,
                other => return Err(format!("{:?} is not allowed: use ALL, NEW or NONE", shorten(other, 64))),
            };
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_FEATURES",
        property: "Features",
        doc: "comma list of protection plans (and additional configurations), or `NONE`",
        default: "every plan each region offers (`DescribeOrganizationConfiguration`), with all its additional configurations",
        switch: false,
        required: false,
        read: |v, s| {
            s.plans = PlanSelection::parse(v)?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_FEATURES_BY_OU",
        property: "FeaturesByOu",
        doc: "`ou-...=PLAN,PLAN;ou-...=FOUNDATIONAL`: accounts under an organizational unit (at any depth; the deepest listed wins) get exactly these plans, the region's others turned off",
        default: "empty: every account gets `GUARDDUTY_FEATURES`, and no plan is ever turned off",
        switch: false,
        required: false,
        read: |v, s| {
            s.plans_by_ou = OuPlans::parse_all(v, is_ou_id)?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_EXCLUDED_ACCOUNTS",
        property: "ExcludedAccounts",
        doc: "accounts never made members; needs `GUARDDUTY_AUTO_ENABLE=NONE` or `GUARDDUTY_ENABLEMENT=policy`",
        default: "empty",
        switch: false,
        required: false,
        read: |v, s| {
            s.excluded_accounts =
                list(v).map(|item| item.parse::<AccountId>().map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_EXCLUDED_OUS",
        property: "ExcludedOus",
        doc: "organizational units (at any depth) whose accounts are never made members; needs `GUARDDUTY_AUTO_ENABLE=NONE` or `GUARDDUTY_ENABLEMENT=policy`",
        default: "empty",
        switch: false,
        required: false,
        read: |v, s| {
            s.excluded_ous = list(v)
                .map(|item| {
                    if is_ou_id(item) {
                        Ok(item.to_owned())
                    } else {
                        Err(format!(
                            "{:?} is not an organizational unit id (like ou-ab12-cd34ef56)",
                            shorten(item, 64)
                        ))
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_FINDING_FREQUENCY",
        property: "FindingFrequency",
        doc: "`FIFTEEN_MINUTES`, `ONE_HOUR` or `SIX_HOURS`, set on the admin's detector",
        default: "left as the service has it",
        switch: false,
        required: false,
        read: |v, s| {
            s.finding_frequency = Some(match v {
                "FIFTEEN_MINUTES" => FindingFrequency::FifteenMinutes,
                "ONE_HOUR" => FindingFrequency::OneHour,
                "SIX_HOURS" => FindingFrequency::SixHours,
                other => {
                    return Err(format!(
                        "{:?} is not allowed: use FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS",
                        shorten(other, 64)
                    ))
                }
            });
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_FINDINGS_DESTINATION",
        property: "FindingsDestination",
        doc: "`arn:<partition>:s3:::BUCKET` or `arn:<partition>:s3:::BUCKET/PREFIX`: where every governed region's findings are exported (with `GUARDDUTY_FINDINGS_KMS_KEY`)",
        default: "no export (GuardDuty keeps findings 90 days)",
        switch: false,
        required: false,
        read: |v, s| {
            s.destination = Some(s3_destination(v)?);
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_FINDINGS_KMS_KEY",
        property: "FindingsKmsKey",
        doc: "`arn:<partition>:kms:<region>:<account>:key/<id>`: the key exported findings are encrypted with, in the bucket's region (with `GUARDDUTY_FINDINGS_DESTINATION`)",
        default: "none",
        switch: false,
        required: false,
        read: |v, s| {
            s.kms_key = Some(kms_key(v)?);
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_EVIDENCE_BUCKET",
        property: "EvidenceBucket",
        doc: "the S3 bucket (its name) where the schedule keeps the evidence record, gzip JSON under `evidence/YYYY/MM/DD/` (`guardduty-enabler report --from --to` reads it)",
        default: "none: no record is kept (the template names the findings bucket it deploys)",
        switch: false,
        required: false,
        read: |v, s| {
            s.evidence_bucket = Some(bucket_name(v)?);
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_DRY_RUN",
        property: "DryRun",
        doc: "`true`: read and plan, write nothing",
        default: "`false`",
        switch: true,
        required: false,
        read: |v, s| {
            s.dry_run = flag(v)?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_ALLOW_MANAGEMENT_ADMIN",
        property: "AllowManagementAdmin",
        doc: "`true` allows the admin to be the management account",
        default: "`false`",
        switch: true,
        required: false,
        read: |v, s| {
            s.allow_management_admin = flag(v)?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_REGION_CONCURRENCY",
        property: "RegionConcurrency",
        doc: "regions worked on at once (1 to 64)",
        default: "`32`",
        switch: false,
        required: false,
        read: |v, s| {
            s.region_concurrency = match v.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    return Err(format!("{:?} is not allowed: use a whole number from 1 to 64", shorten(v, 64)));
                }
            };
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_TAMPER_REVERT",
        property: "TamperRevert",
        doc: "what the responder reverts besides raising it, of `filters` (an ARCHIVE filter set to NOOP), `ip_sets` (a trusted IP list activated: deactivated), `threat_lists` (a threat list turned off: on again)",
        default: "none: raised, never reverted",
        switch: false,
        required: false,
        read: |v, s| {
            s.tamper_revert = list(v)
                .map(|kind| match kind {
                    "filters" | "ip_sets" | "threat_lists" => Ok(kind.to_owned()),
                    other => Err(format!(
                        "{:?} is not allowed: use filters, ip_sets or threat_lists (comma-separated)",
                        shorten(other, 64)
                    )),
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_TAMPER_ALLOWED_FILTERS",
        property: "TamperAllowedFilters",
        doc: "names of saved filters that are legitimate suppression: the responder neither raises nor reverts them",
        default: "none",
        switch: false,
        required: false,
        read: |v, s| {
            // Filter names: 3 to 64 of letters, digits, `-`, `_` and `.` (CreateFilter API reference, Name).
            s.tamper_allowed_filters = list(v)
                .map(|name| {
                    let valid = (3..=64).contains(&name.len())
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                    if valid {
                        Ok(name.to_owned())
                    } else {
                        Err(format!("{:?} is not a filter name (3 to 64 letters, digits, -, _ and .)", shorten(name, 64)))
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Variable {
        name: "GUARDDUTY_TAMPER_PAUSE_UNTIL",
        property: "TamperPauseUntil",
        doc: "a maintenance window: until this UTC time (RFC 3339, like `2026-12-24T18:00:00Z`) the responder repairs nothing and still raises every tamper call",
        default: "none",
        switch: false,
        required: false,
        read: |v, s| {
            let at = aws_smithy_types::DateTime::from_str(v, aws_smithy_types::date_time::Format::DateTime)
                .map_err(|_| format!("{:?} is not a UTC time like 2026-12-24T18:00:00Z", shorten(v, 64)))?;
            s.tamper_pause_until_ms = Some(at.to_millis().map_err(|e| e.to_string())?);
            Ok(())
        },
    },
];

const _: () = assert!(DEFAULT_REGION_CONCURRENCY == 32, "the documented default above");

/// The items of a comma list, trimmed, without empty ones.
pub(crate) fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn regions(value: &str) -> Result<Vec<String>, String> {
    list(value)
        .map(|r| {
            if is_region_name(r) {
                Ok(r.to_owned())
            } else {
                Err(format!("{:?} is not a region name (like us-east-1)", shorten(r, 64)))
            }
        })
        .collect()
}

/// The partitions of AWS (as the SDK's partition table names them).
const PARTITIONS: [&str; 8] =
    ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

/// An S3 destination ARN: (the ARN, its partition, its bucket). Bucket names as the S3 User Guide's naming rules have
/// them (3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit); the prefix,
/// when given, is kept as it is ("To specify an S3 bucket folder use the following format:
/// arn:aws:s3:::DOC-EXAMPLE-BUCKET/myFolder/", DestinationProperties API reference).
fn s3_destination(v: &str) -> Result<(String, String, String), String> {
    let bad =
        || format!("{:?} is not an S3 bucket ARN (arn:aws:s3:::BUCKET or arn:aws:s3:::BUCKET/PREFIX)", shorten(v, 80));
    let rest = v.strip_prefix("arn:").ok_or_else(bad)?;
    let (partition, rest) = rest.split_once(':').ok_or_else(bad)?;
    let path = rest.strip_prefix("s3:::").ok_or_else(bad)?;
    let bucket = path.split('/').next().unwrap_or_default();
    let named = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !PARTITIONS.contains(&partition) || !named || path.contains("//") {
        return Err(bad());
    }
    Ok((v.to_owned(), partition.to_owned(), bucket.to_owned()))
}

/// A bucket name, by the S3 User Guide's "General purpose bucket naming rules": 3 to 63 characters of lowercase
/// letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two adjacent dots, not formatted
/// as an IP address, and none of the reserved prefixes (`xn--`, `sthree-`, `amzn-s3-demo-`) or suffixes (`-s3alias`,
/// `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`).
fn bucket_name(v: &str) -> Result<String, String> {
    let bad = || {
        format!("{:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)", shorten(v, 80))
    };
    let charset = v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends = v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.ends_with(|c: char| c.is_ascii_alphanumeric());
    let ip = v.split('.').count() == 4 && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let reserved = ["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| v.starts_with(p))
        || ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|s| v.ends_with(s));
    if !(3..=63).contains(&v.len()) || !charset || !ends || v.contains("..") || ip || reserved {
        return Err(bad());
    }
    Ok(v.to_owned())
}

/// A KMS key ARN: (the ARN, its partition, its region). Not an alias: GuardDuty takes "The ARN of the KMS key to use
/// for encryption" (DestinationProperties API reference).
fn kms_key(v: &str) -> Result<(String, String, String), String> {
    let bad = || format!("{:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)", shorten(v, 80));
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else { return Err(bad()) };
    let key = resource.strip_prefix("key/").unwrap_or_default();
    let valid = arn == "arn"
        && PARTITIONS.contains(&partition)
        && service == "kms"
        && is_region_name(region)
        && account.parse::<AccountId>().is_ok()
        && !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(bad());
    }
    Ok((v.to_owned(), partition.to_owned(), region.to_owned()))
}

fn flag(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{:?} is not allowed: use true or false", shorten(value, 64))),
    }
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
    use super::*;

    #[test]
    fn flags_drop_the_prefix() {
        let flags: Vec<String> = VARIABLES.iter().map(Variable::flag).collect();
        assert!(flags.contains(&"admin-account-id".to_owned()));
        assert!(flags.contains(&"regions".to_owned()));
        assert!(flags.iter().all(|f| !f.contains('_') && f == &f.to_ascii_lowercase()));
    }

    #[test]
    fn the_readme_table_lists_exactly_these_variables_as_defined_here() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `GUARDDUTY_")).collect();
        let expected: Vec<String> =
            VARIABLES.iter().map(|v| format!("| `{}` | {} | {} |", v.name, v.doc, v.default)).collect();
        assert_eq!(
            rows,
            expected,
            "the README's configuration table, as these definitions write it:\n{}",
            expected.join("\n")
        );
    }

    #[test]
    fn evidence_buckets_follow_the_s3_naming_rules() {
        for good in ["evidence", "org-evidence.2026", "a1b"] {
            assert_eq!(bucket_name(good).as_deref(), Ok(good));
        }
        for bad in [
            "ab",
            "Evidence",
            "s3://evidence",
            "-evidence",
            "evidence.",
            "ev..idence",
            "192.168.5.4",
            "xn--x",
            "x-s3alias",
            &"a".repeat(64),
        ] {
            assert!(bucket_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn names_and_properties_are_unique() {
        let names: BTreeSet<&str> = VARIABLES.iter().map(|v| v.name).collect();
        let properties: BTreeSet<&str> = VARIABLES.iter().map(|v| v.property).collect();
        assert_eq!(names.len(), VARIABLES.len());
        assert_eq!(properties.len(), VARIABLES.len());
        assert!(VARIABLES.iter().all(|v| v.name.starts_with("GUARDDUTY_")));
    }
}
