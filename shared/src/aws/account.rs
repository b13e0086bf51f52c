//! AWS Account Management: the regions enabled for an account (account:ListRegions), and whether a member account
//! has enabled a region (account:GetRegionOptStatus with its AccountId).

use aws_sdk_account::types::RegionOptStatus;

use super::{each_page, Caller};
use crate::error::Error;
use crate::ports::EnabledRegion;

/// The regions enabled for the calling account: ENABLED (opted in) and ENABLED_BY_DEFAULT, sorted.
pub(super) async fn enabled_regions(
    client: &aws_sdk_account::Client,
    caller: &Caller,
) -> Result<Vec<EnabledRegion>, Error> {
    let pages = client
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .max_results(50)
        .into_paginator()
        .send();
    let mut regions = Vec::new();
    each_page(pages, "ListRegions", caller, |page| {
        regions.extend(page.regions().iter().filter_map(|r| {
            Some(EnabledRegion {
                name: r.region_name()?.to_owned(),
                by_default: r.region_opt_status() == Some(&RegionOptStatus::EnabledByDefault),
            })
        }));
    })
    .await?;
    regions.sort_by(|a, b| a.name.cmp(&b.name));
    regions.dedup_by(|a, b| a.name == b.name);
    Ok(regions)
}

/// Whether `account`, a member of the caller's organization, has `region` enabled (ENABLED or ENABLED_BY_DEFAULT):
/// GetRegionOptStatus with `AccountId`, which only the management account (or a delegated admin) may pass, for a
/// member account, with trusted access for the Account Management service enabled in the organization
/// (<https://docs.aws.amazon.com/accounts/latest/reference/API_GetRegionOptStatus.html>).
pub(super) async fn region_enabled_for(
    client: &aws_sdk_account::Client,
    caller: &Caller,
    account: &str,
    region: &str,
) -> Result<bool, Error> {
    let answer = client
        .get_region_opt_status()
        .account_id(account)
        .region_name(region)
        .send()
        .await
        .map_err(caller.fail("GetRegionOptStatus"))?;
    Ok(matches!(answer.region_opt_status(), Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault)))
}
