//! Amazon GuardDuty in one region as one account: detectors, the delegated admin, the organization configuration
//! and the members.

use aws_sdk_guardduty as gd;

use super::{each_page, Caller, SettlingWindows};
use crate::config::{AutoEnable, FindingFrequency, Plan};
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::ports::{
    Cost, FindingList, GuardDutyApi, ListKind, MemberFeatures, PublishingDestination, SavedFilter, Unprocessed,
};
use crate::state::{
    AdminStatus, DelegatedAdmin, Detector, FeatureState, MemberStatus, Members, OrgConfig, OrgFeatureState,
};

/// GuardDuty in one region as one account.
#[derive(Clone, Debug)]
pub struct AwsGuardDuty {
    client: gd::Client,
    caller: Caller,
    windows: SettlingWindows,
}

impl AwsGuardDuty {
    pub(super) fn new(client: gd::Client, caller: Caller, windows: SettlingWindows) -> Self {
        Self { client, caller, windows }
    }

    /// Wraps a client for `region`, acting as `account` (used in error messages), with no settling window open.
    pub fn from_client(client: gd::Client, region: &str, account: &str) -> Self {
        let caller = Caller { region: region.to_owned(), account: account.to_owned() };
        Self::new(client, caller, SettlingWindows::default())
    }
}

/// The API's feature configurations for `plans`: one per plan, each with its additional configurations (the
/// detector's and the organization's shapes differ only in their types and in status versus auto-enable).
fn configurations<F, A>(
    plans: &[Plan],
    feature: impl Fn(&str, Option<Vec<A>>) -> F,
    agent: impl Fn(&str) -> A,
) -> Vec<F> {
    plans
        .iter()
        .map(|p| {
            let agents: Vec<A> = p.agents.iter().map(|a| agent(a)).collect();
            feature(&p.name, (!agents.is_empty()).then_some(agents))
        })
        .collect()
}

fn detector_features(plans: &[Plan]) -> Option<Vec<gd::types::DetectorFeatureConfiguration>> {
    use gd::types::{DetectorAdditionalConfiguration, DetectorFeatureConfiguration, FeatureStatus};
    let features = configurations(
        plans,
        |name, agents| {
            DetectorFeatureConfiguration::builder()
                .name(name.into())
                .status(FeatureStatus::Enabled)
                .set_additional_configuration(agents)
                .build()
        },
        |name| DetectorAdditionalConfiguration::builder().name(name.into()).status(FeatureStatus::Enabled).build(),
    );
    (!features.is_empty()).then_some(features)
}

/// Whether a `ManagedBy` says a GuardDuty organization policy owns the setting.
fn by_policy(m: &gd::types::ManagedBy) -> bool {
    *m == gd::types::ManagedBy::GuarddutyPolicy
}

/// A plan as a detector or member-detector result gives it: its name, status, `ManagedBy`, and its additional
/// configurations' (name, status, `ManagedBy`).
fn feature<'a>(
    name: &str,
    status: Option<&gd::types::FeatureStatus>,
    managed: bool,
    agents: impl Iterator<Item = (&'a str, Option<&'a gd::types::FeatureStatus>, bool)>,
) -> Option<(String, FeatureState)> {
    let on = |s: Option<&gd::types::FeatureStatus>| s == Some(&gd::types::FeatureStatus::Enabled);
    let mut state = FeatureState { enabled: on(status), by_policy: managed, ..FeatureState::default() };
    for (agent, status, managed) in agents {
        state.agents.insert(agent.to_owned(), on(status));
        if managed {
            state.agents_by_policy.insert(agent.to_owned());
        }
    }
    Some((name.to_owned(), state))
}

/// The member feature configurations that turn `on` on (with their additional configurations) and `off` off.
fn member_features(on: &[Plan], off: &[String]) -> Vec<gd::types::MemberFeaturesConfiguration> {
    use gd::types::{FeatureStatus, MemberAdditionalConfiguration, MemberFeaturesConfiguration};
    let mut features = configurations(
        on,
        |name, agents| {
            MemberFeaturesConfiguration::builder()
                .name(name.into())
                .status(FeatureStatus::Enabled)
                .set_additional_configuration(agents)
                .build()
        },
        |name| MemberAdditionalConfiguration::builder().name(name.into()).status(FeatureStatus::Enabled).build(),
    );
    features.extend(off.iter().map(|name| {
        MemberFeaturesConfiguration::builder().name(name.as_str().into()).status(FeatureStatus::Disabled).build()
    }));
    features
}

