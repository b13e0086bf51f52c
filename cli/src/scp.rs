//! `scp`: the service control policy that prevents what this tool could only repair. It denies the writes that turn
//! GuardDuty off, silence it or take it apart (the GuardDuty actions below, and the Organizations actions on GuardDuty's
//! policy type and service principals) to every principal of the accounts it is attached over, except this tool's
//! admin role and the break-glass roles given with `--except`; it never denies a read, nor CreateSampleFindings.
//! Printing it needs no AWS call; `--apply --target` creates it (or updates its content), enables the SCP policy type
//! on the root where it is not, and attaches it, writing only what is missing.
//!
//! What an SCP can and cannot do, from the Organizations User Guide ("Service control policies (SCPs)",
//! <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html>): "SCPs don't affect
//! users or roles in the management account", nor service-linked roles; the management account's own GuardDuty is
//! therefore never covered. AWS's own GuardDuty example ("Prevent users from disabling GuardDuty or modifying its
//! configuration") denies every GuardDuty write with no exemption, which would also stop this tool.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_organizations as orgs;
use enablement::{AwsError, Error, Failure, FailureKind, Settings};
use orgs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use orgs::types::{PolicyType, PolicyTypeStatus};
use serde_json::{json, Value};

/// The most characters an SCP may hold: "Service control policies: 5,120 characters" ("Quotas and service limits for
/// AWS Organizations", maximum size of a policy document,
/// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>). Every character counts,
/// white space included, so the policy is written without any outside its strings. ARNs are ASCII here, so
/// characters and bytes are the same count (one report has the limit behave as bytes).
pub const SCP_LIMIT: usize = 5_120;

/// The name of the policy `--apply` writes, and finds again by.
pub const POLICY_NAME: &str = "guardduty-enabler-protect-guardduty";

/// Its description (CreatePolicy: at most 512 characters).
const DESCRIPTION: &str = "guardduty-enabler scp: denies the writes that turn GuardDuty off, silence it or detach its \
                           organization policies and delegation, to every principal but guardduty-enabler's admin \
                           role and the break-glass roles named in it. Reads stay allowed.";

/// The GuardDuty writes denied: the calls that delete or disable a detector or its plans, drop or stop members, undo
/// the organization configuration or the delegation, stop or redirect the findings export, and silence findings
/// (filters, trusted IP lists, threat lists). Each is the IAM action of the API operation of the same name ("Actions,
/// resources, and condition keys for Amazon GuardDuty",
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonguardduty.html>). No read (Get,
/// List, Describe) and not CreateSampleFindings, which changes nothing and is how a team checks its alerting.
pub const GUARDDUTY_WRITES: [&str; 18] = [
    "CreateFilter",
    "CreateIPSet",
    "DeleteDetector",
    "DeleteMembers",
    "DeletePublishingDestination",
    "DeleteThreatIntelSet",
    "DisableOrganizationAdminAccount",
    "DisassociateFromAdministratorAccount",
    "DisassociateFromMasterAccount",
    "DisassociateMembers",
    "StopMonitoringMembers",
    "UpdateDetector",
    "UpdateFilter",
    "UpdateIPSet",
    "UpdateMemberDetectors",
    "UpdateOrganizationConfiguration",
    "UpdatePublishingDestination",
    "UpdateThreatIntelSet",
];

/// The Organizations writes on GuardDuty policies, denied where the `organizations:PolicyType` condition key is
/// GUARDDUTY_POLICY: the Service Authorization Reference gives that key for each of these four actions ("Actions,
/// resources, and condition keys for AWS Organizations",
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html>). Only the
/// management account, which no SCP restricts, and a delegated administrator for Organizations policies can call them:
/// the statement stops the latter.
pub const POLICY_WRITES: [&str; 4] = ["DeletePolicy", "DetachPolicy", "DisablePolicyType", "UpdatePolicy"];

/// The Organizations writes on GuardDuty's delegation and trusted access, denied where the
/// `organizations:ServicePrincipal` condition key (the same reference, for both actions) names GuardDuty or its
/// Malware Protection, whose trusted access member accounts' EBS_MALWARE_PROTECTION needs. Both are management-account
/// calls today: the statement costs little and holds should AWS delegate them.
pub const SERVICE_WRITES: [&str; 2] = ["DeregisterDelegatedAdministrator", "DisableAWSServiceAccess"];

/// The service principals of [`SERVICE_WRITES`]' condition.
pub const SERVICE_PRINCIPALS: [&str; 2] = ["guardduty.amazonaws.com", "malware-protection.guardduty.amazonaws.com"];

