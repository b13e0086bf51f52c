//! The management account's own GuardDuty calls, forwarded from every governed region to its default event bus in
//! the stack's region, where `GuardDutyTamperRule` hears them.
//!
//! "AWS API Call via CloudTrail" events go to the default event bus of the account and region where the call was
//! made (EventBridge User Guide, "Events from AWS services delivered via AWS CloudTrail"). The stack's rule hears
//! the management account's calls in the stack's region only; the admin account's calls elsewhere come through its
//! StackSet's forwarders (infra/admin-role.yaml). A CloudFormation stack lives in one region, so the management
//! account's forwarders in the other governed regions are kept by the bootstrapper: in each, one rule on the default
//! bus, named by `TAMPER_FORWARDER`, that matches the same calls as `GuardDutyTamperRule` and sends them to the
//! stack region's default bus through the role `TAMPER_FORWARD_ROLE_ARN` (a rule whose target is an event bus in
//! another region needs a role that allows events:PutEvents on it: EventBridge User Guide, "Sending and receiving
//! events between AWS Regions in Amazon EventBridge").
//!
//! Deciding is [`plan`], pure: a forwarder is written (PutRule, then PutTargets) where none is, or where it is not
//! as it should be (disabled, another pattern, another target or role); nothing where it is. The stack's Delete
//! removes them ([`remove`]: RemoveTargets, then DeleteRule) in every region the management account has enabled.
//! A dry run writes nothing and says what it would write.

use std::collections::BTreeMap;
use std::future::Future;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::detection::Rule;
use crate::error::Error;
use crate::ids::partition_of;
use crate::ports::{Cloud, Side};
use crate::run::Enabler;
use crate::tamper::GUARDDUTY_CALLS;

/// The id of a forwarder's one target.
pub const TARGET_ID: &str = "management-bus";

/// A forwarder as EventBridge shows it: DescribeRule and ListTargetsByRule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forwarder {
    /// The rule: its state and event pattern.
    pub rule: Rule,
    /// Its targets: each target's ARN and role ARN.
    pub targets: Vec<(String, Option<String>)>,
}

/// What a forwarder should be: its name, what it matches, where it sends, and with which role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The rule's name (`TAMPER_FORWARDER`).
    pub name: String,
    /// The stack region's default event bus of the management account.
    pub bus: String,
    /// The role EventBridge assumes to put events on it (`TAMPER_FORWARD_ROLE_ARN`).
    pub role: String,
}

impl Wanted {
    /// The forwarder of `name` to the default bus of `management` in `home`, through `role`.
    pub fn new(name: &str, management: &str, home: &str, role: &str) -> Self {
        Self {
            name: name.to_owned(),
            bus: format!("arn:{}:events:{home}:{management}:event-bus/default", partition_of(home)),
            role: role.to_owned(),
        }
    }
}

/// The event pattern: GuardDuty's calls that weaken detection, as `GuardDutyTamperRule` matches them (exact names,
/// so that no read-only call can match).
pub fn pattern() -> serde_json::Value {
    serde_json::json!({
        "source": ["aws.guardduty"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["guardduty.amazonaws.com"], "eventName": GUARDDUTY_CALLS},
    })
}

/// Whether `found` is the forwarder `wanted`: enabled, with the pattern (compared as JSON), and one target, the bus,
/// through the role.
pub fn is_as_wanted(found: &Forwarder, wanted: &Wanted) -> bool {
    let enabled = found.rule.enabled();
    let same_pattern = found
        .rule
        .pattern
        .as_deref()
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .is_some_and(|p| p == pattern());
    let target = found.targets.as_slice() == [(wanted.bus.clone(), Some(wanted.role.clone()))];
    enabled && same_pattern && target
}

