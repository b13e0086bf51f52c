//! What a run reads in a region: both detectors and the designations at once, then, where the admin is
//! designated and has a detector, its organization configuration and every member.

use super::context::Context;
use super::Enabler;
use crate::error::Error;
use crate::ports::{Cloud, GuardDutyApi};
use crate::report::Found;
use crate::state::{enabled_count, AdminSide, Detector, DetectorState, RegionState};

impl<C: Cloud> Enabler<C> {
    pub(crate) async fn observe(
        &self,
        ctx: &Context,
        mgmt: &C::GuardDuty,
        admin: &C::GuardDuty,
    ) -> Result<RegionState, Error> {
        let separate_management = !ctx.admin_is_management;
        let (management_detector, delegated_admins, admin_detector) = tokio::try_join!(
            async {
                if separate_management {
                    read_detector(mgmt).await
                } else {
                    Ok(None)
                }
            },
            mgmt.delegated_admins(),
            read_detector(admin),
        )?;
        let mut state = RegionState { management_detector, delegated_admins, admin_detector, admin_side: None };
        if let (Some(d), true) = (&state.admin_detector, state.designated(&self.settings.admin_account)) {
            state.admin_side = Some(read_admin_side(admin, &d.id).await?);
        }
        if !separate_management {
            state.management_detector = state.admin_detector.clone();
        }
        Ok(state)
    }
}

/// ListDetectors, then GetDetector where there is one.
pub(crate) async fn read_detector<G: GuardDutyApi>(gd: &G) -> Result<Option<Detector>, Error> {
    match gd.detector_id().await? {
        Some(id) => Ok(Some(gd.get_detector(&id).await?)),
        None => Ok(None),
    }
}

/// The organization configuration and every member, at once.
pub(crate) async fn read_admin_side<G: GuardDutyApi>(admin: &G, detector: &str) -> Result<AdminSide, Error> {
    let (org_config, members) = tokio::try_join!(admin.org_config(detector), admin.list_members(detector))?;
    Ok(AdminSide { org_config, members })
}

/// What was found, for the report.
pub(crate) fn found(state: &RegionState) -> Found {
    let side = state.admin_side.as_ref();
    Found {
        management_detector: DetectorState::of(state.management_detector.as_ref()),
        delegated_admin: state.delegated_admins.first().map(|a| a.account.clone()),
        admin_detector: DetectorState::of(state.admin_detector.as_ref()),
        auto_enable: side.and_then(|s| s.org_config.auto_enable.clone()),
        members_enabled: side.map_or(0, |s| enabled_count(&s.members)),
        members_total: side.map_or(0, |s| s.members.len()),
    }
}
