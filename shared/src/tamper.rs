//! Tamper: what a call someone else made to GuardDuty or to the organization's policy plane did to what this tool
//! keeps, read from the call as CloudTrail records it ("AWS API Call via CloudTrail" events, EventBridge User Guide,
//! "Events from AWS services delivered via AWS CloudTrail"), and what to do about it. Pure: no AWS call, no clock.
//!
//! A call is undone only where the tool owns what it changed, and only there (that account, that region); a place
//! where findings can be silenced (an ARCHIVE filter, an active trusted IP list, a threat list deleted or turned off)
//! is raised, never undone, since it may be a legitimate suppression. A call GuardDuty refused (`errorCode`) is an
//! attempt: raised, nothing written. A call made by one of this tool's own roles is skipped, so that a repair never
//! answers itself.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::ids::AccountId;

/// GuardDuty's calls that weaken what this tool keeps, or silence findings; no read-only call is among them.
pub const GUARDDUTY_CALLS: [&str; 18] = [
    "DeleteDetector",
    "UpdateDetector",
    "DisassociateMembers",
    "DeleteMembers",
    "StopMonitoringMembers",
    "UpdateMemberDetectors",
    "UpdateOrganizationConfiguration",
    "DisableOrganizationAdminAccount",
    "DeletePublishingDestination",
    "UpdatePublishingDestination",
    "CreateFilter",
    "UpdateFilter",
    "CreateIPSet",
    "UpdateIPSet",
    "DeleteThreatIntelSet",
    "UpdateThreatIntelSet",
    "DisassociateFromAdministratorAccount",
    "DisassociateFromMasterAccount",
];

/// Organizations' calls that undo GuardDuty's foundation (the delegated admin, trusted access) or its policies.
pub const ORGANIZATIONS_CALLS: [&str; 6] = [
    "DetachPolicy",
    "UpdatePolicy",
    "DeletePolicy",
    "DisablePolicyType",
    "DeregisterDelegatedAdministrator",
    "DisableAWSServiceAccess",
];

/// The service principals through which Organizations knows GuardDuty ("AWS services that you can use with AWS
/// Organizations": GuardDuty, and its Malware Protection for EC2's service-linked role).
const GUARDDUTY_PRINCIPALS: [&str; 2] = ["guardduty.amazonaws.com", "malware-protection.guardduty.amazonaws.com"];

/// What a call broke that this tool can put back, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "repair", rename_all = "snake_case")]
pub enum Repair {
    /// Memberships removed (DisassociateMembers, DeleteMembers, a member's own
    /// DisassociateFromAdministratorAccount): these accounts made Enabled members again in `region`.
    Members {
        /// The region.
        region: String,
        /// The accounts.
        accounts: Vec<AccountId>,
    },
    /// Members' monitoring stopped (StopMonitoringMembers; the membership stays, "Disabled"): monitoring restarted
    /// for these accounts in `region` first, the rest of an onboarding only where that does not make them Enabled.
    Monitoring {
        /// The region.
        region: String,
        /// The accounts.
        accounts: Vec<AccountId>,
    },
    /// Members' plans changed (UpdateMemberDetectors): these accounts' plans brought back in `region`.
    MemberPlans {
        /// The region.
        region: String,
        /// The accounts.
        accounts: Vec<AccountId>,
    },
    /// The foundation of `region` changed (the admin's or the management account's detector, the organization
    /// configuration, the findings export, the designation): re-asserted there, members untouched.
    Foundation {
        /// The region.
        region: String,
    },
    /// A call that undoes every membership of `region` with its foundation (the admin's DeleteDetector, or
    /// DisableOrganizationAdminAccount: GuardDuty removes the admin's members with it): that region reconciled whole.
    Region {
        /// The region.
        region: String,
    },
    /// The foundation of the whole organization (DeregisterDelegatedAdministrator or DisableAWSServiceAccess for
    /// GuardDuty, which end the delegation and with it every membership): every governed region reconciled.
    Organization,
    /// A GuardDuty policy, or the policy type, changed (DetachPolicy, UpdatePolicy, DeletePolicy,
    /// DisablePolicyType): the policies this tool owns put back, where it owns one.
    Policies,
}