/// The partitions of AWS, as an IAM role ARN may name them.
const PARTITIONS: [&str; 8] =
    ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

/// The most characters of an IAM role's path and name together (IAM quotas: a path of up to 512 characters, a role
/// name of up to 64).
const ROLE_PATH_AND_NAME: usize = 512 + 64;

/// How long `--apply` waits for the SCP policy type to show ENABLED after EnablePolicyType, at most.
const POLICY_TYPE_PATIENCE: Duration = Duration::from_secs(120);

/// The policy, as it would be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scp {
    /// Its content, compact JSON.
    pub content: String,
    /// The role ARNs (patterns) it does not restrict: this tool's admin role first, then the `--except` ones, sorted.
    pub exempt: Vec<String>,
}

/// The role this tool assumes in the delegated admin account, which writes GuardDuty there (organization
/// configuration, members, plans, the export) and so must stay outside the policy.
///
/// The functions' own two roles (`<prefix>-bootstrapper`, `<prefix>-responder`) are not named. They live in the
/// management account, which SCPs never restrict, so they need no exemption; and naming them without that account's id
/// (printing makes no AWS call) would take the pattern `arn:aws:iam::*:role/<prefix>-*`, which exempts a role of that
/// name in every member account: anyone there allowed to create roles could step around the policy. The partition is
/// a wildcard (ARN condition operators check each of the six colon-separated parts of an ARN apart, each with `*` and
/// `?` wildcards: IAM User Guide, "IAM JSON policy elements: Condition operators"), so that the policy reads the same
/// in every partition; the account id and role name are exact.
pub fn admin_role_pattern(settings: &Settings) -> String {
    format!("arn:*:iam::{}:role/{}", settings.admin_account, settings.admin_role_name)
}

/// The policy for `settings` with `except` exempt; too large for an SCP is an error that says by how much.
pub fn build(settings: &Settings, except: &[String]) -> Result<Scp, Failure> {
    let admin = admin_role_pattern(settings);
    let others: BTreeSet<&String> = except.iter().filter(|a| **a != admin).collect();
    let exempt: Vec<String> = std::iter::once(admin).chain(others.into_iter().cloned()).collect();
    let content = render(&exempt);
    if content.len() > SCP_LIMIT {
        return Err(Failure::new(
            FailureKind::PolicyTooLarge,
            format!(
                "the policy would be {} characters with {} --except role ARN(s), and an SCP holds at most {SCP_LIMIT} \
                 (Organizations quotas, white space included): name fewer roles, or one wildcard pattern for several \
                 (arn:aws:iam::111122223333:role/BreakGlass*); nothing was printed or written",
                content.len(),
                except.len()
            ),
        ));
    }
    Ok(Scp { content, exempt })
}

/// A JSON string.
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

/// A JSON array of strings.
fn array<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| quoted(s.as_ref())).collect();
    format!("[{}]", items.join(","))
}

/// One Deny statement of `actions` on every resource, for every principal but `exempt` (aws:PrincipalArn, the role's
/// ARN for a role session: "We recommend using the aws:PrincipalArn context key with ARN condition operators", IAM
/// User Guide, NotPrincipal), and only where `condition` (another condition operator's entry) also holds.
fn statement(sid: &str, actions: &[String], condition: Option<String>, exempt: &str) -> String {
    let condition = condition.map(|c| format!("{c},")).unwrap_or_default();
    format!(
        "{{\"Sid\":{},\"Effect\":\"Deny\",\"Action\":{},\"Resource\":\"*\",\"Condition\":{{{condition}\"ArnNotLike\":\
         {{\"aws:PrincipalArn\":{exempt}}}}}}}",
        quoted(sid),
        array(actions)
    )
}

/// The policy's content, compact, its keys in the order the IAM policy grammar lists them.
fn render(exempt: &[String]) -> String {
    let exempt = array(exempt);
    let prefixed =
        |service: &str, actions: &[&str]| -> Vec<String> { actions.iter().map(|a| format!("{service}:{a}")).collect() };
    let statements = [
        statement("DenyGuardDutyTampering", &prefixed("guardduty", &GUARDDUTY_WRITES), None, &exempt),
        statement(
            "DenyGuardDutyPolicyTampering",
            &prefixed("organizations", &POLICY_WRITES),
            Some(format!("\"StringEquals\":{{\"organizations:PolicyType\":{}}}", quoted("GUARDDUTY_POLICY"))),
            &exempt,
        ),
        statement(
            "DenyGuardDutyServiceTampering",
            &prefixed("organizations", &SERVICE_WRITES),
            Some(format!("\"StringEquals\":{{\"organizations:ServicePrincipal\":{}}}", array(SERVICE_PRINCIPALS))),
            &exempt,
        ),
    ];
    format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}", statements.join(","))
}

