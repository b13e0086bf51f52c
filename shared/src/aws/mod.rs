//! The AWS adapters: the ports implemented with the AWS SDK for Rust, one module per service (CloudTrail and
//! EventBridge together in `detection`, for the check that tamper detection can work), plus the one place
//! that builds the SDK configuration (credentials for the admin account through sts:AssumeRole, retries, the
//! settling classifier) and the one helper that reads every page of a listing.

mod account;
mod controltower;
mod detection;
mod guardduty;
#[cfg(feature = "ledger")]
mod ledger;
mod lists;
mod organizations;
mod retry;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_sdk_guardduty as gd;
use aws_sdk_guardduty::config::{Region, SharedCredentialsProvider};
use aws_sdk_guardduty::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_async::future::pagination_stream::PaginationStream;

use crate::config::Settings;
use crate::error::{AwsError, Error, ASSUME_ROLE_FAILED};
use crate::ids::partition_of;
use crate::ports::{Cloud, EnabledRegion, Side};

use detection::AwsDetection;
#[cfg(feature = "ledger")]
pub(crate) use ledger::LedgerTable;

pub use guardduty::AwsGuardDuty;
pub use organizations::AwsOrganization;
pub use retry::{RetryPolicy, SettlingRetry, SettlingWindows, SETTLING_MESSAGES};

/// The real AWS: SDK clients for the management account and, through the assumed role, the admin account.
#[derive(Clone)]
pub struct AwsCloud {
    inner: Arc<Inner>,
}

struct Inner {
    home: String,
    management: SdkConfig,
    admin: SdkConfig,
    admin_account: String,
    retry: RetryPolicy,
    windows: SettlingWindows,
    organization: AwsOrganization,
    management_account_api: aws_sdk_account::Client,
    admin_account_api: aws_sdk_account::Client,
    clients: Mutex<HashMap<(Side, String), gd::Client>>,
    detection: AwsDetection,
}

impl AwsCloud {
    /// Builds the adapters from the caller's own configuration (`base`, the management account's) and the
    /// settings: the admin's credentials come from `sts:AssumeRole` on
    /// `arn:<partition>:iam::<admin>:role/<role name>`, in the partition of the home region, cached and refreshed
    /// by the SDK.
    pub async fn connect(base: &SdkConfig, settings: &Settings, retry: RetryPolicy) -> Self {
        let home = base.region().map(|r| r.as_ref().to_owned()).unwrap_or_else(|| "us-east-1".into());
        let role_arn = role_arn(&home, settings);
        let provider =
            AssumeRoleProvider::builder(role_arn).session_name("guardduty-enabler").configure(base).build().await;
        let management = base.to_builder().retry_config(retry.config()).build();
        let admin = base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .retry_config(retry.config())
            .build();
        let admin_account = settings.admin_account.to_string();
        let account_api = |conf: &SdkConfig| {
            aws_sdk_account::Client::from_conf(
                aws_sdk_account::config::Builder::from(conf)
                    .retry_partition(retry::unlimited_partition("account"))
                    .build(),
            )
        };
        let detection = AwsDetection::new(management.clone(), admin.clone(), admin_account.clone());
        Self {
            inner: Arc::new(Inner {
                organization: AwsOrganization::new(&management, &home),
                home,
                management_account_api: account_api(&management),
                admin_account_api: account_api(&admin),
                management,
                admin,
                admin_account,
                retry,
                windows: SettlingWindows::new(retry.settling_window),
                clients: Mutex::new(HashMap::new()),
                detection,
            }),
        }
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    fn caller(&self, side: Side, region: &str) -> Caller {
        let account = match side {
            Side::Management => "management".to_owned(),
            Side::Admin => self.inner.admin_account.clone(),
        };
        Caller { region: region.to_owned(), account }
    }
}

/// The role the functions assume in the admin account.
fn role_arn(home_region: &str, settings: &Settings) -> String {
    format!("arn:{}:iam::{}:role/{}", partition_of(home_region), settings.admin_account, settings.admin_role_name)
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
                    .retry_partition(retry::unlimited_partition(name));
                if side == Side::Admin {
                    builder = builder.retry_classifier(SettlingRetry::new(region, self.inner.windows.clone()));
                }
                gd::Client::from_conf(builder.build())
            })
            .clone();
        AwsGuardDuty::new(client, self.caller(side, region), self.inner.windows.clone())
    }

    fn organization(&self) -> &AwsOrganization {
        &self.inner.organization
    }

    fn home_region(&self) -> &str {
        &self.inner.home
    }

    async fn enabled_regions(&self, side: Side) -> Result<Vec<EnabledRegion>, Error> {
        let client = match side {
            Side::Management => &self.inner.management_account_api,
            Side::Admin => &self.inner.admin_account_api,
        };
        account::enabled_regions(client, &self.caller(side, "global")).await
    }

    async fn region_enabled_for(&self, account: &crate::ids::AccountId, region: &str) -> Result<bool, Error> {
        let caller = self.caller(Side::Management, "global");
        account::region_enabled_for(&self.inner.management_account_api, &caller, account.as_str(), region).await
    }

    async fn landing_zone_regions(&self) -> Result<Option<Vec<String>>, Error> {
        let caller = self.caller(Side::Management, &self.inner.home);
        controltower::governed_regions(&self.inner.management, &self.inner.home, &caller).await
    }

    fn detection(&self) -> Option<&impl crate::detection::DetectionApi> {
        Some(&self.inner.detection)
    }

    fn forwarding(&self) -> Option<&impl crate::forwarding::ForwardingApi> {
        Some(&self.inner.detection)
    }
}

