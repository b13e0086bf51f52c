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

impl<C: Cloud> Enabler<C> {
    pub(crate) async fn run_regions<'a, F, Fut>(
        &self,
        ctx: &Context,
        regions: &'a [String],
        options: &RunOptions,
        work: F,
    ) -> Vec<RegionReport>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = RegionReport>,
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
                    return report;
                }
                tell(ProgressEvent::Started { region });
                let started = Instant::now();
                let finished = match stop {
                    Some(stop) => tokio::time::timeout_at(stop.into(), work(region)).await.ok(),
                    None => Some(work(region).await),
                };
                let mut report = finished.unwrap_or_else(|| {
                    self.memory.forget_detector(region);
                    RegionReport::ended(
                        region,
                        Outcome::Unfinished,
                        "cut short: the invocation was running out of time",
                    )
                });
                report.millis = started.elapsed().as_millis() as u64;
                tell(ProgressEvent::Finished { region, outcome: report.outcome });
                report
            })
            .buffer_unordered(self.settings.region_concurrency.max(1))
            .collect()
            .await
    }
}