impl Repair {
    /// The key a repair is counted under for flapping: the kind, with its region where it has one.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Members { .. } => "members",
            Self::Monitoring { .. } => "monitoring",
            Self::MemberPlans { .. } => "member_plans",
            Self::Foundation { .. } => "foundation",
            Self::Region { .. } => "region",
            Self::Organization => "organization",
            Self::Policies => "policies",
        }
    }

    /// The region it is confined to, if one.
    pub fn region(&self) -> Option<&str> {
        match self {
            Self::Members { region, .. }
            | Self::Monitoring { region, .. }
            | Self::MemberPlans { region, .. }
            | Self::Foundation { region }
            | Self::Region { region } => Some(region),
            Self::Organization | Self::Policies => None,
        }
    }
}

/// A place where findings can be silenced without turning anything off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Silencing {
    /// A saved filter whose action is ARCHIVE (or may be: an UpdateFilter that does not say).
    Filter,
    /// A trusted IP list, activated or moved (findings from its addresses are not generated).
    IpSet,
    /// A threat list deleted, turned off or moved (findings from its addresses are no longer generated).
    ThreatList,
}

/// What to do about a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Put back what it broke.
    Repair(Repair),
    /// Raise it, and put back what it silenced (GUARDDUTY_TAMPER_REVERT asks for this kind).
    Revert {
        /// What it silenced.
        what: Silencing,
        /// The region of the admin's detector it changed.
        region: String,
        /// The filter's name, or the list's id.
        target: String,
        /// What it did.
        why: String,
    },
    /// Raise it (metric and log), write nothing.
    Raise {
        /// What it is.
        what: Raised,
        /// Why it is raised and not undone.
        why: String,
    },
    /// Nothing to do, nothing to raise.
    Skip {
        /// Why.
        why: String,
    },
}

/// What is raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Raised {
    /// A call GuardDuty or Organizations refused: an attempt.
    Attempt,
    /// A place where findings can be silenced.
    Silencing(Silencing),
    /// A call the tool would undo, in a maintenance window (GUARDDUTY_TAMPER_PAUSE_UNTIL).
    Paused,
}

/// A call, as CloudTrail recorded it: who, what, where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Call {
    /// The API action (`eventName`).
    pub name: String,
    /// `aws.guardduty` or `aws.organizations`.
    pub source: String,
    /// The account whose API was called (`recipientAccountId`).
    pub account: AccountId,
    /// The region of the call (`awsRegion`).
    pub region: String,
    /// The caller: the role behind an assumed-role session (`sessionContext.sessionIssuer.arn`), else its ARN.
    pub principal: Option<String>,
    /// The caller's address (`sourceIPAddress`).
    pub source_ip: Option<String>,
    /// Set when AWS refused the call (`errorCode`).
    pub error_code: Option<String>,
    /// The call's parameters as recorded (`requestParameters`), in the API reference's names.
    #[serde(skip)]
    pub parameters: Value,
    /// What AWS answered (`responseElements`): a new list's id.
    #[serde(skip)]
    pub response: Value,
    /// When the call was made, in milliseconds since the epoch (the event's `time`).
    pub time_ms: Option<i64>,
}

/// What the tool keeps, as far as a decision needs it.
#[derive(Clone, Debug)]
pub struct Keeper<'a> {
    /// The delegated admin.
    pub admin: AccountId,
    /// The management account, where the call may be to its detector ([`Call::concerns_a_detector`]).
    pub management: Option<AccountId>,
    /// The tool's own roles (ARNs): a call they made is the tool's own.
    pub own_roles: &'a [String],
    /// The silencing kinds to revert (GUARDDUTY_TAMPER_REVERT: `filters`, `ip_sets`, `threat_lists`).
    pub revert: &'a BTreeSet<String>,
    /// Saved filters that are legitimate suppression (GUARDDUTY_TAMPER_ALLOWED_FILTERS).
    pub allowed_filters: &'a BTreeSet<String>,
    /// Until when repairs and reverts are suspended (GUARDDUTY_TAMPER_PAUSE_UNTIL), when it is still ahead: the
    /// time as given.
    pub paused_until: Option<String>,
}

