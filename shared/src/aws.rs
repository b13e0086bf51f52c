//! The AWS adapters: the ports implemented with the AWS SDK for Rust, plus the one place that builds the SDK
//! configuration (credentials for the admin account through sts:AssumeRole, retries, the consistency classifier).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_sdk_guardduty as gd;
use aws_sdk_guardduty::config::interceptors::InterceptorContext;
use aws_sdk_guardduty::config::retry::{ClassifyRetry, RetryAction, RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_guardduty::config::{Region, SharedCredentialsProvider};
use aws_sdk_guardduty::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_organizations as orgs;

use crate::config::{AutoEnable, FindingFrequency, Plan, Settings};
use crate::error::Error;
use crate::ids::{partition_of, AccountId};
use crate::plan::MemberAccount;
use crate::ports::{Cloud, CreateAccountStatus, GuardDutyApi, OrganizationApi, Side, Unprocessed};
use crate::state::{Detector, FeatureState, OrgAccount, OrgConfig, OrgFeatureState};

/// How the SDK retries: attempts per call and the backoff bounds (jittered exponential between them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Ten attempts from 250 ms up to 20 s: about a minute and a half of patience at worst, which covers the
    /// settling time GuardDuty shows after a new delegated admin or member.
    fn default() -> Self {
        Self { max_attempts: 10, initial_backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    fn config(self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }
}

/// Retries the answers GuardDuty gives while a fresh delegated admin or member is still settling: a
/// BadRequestException saying "invalid or out-of-range value" (after EnableOrganizationAdminAccount) or "not an
/// associated member" (after CreateMembers). Attached to the admin's clients only, so that the same message in
/// the management account's calls (a real mistake) is not retried.
#[derive(Debug, Clone, Copy)]
pub struct SettlingRetry;

/// The messages [`SettlingRetry`] retries.
pub const SETTLING_MESSAGES: [&str; 2] = ["invalid or out-of-range value", "not an associated member"];

impl ClassifyRetry for SettlingRetry {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else { return RetryAction::NoActionIndicated };
        if response.status().as_u16() != 400 {
            return RetryAction::NoActionIndicated;
        }
        let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        if SETTLING_MESSAGES.iter().any(|m| body.contains(m)) {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "GuardDutySettling"
    }
}

/// The real AWS: SDK clients for the management account and, through the assumed role, the admin account.
#[derive(Clone)]
pub struct AwsCloud {
    inner: Arc<Inner>,
}

struct Inner {
    management: SdkConfig,
    admin: SdkConfig,
    admin_account: String,
    retry: RetryPolicy,
    organization: AwsOrganization,
    account: aws_sdk_account::Client,
    clients: Mutex<HashMap<(Side, String), gd::Client>>,
}

impl AwsCloud {
    /// Builds the adapters from the functions' own configuration (`base`, the management account's) and the
    /// settings: the admin's credentials come from `sts:AssumeRole` on
    /// `arn:<partition>:iam::<admin>:role/<role name>`, cached and refreshed by the SDK.
    pub async fn connect(base: &SdkConfig, settings: &Settings, retry: RetryPolicy) -> Self {
        let home = base.region().map(|r| r.as_ref().to_owned()).unwrap_or_else(|| "us-east-1".into());
        let partition = partition_of(&home);
        let role_arn = format!("arn:{partition}:iam::{}:role/{}", settings.admin_account, settings.admin_role_name);
        let provider =
            AssumeRoleProvider::builder(role_arn).session_name("guardduty-enabler").configure(base).build().await;
        let retry_config = retry.config();
        let management = base.to_builder().retry_config(retry_config.clone()).build();
        let admin = base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .retry_config(retry_config)
            .build();
        let organization = AwsOrganization {
            client: orgs::Client::from_conf(
                orgs::config::Builder::from(&management).retry_partition(unlimited_partition("organizations")).build(),
            ),
            region: home.clone(),
        };
        let account = aws_sdk_account::Client::from_conf(
            aws_sdk_account::config::Builder::from(&admin).retry_partition(unlimited_partition("account")).build(),
        );
        Self {
            inner: Arc::new(Inner {
                management,
                admin,
                admin_account: settings.admin_account.to_string(),
                retry,
                organization,
                account,
                clients: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }
}

/// A retry partition without the standard retry quota: every call gets its own bounded attempts, so a burst of
/// throttling across many parallel calls does not leave later calls with no retries at all.
fn unlimited_partition(name: &'static str) -> RetryPartition {
    RetryPartition::custom(name).token_bucket(TokenBucket::unlimited()).build()
}

impl Cloud for AwsCloud {
    type GuardDuty = AwsGuardDuty;
    type Organization = AwsOrganization;

    fn guardduty(&self, side: Side, region: &str) -> AwsGuardDuty {
        let key = (side, region.to_owned());
        let mut clients = self.inner.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients
            .entry(key)
            .or_insert_with(|| {
                let (conf, name) = match side {
                    Side::Management => (&self.inner.management, "guardduty-management"),
                    Side::Admin => (&self.inner.admin, "guardduty-admin"),
                };
                let mut builder = gd::config::Builder::from(conf)
                    .region(Region::new(region.to_owned()))
                    .retry_partition(unlimited_partition(name));
                if side == Side::Admin {
                    builder = builder.retry_classifier(SettlingRetry);
                }
                gd::Client::from_conf(builder.build())
            })
            .clone();
        let account = match side {
            Side::Management => "management".to_owned(),
            Side::Admin => self.inner.admin_account.clone(),
        };
        AwsGuardDuty { client, region: region.to_owned(), account }
    }

    fn organization(&self) -> &AwsOrganization {
        &self.inner.organization
    }

    async fn enabled_regions(&self) -> Result<Vec<String>, Error> {
        use aws_sdk_account::types::RegionOptStatus;
        let pages: Vec<_> = self
            .inner
            .account
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .max_results(50)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListRegions", "global", &self.inner.admin_account, e))?;
        let mut regions: Vec<String> =
            pages.iter().flat_map(|p| p.regions()).filter_map(|r| r.region_name().map(str::to_owned)).collect();
        regions.sort();
        regions.dedup();
        Ok(regions)
    }
}

/// Turns an SDK error into [`Error::Aws`], keeping the service's code and message.
fn aws_error<E, R>(operation: &'static str, region: &str, account: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let message = err.message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    Error::Aws {
        operation,
        region: region.to_owned(),
        account: account.to_owned(),
        code,
        message,
        source: Box::new(err),
    }
}

/// GuardDuty in one region as one account.
#[derive(Clone, Debug)]
pub struct AwsGuardDuty {
    client: gd::Client,
    region: String,
    account: String,
}

impl AwsGuardDuty {
    /// Wraps a client for `region`, acting as `account` (used in error messages).
    pub fn from_client(client: gd::Client, region: &str, account: &str) -> Self {
        Self { client, region: region.to_owned(), account: account.to_owned() }
    }

    fn fail<E, R>(&self, operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> Error + '_
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        move |e| aws_error(operation, &self.region, &self.account, e)
    }
}

fn detector_features(plans: &[Plan]) -> Vec<gd::types::DetectorFeatureConfiguration> {
    use gd::types::{
        DetectorAdditionalConfiguration, DetectorFeature, DetectorFeatureConfiguration, FeatureAdditionalConfiguration,
        FeatureStatus,
    };
    plans
        .iter()
        .map(|p| {
            let agents: Vec<_> = p
                .agents
                .iter()
                .map(|a| {
                    DetectorAdditionalConfiguration::builder()
                        .name(FeatureAdditionalConfiguration::from(a.as_str()))
                        .status(FeatureStatus::Enabled)
                        .build()
                })
                .collect();
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::from(p.feature.as_str()))
                .status(FeatureStatus::Enabled)
                .set_additional_configuration((!agents.is_empty()).then_some(agents))
                .build()
        })
        .collect()
}

fn frequency(f: Option<FindingFrequency>) -> Option<gd::types::FindingPublishingFrequency> {
    f.map(|f| gd::types::FindingPublishingFrequency::from(f.as_str()))
}

fn unprocessed(items: &[gd::types::UnprocessedAccount]) -> Unprocessed {
    items
        .iter()
        .filter_map(|u| Some((u.account_id()?.to_owned(), u.result().unwrap_or("no reason given").to_owned())))
        .collect()
}

fn member_status(m: &gd::types::Member) -> Option<(String, String)> {
    Some((m.account_id()?.to_owned(), m.relationship_status().unwrap_or_default().to_owned()))
}

fn ids(ids: &[AccountId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

impl GuardDutyApi for AwsGuardDuty {
    async fn detector_id(&self) -> Result<Option<String>, Error> {
        let out = self.client.list_detectors().send().await.map_err(self.fail("ListDetectors"))?;
        Ok(out.detector_ids().first().cloned())
    }

    async fn get_detector(&self, id: &str) -> Result<Detector, Error> {
        let out = self.client.get_detector().detector_id(id).send().await.map_err(self.fail("GetDetector"))?;
        let features = out
            .features()
            .iter()
            .filter_map(|f| {
                let name = f.name()?.as_str().to_owned();
                let agents = f
                    .additional_configuration()
                    .iter()
                    .filter_map(|a| Some((a.name()?.as_str().to_owned(), a.status()?.as_str() == "ENABLED")))
                    .collect();
                Some((name, FeatureState { enabled: f.status().is_some_and(|s| s.as_str() == "ENABLED"), agents }))
            })
            .collect();
        Ok(Detector {
            id: id.to_owned(),
            enabled: out.status().is_some_and(|s| s.as_str() == "ENABLED"),
            frequency: out.finding_publishing_frequency().map(|f| f.as_str().to_owned()),
            features,
        })
    }

    async fn create_detector(&self, plans: &[Plan], freq: Option<FindingFrequency>) -> Result<String, Error> {
        let out = self
            .client
            .create_detector()
            .enable(true)
            .set_features((!plans.is_empty()).then(|| detector_features(plans)))
            .set_finding_publishing_frequency(frequency(freq))
            .send()
            .await
            .map_err(self.fail("CreateDetector"))?;
        Ok(out.detector_id().unwrap_or_default().to_owned())
    }

    async fn update_detector(&self, id: &str, plans: &[Plan], freq: Option<FindingFrequency>) -> Result<(), Error> {
        self.client
            .update_detector()
            .detector_id(id)
            .enable(true)
            .set_features((!plans.is_empty()).then(|| detector_features(plans)))
            .set_finding_publishing_frequency(frequency(freq))
            .send()
            .await
            .map_err(self.fail("UpdateDetector"))?;
        Ok(())
    }

    async fn delegated_admins(&self) -> Result<Vec<String>, Error> {
        let pages: Vec<_> = self
            .client
            .list_organization_admin_accounts()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(self.fail("ListOrganizationAdminAccounts"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.admin_accounts())
            .filter_map(|a| a.admin_account_id().map(str::to_owned))
            .collect())
    }

    async fn designate_admin(&self, admin: &AccountId) -> Result<(), Error> {
        self.client
            .enable_organization_admin_account()
            .admin_account_id(admin.as_str())
            .send()
            .await
            .map_err(self.fail("EnableOrganizationAdminAccount"))?;
        Ok(())
    }

    async fn org_config(&self, detector: &str) -> Result<OrgConfig, Error> {
        let pages: Vec<_> = self
            .client
            .describe_organization_configuration()
            .detector_id(detector)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(self.fail("DescribeOrganizationConfiguration"))?;
        let mut config = OrgConfig::default();
        for out in &pages {
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
        }
        Ok(config)
    }

    async fn update_org_config(&self, detector: &str, auto_enable: AutoEnable, plans: &[Plan]) -> Result<(), Error> {
        use gd::types::{AutoEnableMembers, OrgFeature, OrgFeatureAdditionalConfiguration, OrgFeatureStatus};
        use gd::types::{OrganizationAdditionalConfiguration, OrganizationFeatureConfiguration};
        let want = OrgFeatureStatus::from(auto_enable.for_plans());
        let features: Vec<_> = plans
            .iter()
            .map(|p| {
                let agents: Vec<_> = p
                    .agents
                    .iter()
                    .map(|a| {
                        OrganizationAdditionalConfiguration::builder()
                            .name(OrgFeatureAdditionalConfiguration::from(a.as_str()))
                            .auto_enable(want.clone())
                            .build()
                    })
                    .collect();
                OrganizationFeatureConfiguration::builder()
                    .name(OrgFeature::from(p.feature.as_str()))
                    .auto_enable(want.clone())
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
            .map_err(self.fail("UpdateOrganizationConfiguration"))?;
        Ok(())
    }

    async fn list_members(&self, detector: &str) -> Result<BTreeMap<String, String>, Error> {
        let pages: Vec<_> = self
            .client
            .list_members()
            .detector_id(detector)
            .only_associated("false")
            .max_results(50)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(self.fail("ListMembers"))?;
        Ok(pages.iter().flat_map(|p| p.members()).filter_map(member_status).collect())
    }

    async fn get_members(&self, detector: &str, accounts: &[AccountId]) -> Result<BTreeMap<String, String>, Error> {
        let out = self
            .client
            .get_members()
            .detector_id(detector)
            .set_account_ids(Some(ids(accounts)))
            .send()
            .await
            .map_err(self.fail("GetMembers"))?;
        Ok(out.members().iter().filter_map(member_status).collect())
    }

    async fn create_members(&self, detector: &str, accounts: &[MemberAccount]) -> Result<Unprocessed, Error> {
        let details = accounts
            .iter()
            .map(|a| gd::types::AccountDetail::builder().account_id(a.id.as_str()).email(&a.email).build())
            .collect();
        let out = self
            .client
            .create_members()
            .detector_id(detector)
            .set_account_details(Some(details))
            .send()
            .await
            .map_err(self.fail("CreateMembers"))?;
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
            .map_err(self.fail("StartMonitoringMembers"))?;
        Ok(unprocessed(out.unprocessed_accounts()))
    }
}

/// AWS Organizations from the management account.
#[derive(Clone, Debug)]
pub struct AwsOrganization {
    client: orgs::Client,
    region: String,
}

#[allow(deprecated)] // `Status` is read only where an account has no `State` yet.
fn org_account(a: &orgs::types::Account) -> Option<OrgAccount> {
    let id = a.id()?.parse().ok()?;
    let status = a
        .state()
        .map(|s| s.as_str().to_owned())
        .or_else(|| a.status().map(|s| s.as_str().to_owned()))
        .unwrap_or_default();
    Some(OrgAccount { id, email: a.email().unwrap_or_default().to_owned(), status })
}

impl AwsOrganization {
    fn fail<E, R>(&self, operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> Error + '_
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        move |e| aws_error(operation, &self.region, "management", e)
    }
}

impl OrganizationApi for AwsOrganization {
    async fn management_account(&self) -> Result<AccountId, Error> {
        let out = self.client.describe_organization().send().await.map_err(self.fail("DescribeOrganization"))?;
        let id = out.organization().and_then(|o| o.master_account_id()).unwrap_or_default();
        id.parse().map_err(|e: crate::ids::InvalidAccountId| Error::Aws {
            operation: "DescribeOrganization",
            region: self.region.clone(),
            account: "management".into(),
            code: None,
            message: format!("the organization reports no valid management account: {e}"),
            source: Box::new(e),
        })
    }

    async fn accounts(&self) -> Result<Vec<OrgAccount>, Error> {
        let pages: Vec<_> = self
            .client
            .list_accounts()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(self.fail("ListAccounts"))?;
        Ok(pages.iter().flat_map(|p| p.accounts()).filter_map(org_account).collect())
    }

    async fn account(&self, id: &AccountId) -> Result<Option<OrgAccount>, Error> {
        match self.client.describe_account().account_id(id.as_str()).send().await {
            Ok(out) => Ok(out.account().and_then(org_account)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_account_not_found_exception()) => Ok(None),
            Err(e) => Err(self.fail("DescribeAccount")(e)),
        }
    }

    async fn accounts_under(&self, ou: &str) -> Result<Vec<AccountId>, Error> {
        let mut found = Vec::new();
        let mut parents = vec![ou.to_owned()];
        while let Some(parent) = parents.pop() {
            let accounts: Vec<_> = self
                .client
                .list_accounts_for_parent()
                .parent_id(&parent)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(self.fail("ListAccountsForParent"))?;
            found.extend(accounts.iter().flat_map(|p| p.accounts()).filter_map(|a| a.id()?.parse().ok()));
            let units: Vec<_> = self
                .client
                .list_organizational_units_for_parent()
                .parent_id(&parent)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(self.fail("ListOrganizationalUnitsForParent"))?;
            parents
                .extend(units.iter().flat_map(|p| p.organizational_units()).filter_map(|o| o.id().map(str::to_owned)));
        }
        Ok(found)
    }

    async fn create_account_status(&self, request_id: &str) -> Result<CreateAccountStatus, Error> {
        use orgs::types::CreateAccountState;
        let out = self
            .client
            .describe_create_account_status()
            .create_account_request_id(request_id)
            .send()
            .await
            .map_err(self.fail("DescribeCreateAccountStatus"))?;
        let status = out.create_account_status();
        let state = status.and_then(|s| s.state());
        Ok(match state {
            Some(CreateAccountState::Succeeded) => {
                match status.and_then(|s| s.account_id()).map(str::parse::<AccountId>) {
                    Some(Ok(id)) => CreateAccountStatus::Succeeded(id),
                    _ => CreateAccountStatus::Failed("SUCCEEDED without a valid account id".into()),
                }
            }
            Some(CreateAccountState::Failed) => CreateAccountStatus::Failed(
                status
                    .and_then(|s| s.failure_reason())
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_else(|| "no reason given".into()),
            ),
            _ => CreateAccountStatus::InProgress,
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_guardduty::operation::create_members::CreateMembersOutput;
    use aws_sdk_guardduty::operation::describe_organization_configuration::DescribeOrganizationConfigurationOutput;
    use aws_sdk_guardduty::operation::list_members::ListMembersOutput;
    use aws_sdk_guardduty::types::{Member, UnprocessedAccount};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

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
                        UnprocessedAccount::builder().account_id("333333333333").result("suspended").build(),
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
        assert_eq!(unprocessed, vec![("333333333333".to_owned(), "suspended".to_owned())]);
    }

    const SETTLING: &str = r#"{"message":"The request is rejected because an invalid or out-of-range value is specified as an input parameter.","__type":"InvalidInputException"}"#;

    #[tokio::test]
    async fn the_admin_side_retries_guardduty_settling_errors() {
        // given a fresh admin whose first call is rejected while GuardDuty settles
        let rule = mock!(gd::Client::describe_organization_configuration)
            .sequence()
            .http_status(400, Some(SETTLING.into()))
            .output(|| {
                DescribeOrganizationConfigurationOutput::builder()
                    .auto_enable_organization_members("ALL".into())
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_guardduty, RuleMode::Sequential, [&rule], |b| fast_retries(b)
            .retry_classifier(SettlingRetry));
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
    async fn without_the_classifier_the_same_answer_is_an_error_with_its_context() {
        let rule = mock!(gd::Client::describe_organization_configuration)
            .sequence()
            .http_status(400, Some(SETTLING.into()))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_guardduty, RuleMode::Sequential, [&rule], fast_retries);
        let err = AwsGuardDuty::from_client(client, "eu-west-1", "222222222222")
            .org_config("d")
            .await
            .expect_err("not retried");
        assert_eq!(rule.num_calls(), 1);
        let text = err.to_string();
        assert!(
            text.contains("DescribeOrganizationConfiguration")
                && text.contains("eu-west-1")
                && text.contains("222222222222"),
            "{text}"
        );
        assert!(text.contains("out-of-range"), "{text}");
    }
}