/// `--except`: an IAM role's ARN, `arn:<partition>:iam::<12 digits>:role/<path><name>`, which `aws:PrincipalArn`
/// matches for the role's sessions. Wildcards (`*`, `?`) are allowed in the path and name (an IAM Identity Center
/// role's name ends in a random suffix), never in the account: a role ARN pattern over every account would exempt a
/// role of that name anywhere.
pub fn role_arn(value: &str) -> Result<String, String> {
    let example = "arn:aws:iam::111122223333:role/BreakGlass";
    if value.contains(":sts::") && value.contains(":assumed-role/") {
        return Err(format!(
            "{value:?} is a role session's ARN: give the role's own ARN ({example}), which aws:PrincipalArn matches"
        ));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(format!("{:?} is not an IAM role ARN (like {example})", enablement::shorten(value, 80)));
    };
    let path = resource.strip_prefix("role/").unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    let charset = path.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/*?".contains(c));
    let valid = arn == "arn"
        && PARTITIONS.contains(&partition)
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !path.is_empty()
        && path.len() <= ROLE_PATH_AND_NAME
        && (1..=64).contains(&name.len())
        && !path.starts_with('/')
        && !path.contains("//")
        && charset;
    if !valid {
        return Err(format!(
            "{:?} is not an IAM role ARN (like {example}: a partition, no region, a 12-digit account, role/ then the \
             role's path and name; * and ? only in the path and name)",
            enablement::shorten(value, 80)
        ));
    }
    Ok(value.to_owned())
}

/// `--target`: an organizational unit (`ou-` then 4 to 32 lowercase letters or digits, `-`, 8 to 32 more) or the
/// root (`r-` then 4 to 32), as the Organizations API reference's patterns for their ids have them (AttachPolicy's
/// TargetId).
pub fn target_id(value: &str) -> Result<String, String> {
    let id_part = |s: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let valid = match value.strip_prefix("ou-") {
        Some(rest) => rest.split_once('-').is_some_and(|(root, ou)| id_part(root, 4..=32) && id_part(ou, 8..=32)),
        None => value.strip_prefix("r-").is_some_and(|root| id_part(root, 4..=32)),
    };
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{:?} is not an organizational unit id (ou-ab12-cd34ef56) or the root's id (r-ab12)",
            enablement::shorten(value, 80)
        ))
    }
}

/// What `--apply` did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The policy's id, once it exists.
    pub policy_id: Option<String>,
    /// Where it is attached.
    pub target: String,
    /// The organization's root.
    pub root: String,
    /// Whether nothing was written on purpose (GUARDDUTY_DRY_RUN).
    pub dry_run: bool,
    /// CreatePolicy.
    pub created: bool,
    /// UpdatePolicy: its content was not this one.
    pub updated: bool,
    /// EnablePolicyType SERVICE_CONTROL_POLICY on the root.
    pub enabled_policy_type: bool,
    /// AttachPolicy to the target.
    pub attached: bool,
}

impl Applied {
    /// Whether anything was (or would be) written.
    pub fn wrote(&self) -> bool {
        self.created || self.updated || self.enabled_policy_type || self.attached
    }

    /// As JSON, for `--json`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": POLICY_NAME,
            "policy_id": self.policy_id,
            "target": self.target,
            "root": self.root,
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "enabled_policy_type": self.enabled_policy_type,
            "attached": self.attached,
        })
    }

    /// One line per write, or one saying that nothing was needed.
    pub fn lines(&self) -> Vec<String> {
        let id = self.policy_id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default();
        let verb = |done: &str, would: &str| if self.dry_run { would.to_owned() } else { done.to_owned() };
        let mut lines = Vec::new();
        if self.created {
            lines.push(format!("{} the policy {POLICY_NAME}{id}", verb("created", "would create")));
        }
        if self.updated {
            lines.push(format!("{} the content of the policy {POLICY_NAME}{id}", verb("updated", "would update")));
        }
        if self.enabled_policy_type {
            let what = "the SCP policy type (SERVICE_CONTROL_POLICY) on the root";
            lines.push(format!("{} {what} {}", verb("enabled", "would enable"), self.root));
        }
        if self.attached {
            lines.push(format!("{} {POLICY_NAME}{id} to {}", verb("attached", "would attach"), self.target));
        }
        if lines.is_empty() {
            lines.push(format!(
                "in place: {POLICY_NAME}{id} has this content and is attached to {}; nothing was written",
                self.target
            ));
        }
        lines
    }
}

/// The outcome of `--apply`: what was done, and why it stopped where a write failed after an earlier one (a
/// failure before any write is the `Err` of [`apply`]).
#[derive(Debug)]
pub struct Outcome {
    /// What was written.
    pub applied: Applied,
    /// The failure that stopped it part way.
    pub failure: Option<Failure>,
}

/// Organizations, from the management account.
struct Organizations {
    client: orgs::Client,
    region: String,
}

impl Organizations {
    /// A failed call, as the library words AWS errors.
    fn fail<E, R>(&self, operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> Failure + '_
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        move |err| {
            let message = err.message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            Failure::from(Error::Aws(Box::new(AwsError {
                operation,
                region: self.region.clone(),
                account: "management".into(),
                code: err.code().map(str::to_owned),
                message,
                source: Box::new(err),
            })))
        }
    }

    /// ListRoots: the root's id and the SCP policy type's status there (`None`: not enabled).
    async fn root(&self) -> Result<(String, Option<PolicyTypeStatus>), Failure> {
        let out = self.client.list_roots().send().await.map_err(self.fail("ListRoots"))?;
        let root =
            out.roots().first().ok_or_else(|| Failure::new(FailureKind::UnexpectedAnswer, "ListRoots: no root"))?;
        let id =
            root.id().ok_or_else(|| Failure::new(FailureKind::UnexpectedAnswer, "ListRoots: a root without an id"))?;
        let status = root
            .policy_types()
            .iter()
            .find(|t| t.r#type() == Some(&PolicyType::ServiceControlPolicy))
            .and_then(|t| t.status().cloned());
        Ok((id.to_owned(), status))
    }

    /// Whether `target` is this organization's root or one of its organizational units (DescribeOrganizationalUnit).
    async fn check_target(&self, target: &str, root: &str) -> Result<(), Failure> {
        let missing = || {
            Failure::new(
                FailureKind::TargetNotFound,
                format!("--target {target} is not in this organization (its root is {root}); nothing was written"),
            )
        };
        if target.starts_with("r-") {
            return if target == root { Ok(()) } else { Err(missing()) };
        }
        match self.client.describe_organizational_unit().organizational_unit_id(target).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_organizational_unit_not_found_exception()) => {
                Err(missing())
            }
            Err(e) => Err(self.fail("DescribeOrganizationalUnit")(e)),
        }
    }

    /// ListPolicies of SERVICE_CONTROL_POLICY, every page: the id of the customer-managed one named [`POLICY_NAME`].
    async fn find(&self) -> Result<Option<String>, Failure> {
        let mut pages = self.client.list_policies().filter(PolicyType::ServiceControlPolicy).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(self.fail("ListPolicies"))?;
            let found = page.policies().iter().find(|p| p.name() == Some(POLICY_NAME) && !p.aws_managed());
            if let Some(id) = found.and_then(|p| p.id()) {
                return Ok(Some(id.to_owned()));
            }
        }
        Ok(None)
    }

    /// DescribePolicy: a policy's content.
    async fn content(&self, id: &str) -> Result<String, Failure> {
        let out = self.client.describe_policy().policy_id(id).send().await.map_err(self.fail("DescribePolicy"))?;
        Ok(out.policy().and_then(|p| p.content()).unwrap_or_default().to_owned())
    }

    /// ListTargetsForPolicy, every page.
    async fn targets(&self, id: &str) -> Result<Vec<String>, Failure> {
        let mut pages = self.client.list_targets_for_policy().policy_id(id).into_paginator().send();
        let mut targets = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(self.fail("ListTargetsForPolicy"))?;
            targets.extend(page.targets().iter().filter_map(|t| t.target_id().map(str::to_owned)));
        }
        Ok(targets)
    }

    /// CreatePolicy of type SERVICE_CONTROL_POLICY: its id.
    async fn create(&self, content: &str) -> Result<String, Failure> {
        let out = self
            .client
            .create_policy()
            .r#type(PolicyType::ServiceControlPolicy)
            .name(POLICY_NAME)
            .description(DESCRIPTION)
            .content(content)
            .send()
            .await
            .map_err(self.fail("CreatePolicy"))?;
        out.policy()
            .and_then(|p| p.policy_summary())
            .and_then(|s| s.id())
            .map(str::to_owned)
            .ok_or_else(|| Failure::new(FailureKind::UnexpectedAnswer, "CreatePolicy: no policy id"))
    }

    /// UpdatePolicy: the content (and the description, which may be an older one).
    async fn update(&self, id: &str, content: &str) -> Result<(), Failure> {
        let sent = self.client.update_policy().policy_id(id).content(content).description(DESCRIPTION).send().await;
        sent.map(|_| ()).map_err(self.fail("UpdatePolicy"))
    }

    /// EnablePolicyType SERVICE_CONTROL_POLICY (already enabled is success).
    async fn enable_type(&self, root: &str) -> Result<(), Failure> {
        let sent =
            self.client.enable_policy_type().root_id(root).policy_type(PolicyType::ServiceControlPolicy).send().await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_policy_type_already_enabled_exception()) => Ok(()),
            Err(e) => Err(self.fail("EnablePolicyType")(e)),
        }
    }

    /// Polls ListRoots until SERVICE_CONTROL_POLICY shows ENABLED: EnablePolicyType "is an asynchronous request that
    /// AWS performs in the background" (its API reference, which recommends ListRoots to see the status), and
    /// AttachPolicy answers PolicyTypeNotEnabledException until then. Waits from half a second, doubling to 8 s, for
    /// at most [`POLICY_TYPE_PATIENCE`].
    async fn wait_for_type(&self) -> Result<(), Failure> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            let (root, status) = self.root().await?;
            if status == Some(PolicyTypeStatus::Enabled) {
                return Ok(());
            }
            if started.elapsed() + wait > POLICY_TYPE_PATIENCE {
                let shown = status.map_or_else(|| "not enabled".to_owned(), |s| s.as_str().to_owned());
                return Err(Failure::new(
                    FailureKind::PolicyTypeNotEnabled,
                    format!(
                        "the SCP policy type still shows {shown} on {root} after {} s (enabling it is asynchronous); \
                         run scp --apply again to attach the policy",
                        started.elapsed().as_secs()
                    ),
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(8));
        }
    }

    /// AttachPolicy (already attached is success).
    async fn attach(&self, id: &str, target: &str) -> Result<(), Failure> {
        match self.client.attach_policy().policy_id(id).target_id(target).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_duplicate_policy_attachment_exception()) => Ok(()),
            Err(e) => Err(self.fail("AttachPolicy")(e)),
        }
    }
}

/// Whether two policy documents say the same (as JSON values: Organizations keeps what it is given, but another
/// writer may have laid it out otherwise).
fn same_document(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `--apply`: reads what exists (the root, the target, a policy of [`POLICY_NAME`], its content and targets), then
/// writes only what is missing: CreatePolicy or UpdatePolicy, EnablePolicyType (and the wait for it), AttachPolicy.
/// Every read comes before the first write: an error there, or in the first write, is `Err` with nothing written.
pub async fn apply(base: &SdkConfig, scp: &Scp, target: &str, dry_run: bool) -> Result<Outcome, Failure> {
    let org = Organizations {
        client: orgs::Client::new(base),
        region: base.region().map(|r| r.to_string()).unwrap_or_default(),
    };
    let (root, status) = org.root().await?;
    org.check_target(target, &root).await?;
    let existing = org.find().await?;
    let (update, attach) = match &existing {
        Some(id) => {
            (!same_document(&org.content(id).await?, &scp.content), !org.targets(id).await?.iter().any(|t| t == target))
        }
        None => (false, true),
    };
    let plan = Applied {
        policy_id: existing.clone(),
        target: target.to_owned(),
        root: root.clone(),
        dry_run,
        created: existing.is_none(),
        updated: update,
        enabled_policy_type: !matches!(status, Some(PolicyTypeStatus::Enabled | PolicyTypeStatus::PendingEnable)),
        attached: attach,
    };
    if dry_run {
        return Ok(Outcome { applied: plan, failure: None });
    }

    let mut done = Applied { policy_id: existing, target: target.to_owned(), root: root.clone(), ..Applied::default() };
    let stopped = |done: &Applied, failure: Failure| {
        if done.wrote() {
            Ok(Outcome { applied: done.clone(), failure: Some(failure) })
        } else {
            Err(failure)
        }
    };
    if plan.created {
        match org.create(&scp.content).await {
            Ok(id) => {
                done.policy_id = Some(id);
                done.created = true;
            }
            Err(e) => return stopped(&done, e),
        }
    }
    let Some(id) = done.policy_id.clone() else {
        return stopped(
            &done,
            Failure::new(FailureKind::UnexpectedAnswer, "the policy has no id; nothing further was sent"),
        );
    };
    if plan.updated {
        if let Err(e) = org.update(&id, &scp.content).await {
            return stopped(&done, e);
        }
        done.updated = true;
    }
    if plan.enabled_policy_type {
        if let Err(e) = org.enable_type(&root).await {
            return stopped(&done, e);
        }
        done.enabled_policy_type = true;
    }
    if plan.attached {
        if status != Some(PolicyTypeStatus::Enabled) {
            if let Err(e) = org.wait_for_type().await {
                return stopped(&done, e);
            }
        }
        if let Err(e) = org.attach(&id, target).await {
            return stopped(&done, e);
        }
        done.attached = true;
    }
    Ok(Outcome { applied: done, failure: None })
}

/// Where the preventive policy applies, for `status`: the governed accounts it does not cover.
#[derive(Debug)]
pub struct Coverage {
    /// The policy's id, where it exists.
    pub policy_id: Option<String>,
    /// Whether SCPs are enabled on the root (otherwise no SCP applies anywhere).
    pub enabled: bool,
    /// The governed accounts (ACTIVE, not excluded, not the management account).
    pub governed: usize,
    /// Those it does not cover, sorted.
    pub not_covered: Vec<String>,
}

impl Coverage {
    /// As the evidence document keeps it.
    pub fn evidence(&self) -> enablement::evidence::PreventiveScp {
        enablement::evidence::PreventiveScp {
            policy: POLICY_NAME.into(),
            policy_id: self.policy_id.clone(),
            enabled: self.enabled,
            governed: self.governed,
            not_covered: self.not_covered.clone(),
            error: None,
        }
    }

    /// As `status --json` gives it: the same keys as the evidence document's.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.evidence()).unwrap_or_default()
    }

    /// What `status` prints of it, within 100 columns: a line, and the accounts not covered six to a line.
    pub fn line(&self) -> String {
        let head = match (&self.policy_id, self.enabled) {
            (None, _) => "preventive SCP: none (`guardduty-enabler scp` prints one)".to_owned(),
            (Some(_), false) => format!(
                "preventive SCP: SCPs are not enabled on the root, so it covers none of {} governed accounts",
                self.governed
            ),
            (Some(_), true) if self.not_covered.is_empty() => {
                format!("preventive SCP: covers all {} governed accounts (never the management account)", self.governed)
            }
            (Some(_), true) => format!(
                "preventive SCP: does not cover {} of {} governed accounts (nor the management account):",
                self.not_covered.len(),
                self.governed
            ),
        };
        let listed = self.policy_id.is_some() && self.enabled;
        let mut text = head;
        for chunk in self.not_covered.chunks(6).filter(|_| listed) {
            text.push_str("\n  ");
            text.push_str(&chunk.join(", "));
        }
        text
    }
}

/// Which of `governed` (the accounts `status` counts, the management account excluded) the preventive policy covers:
/// it is attached to the root, to a unit above them (at any depth) or to them (ListPolicies, ListTargetsForPolicy,
/// ListParents). Reads only.
pub async fn coverage(base: &SdkConfig, governed: &[String]) -> Result<Coverage, Failure> {
    let org = Organizations {
        client: orgs::Client::new(base),
        region: base.region().map(|r| r.to_string()).unwrap_or_default(),
    };
    let (_, status) = org.root().await?;
    let Some(id) = org.find().await? else {
        return Ok(Coverage {
            policy_id: None,
            enabled: false,
            governed: governed.len(),
            not_covered: governed.to_vec(),
        });
    };
    let targets: BTreeSet<String> = org.targets(&id).await?.into_iter().collect();
    let enabled = status == Some(PolicyTypeStatus::Enabled);
    let mut not_covered = Vec::new();
    for account in governed {
        if !enabled || !org.covered(account, &targets).await? {
            not_covered.push(account.clone());
        }
    }
    not_covered.sort();
    Ok(Coverage { policy_id: Some(id), enabled, governed: governed.len(), not_covered })
}

impl Organizations {
    /// Whether `account`, or a parent of it up to the root, is among `targets` (ListParents, one level a call;
    /// Organizations nests at most five levels of units).
    async fn covered(&self, account: &str, targets: &BTreeSet<String>) -> Result<bool, Failure> {
        let mut child = account.to_owned();
        for _ in 0..8 {
            if targets.contains(&child) {
                return Ok(true);
            }
            let out = self.client.list_parents().child_id(&child).send().await.map_err(self.fail("ListParents"))?;
            match out.parents().first().and_then(|p| p.id()) {
                Some(parent) => child = parent.to_owned(),
                None => return Ok(false),
            }
        }
        Ok(targets.contains(&child))
    }
}

/// The line printed after the policy: its size, and what no SCP can do.
pub fn note(scp: &Scp) -> String {
    format!(
        "{} of {SCP_LIMIT} characters. SCPs never restrict the management account (\"SCPs don't affect users or roles \
         in the management account\", Organizations User Guide): its GuardDuty is not protected by this policy.",
        scp.content.len()
    )
}

/// `scp`: prints the policy (with `--apply`, after creating or updating and attaching it). `true` when done (or, in a
/// dry run, when nothing is to be written); `false` when a write failed after an earlier one, or a dry run found
/// writes to make.
pub async fn run(
    cli: &crate::args::Cli,
    settings: Settings,
    except: &[String],
    target: Option<&str>,
) -> Result<bool, Failure> {
    let scp = build(&settings, except)?;
    let policy: Value =
        serde_json::from_str(&scp.content).map_err(|e| Failure::new(FailureKind::InternalError, e.to_string()))?;
    let Some(target) = target else {
        if cli.json {
            println!("{}", json!({"policy": policy, "characters": scp.content.len(), "applied": null}));
        } else {
            println!("{}", scp.content);
            println!("{}", note(&scp));
        }
        return Ok(true);
    };
    let base = crate::sdk_config(cli).await;
    crate::access::caller(&base, cli.verbose).await?;
    let outcome = apply(&base, &scp, target, settings.dry_run).await?;
    let Outcome { applied, failure } = outcome;
    if cli.json {
        let mut applied_json = applied.to_json();
        if let Some(f) = &failure {
            applied_json["error"] = json!(format!("{}: {f}", f.kind));
        }
        println!("{}", json!({"policy": policy, "characters": scp.content.len(), "applied": applied_json}));
    } else {
        println!("{}", scp.content);
        println!("{}", note(&scp));
        for line in applied.lines() {
            anstream::println!("{line}");
        }
    }
    if let Some(f) = failure {
        anstream::eprintln!("guardduty-enabler: {}: {f} (the writes above were made; run scp --apply again)", f.kind);
        return Ok(false);
    }
    Ok(!(applied.dry_run && applied.wrote()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is the failure report

    use super::*;

    fn settings() -> Settings {
        Settings::from_lookup(|name| (name == "GUARDDUTY_ADMIN_ACCOUNT_ID").then(|| "222233334444".to_owned())).unwrap()
    }

    fn statements(scp: &Scp) -> Vec<Value> {
        let doc: Value = serde_json::from_str(&scp.content).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        doc["Statement"].as_array().unwrap().clone()
    }

    fn actions(statement: &Value) -> Vec<String> {
        statement["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn the_policy_denies_each_write_to_all_but_the_admin_role_and_the_exceptions() {
        let scp = build(&settings(), &["arn:aws:iam::111122223333:role/BreakGlass".to_owned()]).unwrap();
        let statements = statements(&scp);
        assert_eq!(statements.len(), 3);
        let all: Vec<String> = statements.iter().flat_map(actions).collect();
        for action in GUARDDUTY_WRITES {
            assert!(all.contains(&format!("guardduty:{action}")), "{action}");
        }
        for action in POLICY_WRITES.iter().chain(&SERVICE_WRITES) {
            assert!(all.contains(&format!("organizations:{action}")), "{action}");
        }
        for s in &statements {
            assert_eq!(s["Effect"], "Deny");
            assert_eq!(s["Resource"], "*");
            assert_eq!(
                s["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
                json!([
                    "arn:*:iam::222233334444:role/GuardDutyEnablerAdmin",
                    "arn:aws:iam::111122223333:role/BreakGlass"
                ])
            );
        }
        assert_eq!(statements[1]["Condition"]["StringEquals"]["organizations:PolicyType"], "GUARDDUTY_POLICY");
        assert_eq!(
            statements[2]["Condition"]["StringEquals"]["organizations:ServicePrincipal"],
            json!(SERVICE_PRINCIPALS)
        );
        assert!(!scp.content.contains(' ') && !scp.content.contains('\n'), "compact: {}", scp.content);
    }

    #[test]
    fn never_a_read_nor_sample_findings_nor_a_wildcard() {
        let scp = build(&settings(), &[]).unwrap();
        for action in statements(&scp).iter().flat_map(actions) {
            let (_, name) = action.split_once(':').unwrap();
            assert!(!["Get", "List", "Describe"].iter().any(|p| name.starts_with(p)), "{action}");
            assert!(name != "CreateSampleFindings" && !name.contains('*'), "{action}");
        }
    }

    #[test]
    fn the_exceptions_are_sorted_and_unique_so_the_same_roles_give_the_same_policy() {
        let a = "arn:aws:iam::111122223333:role/A".to_owned();
        let b = "arn:aws:iam::111122223333:role/B".to_owned();
        let admin = admin_role_pattern(&settings());
        let one = build(&settings(), &[b.clone(), a.clone(), b.clone(), admin.clone()]).unwrap();
        let other = build(&settings(), &[a.clone(), b.clone()]).unwrap();
        assert_eq!(one, other);
        assert_eq!(one.exempt, [admin, a, b]);
    }

    #[test]
    fn too_many_exceptions_is_an_error_that_gives_the_size_and_the_limit() {
        let many: Vec<String> =
            (0..40).map(|i| format!("arn:aws:iam::111122223333:role/break-glass/BreakGlassOperator{i:03}")).collect();
        let err = build(&settings(), &many).unwrap_err();
        assert_eq!(err.kind, FailureKind::PolicyTooLarge);
        assert!(err.message.contains("5120") && err.message.contains("40 --except"), "{err}");
        // as many as fit do
        let fit: Vec<String> = many.iter().take(10).cloned().collect();
        assert!(build(&settings(), &fit).unwrap().content.len() <= SCP_LIMIT);
    }

    #[test]
    fn role_arns_are_checked() {
        for good in [
            "arn:aws:iam::111122223333:role/BreakGlass",
            "arn:aws-us-gov:iam::111122223333:role/ops/BreakGlass",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*",
        ] {
            assert_eq!(role_arn(good).as_deref(), Ok(good));
        }
        for bad in [
            "BreakGlass",
            "arn:aws:iam::*:role/BreakGlass",
            "arn:aws:iam::1111:role/BreakGlass",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam:us-east-1:111122223333:role/BreakGlass",
            "arn:aws:s3:::111122223333:role/BreakGlass",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a//b",
            "arn:aws:iam::111122223333:role/Break Glass",
            "arn:aws:iam::111122223333:role/Break\"Glass",
            "arn:other:iam::111122223333:role/BreakGlass",
        ] {
            assert!(role_arn(bad).unwrap_err().contains("is not an IAM role ARN"), "{bad}");
        }
        let session = role_arn("arn:aws:sts::111122223333:assumed-role/BreakGlass/alice").unwrap_err();
        assert!(session.contains("session"), "{session}");
        let long = format!("arn:aws:iam::111122223333:role/{}", "n".repeat(65));
        assert!(role_arn(&long).is_err());
    }

    #[test]
    fn targets_are_an_ou_or_the_root() {
        for good in ["ou-ab12-cd34ef56", "r-ab12", "r-0123456789abcdef0123456789abcdef"] {
            assert_eq!(target_id(good).as_deref(), Ok(good));
        }
        for bad in ["111122223333", "ou-ab12", "ou-AB12-cd34ef56", "r-ab1", "p-ab12cd34", "ou-ab12-cd34ef5", ""] {
            assert!(target_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_document_in_another_layout_is_the_same() {
        let scp = build(&settings(), &[]).unwrap();
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&scp.content).unwrap()).unwrap();
        assert!(same_document(&scp.content, &pretty));
        let other = build(&settings(), &["arn:aws:iam::111122223333:role/A".to_owned()]).unwrap();
        assert!(!same_document(&scp.content, &other.content));
    }

    #[test]
    fn what_was_done_reads_as_one_line_each() {
        let applied = Applied {
            policy_id: Some("p-abcd1234".into()),
            target: "ou-ab12-cd34ef56".into(),
            root: "r-ab12".into(),
            created: true,
            enabled_policy_type: true,
            attached: true,
            ..Applied::default()
        };
        let lines = applied.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("created the policy guardduty-enabler-protect-guardduty (p-abcd1234)"));
        assert!(lines[1].contains("SERVICE_CONTROL_POLICY") && lines[1].ends_with("r-ab12"));
        let would = Applied { dry_run: true, ..applied.clone() };
        assert!(would.lines().iter().all(|l| l.starts_with("would ")), "{:?}", would.lines());
        let nothing = Applied { created: false, enabled_policy_type: false, attached: false, ..applied };
        assert!(!nothing.wrote() && nothing.lines()[0].contains("nothing was written"));
    }
}