impl Call {
    /// The call in an "AWS API Call via CloudTrail" event's `detail` (with the envelope's `source` and `time`); `None`
    /// when the event is not such a call of a name in [`GUARDDUTY_CALLS`] or [`ORGANIZATIONS_CALLS`]. An event of
    /// such a name without a valid account or region is an error.
    pub fn from_event(source: &str, detail: &Value, time_ms: Option<i64>) -> Option<Result<Self, String>> {
        let name = detail.get("eventName").and_then(Value::as_str)?;
        let known = match source {
            "aws.guardduty" => GUARDDUTY_CALLS.contains(&name),
            "aws.organizations" => ORGANIZATIONS_CALLS.contains(&name),
            _ => false,
        };
        if !known {
            return None;
        }
        Some(Self::read(name, source, detail, time_ms))
    }

    fn read(name: &str, source: &str, detail: &Value, time_ms: Option<i64>) -> Result<Self, String> {
        let text = |pointer: &str| detail.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let account = text("/recipientAccountId")
            .ok_or_else(|| format!("{name} has no recipientAccountId"))?
            .parse::<AccountId>()
            .map_err(|e| format!("{name}: recipientAccountId: {e}"))?;
        let region = text("/awsRegion").ok_or_else(|| format!("{name} has no awsRegion"))?;
        if !crate::ids::is_region_name(&region) {
            return Err(format!("{name}: awsRegion {:?} is not a region name", crate::ids::shorten(&region, 32)));
        }
        Ok(Self {
            name: name.to_owned(),
            source: source.to_owned(),
            account,
            region,
            principal: text("/userIdentity/sessionContext/sessionIssuer/arn").or_else(|| text("/userIdentity/arn")),
            source_ip: text("/sourceIPAddress"),
            error_code: text("/errorCode"),
            parameters: detail.get("requestParameters").cloned().unwrap_or(Value::Null),
            response: detail.get("responseElements").cloned().unwrap_or(Value::Null),
            time_ms,
        })
    }

    fn parameter(&self, name: &str) -> Option<&Value> {
        self.parameters.get(name)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.parameter(name).and_then(Value::as_str)
    }

    /// The accounts named by `accountIds`, each valid.
    fn account_ids(&self) -> Result<Vec<AccountId>, String> {
        let ids = self
            .parameter("accountIds")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{} names no accounts (requestParameters.accountIds)", self.name))?;
        ids.iter()
            .map(|id| {
                id.as_str()
                    .ok_or_else(|| format!("{}: an account id is not a string", self.name))?
                    .parse::<AccountId>()
                    .map_err(|e| format!("{}: {e}", self.name))
            })
            .collect()
    }

    /// Whether the caller is one of `own_roles`: compared by account and role name, whatever the role's path.
    pub fn is_by(&self, own_roles: &[String]) -> bool {
        let Some(principal) = self.principal.as_deref() else { return false };
        let caller = role_of(principal);
        caller.is_some() && own_roles.iter().any(|own| role_of(own) == caller)
    }

    /// Whether deciding needs the management account: a successful call by someone else to a detector, which may
    /// be the management account's.
    pub fn concerns_a_detector(&self, own_roles: &[String]) -> bool {
        matches!(self.name.as_str(), "DeleteDetector" | "UpdateDetector")
            && self.error_code.is_none()
            && !self.is_by(own_roles)
    }
}

/// The account and the role name (its last path segment) of a role ARN.
fn role_of(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let path = resource.strip_prefix("role/")?;
    (service == "iam").then(|| (account, path.rsplit('/').next().unwrap_or(path)))
}