/// The regions whose forwarder must be written: of `governed`, every one but `home` (the stack's rule hears it
/// directly) where `found` shows none, or one not as wanted. A region whose forwarder could not be read is left out
/// (its error is reported by the caller).
pub fn plan(
    governed: &[String],
    home: &str,
    found: &BTreeMap<String, Option<Forwarder>>,
    wanted: &Wanted,
) -> Vec<String> {
    governed
        .iter()
        .filter(|r| r.as_str() != home)
        .filter(|r| match found.get(r.as_str()) {
            None => false,
            Some(None) => true,
            Some(Some(f)) => !is_as_wanted(f, wanted),
        })
        .cloned()
        .collect()
}

/// EventBridge rules of the management account, in any region: what the forwarders need.
pub trait ForwardingApi: Send + Sync {
    /// DescribeRule and ListTargetsByRule of `name` on the default bus of `region`: `None` when there is no such
    /// rule.
    fn forwarder(&self, region: &str, name: &str) -> impl Future<Output = Result<Option<Forwarder>, Error>> + Send;
    /// PutRule (enabled, with `pattern`), then PutTargets: the one target, `wanted.bus` through `wanted.role`.
    fn put_forwarder(
        &self,
        region: &str,
        wanted: &Wanted,
        pattern: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// RemoveTargets, then DeleteRule; nothing where there is no such rule.
    fn delete_forwarder(&self, region: &str, name: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// What keeping the forwarders did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Forwarding {
    /// The regions whose forwarder was written (in a dry run: would be).
    pub written: Vec<String>,
    /// The regions whose forwarder is as it should be.
    pub in_place: Vec<String>,
    /// What failed, each prefixed with its region.
    pub failed: Vec<String>,
    /// Whether nothing was written (a dry run).
    pub dry_run: bool,
}

/// Brings the forwarder of every region of `governed` but the stack's to `wanted`, at most
/// GUARDDUTY_REGION_CONCURRENCY regions at once; in a dry run, reads only. Never fails: what failed is in the
/// answer.
pub async fn ensure<C: Cloud>(enabler: &Enabler<C>, governed: &[String], wanted: &Wanted) -> Forwarding {
    let cloud = enabler.cloud();
    let dry_run = enabler.settings().dry_run;
    let Some(api) = cloud.forwarding() else {
        return Forwarding {
            failed: vec!["EventBridge cannot be written here".into()],
            dry_run,
            ..Forwarding::default()
        };
    };
    let home = cloud.home_region();
    let concurrency = enabler.settings().region_concurrency.max(1);
    let others: Vec<String> = governed.iter().filter(|r| r.as_str() != home).cloned().collect();
    let reads: Vec<(String, Result<Option<Forwarder>, Error>)> = stream::iter(others)
        .map(|region| async move {
            let found = api.forwarder(&region, &wanted.name).await;
            (region, found)
        })
        .buffered(concurrency)
        .collect()
        .await;
    let mut out = Forwarding { dry_run, ..Forwarding::default() };
    let mut found = BTreeMap::new();
    for (region, read) in reads {
        match read {
            Ok(f) => {
                found.insert(region, f);
            }
            Err(e) => out.failed.push(format!("{region}: the forwarder could not be read: {e}")),
        }
    }
    let to_write = plan(governed, home, &found, wanted);
    out.in_place = found.keys().filter(|r| !to_write.contains(r)).cloned().collect();
    if dry_run {
        out.written = to_write;
        return out;
    }
    let text = pattern().to_string();
    let writes: Vec<(String, Result<(), Error>)> = stream::iter(to_write)
        .map(|region| {
            let text = &text;
            async move {
                let done = api.put_forwarder(&region, wanted, text).await;
                (region, done)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    for (region, done) in writes {
        match done {
            Ok(()) => out.written.push(region),
            Err(e) => out.failed.push(format!("{region}: the forwarder could not be written: {e}")),
        }
    }
    out
}

/// Removes the forwarder named `name` from every region the management account has enabled (the stack's Delete).
/// Never fails: what could not be removed is returned, each prefixed with its region.
pub async fn remove<C: Cloud>(enabler: &Enabler<C>, name: &str) -> Vec<String> {
    let cloud = enabler.cloud();
    let Some(api) = cloud.forwarding() else { return vec!["EventBridge cannot be written here".into()] };
    let regions = match cloud.enabled_regions(Side::Management).await {
        Ok(regions) => regions,
        Err(e) => return vec![format!("the management account's regions could not be listed: {e}")],
    };
    let home = cloud.home_region().to_owned();
    let concurrency = enabler.settings().region_concurrency.max(1);
    stream::iter(regions.into_iter().map(|r| r.name).filter(|r| *r != home))
        .map(|region| async move {
            let done = api.delete_forwarder(&region, name).await;
            done.err().map(|e| format!("{region}: the forwarder could not be removed: {e}"))
        })
        .buffered(concurrency)
        .filter_map(|failed| async move { failed })
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Wanted {
        Wanted::new("gd-calls", "111122223333", "us-east-1", "arn:aws:iam::111122223333:role/forward")
    }

    fn as_wanted() -> Forwarder {
        let w = wanted();
        let rule = Rule { name: w.name, state: "ENABLED".into(), pattern: Some(pattern().to_string()) };
        Forwarder { rule, targets: vec![(w.bus, Some(w.role))] }
    }

    #[test]
    fn the_target_is_the_default_bus_of_the_stacks_region_in_its_partition() {
        assert_eq!(wanted().bus, "arn:aws:events:us-east-1:111122223333:event-bus/default");
        let gov = Wanted::new("n", "111122223333", "us-gov-west-1", "r");
        assert_eq!(gov.bus, "arn:aws-us-gov:events:us-gov-west-1:111122223333:event-bus/default");
    }

    #[test]
    fn the_pattern_matches_exactly_the_guardduty_calls_of_the_tamper_rule() {
        let p = pattern();
        assert_eq!(p["detail"]["eventName"].as_array().map(Vec::len), Some(GUARDDUTY_CALLS.len()));
        assert_eq!(p["source"], serde_json::json!(["aws.guardduty"]));
        assert_eq!(p["detail-type"], serde_json::json!(["AWS API Call via CloudTrail"]));
    }

    #[test]
    fn given_forwarders_found_when_planned_then_only_the_missing_or_changed_ones_outside_home_are_written() {
        let governed: Vec<String> =
            ["us-east-1", "eu-west-1", "eu-central-1", "ap-south-1", "sa-east-1", "ca-central-1"]
                .map(String::from)
                .into();
        let mut disabled = as_wanted();
        disabled.rule.state = "DISABLED".into();
        let mut other_role = as_wanted();
        other_role.targets[0].1 = Some("arn:aws:iam::111122223333:role/other".into());
        let mut other_pattern = as_wanted();
        other_pattern.rule.pattern = Some(r#"{"source":["aws.guardduty"]}"#.into());
        // the same pattern, its keys in another order, is the same pattern
        let mut reordered = as_wanted();
        reordered.rule.pattern = Some(
            serde_json::json!({"detail": pattern()["detail"], "detail-type": pattern()["detail-type"], "source": ["aws.guardduty"]})
                .to_string(),
        );
        let found: BTreeMap<String, Option<Forwarder>> = [
            ("eu-west-1", None),
            ("eu-central-1", Some(disabled)),
            ("ap-south-1", Some(other_role)),
            ("sa-east-1", Some(other_pattern)),
            ("ca-central-1", Some(reordered)),
        ]
        .into_iter()
        .map(|(r, f)| (r.to_owned(), f))
        .collect();
        assert_eq!(
            plan(&governed, "us-east-1", &found, &wanted()),
            ["eu-west-1", "eu-central-1", "ap-south-1", "sa-east-1"]
        );
        // a region not read is not written, and the stack's region never is
        let none = BTreeMap::new();
        assert!(plan(&governed, "us-east-1", &none, &wanted()).is_empty());
        let home_missing: BTreeMap<String, Option<Forwarder>> = [("us-east-1".to_owned(), None)].into();
        assert!(plan(&governed, "us-east-1", &home_missing, &wanted()).is_empty());
    }
}
