//! Findings export in one region, on the admin's detector: read what GuardDuty has (ListPublishingDestinations, and
//! DescribePublishingDestination where there is one), write at most once (see [`crate::plan::export`]), and say how
//! it stands. An export that cannot be set up, or that GuardDuty reports failing, is the region's problem, reported
//! with the status and since when it fails; it never stops the region's members.

use super::apply::RegionWork;
use crate::config::FindingsExport;
use crate::error::Error;
use crate::plan::export::{allowed, plan_export, ExportPlan};
use crate::plan::Step;
use crate::ports::{Cloud, GuardDutyApi};
use crate::report::ExportReport;

impl<C: Cloud> RegionWork<'_, C> {
    /// The region's findings export, brought to `wanted` where the user guide's region rules allow it.
    pub(crate) async fn export(&mut self, wanted: &FindingsExport) {
        let defaults = &self.ctx.defaults;
        let opt_in = |region: &str| !defaults.contains(region);
        let report = match allowed(self.name, &wanted.region, opt_in) {
            Err(why) => ExportReport::left_out(why),
            Ok(()) => self.export_steps(wanted).await.unwrap_or_else(ExportReport::failed),
        };
        if !report.is_healthy() {
            tracing::warn!(region = self.name, status = %report.status, "findings export");
        }
        self.report.export = Some(report);
    }

    /// In a dry run where the admin's detector is still to be created: the destination it will need, planned where
    /// the region rules allow it.
    pub(crate) fn plan_new_export(&mut self) {
        let Some(wanted) = self.enabler.settings.findings.clone() else { return };
        let defaults = &self.ctx.defaults;
        let opt_in = |region: &str| !defaults.contains(region);
        let report = match allowed(self.name, &wanted.region, opt_in) {
            Err(why) => ExportReport::left_out(why),
            Ok(()) => {
                let step = Step::CreatePublishingDestination { destination: wanted.destination.clone() };
                self.report.actions.push(crate::report::Action { step, status: crate::report::ActionStatus::Planned });
                ExportReport::absent()
            }
        };
        self.report.export = Some(report);
    }

    async fn export_steps(&mut self, wanted: &FindingsExport) -> Result<ExportReport, Error> {
        let detector = self.detector_id()?;
        let found = self.admin.publishing_destinations(&detector).await?;
        let described = match &found[..] {
            [(id, _)] => Some(self.admin.publishing_destination(&detector, id).await?),
            _ => None,
        };
        let step = match plan_export(wanted, &found, described.as_ref()) {
            ExportPlan::Nothing => return Ok(ExportReport::from(described.unwrap_or_default())),
            ExportPlan::Several(n) => return Ok(ExportReport::several(n)),
            ExportPlan::Create => Step::CreatePublishingDestination { destination: wanted.destination.clone() },
            ExportPlan::Update(id) => {
                Step::UpdatePublishingDestination { destination_id: id, destination: wanted.destination.clone() }
            }
        };
        self.apply_all(vec![step]).await?;
        if self.ctx.dry_run {
            return Ok(described.map_or_else(ExportReport::absent, ExportReport::from));
        }
        // What GuardDuty says of it now: PENDING_VERIFICATION right after a write, which is in progress, not a
        // failure.
        let id = match &self.export_id {
            Some(id) => id.clone(),
            None => return Err(Error::Unexpected("the publishing destination has no id; nothing was read".into())),
        };
        let now = self.admin.publishing_destination(&detector, &id).await?;
        Ok(ExportReport { written: true, ..ExportReport::from(now) })
    }
}
