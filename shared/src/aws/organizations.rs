//! AWS Organizations from the management account: the organization, its accounts and organizational units,
//! account creation requests, trusted access, and GuardDuty policies (the GUARDDUTY_POLICY type).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_organizations as orgs;
use orgs::types::{EffectivePolicyType, PolicyType};

use super::retry::unlimited_partition;
use super::{each_page, Caller};
use crate::error::Error;
use crate::ids::AccountId;
use crate::ports::{CreateAccountStatus, OrganizationApi, PolicyRecord, PolicyTypeStatus, Root, Subtree};
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

    async fn organization_id(&self) -> Result<String, Error> {
        let out = self.client.describe_organization().send().await.map_err(self.caller.fail("DescribeOrganization"))?;
        out.organization()
            .and_then(|o| o.id())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| self.caller.unexpected("DescribeOrganization", "no organization id"))
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

    async fn subtree(&self, top: &str) -> Result<Subtree, Error> {
        let mut tree = Subtree::default();
        let mut parents = vec![top.to_owned()];
        while let Some(parent) = parents.pop() {
            let accounts = self.client.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
            each_page(accounts, "ListAccountsForParent", &self.caller, |page| {
                tree.accounts.extend(page.accounts().iter().filter_map(org_account).map(|a| (a, parent.clone())));
            })
            .await?;
            let units = self.client.list_organizational_units_for_parent().parent_id(&parent).into_paginator().send();
            each_page(units, "ListOrganizationalUnitsForParent", &self.caller, |page| {
                for unit in page.organizational_units() {
                    let Some(ou) = unit.id() else { continue };
                    parents.push(ou.to_owned());
                    tree.ous.push((ou.to_owned(), parent.clone()));
                    tree.names.insert(ou.to_owned(), unit.name().unwrap_or(ou).to_owned());
                }
            })
            .await?;
        }
        Ok(tree)
    }

    async fn parent(&self, child: &str) -> Result<String, Error> {
        let out = self.client.list_parents().child_id(child).send().await.map_err(self.caller.fail("ListParents"))?;
        out.parents()
            .first()
            .and_then(|p| p.id())
            .map(str::to_owned)
            .ok_or_else(|| self.caller.unexpected("ListParents", "no parent"))
    }

    async fn root(&self) -> Result<Root, Error> {
        let out = self.client.list_roots().send().await.map_err(self.caller.fail("ListRoots"))?;
        let root = out.roots().first().ok_or_else(|| self.caller.unexpected("ListRoots", "no root"))?;
        let id = root.id().ok_or_else(|| self.caller.unexpected("ListRoots", "a root without an id"))?;
        let status = root
            .policy_types()
            .iter()
            .find(|t| t.r#type() == Some(&PolicyType::GuarddutyPolicy))
            .and_then(|t| t.status())
            .map_or(PolicyTypeStatus::NotEnabled, |s| match s {
                orgs::types::PolicyTypeStatus::Enabled => PolicyTypeStatus::Enabled,
                orgs::types::PolicyTypeStatus::PendingEnable => PolicyTypeStatus::PendingEnable,
                _ => PolicyTypeStatus::PendingDisable,
            });
        Ok(Root { id: id.to_owned(), guardduty_policies: status })
    }

    async fn guardduty_policies(&self) -> Result<Vec<PolicyRecord>, Error> {
        let pages = self.client.list_policies().filter(PolicyType::GuarddutyPolicy).into_paginator().send();
        let mut policies = Vec::new();
        each_page(pages, "ListPolicies", &self.caller, |page| {
            policies.extend(page.policies().iter().filter_map(|p| {
                Some(PolicyRecord {
                    id: p.id()?.to_owned(),
                    name: p.name().unwrap_or_default().to_owned(),
                    description: p.description().unwrap_or_default().to_owned(),
                })
            }));
        })
        .await?;
        Ok(policies)
    }

    async fn policy_content(&self, id: &str) -> Result<String, Error> {
        let out =
            self.client.describe_policy().policy_id(id).send().await.map_err(self.caller.fail("DescribePolicy"))?;
        out.policy()
            .and_then(|p| p.content())
            .map(str::to_owned)
            .ok_or_else(|| self.caller.unexpected("DescribePolicy", "a policy without content"))
    }

    async fn policy_targets(&self, id: &str) -> Result<Vec<String>, Error> {
        let pages = self.client.list_targets_for_policy().policy_id(id).into_paginator().send();
        let mut targets = Vec::new();
        each_page(pages, "ListTargetsForPolicy", &self.caller, |page| {
            targets.extend(page.targets().iter().filter_map(|t| t.target_id().map(str::to_owned)));
        })
        .await?;
        Ok(targets)
    }

    async fn effective_policy(&self, account: &AccountId) -> Result<Option<String>, Error> {
        let sent = self
            .client
            .describe_effective_policy()
            .policy_type(EffectivePolicyType::GuarddutyPolicy)
            .target_id(account.as_str())
            .send()
            .await;
        match sent {
            Ok(out) => Ok(out.effective_policy().and_then(|p| p.policy_content()).map(str::to_owned)),
            // DescribeEffectivePolicy API reference: from the management account, the type is not enabled; for the
            // account, it has no effective policy of this type.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_effective_policy_not_found_exception()) => Ok(None),
            Err(e) => Err(self.caller.error("DescribeEffectivePolicy", e)),
        }
    }

    async fn invalid_policy_accounts(&self) -> Result<Vec<AccountId>, Error> {
        let mut pages = self
            .client
            .list_accounts_with_invalid_effective_policy()
            .policy_type(EffectivePolicyType::GuarddutyPolicy)
            .into_paginator()
            .send();
        let mut accounts = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => accounts.extend(page.accounts().iter().filter_map(|a| a.id()?.parse::<AccountId>().ok())),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_effective_policy_not_found_exception()) => break,
                Err(e) => return Err(self.caller.error("ListAccountsWithInvalidEffectivePolicy", e)),
            }
        }
        Ok(accounts)
    }

    async fn policy_tags(&self, id: &str) -> Result<BTreeMap<String, String>, Error> {
        let pages = self.client.list_tags_for_resource().resource_id(id).into_paginator().send();
        let mut tags = BTreeMap::new();
        each_page(pages, "ListTagsForResource", &self.caller, |page| {
            tags.extend(page.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())));
        })
        .await?;
        Ok(tags)
    }

    async fn tag_policy(&self, id: &str, key: &str, value: &str) -> Result<(), Error> {
        let tag = orgs::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| self.caller.unexpected("TagResource", &e.to_string()))?;
        self.client.tag_resource().resource_id(id).tags(tag).send().await.map_err(self.caller.fail("TagResource"))?;
        Ok(())
    }

    async fn create_policy(
        &self,
        name: &str,
        description: &str,
        content: &str,
        tag: (&str, &str),
    ) -> Result<String, Error> {
        let tag = orgs::types::Tag::builder()
            .key(tag.0)
            .value(tag.1)
            .build()
            .map_err(|e| self.caller.unexpected("CreatePolicy", &e.to_string()))?;
        let out = self
            .client
            .create_policy()
            .r#type(PolicyType::GuarddutyPolicy)
            .name(name)
            .description(description)
            .content(content)
            .tags(tag)
            .send()
            .await
            .map_err(self.caller.fail("CreatePolicy"))?;
        out.policy()
            .and_then(|p| p.policy_summary())
            .and_then(|s| s.id())
            .map(str::to_owned)
            .ok_or_else(|| self.caller.unexpected("CreatePolicy", "no policy id"))
    }

    async fn update_policy(&self, id: &str, content: &str) -> Result<(), Error> {
        self.client
            .update_policy()
            .policy_id(id)
            .content(content)
            .send()
            .await
            .map_err(self.caller.fail("UpdatePolicy"))?;
        Ok(())
    }

    async fn enable_policy_type(&self, root: &str) -> Result<(), Error> {
        match self.client.enable_policy_type().root_id(root).policy_type(PolicyType::GuarddutyPolicy).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_policy_type_already_enabled_exception()) => Ok(()),
            Err(e) => Err(self.caller.error("EnablePolicyType", e)),
        }
    }

    async fn delete_policy(&self, id: &str) -> Result<(), Error> {
        self.client.delete_policy().policy_id(id).send().await.map_err(self.caller.fail("DeletePolicy"))?;
        Ok(())
    }

    async fn disable_policy_type(&self, root: &str) -> Result<(), Error> {
        match self.client.disable_policy_type().root_id(root).policy_type(PolicyType::GuarddutyPolicy).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_policy_type_not_enabled_exception()) => Ok(()),
            Err(e) => Err(self.caller.error("DisablePolicyType", e)),
        }
    }

    async fn attach_policy(&self, id: &str, target: &str) -> Result<(), Error> {
        match self.client.attach_policy().policy_id(id).target_id(target).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_duplicate_policy_attachment_exception()) => Ok(()),
            Err(e) => Err(self.caller.error("AttachPolicy", e)),
        }
    }

    async fn detach_policy(&self, id: &str, target: &str) -> Result<(), Error> {
        match self.client.detach_policy().policy_id(id).target_id(target).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_policy_not_attached_exception()) => Ok(()),
            Err(e) => Err(self.caller.error("DetachPolicy", e)),
        }
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
