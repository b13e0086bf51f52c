//! Running a region's work for the regions given, at most GUARDDUTY_REGION_CONCURRENCY at once, within the
//! run's deadline: no region is started after it, and regions still running at the stop are cut short; both are
//! reported unfinished.

use std::future::Future;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use super::context::Context;
use super::{Enabler, ProgressEvent, RunOptions};
use crate::ports::Cloud;
use crate::report::{Outcome, RegionReport};

/// What a region's work hands back to [`Enabler::run_regions`]: a region's report, or, from the first pass of a run
/// that owns a GuardDuty policy, nothing yet for a region that goes on in the second.
pub(crate) trait Ended {
    /// A region ended for lack of time.
    fn cut(report: RegionReport) -> Self;
    /// The report, where the region ended.
    fn report_mut(&mut self) -> Option<&mut RegionReport>;
}

impl Ended for RegionReport {
    fn cut(report: RegionReport) -> Self {
        report
    }

    fn report_mut(&mut self) -> Option<&mut RegionReport> {
        Some(self)
    }
}

impl Ended for Option<RegionReport> {
    fn cut(report: RegionReport) -> Self {
        Some(report)
    }

    fn report_mut(&mut self) -> Option<&mut RegionReport> {
        self.as_mut()
    }
}

impl<C: Cloud> Enabler<C> {
    pub(crate) async fn run_regions<'a, F, Fut, T>(
        &self,
        ctx: &Context,
        regions: &'a [String],
        options: &RunOptions,
        work: F,
    ) -> Vec<T>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = T>,
        T: Ended,
    {
        let (deadline, stop) = (options.deadline, options.stop);
        let work = &work;
        let tell = |event: ProgressEvent<'_>| {
            if let Some(progress) = &ctx.progress {
                progress(event);
            }
        };
        stream::iter(regions.iter())
            .map(|region| async move {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let report = RegionReport::ended(
                        region,
                        Outcome::Unfinished,
                        "not started: the invocation was running out of time",
                    );
                    tell(ProgressEvent::Finished { region, outcome: report.outcome });
                    return T::cut(report);
                }
                tell(ProgressEvent::Started { region });
                let started = Instant::now();
                let finished = match stop {
                    Some(stop) => tokio::time::timeout_at(stop.into(), work(region)).await.ok(),
                    None => Some(work(region).await),
                };
                let mut ended = finished.unwrap_or_else(|| {
                    self.memory.forget_detector(region);
                    T::cut(RegionReport::ended(
                        region,
                        Outcome::Unfinished,
                        "cut short: the invocation was running out of time",
                    ))
                });
                if let Some(report) = ended.report_mut() {
                    report.millis += started.elapsed().as_millis() as u64;
                    tell(ProgressEvent::Finished { region, outcome: report.outcome });
                }
                ended
            })
            .buffer_unordered(self.settings.region_concurrency.max(1))
            .collect()
            .await
    }
}