/// Who made a call, for error messages: the region and the account whose credentials were used.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) region: String,
    pub(crate) account: String,
}

impl Caller {
    /// Turns an SDK error into [`Error::Aws`], keeping the service's code and message.
    pub(crate) fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let context = DisplayErrorContext(&err).to_string();
        // The admin's credentials come from sts:AssumeRole; when that fails (the role does not exist yet, or its
        // trust has not propagated) the call never leaves: a dispatch failure that names AssumeRole.
        let unassumable = matches!(err, SdkError::DispatchFailure(_)) && context.contains("AssumeRole");
        let code = err.code().map(str::to_owned).or_else(|| unassumable.then(|| ASSUME_ROLE_FAILED.to_owned()));
        let message = err.message().map(str::to_owned).unwrap_or(context);
        Error::Aws(Box::new(AwsError {
            operation,
            region: self.region.clone(),
            account: self.account.clone(),
            code,
            message,
            source: Box::new(err),
        }))
    }

    /// A closure for `map_err` that maps an SDK error of `operation`.
    pub(crate) fn fail<E, R>(&self, operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> Error + '_
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        move |e| self.error(operation, e)
    }

    /// An answer without something it must carry.
    pub(crate) fn unexpected(&self, operation: &'static str, what: &str) -> Error {
        Error::Unexpected(format!("{operation} in {} as account {} answered {what}", self.region, self.account))
    }
}

/// Reads every page of a listing, handing each to `each` as it arrives (so that a listing of 10,000 members is
/// never held as pages), and maps a failure to [`Error::Aws`] with the operation, region and account.
pub(crate) async fn each_page<T, E, R>(
    mut pages: PaginationStream<Result<T, SdkError<E, R>>>,
    operation: &'static str,
    caller: &Caller,
    mut each: impl FnMut(T),
) -> Result<(), Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    while let Some(page) = pages.next().await {
        each(page.map_err(caller.fail(operation))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_role_arn_uses_the_partition_of_the_home_region() {
        let settings = Settings::with_admin("222222222222".parse().expect("id"));
        assert_eq!(role_arn("us-east-1", &settings), "arn:aws:iam::222222222222:role/GuardDutyEnablerAdmin");
        assert_eq!(role_arn("cn-north-1", &settings), "arn:aws-cn:iam::222222222222:role/GuardDutyEnablerAdmin");
        assert_eq!(role_arn("us-isob-east-1", &settings), "arn:aws-iso-b:iam::222222222222:role/GuardDutyEnablerAdmin");
        assert_eq!(role_arn("eusc-de-east-1", &settings), "arn:aws-eusc:iam::222222222222:role/GuardDutyEnablerAdmin");
    }
}
