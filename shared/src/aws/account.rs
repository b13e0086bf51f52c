//! AWS Account Management: the regions enabled for an account (account:ListRegions).

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
