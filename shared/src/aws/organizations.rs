//! AWS Organizations from the management account: the organization, its accounts, organizational units, account
//! creation requests and trusted access.

use aws_config::SdkConfig;
use aws_sdk_organizations as orgs;

use super::retry::unlimited_partition;
use super::{each_page, Caller};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{CreateAccountStatus, OrganizationApi};
use crate::state::OrgAccount;

/// AWS Organizations from the management account.
#[derive(Clone, Debug)]
pub struct AwsOrganization {
    client: orgs::Client,
    caller: Caller,
}

impl AwsOrganization {
    pub(super) fn new(management: &SdkConfig, home: &str) -> Self {
        let conf =
            orgs::config::Builder::from(management).retry_partition(unlimited_partition("organizations")).build();
        Self {
            client: orgs::Client::from_conf(conf),
            caller: Caller { region: home.to_owned(), account: "management".into() },
        }
    }
}

#[allow(deprecated)] // `Status` is read only where an account has no `State` yet.
fn org_account(a: &orgs::types::Account) -> Option<OrgAccount> {
    let id = a.id()?.parse().ok()?;
    let state = a
        .state()
        .map(|s| s.as_str().to_owned())
        .or_else(|| a.status().map(|s| s.as_str().to_owned()))
        .unwrap_or_default();
    Some(OrgAccount {
        id,
        name: a.name().unwrap_or_default().to_owned(),
        email: a.email().unwrap_or_default().into(),
        state,
    })
}

impl OrganizationApi for AwsOrganization {
    async fn management_account(&self) -> Result<AccountId, Error> {
        let out = self.client.describe_organization().send().await.map_err(self.caller.fail("DescribeOrganization"))?;
        let id = out.organization().and_then(|o| o.master_account_id()).unwrap_or_default();
        id.parse().map_err(|_| self.caller.unexpected("DescribeOrganization", "no valid management account id"))
    }

    async fn accounts(&self) -> Result<Vec<OrgAccount>, Error> {
        // ListAccounts returns at most 20 accounts a page (API reference), and can return an empty page with a
        // NextToken: the paginator follows the token to the end.
        let pages = self.client.list_accounts().into_paginator().send();
        let mut accounts = Vec::new();
        each_page(pages, "ListAccounts", &self.caller, |page| {
            accounts.extend(page.accounts().iter().filter_map(org_account));
        })
        .await?;
        Ok(accounts)
    }

    async fn account(&self, id: &AccountId) -> Result<Option<OrgAccount>, Error> {
        match self.client.describe_account().account_id(id.as_str()).send().await {
            Ok(out) => Ok(out.account().and_then(org_account)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_account_not_found_exception()) => Ok(None),
            Err(e) => Err(self.caller.error("DescribeAccount", e)),
        }
    }

    async fn accounts_under(&self, ou: &str) -> Result<Vec<AccountId>, Error> {
        let mut found = Vec::new();
        let mut parents = vec![ou.to_owned()];
        while let Some(parent) = parents.pop() {
            let accounts = self.client.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
            each_page(accounts, "ListAccountsForParent", &self.caller, |page| {
                found.extend(page.accounts().iter().filter_map(|a| a.id()?.parse::<AccountId>().ok()));
            })
            .await?;
            let units = self.client.list_organizational_units_for_parent().parent_id(&parent).into_paginator().send();
            each_page(units, "ListOrganizationalUnitsForParent", &self.caller, |page| {
                parents.extend(page.organizational_units().iter().filter_map(|o| o.id().map(str::to_owned)));
            })
            .await?;
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
            .map_err(self.caller.fail("DescribeCreateAccountStatus"))?;
        let status = out.create_account_status();
        Ok(match status.and_then(|s| s.state()) {
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

    async fn trusted_services(&self) -> Result<Vec<String>, Error> {
        let pages = self.client.list_aws_service_access_for_organization().into_paginator().send();
        let mut principals = Vec::new();
        each_page(pages, "ListAWSServiceAccessForOrganization", &self.caller, |page| {
            principals.extend(
                page.enabled_service_principals().iter().filter_map(|p| p.service_principal().map(str::to_owned)),
            );
        })
        .await?;
        Ok(principals)
    }

    async fn enable_trusted_service(&self, principal: &str) -> Result<(), Error> {
        self.client
            .enable_aws_service_access()
            .service_principal(principal)
            .send()
            .await
            .map_err(self.caller.fail("EnableAWSServiceAccess"))?;
        Ok(())
    }
}
