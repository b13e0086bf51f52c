//! What GuardDuty estimates the organization's protection costs: `guardduty-enabler usage`. In every governed region,
//! as the delegated admin, GetUsageStatistics (SUM_BY_FEATURES) for the admin and its Enabled members, 50 accounts a
//! call, summed by usage feature. GuardDuty's own estimate of the last 30 days (of the days since a plan was enabled,
//! where fewer), not the bill. Reads only.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::Enabler;
use crate::error::Error;
use crate::ids::AccountId;
use crate::plan::MEMBER_BATCH;
use crate::ports::{Cloud, GuardDutyApi, Side};
use crate::state::MemberStatus;

/// The most usage reads one region has in flight.
const READS_PER_REGION: usize = 4;

/// The estimate, per governed region and in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Each governed region, in name order.
    pub regions: Vec<RegionUsage>,
    /// Each usage feature's amount, summed over the regions.
    pub by_feature: BTreeMap<String, f64>,
    /// The sum of every region's.
    pub total: f64,
    /// The currency GuardDuty gave (USD).
    pub unit: String,
}

/// One region's estimate.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RegionUsage {
    /// The region.
    pub region: String,
    /// The accounts asked for: the admin and its Enabled members.
    pub accounts: usize,
    /// Each usage feature's amount.
    pub by_feature: BTreeMap<String, f64>,
    /// The region's sum.
    pub total: f64,
    /// Why the region has no estimate (no detector of the admin's, or GuardDuty's error), where it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl<C: Cloud> Enabler<C> {
    /// GuardDuty's estimate of the last 30 days' cost, per governed region and usage feature. A region that cannot
    /// be read says why and counts nothing; only a failure to find the governed regions is an error.
    pub async fn usage(&self) -> Result<Usage, Error> {
        let shape = self.shape().await?;
        let admin = self.settings.admin_account;
        let width = self.settings.region_concurrency.max(1);
        let mut regions: Vec<RegionUsage> = stream::iter(shape.choice.governed.iter())
            .map(|region| async move {
                let read = region_usage(&self.cloud.guardduty(Side::Admin, region), &admin).await;
                read.unwrap_or_else(|e| RegionUsage {
                    region: region.clone(),
                    missing: Some(e.to_string()),
                    ..RegionUsage::default()
                })
                .named(region)
            })
            .buffer_unordered(width)
            .collect()
            .await;
        regions.sort_by(|a, b| a.region.cmp(&b.region));
        let mut by_feature = BTreeMap::new();
        for (feature, amount) in regions.iter().flat_map(|r| &r.by_feature) {
            *by_feature.entry(feature.clone()).or_insert(0.0) += amount;
        }
        let total = regions.iter().map(|r| r.total).sum();
        Ok(Usage { regions, by_feature, total, unit: "USD".into() })
    }
}

impl RegionUsage {
    fn named(mut self, region: &str) -> Self {
        region.clone_into(&mut self.region);
        self
    }
}

/// One region: the admin's detector, its Enabled members, and their usage, 50 accounts a call.
async fn region_usage<G: GuardDutyApi>(admin: &G, admin_account: &AccountId) -> Result<RegionUsage, Error> {
    let Some(detector) = admin.detector_id().await? else {
        return Ok(RegionUsage {
            missing: Some("the delegated admin has no detector here".into()),
            ..RegionUsage::default()
        });
    };
    let members = admin.list_members(&detector).await?;
    let enabled = members.iter().filter(|(id, s)| **s == MemberStatus::Enabled && *id != admin_account);
    let accounts: Vec<AccountId> = std::iter::once(*admin_account).chain(enabled.map(|(id, _)| *id)).collect();
    let detector = detector.as_str();
    let costs: Vec<Vec<crate::ports::Cost>> = stream::iter(accounts.chunks(MEMBER_BATCH))
        .map(|batch| admin.usage_by_feature(detector, batch))
        .buffer_unordered(READS_PER_REGION)
        .try_collect()
        .await?;
    let mut by_feature = BTreeMap::new();
    for cost in costs.into_iter().flatten() {
        *by_feature.entry(cost.feature).or_insert(0.0) += cost.amount;
    }
    let total = by_feature.values().sum();
    Ok(RegionUsage { region: String::new(), accounts: accounts.len(), by_feature, total, missing: None })
}