/// What to do about `call`, given what the tool keeps. An error is a call of a known name whose parameters do not
/// say what it changed (a malformed event).
pub fn decide(call: &Call, keeper: &Keeper<'_>) -> Result<Decision, String> {
    if call.is_by(keeper.own_roles) {
        return Ok(skip(format!("{} was made by this tool's own role: never answered", call.name)));
    }
    if let Some(code) = &call.error_code {
        return Ok(Decision::Raise {
            what: Raised::Attempt,
            why: format!("{} was refused ({code}): an attempt, nothing to undo", call.name),
        });
    }
    let decision = match call.source.as_str() {
        "aws.organizations" => organizations(call),
        _ => guardduty(call, keeper)?,
    };
    Ok(match (&keeper.paused_until, decision) {
        (Some(until), Decision::Repair(r)) => Decision::Raise {
            what: Raised::Paused,
            why: format!("{} would be repaired ({}), but repairs are paused until {until}", call.name, r.kind()),
        },
        (Some(until), Decision::Revert { what, why, .. }) => Decision::Raise {
            what: Raised::Silencing(what),
            why: format!("{why}; not reverted: repairs are paused until {until}"),
        },
        (_, decision) => decision,
    })
}

fn skip(why: String) -> Decision {
    Decision::Skip { why }
}

fn repair(r: Repair) -> Result<Decision, String> {
    Ok(Decision::Repair(r))
}

/// A silencing change: reverted where GUARDDUTY_TAMPER_REVERT names its kind and `target` can be put back, raised
/// otherwise.
fn silenced(
    call: &Call,
    keeper: &Keeper<'_>,
    what: Silencing,
    target: Option<&str>,
    why: String,
) -> Result<Decision, String> {
    let kind = match what {
        Silencing::Filter => "filters",
        Silencing::IpSet => "ip_sets",
        Silencing::ThreatList => "threat_lists",
    };
    Ok(match target {
        Some(target) if keeper.revert.contains(kind) => {
            Decision::Revert { what, region: call.region.clone(), target: target.to_owned(), why }
        }
        _ => Decision::Raise { what: Raised::Silencing(what), why },
    })
}

fn guardduty(call: &Call, keeper: &Keeper<'_>) -> Result<Decision, String> {
    let region = call.region.clone();
    let keeps_detector = call.account == keeper.admin || Some(call.account) == keeper.management;
    match call.name.as_str() {
        "DisassociateMembers" | "DeleteMembers" => repair(Repair::Members { region, accounts: call.account_ids()? }),
        "StopMonitoringMembers" => repair(Repair::Monitoring { region, accounts: call.account_ids()? }),
        "UpdateMemberDetectors" => repair(Repair::MemberPlans { region, accounts: call.account_ids()? }),
        // The admin's and the management account's detectors are the foundation; a member's own detector is put
        // back by its membership (a member of an organization cannot delete it while it is a member). The admin's
        // detector deleted takes its members with it ("When you delete a detector, ... the member accounts are
        // disassociated", DeleteDetector in the GuardDuty User Guide's "Suspending or disabling GuardDuty").
        "DeleteDetector" if call.account == keeper.admin => repair(Repair::Region { region }),
        "DeleteDetector" | "UpdateDetector" if keeps_detector => repair(Repair::Foundation { region }),
        "DeleteDetector"
        | "UpdateDetector"
        | "DisassociateFromAdministratorAccount"
        | "DisassociateFromMasterAccount" => repair(Repair::Members { region, accounts: vec![call.account] }),
        // Removing the delegated admin removes its members in that region too (GuardDuty User Guide, "Changing the
        // delegated GuardDuty administrator account").
        "DisableOrganizationAdminAccount" => repair(Repair::Region { region }),
        "UpdateOrganizationConfiguration" | "DeletePublishingDestination" | "UpdatePublishingDestination" => {
            repair(Repair::Foundation { region })
        }
        "CreateFilter" | "UpdateFilter" => filter(call, keeper),
        "CreateIPSet" | "UpdateIPSet" => ip_set(call, keeper),
        "DeleteThreatIntelSet" | "UpdateThreatIntelSet" => threat_list(call, keeper),
        other => Ok(skip(format!("{other} is not a call this tool answers"))),
    }
}