fn frequency(f: Option<FindingFrequency>) -> Option<gd::types::FindingPublishingFrequency> {
    f.map(|f| gd::types::FindingPublishingFrequency::from(f.as_str()))
}

fn unprocessed(items: &[gd::types::UnprocessedAccount]) -> Unprocessed {
    items
        .iter()
        .filter_map(|u| Some((u.account_id()?.parse().ok()?, u.result().unwrap_or("no reason given").to_owned())))
        .collect()
}

fn member_status(m: &gd::types::Member) -> Option<(AccountId, MemberStatus)> {
    Some((m.account_id()?.parse().ok()?, MemberStatus::parse(m.relationship_status().unwrap_or_default())))
}

fn ids(ids: &[AccountId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

impl GuardDutyApi for AwsGuardDuty {
    async fn detector_id(&self) -> Result<Option<String>, Error> {
        let out = self.client.list_detectors().send().await.map_err(self.caller.fail("ListDetectors"))?;
        Ok(out.detector_ids().iter().find(|id| !id.is_empty()).cloned())
    }

    async fn get_detector(&self, id: &str) -> Result<Detector, Error> {
        let out = self.client.get_detector().detector_id(id).send().await.map_err(self.caller.fail("GetDetector"))?;
        let features = out
            .features()
            .iter()
            .filter_map(|f| {
                let agents = f
                    .additional_configuration()
                    .iter()
                    .filter_map(|a| Some((a.name()?.as_str(), a.status(), a.managed_by().is_some_and(by_policy))));
                feature(f.name()?.as_str(), f.status(), f.managed_by().is_some_and(by_policy), agents)
            })
            .collect();
        Ok(Detector {
            id: id.to_owned(),
            enabled: out.status() == Some(&gd::types::DetectorStatus::Enabled),
            frequency: out.finding_publishing_frequency().map(|f| f.as_str().to_owned()),
            features,
        })
    }

    async fn create_detector(&self, plans: &[Plan], freq: Option<FindingFrequency>) -> Result<String, Error> {
        let out = self
            .client
            .create_detector()
            .enable(true)
            .set_features(detector_features(plans))
            .set_finding_publishing_frequency(frequency(freq))
            .send()
            .await
            .map_err(self.caller.fail("CreateDetector"))?;
        match out.detector_id() {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(self.caller.unexpected("CreateDetector", "no detector id")),
        }
    }

    async fn update_detector(&self, id: &str, plans: &[Plan], freq: Option<FindingFrequency>) -> Result<(), Error> {
        self.client
            .update_detector()
            .detector_id(id)
            .enable(true)
            .set_features(detector_features(plans))
            .set_finding_publishing_frequency(frequency(freq))
            .send()
            .await
            .map_err(self.caller.fail("UpdateDetector"))?;
        Ok(())
    }

    async fn delegated_admins(&self) -> Result<Vec<DelegatedAdmin>, Error> {
        let pages = self.client.list_organization_admin_accounts().into_paginator().send();
        let mut admins = Vec::new();
        each_page(pages, "ListOrganizationAdminAccounts", &self.caller, |page| {
            admins.extend(page.admin_accounts().iter().filter_map(|a| {
                Some(DelegatedAdmin {
                    account: a.admin_account_id()?.to_owned(),
                    status: AdminStatus::parse(a.admin_status().map_or("ENABLED", |s| s.as_str())),
                })
            }));
        })
        .await?;
        Ok(admins)
    }

    async fn designate_admin(&self, admin: &AccountId) -> Result<(), Error> {
        self.client
            .enable_organization_admin_account()
            .admin_account_id(admin.as_str())
            .send()
            .await
            .map_err(self.caller.fail("EnableOrganizationAdminAccount"))?;
        self.windows.open(&self.caller.region);
        Ok(())
    }

    async fn org_config(&self, detector: &str) -> Result<OrgConfig, Error> {
        let pages = self.client.describe_organization_configuration().detector_id(detector).into_paginator().send();
        let mut config = OrgConfig::default();
        each_page(pages, "DescribeOrganizationConfiguration", &self.caller, |out| {
            if let Some(a) = out.auto_enable_organization_members() {
                config.auto_enable = Some(a.as_str().to_owned());
            }
            for f in out.features() {
                let Some(name) = f.name() else { continue };
                let agents = f
                    .additional_configuration()
                    .iter()
                    .filter_map(|a| Some((a.name()?.as_str().to_owned(), a.auto_enable()?.as_str().to_owned())))
                    .collect();
                let auto_enable = f.auto_enable().map(|a| a.as_str().to_owned()).unwrap_or_default();
                config.features.insert(name.as_str().to_owned(), OrgFeatureState { auto_enable, agents });
            }
        })
        .await?;
        Ok(config)
    }

    async fn update_org_config(
        &self,
        detector: &str,
        auto_enable: AutoEnable,
        plans: &[Plan],
        new_only: &[String],
    ) -> Result<(), Error> {
        use gd::types::{AutoEnableMembers, OrgFeatureStatus};
        use gd::types::{OrganizationAdditionalConfiguration, OrganizationFeatureConfiguration};
        let features: Vec<OrganizationFeatureConfiguration> = plans
            .iter()
            .map(|p| {
                let want =
                    OrgFeatureStatus::from(if new_only.contains(&p.name) { "NEW" } else { auto_enable.for_plans() });
                let agents: Vec<OrganizationAdditionalConfiguration> = p
                    .agents
                    .iter()
                    .map(|a| {
                        OrganizationAdditionalConfiguration::builder()
                            .name(a.as_str().into())
                            .auto_enable(want.clone())
                            .build()
                    })
                    .collect();
                OrganizationFeatureConfiguration::builder()
                    .name(p.name.as_str().into())
                    .auto_enable(want)
                    .set_additional_configuration((!agents.is_empty()).then_some(agents))
                    .build()
            })
            .collect();
        self.client
            .update_organization_configuration()
            .detector_id(detector)
            .auto_enable_organization_members(AutoEnableMembers::from(auto_enable.as_str()))
            .set_features((!features.is_empty()).then_some(features))
            .send()
            .await
            .map_err(self.caller.fail("UpdateOrganizationConfiguration"))?;
        Ok(())
    }

    async fn list_members(&self, detector: &str) -> Result<Members, Error> {
        let pages = self
            .client
            .list_members()
            .detector_id(detector)
            .only_associated("false")
            .max_results(50)
            .into_paginator()
            .send();
        let mut members = Members::new();
        each_page(pages, "ListMembers", &self.caller, |page| {
            members.extend(page.members().iter().filter_map(member_status))
        })
        .await?;
        Ok(members)
    }

    async fn get_members(&self, detector: &str, accounts: &[AccountId]) -> Result<Members, Error> {
        let out = self
            .client
            .get_members()
            .detector_id(detector)
            .set_account_ids(Some(ids(accounts)))
            .send()
            .await
            .map_err(self.caller.fail("GetMembers"))?;
        Ok(out.members().iter().filter_map(member_status).collect())
    }

    async fn member_features(&self, detector: &str, accounts: &[AccountId]) -> Result<MemberFeatures, Error> {
        let out = self
            .client
            .get_member_detectors()
            .detector_id(detector)
            .set_account_ids(Some(ids(accounts)))
            .send()
            .await
            .map_err(self.caller.fail("GetMemberDetectors"))?;
        let features = out
            .member_data_source_configurations()
            .iter()
            .filter_map(|m| {
                let id: AccountId = m.account_id()?.parse().ok()?;
                let plans = m
                    .features()
                    .iter()
                    .filter_map(|f| {
                        let agents = f.additional_configuration().iter().filter_map(|a| {
                            Some((a.name()?.as_str(), a.status(), a.managed_by().is_some_and(by_policy)))
                        });
                        feature(f.name()?.as_str(), f.status(), f.managed_by().is_some_and(by_policy), agents)
                    })
                    .collect();
                Some((id, plans))
            })
            .collect();
        Ok((features, unprocessed(out.unprocessed_accounts())))
    }

    async fn update_member_features(
        &self,
        detector: &str,
        accounts: &[AccountId],
        on: &[Plan],
        off: &[String],
    ) -> Result<Unprocessed, Error> {
        let out = self
            .client
            .update_member_detectors()
            .detector_id(detector)
            .set_account_ids(Some(ids(accounts)))
            .set_features(Some(member_features(on, off)))
            .send()
            .await
            .map_err(self.caller.fail("UpdateMemberDetectors"))?;
        Ok(unprocessed(out.unprocessed_accounts()))
    }

    async fn publishing_destinations(&self, detector: &str) -> Result<Vec<(String, String)>, Error> {
        let pages = self.client.list_publishing_destinations().detector_id(detector).into_paginator().send();
        let mut found = Vec::new();
        each_page(pages, "ListPublishingDestinations", &self.caller, |page| {
            found.extend(page.destinations().iter().filter_map(|d| {
                Some((d.destination_id()?.to_owned(), d.status().map(|s| s.as_str().to_owned()).unwrap_or_default()))
            }));
        })
        .await?;
        Ok(found)
    }

    async fn publishing_destination(&self, detector: &str, id: &str) -> Result<PublishingDestination, Error> {
        let out = self
            .client
            .describe_publishing_destination()
            .detector_id(detector)
            .destination_id(id)
            .send()
            .await
            .map_err(self.caller.fail("DescribePublishingDestination"))?;
        let properties = out.destination_properties();
        Ok(PublishingDestination {
            id: id.to_owned(),
            status: out.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            destination: properties.and_then(|p| p.destination_arn()).unwrap_or_default().to_owned(),
            kms_key: properties.and_then(|p| p.kms_key_arn()).unwrap_or_default().to_owned(),
            failing_since_ms: out.publishing_failure_start_timestamp().filter(|t| *t > 0),
        })
    }

    async fn create_publishing_destination(
        &self,
        detector: &str,
        destination: &str,
        kms_key: &str,
        token: &str,
    ) -> Result<String, Error> {
        let properties =
            gd::types::DestinationProperties::builder().destination_arn(destination).kms_key_arn(kms_key).build();
        let out = self
            .client
            .create_publishing_destination()
            .detector_id(detector)
            .destination_type(gd::types::DestinationType::S3)
            .destination_properties(properties)
            .client_token(token)
            .send()
            .await
            .map_err(self.caller.fail("CreatePublishingDestination"))?;
        out.destination_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| self.caller.unexpected("CreatePublishingDestination", "no destination id"))
    }

    async fn update_publishing_destination(
        &self,
        detector: &str,
        id: &str,
        destination: &str,
        kms_key: &str,
    ) -> Result<(), Error> {
        let properties =
            gd::types::DestinationProperties::builder().destination_arn(destination).kms_key_arn(kms_key).build();
        self.client
            .update_publishing_destination()
            .detector_id(detector)
            .destination_id(id)
            .destination_properties(properties)
            .send()
            .await
            .map_err(self.caller.fail("UpdatePublishingDestination"))?;
        Ok(())
    }

    async fn create_members(&self, detector: &str, accounts: &[MemberAccount]) -> Result<Unprocessed, Error> {
        let details = accounts
            .iter()
            .map(|a| gd::types::AccountDetail::builder().account_id(a.id.as_str()).email(&*a.email).build())
            .collect();
        let out = self
            .client
            .create_members()
            .detector_id(detector)
            .set_account_details(Some(details))
            .send()
            .await
            .map_err(self.caller.fail("CreateMembers"))?;
        self.windows.open(&self.caller.region);
        Ok(unprocessed(out.unprocessed_accounts()))
    }

    async fn start_monitoring(&self, detector: &str, accounts: &[AccountId]) -> Result<Unprocessed, Error> {
        let out = self
            .client
            .start_monitoring_members()
            .detector_id(detector)
            .set_account_ids(Some(ids(accounts)))
            .send()
            .await
            .map_err(self.caller.fail("StartMonitoringMembers"))?;
        Ok(unprocessed(out.unprocessed_accounts()))
    }

    async fn delete_members(&self, detector: &str, accounts: &[AccountId]) -> Result<Unprocessed, Error> {
        let out = self
            .client
            .delete_members()
            .detector_id(detector)
            .set_account_ids(Some(ids(accounts)))
            .send()
            .await
            .map_err(self.caller.fail("DeleteMembers"))?;
        Ok(unprocessed(out.unprocessed_accounts()))
    }

    async fn filter_names(&self, detector: &str) -> Result<Vec<String>, Error> {
        super::lists::filter_names(&self.client, &self.caller, detector).await
    }

    async fn filter(&self, detector: &str, name: &str) -> Result<SavedFilter, Error> {
        super::lists::filter(&self.client, &self.caller, detector, name).await
    }

    async fn list_ids(&self, detector: &str, kind: ListKind) -> Result<Vec<String>, Error> {
        super::lists::list_ids(&self.client, &self.caller, detector, kind).await
    }

    async fn list(&self, detector: &str, kind: ListKind, id: &str) -> Result<FindingList, Error> {
        super::lists::list(&self.client, &self.caller, detector, kind, id).await
    }

    async fn set_filter_action(&self, detector: &str, name: &str, action: &str) -> Result<(), Error> {
        super::lists::set_filter_action(&self.client, &self.caller, detector, name, action).await
    }

    async fn set_list_active(&self, detector: &str, kind: ListKind, id: &str, active: bool) -> Result<(), Error> {
        super::lists::set_list_active(&self.client, &self.caller, detector, kind, id, active).await
    }

    async fn usage_by_feature(&self, detector: &str, accounts: &[AccountId]) -> Result<Vec<Cost>, Error> {
        let criteria = gd::types::UsageCriteria::builder().set_account_ids(Some(ids(accounts))).build();
        let pages = self
            .client
            .get_usage_statistics()
            .detector_id(detector)
            .usage_statistic_type(gd::types::UsageStatisticType::SumByFeatures)
            .usage_criteria(criteria)
            .into_paginator()
            .send();
        let mut costs = Vec::new();
        each_page(pages, "GetUsageStatistics", &self.caller, |page| {
            let sums = page.usage_statistics().map(|u| u.sum_by_feature()).unwrap_or_default();
            costs.extend(sums.iter().filter_map(|r| {
                let total = r.total()?;
                Some(Cost {
                    feature: r.feature()?.as_str().to_owned(),
                    amount: total.amount()?.parse().ok()?,
                    unit: total.unit().unwrap_or("USD").to_owned(),
                })
            }))
        })
        .await?;
        Ok(costs)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_guardduty::config::retry::RetryConfig;
    use aws_sdk_guardduty::operation::create_members::CreateMembersOutput;
    use aws_sdk_guardduty::operation::describe_organization_configuration::DescribeOrganizationConfigurationOutput;
    use aws_sdk_guardduty::operation::list_members::ListMembersOutput;
    use aws_sdk_guardduty::operation::list_organization_admin_accounts::ListOrganizationAdminAccountsOutput;
    use aws_sdk_guardduty::types::{AdminAccount, Member, UnprocessedAccount};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::super::SettlingRetry;
    use super::*;

    fn member(i: usize) -> Member {
        Member::builder().account_id(format!("{:012}", 100_000_000_000usize + i)).relationship_status("Enabled").build()
    }

    fn fast_retries(b: gd::config::Builder) -> gd::config::Builder {
        b.retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
    }

    #[tokio::test]
    async fn list_members_reads_every_page_including_members_that_are_not_associated() {
        // given two pages of members, served only to requests that ask for unassociated members too
        let first = mock!(gd::Client::list_members)
            .match_requests(|r| r.only_associated() == Some("false") && r.next_token().is_none())
            .then_output(|| {
                ListMembersOutput::builder()
                    .set_members(Some((0..50).map(member).collect()))
                    .next_token("page2")
                    .build()
            });
        let second = mock!(gd::Client::list_members)
            .match_requests(|r| r.only_associated() == Some("false") && r.next_token() == Some("page2"))
            .then_output(|| ListMembersOutput::builder().set_members(Some((50..60).map(member).collect())).build());
        let client = mock_client!(aws_sdk_guardduty, RuleMode::MatchAny, [&first, &second]);
        // when listed
        let members =
            AwsGuardDuty::from_client(client, "us-east-1", "222222222222").list_members("d").await.expect("members");
        // then both pages are read
        assert_eq!(members.len(), 60);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn create_members_returns_the_accounts_guardduty_did_not_process() {
        let rule =
            mock!(gd::Client::create_members).match_requests(|r| r.account_details().len() == 2).then_output(|| {
                CreateMembersOutput::builder()
                    .unprocessed_accounts(
                        UnprocessedAccount::builder()
                            .account_id("333333333333")
                            .result("The request is rejected because the given account ID is already a member or associated member of the current account.")
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_guardduty, [&rule]);
        let accounts: Vec<MemberAccount> = ["333333333333", "444444444444"]
            .iter()
            .map(|id| MemberAccount { id: id.parse().expect("id"), email: "a@example.com".into() })
            .collect();
        let unprocessed = AwsGuardDuty::from_client(client, "us-east-1", "222222222222")
            .create_members("d", &accounts)
            .await
            .expect("call");
        assert_eq!(unprocessed.len(), 1);
        assert_eq!(unprocessed[0].0.as_str(), "333333333333");
        assert!(unprocessed[0].1.contains("already a member"));
    }

    #[tokio::test]
    async fn a_designation_being_removed_is_read_with_its_status() {
        let rule = mock!(gd::Client::list_organization_admin_accounts).then_output(|| {
            ListOrganizationAdminAccountsOutput::builder()
                .admin_accounts(
                    AdminAccount::builder()
                        .admin_account_id("222222222222")
                        .admin_status(gd::types::AdminStatus::DisableInProgress)
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_guardduty, [&rule]);
        let admins =
            AwsGuardDuty::from_client(client, "us-east-1", "management").delegated_admins().await.expect("read");
        assert_eq!(
            admins,
            vec![DelegatedAdmin { account: "222222222222".into(), status: AdminStatus::DisableInProgress }]
        );
    }

    #[tokio::test]
    async fn a_detector_answered_without_an_id_is_an_error_not_an_empty_id() {
        use aws_sdk_guardduty::operation::create_detector::CreateDetectorOutput;
        let rule = mock!(gd::Client::create_detector).then_output(|| CreateDetectorOutput::builder().build());
        let client = mock_client!(aws_sdk_guardduty, [&rule]);
        let err = AwsGuardDuty::from_client(client, "us-east-1", "222222222222")
            .create_detector(&[], None)
            .await
            .expect_err("no id");
        assert!(err.to_string().contains("no detector id"), "{err}");
    }

    const SETTLING: &str = r#"{"message":"The request is rejected because an invalid or out-of-range value is specified as an input parameter.","__type":"InvalidInputException"}"#;

    fn describe_ok() -> DescribeOrganizationConfigurationOutput {
        DescribeOrganizationConfigurationOutput::builder().auto_enable_organization_members("ALL".into()).build()
    }

    #[tokio::test]
    async fn inside_the_settling_window_the_admin_side_retries_the_settling_answer() {
        // given a region whose window is open (this process just designated the admin there)
        let windows = SettlingWindows::new(Duration::from_secs(60));
        windows.open("us-east-1");
        let rule = mock!(gd::Client::describe_organization_configuration)
            .sequence()
            .http_status(400, Some(SETTLING.into()))
            .output(describe_ok)
            .build();
        let classifier = SettlingRetry::new("us-east-1", windows);
        let client = mock_client!(aws_sdk_guardduty, RuleMode::Sequential, [&rule], |b| fast_retries(b)
            .retry_classifier(classifier.clone()));
        // when the configuration is read
        let config = AwsGuardDuty::from_client(client, "us-east-1", "222222222222")
            .org_config("d")
            .await
            .expect("read after retry");
        // then the second attempt's answer is returned
        assert_eq!(config.auto_enable.as_deref(), Some("ALL"));
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test]
    async fn outside_the_window_the_same_answer_is_an_error_at_once_with_its_context() {
        // given the classifier, but no designation or CreateMembers of this process in the region
        let rule = mock!(gd::Client::describe_organization_configuration)
            .sequence()
            .http_status(400, Some(SETTLING.into()))
            .repeatedly()
            .build();
        let classifier = SettlingRetry::new("eu-west-1", SettlingWindows::new(Duration::from_secs(60)));
        let client = mock_client!(aws_sdk_guardduty, RuleMode::Sequential, [&rule], |b| fast_retries(b)
            .retry_classifier(classifier.clone()));
        let err = AwsGuardDuty::from_client(client, "eu-west-1", "222222222222")
            .org_config("d")
            .await
            .expect_err("not retried");
        // then it was tried once, and the error names the operation, region and account
        assert_eq!(rule.num_calls(), 1);
        let text = err.to_string();
        assert!(
            text.contains("DescribeOrganizationConfiguration")
                && text.contains("eu-west-1")
                && text.contains("222222222222")
                && text.contains("out-of-range"),
            "{text}"
        );
    }
}
