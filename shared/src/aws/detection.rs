//! AWS CloudTrail and Amazon EventBridge: read, for the check that tamper detection can work
//! ([`crate::detection`]): the trails a region logs with, their status and event selectors, and the rules of the
//! default event bus, as the management account with the functions' own credentials, as the admin account through
//! the admin role; written, for the management account's forwarders of its GuardDuty calls
//! ([`crate::forwarding`]), as the management account only.

use aws_config::SdkConfig;
use aws_sdk_cloudtrail as cloudtrail;
use aws_sdk_eventbridge as eventbridge;

use super::{retry, Caller};
use crate::detection::{BasicSelector, DetectionApi, FieldSelector, Rule, Selectors, Trail};
use crate::error::Error;
use crate::forwarding::{Forwarder, ForwardingApi, Wanted, TARGET_ID};
use crate::ports::Side;

/// CloudTrail and EventBridge as either side, in any region; a client is built per call (the check runs once per
/// schedule, and a client is cheap beside its calls; the admin's credentials are the cached ones of its SDK
/// configuration).
#[derive(Clone, Debug)]
pub(crate) struct AwsDetection {
    management: SdkConfig,
    admin: SdkConfig,
    admin_account: String,
}

impl AwsDetection {
    pub(super) fn new(management: SdkConfig, admin: SdkConfig, admin_account: String) -> Self {
        Self { management, admin, admin_account }
    }

    fn conf(&self, side: Side) -> &SdkConfig {
        match side {
            Side::Management => &self.management,
            Side::Admin => &self.admin,
        }
    }

    fn caller(&self, side: Side, region: &str) -> Caller {
        let account = match side {
            Side::Management => "management".to_owned(),
            Side::Admin => self.admin_account.clone(),
        };
        Caller { region: region.to_owned(), account }
    }

    fn cloudtrail(&self, side: Side, region: &str) -> cloudtrail::Client {
        let conf = cloudtrail::config::Builder::from(self.conf(side))
            .region(cloudtrail::config::Region::new(region.to_owned()))
            .retry_partition(retry::unlimited_partition("cloudtrail"))
            .build();
        cloudtrail::Client::from_conf(conf)
    }

    fn eventbridge(&self, side: Side, region: &str) -> eventbridge::Client {
        let conf = eventbridge::config::Builder::from(self.conf(side))
            .region(eventbridge::config::Region::new(region.to_owned()))
            .retry_partition(retry::unlimited_partition("eventbridge"))
            .build();
        eventbridge::Client::from_conf(conf)
    }
}

impl DetectionApi for AwsDetection {
    /// DescribeTrails with `includeShadowTrails` true: "If you do not include shadow trails, organization trails in
    /// a member account and Region replication trails will not be returned" (CloudTrail API Reference,
    /// DescribeTrails).
    async fn trails(&self, side: Side, region: &str) -> Result<Vec<Trail>, Error> {
        let caller = self.caller(side, region);
        let client = self.cloudtrail(side, region);
        let out =
            client.describe_trails().include_shadow_trails(true).send().await.map_err(caller.fail("DescribeTrails"))?;
        Ok(out
            .trail_list()
            .iter()
            .filter_map(|t| {
                let arn = t.trail_arn()?.to_owned();
                Some(Trail {
                    name: t.name().unwrap_or(&arn).to_owned(),
                    home_region: t.home_region().unwrap_or(region).to_owned(),
                    organization: t.is_organization_trail().unwrap_or(false),
                    arn,
                })
            })
            .collect())
    }

    /// GetTrailStatus by ARN: "To get the status of a shadow trail (a replication of the trail in another Region),
    /// you must specify its ARN" (CloudTrail API Reference, GetTrailStatus).
    async fn trail_logging(&self, side: Side, region: &str, arn: &str) -> Result<bool, Error> {
        let caller = self.caller(side, region);
        let client = self.cloudtrail(side, region);
        let out = client.get_trail_status().name(arn).send().await.map_err(caller.fail("GetTrailStatus"))?;
        Ok(out.is_logging().unwrap_or(false))
    }