/// CreateFilter names its filter `name`, UpdateFilter `filterName` (GuardDuty API Reference); `action` is
/// `NOOP` or `ARCHIVE`, and an UpdateFilter that leaves it out keeps the filter's action, which may be ARCHIVE.
fn filter(call: &Call, keeper: &Keeper<'_>) -> Result<Decision, String> {
    let named = call.text("name").or_else(|| call.text("filterName"));
    let name = named.unwrap_or("(no name)");
    if keeper.allowed_filters.contains(name) {
        return Ok(skip(format!("{} of filter {name:?}, allowed by GUARDDUTY_TAMPER_ALLOWED_FILTERS", call.name)));
    }
    match call.text("action") {
        Some(action) if action.eq_ignore_ascii_case("NOOP") => {
            Ok(skip(format!("{} of filter {name:?} with action NOOP silences nothing", call.name)))
        }
        action => {
            let criteria =
                call.parameter("findingCriteria").map(Value::to_string).unwrap_or_else(|| "unchanged".into());
            let action = action.map_or("its action unchanged (it may archive)".to_owned(), |a| format!("action {a}"));
            let why = format!("{} of filter {name:?}, {action}, criteria {criteria}", call.name);
            silenced(call, keeper, Silencing::Filter, named, why)
        }
    }
}

/// A trusted IP list silences the findings of its addresses once active (`activate`); CreateIPSet names it `name`,
/// UpdateIPSet `ipSetId`. Turning one off silences nothing.
fn ip_set(call: &Call, keeper: &Keeper<'_>) -> Result<Decision, String> {
    let name = call.text("name").or_else(|| call.text("ipSetId")).unwrap_or("(no name)");
    let activate = call.parameter("activate").and_then(Value::as_bool);
    let moved = call.parameter("location").is_some();
    if activate == Some(false) || (activate.is_none() && !moved) {
        return Ok(skip(format!("{} of trusted IP list {name:?} activates nothing", call.name)));
    }
    let location = call.text("location").unwrap_or("unchanged");
    let why = format!("{} of trusted IP list {name:?}: active, location {location}", call.name);
    // The list's id: UpdateIPSet names it; CreateIPSet answers it (CreateIPSet response, `ipSetId`).
    let id = call.text("ipSetId").or_else(|| call.response.get("ipSetId").and_then(Value::as_str));
    silenced(call, keeper, Silencing::IpSet, id, why)
}

/// A threat list deleted, turned off or moved no longer raises findings for its addresses.
fn threat_list(call: &Call, keeper: &Keeper<'_>) -> Result<Decision, String> {
    let id = call.text("threatIntelSetId").unwrap_or("(no id)");
    let turned_off = call.parameter("activate").and_then(Value::as_bool) == Some(false);
    if call.name == "UpdateThreatIntelSet" && !turned_off && call.parameter("location").is_none() {
        return Ok(skip(format!("UpdateThreatIntelSet of {id:?} neither turns it off nor moves it")));
    }
    let why = format!("{} of threat list {id:?}", call.name);
    // Only a list turned off can be put back as it was (on again); a deleted or moved one cannot.
    let target = (call.name == "UpdateThreatIntelSet" && turned_off && call.parameter("location").is_none())
        .then(|| call.text("threatIntelSetId"))
        .flatten();
    silenced(call, keeper, Silencing::ThreatList, target, why)
}

