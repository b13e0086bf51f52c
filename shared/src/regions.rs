//! Which regions a run governs. Pure: from the regions enabled for the management account and for the delegated
//! admin (account:ListRegions for each) and the configuration.
//!
//! The management account designates the admin and owns a detector in every governed region, and the admin owns
//! the organization configuration there: a region one of them has not enabled rejects its calls (403), every run.
//! So a region is governed only where both have enabled it; any other candidate is left out, with the account that
//! lacks it named, and no GuardDuty call is made there. Neither is a failure.

use std::collections::BTreeSet;

use crate::config::Settings;
use crate::ids::AccountId;
use crate::ports::EnabledRegion;
use crate::report::RegionLeftOut;

/// The regions of a run: governed, and left out with the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RegionChoice {
    /// Governed, sorted.
    pub governed: Vec<String>,
    /// Left out, and why.
    pub left_out: Vec<RegionLeftOut>,
    /// Governed, but not in this run (a run of some regions: a region's opt-in, the bootstrapper's `regions`). A
    /// policy this tool owns keeps their blocks as they are.
    pub not_run: Vec<String>,
    /// The regions enabled by default (ENABLED_BY_DEFAULT for the management account): every other region is an
    /// opt-in one.
    pub defaults: BTreeSet<String>,
    /// Governed regions the organization's AWS Control Tower landing zone does not govern: governed all the same
    /// (the report says so, and why).
    pub ungoverned: Vec<String>,
}

/// Chooses the governed regions. Candidates are GUARDDUTY_REGIONS when set; else every region either account has
/// enabled, whether or not an AWS Control Tower landing zone governs it: the GuardDuty User Guide recommends GuardDuty
/// in every supported region, used or not, and a landing zone's Region deny control is optional (a region it denies
/// is left out by its first call, see [`crate::Error::is_scp_denial`]). The landing zone's governed regions
/// (`landing_zone`) only say which candidates it does not govern (`ungoverned`). GUARDDUTY_EXCLUDED_REGIONS are taken
/// out; a candidate is governed where both accounts have enabled it.
pub(crate) fn choose(
    settings: &Settings,
    management: (&AccountId, &[EnabledRegion]),
    admin: (&AccountId, &[EnabledRegion]),
    landing_zone: Option<&[String]>,
) -> RegionChoice {
    let names = |regions: &[EnabledRegion]| regions.iter().map(|r| r.name.clone()).collect::<BTreeSet<_>>();
    let (management_id, management_regions) = (management.0, names(management.1));
    let (admin_id, admin_regions) = (admin.0, names(admin.1));
    let mut choice = RegionChoice {
        defaults: management.1.iter().filter(|r| r.by_default).map(|r| r.name.clone()).collect(),
        ..RegionChoice::default()
    };
    let candidates: Vec<String> = match &settings.regions {
        Some(listed) => listed.clone(),
        None => management_regions.union(&admin_regions).cloned().collect(),
    };
    for region in candidates {
        let mut lacking = Vec::new();
        if !management_regions.contains(&region) {
            lacking.push(format!("the management account {management_id}"));
        }
        if !admin_regions.contains(&region) && admin_id != management_id {
            lacking.push(format!("the delegated admin {admin_id}"));
        }
        let reason = if settings.excluded_regions.contains(&region) {
            Some("excluded by GUARDDUTY_EXCLUDED_REGIONS".to_owned())
        } else if !lacking.is_empty() {
            Some(format!("not enabled for {}; GuardDuty is not called there", lacking.join(" or ")))
        } else {
            None
        };
        match reason {
            Some(reason) => choice.left_out.push(RegionLeftOut::new(region, reason)),
            None => choice.governed.push(region),
        }
    }
    choice.governed.sort();
    choice.governed.dedup();
    if let (None, Some(zone)) = (&settings.regions, landing_zone) {
        choice.ungoverned = choice.governed.iter().filter(|r| !zone.contains(r)).cloned().collect();
    }
    choice
}