    async fn event_selectors(&self, side: Side, region: &str, arn: &str) -> Result<Selectors, Error> {
        let caller = self.caller(side, region);
        let client = self.cloudtrail(side, region);
        let out =
            client.get_event_selectors().trail_name(arn).send().await.map_err(caller.fail("GetEventSelectors"))?;
        let basic = out
            .event_selectors()
            .iter()
            .map(|s| BasicSelector {
                read_write: s.read_write_type().map(|t| t.as_str().to_owned()),
                management: s.include_management_events(),
            })
            .collect();
        let advanced = out
            .advanced_event_selectors()
            .iter()
            .map(|a| {
                a.field_selectors()
                    .iter()
                    .map(|f| FieldSelector {
                        field: f.field().to_owned(),
                        equals: f.equals().to_vec(),
                        starts_with: f.starts_with().to_vec(),
                        ends_with: f.ends_with().to_vec(),
                        not_equals: f.not_equals().to_vec(),
                        not_starts_with: f.not_starts_with().to_vec(),
                        not_ends_with: f.not_ends_with().to_vec(),
                    })
                    .collect()
            })
            .collect();
        Ok(Selectors { basic, advanced })
    }

    async fn rule(&self, side: Side, region: &str, name: &str) -> Result<Option<Rule>, Error> {
        let caller = self.caller(side, region);
        let client = self.eventbridge(side, region);
        match client.describe_rule().name(name).send().await {
            Ok(out) => Ok(Some(Rule {
                name: out.name().unwrap_or(name).to_owned(),
                state: out.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                pattern: out.event_pattern().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(caller.error("DescribeRule", e)),
        }
    }

    /// ListRuleNamesByTarget, every page (`NextToken`; the SDK has no paginator for it).
    async fn rules_targeting(&self, side: Side, region: &str, target: &str) -> Result<Vec<String>, Error> {
        let caller = self.caller(side, region);
        let client = self.eventbridge(side, region);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_rule_names_by_target()
                .target_arn(target)
                .set_next_token(token)
                .send()
                .await
                .map_err(caller.fail("ListRuleNamesByTarget"))?;
            names.extend(page.rule_names().iter().cloned());
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                return Ok(names);
            }
        }
    }
}

impl ForwardingApi for AwsDetection {
    async fn forwarder(&self, region: &str, name: &str) -> Result<Option<Forwarder>, Error> {
        let Some(rule) = self.rule(Side::Management, region, name).await? else { return Ok(None) };
        // A forwarder has one target: one page says it.
        let caller = self.caller(Side::Management, region);
        let client = self.eventbridge(Side::Management, region);
        let targets =
            client.list_targets_by_rule().rule(name).send().await.map_err(caller.fail("ListTargetsByRule"))?;
        Ok(Some(Forwarder {
            rule,
            targets: targets.targets().iter().map(|t| (t.arn().to_owned(), t.role_arn().map(str::to_owned))).collect(),
        }))
    }

    /// PutRule creates the rule or replaces its pattern and state; PutTargets adds the target or replaces the one of
    /// the same id. A target that fails is in PutTargets' answer (`FailedEntryCount`), not an error: made one here.
    async fn put_forwarder(&self, region: &str, wanted: &Wanted, pattern: &str) -> Result<(), Error> {
        let caller = self.caller(Side::Management, region);
        let client = self.eventbridge(Side::Management, region);
        client
            .put_rule()
            .name(&wanted.name)
            .event_pattern(pattern)
            .state(eventbridge::types::RuleState::Enabled)
            .description(
                "Forwards the management account's GuardDuty calls that can weaken detection to guardduty-enabler's \
                 responder (kept by its bootstrapper).",
            )
            .send()
            .await
            .map_err(caller.fail("PutRule"))?;
        let target = eventbridge::types::Target::builder()
            .id(TARGET_ID)
            .arn(&wanted.bus)
            .role_arn(&wanted.role)
            .build()
            .map_err(|e| Error::Unexpected(format!("a forwarder's target: {e}")))?;
        let out =
            client.put_targets().rule(&wanted.name).targets(target).send().await.map_err(caller.fail("PutTargets"))?;
        if let Some(failed) = out.failed_entries().first() {
            return Err(Error::Unexpected(format!(
                "PutTargets in {region} refused the target: {} {}",
                failed.error_code().unwrap_or_default(),
                failed.error_message().unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// "Before you can delete the rule, you must remove all targets, using RemoveTargets" (EventBridge API
    /// Reference, DeleteRule). A rule that does not exist is gone already.
    async fn delete_forwarder(&self, region: &str, name: &str) -> Result<(), Error> {
        let caller = self.caller(Side::Management, region);
        let client = self.eventbridge(Side::Management, region);
        match client.remove_targets().rule(name).ids(TARGET_ID).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(()),
            Err(e) => return Err(caller.error("RemoveTargets", e)),
        }
        match client.delete_rule().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(caller.error("DeleteRule", e)),
        }
    }
}