fn organizations(call: &Call) -> Decision {
    let principal = call.text("servicePrincipal").unwrap_or_default();
    match call.name.as_str() {
        "DeregisterDelegatedAdministrator" | "DisableAWSServiceAccess" if GUARDDUTY_PRINCIPALS.contains(&principal) => {
            Decision::Repair(Repair::Organization)
        }
        "DeregisterDelegatedAdministrator" | "DisableAWSServiceAccess" => {
            skip(format!("{} for {principal:?}, not GuardDuty", call.name))
        }
        "DisablePolicyType" if call.text("policyType") != Some("GUARDDUTY_POLICY") => {
            skip(format!("DisablePolicyType of {:?}, not GUARDDUTY_POLICY", call.text("policyType").unwrap_or("")))
        }
        _ => Decision::Repair(Repair::Policies),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ADMIN: &str = "777788889999";
    const MANAGEMENT: &str = "111122223333";
    const MEMBER: &str = "444455556666";

    fn own() -> Vec<String> {
        vec![
            format!("arn:aws:iam::{MANAGEMENT}:role/guardduty-enabler-responder"),
            format!("arn:aws:iam::{ADMIN}:role/GuardDutyEnablerAdmin"),
        ]
    }

    fn decide_on(source: &str, detail: Value) -> Result<Decision, String> {
        decide_with(source, detail, &[], &[], None)
    }

    fn decide_with(
        source: &str,
        detail: Value,
        revert: &[&str],
        allowed: &[&str],
        paused_until: Option<&str>,
    ) -> Result<Decision, String> {
        let own = own();
        let revert: BTreeSet<String> = revert.iter().map(|s| s.to_string()).collect();
        let allowed_filters: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let keeper = Keeper {
            admin: ADMIN.parse().expect("id"),
            management: Some(MANAGEMENT.parse().expect("id")),
            own_roles: &own,
            revert: &revert,
            allowed_filters: &allowed_filters,
            paused_until: paused_until.map(str::to_owned),
        };
        let call = Call::from_event(source, &detail, None).expect("a known call")?;
        decide(&call, &keeper)
    }

    fn by(account: &str, name: &str, parameters: Value, issuer: &str) -> Value {
        json!({
            "eventName": name, "awsRegion": "eu-west-1", "recipientAccountId": account,
            "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/x/y"),
                             "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer}}},
            "requestParameters": parameters,
        })
    }

    fn someone(account: &str, name: &str, parameters: Value) -> Value {
        by(account, name, parameters, &format!("arn:aws:iam::{account}:role/Engineer"))
    }

    #[test]
    fn given_members_removed_by_someone_when_decided_then_exactly_those_are_made_members_again_there() {
        for name in ["DisassociateMembers", "DeleteMembers"] {
            let detail = someone(ADMIN, name, json!({"detectorId": "d1", "accountIds": [MEMBER]}));
            assert_eq!(
                decide_on("aws.guardduty", detail),
                Ok(Decision::Repair(Repair::Members {
                    region: "eu-west-1".into(),
                    accounts: vec![MEMBER.parse().expect("id")]
                })),
                "{name}"
            );
        }
    }

    #[test]
    fn given_monitoring_stopped_by_someone_when_decided_then_it_is_restarted_for_those_accounts_there() {
        let detail = someone(ADMIN, "StopMonitoringMembers", json!({"detectorId": "d1", "accountIds": [MEMBER]}));
        let decision = decide_on("aws.guardduty", detail);
        assert_eq!(
            decision,
            Ok(Decision::Repair(Repair::Monitoring {
                region: "eu-west-1".into(),
                accounts: vec![MEMBER.parse().expect("id")]
            }))
        );
        let Ok(Decision::Repair(repair)) = decision else { unreachable!() };
        assert_eq!((repair.kind(), repair.region()), ("monitoring", Some("eu-west-1")));
    }

    #[test]
    fn given_the_admin_or_management_detector_changed_then_the_foundation_of_that_region_only() {
        for (account, name) in
            [(ADMIN, "UpdateDetector"), (MANAGEMENT, "UpdateDetector"), (MANAGEMENT, "DeleteDetector")]
        {
            let detail = someone(account, name, json!({"detectorId": "d1", "enable": false}));
            assert_eq!(
                decide_on("aws.guardduty", detail),
                Ok(Decision::Repair(Repair::Foundation { region: "eu-west-1".into() }))
            );
        }
        // the admin's detector deleted, or the admin removed, takes every membership of the region with it
        for (account, name) in [(ADMIN, "DeleteDetector"), (MANAGEMENT, "DisableOrganizationAdminAccount")] {
            let detail = someone(account, name, json!({"detectorId": "d1", "adminAccountId": ADMIN}));
            assert_eq!(
                decide_on("aws.guardduty", detail),
                Ok(Decision::Repair(Repair::Region { region: "eu-west-1".into() })),
                "{name}"
            );
        }
        let member = someone(MEMBER, "DisassociateFromAdministratorAccount", json!({"detectorId": "d9"}));
        assert!(matches!(decide_on("aws.guardduty", member), Ok(Decision::Repair(Repair::Members { .. }))));
    }

    #[test]
    fn given_the_tools_own_role_made_the_call_then_nothing_at_all_whatever_the_path() {
        let issuer = format!("arn:aws:iam::{ADMIN}:role/some/path/GuardDutyEnablerAdmin");
        let detail = by(ADMIN, "DeleteMembers", json!({"accountIds": [MEMBER]}), &issuer);
        assert!(matches!(decide_on("aws.guardduty", detail), Ok(Decision::Skip { .. })));
        // the same role name in another account is not the tool's
        let other = by(
            ADMIN,
            "DeleteMembers",
            json!({"accountIds": [MEMBER]}),
            &format!("arn:aws:iam::{MEMBER}:role/GuardDutyEnablerAdmin"),
        );
        assert!(matches!(decide_on("aws.guardduty", other), Ok(Decision::Repair(_))));
    }

    #[test]
    fn given_a_refused_call_then_an_attempt_is_raised_and_nothing_repaired() {
        let mut detail = someone(ADMIN, "DeleteDetector", json!({"detectorId": "d1"}));
        detail["errorCode"] = json!("AccessDenied");
        assert!(matches!(decide_on("aws.guardduty", detail), Ok(Decision::Raise { what: Raised::Attempt, .. })));
    }

    #[test]
    fn given_filters_and_lists_then_silencing_is_raised_and_harmless_changes_skipped() {
        let cases = [
            (
                "CreateFilter",
                json!({"name": "quiet", "action": "ARCHIVE", "findingCriteria": {}}),
                Some(Silencing::Filter),
            ),
            ("UpdateFilter", json!({"filterName": "quiet"}), Some(Silencing::Filter)),
            ("CreateFilter", json!({"name": "tag", "action": "NOOP"}), None),
            (
                "CreateIPSet",
                json!({"name": "office", "activate": true, "location": "s3://b/k"}),
                Some(Silencing::IpSet),
            ),
            ("UpdateIPSet", json!({"ipSetId": "i1", "activate": false}), None),
            ("DeleteThreatIntelSet", json!({"threatIntelSetId": "t1"}), Some(Silencing::ThreatList)),
            ("UpdateThreatIntelSet", json!({"threatIntelSetId": "t1", "activate": false}), Some(Silencing::ThreatList)),
            ("UpdateThreatIntelSet", json!({"threatIntelSetId": "t1", "name": "renamed"}), None),
        ];
        for (name, parameters, raised) in cases {
            let decision = decide_on("aws.guardduty", someone(ADMIN, name, parameters)).expect(name);
            match raised {
                Some(kind) => assert!(
                    matches!(&decision, Decision::Raise { what: Raised::Silencing(k), .. } if *k == kind),
                    "{name}: {decision:?}"
                ),
                None => assert!(matches!(decision, Decision::Skip { .. }), "{name}: {decision:?}"),
            }
        }
    }

    #[test]
    fn given_organizations_calls_then_only_guardduty_s_principals_and_policy_type_are_repaired() {
        let cases = [
            (
                "DeregisterDelegatedAdministrator",
                json!({"accountId": ADMIN, "servicePrincipal": "guardduty.amazonaws.com"}),
                Some(Repair::Organization),
            ),
            (
                "DisableAWSServiceAccess",
                json!({"servicePrincipal": "malware-protection.guardduty.amazonaws.com"}),
                Some(Repair::Organization),
            ),
            ("DisableAWSServiceAccess", json!({"servicePrincipal": "config.amazonaws.com"}), None),
            (
                "DisablePolicyType",
                json!({"rootId": "r-ab12", "policyType": "GUARDDUTY_POLICY"}),
                Some(Repair::Policies),
            ),
            ("DisablePolicyType", json!({"rootId": "r-ab12", "policyType": "TAG_POLICY"}), None),
            ("DetachPolicy", json!({"policyId": "p-1", "targetId": "r-ab12"}), Some(Repair::Policies)),
        ];
        for (name, parameters, repair) in cases {
            let decision = decide_on("aws.organizations", someone(MANAGEMENT, name, parameters)).expect(name);
            match repair {
                Some(r) => assert_eq!(decision, Decision::Repair(r), "{name}"),
                None => assert!(matches!(decision, Decision::Skip { .. }), "{name}: {decision:?}"),
            }
        }
    }

    #[test]
    fn given_a_read_only_or_unknown_call_then_it_is_not_a_tamper_call() {
        assert!(Call::from_event("aws.guardduty", &json!({"eventName": "GetDetector"}), None).is_none());
        assert!(Call::from_event("aws.guardduty", &json!({"eventName": "ListMembers"}), None).is_none());
        assert!(Call::from_event("aws.ec2", &json!({"eventName": "DeleteDetector"}), None).is_none());
    }

    #[test]
    fn given_a_known_call_without_its_accounts_then_a_clear_error() {
        let detail = someone(ADMIN, "DeleteMembers", json!({"detectorId": "d1"}));
        assert_eq!(
            decide_on("aws.guardduty", detail),
            Err("DeleteMembers names no accounts (requestParameters.accountIds)".into())
        );
        let mut no_account = someone(ADMIN, "DeleteMembers", json!({}));
        no_account["recipientAccountId"] = json!("12");
        assert!(Call::from_event("aws.guardduty", &no_account, None).expect("known").is_err());
    }

    #[test]
    fn given_revert_asked_for_a_kind_then_that_kind_is_reverted_and_what_cannot_be_put_back_is_raised() {
        let archive = someone(ADMIN, "CreateFilter", json!({"name": "quiet", "action": "ARCHIVE"}));
        assert_eq!(
            decide_with("aws.guardduty", archive.clone(), &["filters"], &[], None),
            Ok(Decision::Revert {
                what: Silencing::Filter,
                region: "eu-west-1".into(),
                target: "quiet".into(),
                why: "CreateFilter of filter \"quiet\", action ARCHIVE, criteria unchanged".into()
            })
        );
        // another kind asked for: the filter is only raised
        assert!(matches!(
            decide_with("aws.guardduty", archive.clone(), &["ip_sets"], &[], None),
            Ok(Decision::Raise { .. })
        ));
        // an allowed filter is neither raised nor reverted
        assert!(matches!(
            decide_with("aws.guardduty", archive, &["filters"], &["quiet"], None),
            Ok(Decision::Skip { .. })
        ));
        // a new trusted list's id comes from the answer
        let mut created =
            someone(ADMIN, "CreateIPSet", json!({"name": "office", "activate": true, "location": "s3://b/k"}));
        created["responseElements"] = json!({"ipSetId": "ip-1"});
        assert!(matches!(
            decide_with("aws.guardduty", created, &["ip_sets"], &[], None),
            Ok(Decision::Revert { target, .. }) if target == "ip-1"
        ));
        // a deleted threat list cannot be put back: raised
        let deleted = someone(ADMIN, "DeleteThreatIntelSet", json!({"threatIntelSetId": "t1"}));
        assert!(matches!(
            decide_with("aws.guardduty", deleted, &["threat_lists"], &[], None),
            Ok(Decision::Raise { .. })
        ));
        let off = someone(ADMIN, "UpdateThreatIntelSet", json!({"threatIntelSetId": "t1", "activate": false}));
        assert!(matches!(
            decide_with("aws.guardduty", off, &["threat_lists"], &[], None),
            Ok(Decision::Revert { target, .. }) if target == "t1"
        ));
    }

    #[test]
    fn given_a_maintenance_window_then_nothing_is_repaired_and_everything_is_raised() {
        let removed = someone(ADMIN, "DeleteMembers", json!({"accountIds": [MEMBER]}));
        assert!(matches!(
            decide_with("aws.guardduty", removed, &[], &[], Some("2026-12-24T18:00:00Z")),
            Ok(Decision::Raise { what: Raised::Paused, .. })
        ));
        let archive = someone(ADMIN, "CreateFilter", json!({"name": "quiet", "action": "ARCHIVE"}));
        assert!(matches!(
            decide_with("aws.guardduty", archive, &["filters"], &[], Some("2026-12-24T18:00:00Z")),
            Ok(Decision::Raise { what: Raised::Silencing(Silencing::Filter), .. })
        ));
    }
}