/// The candidates governed whatever the admin's own list says: those the management account has ENABLED_BY_DEFAULT,
/// which every account has (a default region cannot be disabled). An onboarding starts on them before the admin's
/// list is read.
pub(crate) fn enabled_for_every_account(settings: &Settings, management: &[EnabledRegion]) -> Vec<String> {
    let listed = settings.regions.as_deref();
    management
        .iter()
        .filter(|r| r.by_default)
        .filter(|r| listed.is_none_or(|listed| listed.contains(&r.name)))
        .filter(|r| !settings.excluded_regions.contains(&r.name))
        .map(|r| r.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(names: &[&str]) -> Vec<EnabledRegion> {
        names
            .iter()
            .map(|n| EnabledRegion {
                name: (*n).to_owned(),
                by_default: !n.starts_with("af-") && !n.starts_with("me-"),
            })
            .collect()
    }

    fn ids() -> (AccountId, AccountId) {
        ("111111111111".parse().expect("id"), "222222222222".parse().expect("id"))
    }

    #[test]
    fn by_default_only_regions_both_accounts_enabled_are_governed_and_the_others_say_who_lacks_them() {
        // given an admin that opted in to af-south-1 and a management account that opted in to me-south-1
        let (mgmt, admin) = ids();
        let settings = Settings::with_admin(admin);
        let m = enabled(&["eu-west-1", "me-south-1", "us-east-1"]);
        let a = enabled(&["af-south-1", "eu-west-1", "us-east-1"]);
        // when chosen
        let choice = choose(&settings, (&mgmt, &m), (&admin, &a), None);
        // then the two common regions are governed, and each other one names the account without it
        assert_eq!(choice.governed, ["eu-west-1", "us-east-1"]);
        assert_eq!(choice.left_out.len(), 2);
        assert_eq!(choice.left_out[0].region, "af-south-1");
        assert!(choice.left_out[0].reason.contains("management account 111111111111"), "{:?}", choice.left_out);
        assert_eq!(choice.left_out[1].region, "me-south-1");
        assert!(choice.left_out[1].reason.contains("delegated admin 222222222222"), "{:?}", choice.left_out);
        // and before the admin's list is read, the regions every account has are known to be governed
        assert_eq!(enabled_for_every_account(&settings, &m), ["eu-west-1", "us-east-1"]);
    }

    #[test]
    fn a_listed_region_an_account_has_not_enabled_is_left_out_not_failed() {
        let (mgmt, admin) = ids();
        let mut settings = Settings::with_admin(admin);
        settings.regions = Some(vec!["us-east-1".into(), "af-south-1".into(), "eu-west-1".into()]);
        settings.excluded_regions.insert("eu-west-1".into());
        let both = enabled(&["eu-west-1", "us-east-1"]);
        let choice = choose(&settings, (&mgmt, &both), (&admin, &both), None);
        assert_eq!(choice.governed, ["us-east-1"]);
        let reasons: Vec<(&str, &str)> =
            choice.left_out.iter().map(|l| (l.region.as_str(), l.reason.as_str())).collect();
        assert!(
            reasons[0].0 == "af-south-1"
                && reasons[0].1.contains("111111111111")
                && reasons[0].1.contains("222222222222")
        );
        assert_eq!(reasons[1], ("eu-west-1", "excluded by GUARDDUTY_EXCLUDED_REGIONS"));
    }

    #[test]
    fn a_landing_zone_s_governed_regions_do_not_narrow_the_candidates_they_are_only_named() {
        // given both accounts with four regions enabled, and a landing zone that governs two of them and one neither
        // account has enabled
        let (mgmt, admin) = ids();
        let mut settings = Settings::with_admin(admin);
        let both = enabled(&["ap-southeast-2", "eu-west-1", "sa-east-1", "us-east-1"]);
        let governed = ["eu-west-1".to_owned(), "us-east-1".to_owned(), "eu-north-1".to_owned()];
        // when chosen
        let choice = choose(&settings, (&mgmt, &both), (&admin, &both), Some(&governed));
        // then every region both accounts enabled is governed, and those the landing zone does not govern are named
        assert_eq!(choice.governed, ["ap-southeast-2", "eu-west-1", "sa-east-1", "us-east-1"]);
        assert!(choice.left_out.is_empty(), "{:?}", choice.left_out);
        assert_eq!(choice.ungoverned, ["ap-southeast-2", "sa-east-1"]);
        assert_eq!(enabled_for_every_account(&settings, &both), choice.governed);
        // and an explicit GUARDDUTY_REGIONS wins, with nothing to name
        settings.regions = Some(vec!["sa-east-1".into()]);
        let choice = choose(&settings, (&mgmt, &both), (&admin, &both), Some(&governed));
        assert_eq!(choice.governed, ["sa-east-1"]);
        assert!(choice.ungoverned.is_empty());
        assert_eq!(enabled_for_every_account(&settings, &both), ["sa-east-1"]);
    }
}
