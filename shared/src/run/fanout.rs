//! Running a region's work for the regions given, at most GUARDDUTY_REGION_CONCURRENCY at once, within the
//! run's deadline: no region is started after it, and regions still running at the stop are cut short; both are
//! reported unfinished.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use futures_util::FutureExt;

use super::context::Context;
use super::{Enabler, ProgressEvent, RunOptions};
use crate::ports::Cloud;
use crate::report::{Outcome, RegionReport};
use crate::state::OrgConfig;

/// A region as its work ended: its report, and what the executor learnt there beside it.
pub(crate) struct Ended {
    /// What the report says.
    pub(crate) report: RegionReport,
    /// What the region offers (its organization configuration), for the policies a run owns.
    pub(crate) offered: Option<OrgConfig>,
    /// Why the region is left out of the run after all: a service control policy denies the admin GuardDuty here.
    pub(crate) denied: Option<String>,
}

impl Ended {
    /// What each of `regions` offers, where it was read: the input of the policies a run owns.
    pub(crate) fn offered_by_region(regions: &[Ended]) -> BTreeMap<String, OrgConfig> {
        regions.iter().filter_map(|e| Some((e.report.region.clone(), e.offered.clone()?))).collect()
    }
}

impl From<RegionReport> for Ended {
    fn from(report: RegionReport) -> Self {
        Self { report, offered: None, denied: None }
    }
}

/// Where a region's work left it: ended, with its report, or `Halfway` with what its next pass starts from (a run
/// that owns a GuardDuty policy writes it between a region's two passes).
pub(crate) enum Staged<P> {
    /// Nothing more to do here.
    Done(Box<Ended>),
    /// Ready for the next pass.
    Halfway(P),
}

impl<P> Staged<P> {
    /// A region that ended as `ended`.
    pub(crate) fn done(ended: impl Into<Ended>) -> Self {
        Self::Done(Box::new(ended.into()))
    }
}

impl Staged<Infallible> {
    /// How a region whose work has one pass only ended.
    pub(crate) fn into_ended(self) -> Ended {
        match self {
            Self::Done(ended) => *ended,
            Self::Halfway(never) => match never {},
        }
    }
}

impl<C: Cloud> Enabler<C> {
    /// Runs `work` for each of `regions`, in one pass.
    pub(crate) async fn run_regions<'a, F, Fut>(
        &self,
        ctx: &Context,
        regions: &'a [String],
        options: &RunOptions,
        work: F,
    ) -> Vec<Ended>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = Ended>,
    {
        let staged = self.first_pass(ctx, regions, options, |region| work(region).map(Staged::<Infallible>::done));
        staged.await.into_iter().map(Staged::into_ended).collect()
    }

    /// Runs `work` for each of `regions` as a first pass: with nothing to start from, each ends or is left halfway.
    pub(crate) async fn first_pass<'a, P, F, Fut>(
        &self,
        ctx: &Context,
        regions: &'a [String],
        options: &RunOptions,
        work: F,
    ) -> Vec<Staged<P>>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = Staged<P>>,
    {
        let items = regions.iter().map(|r| (r.as_str(), ())).collect();
        self.run_stages(ctx, items, options, |region, ()| work(region)).await
    }

    /// Runs `work` for each region of `items`, given the region's starting point (nothing for a first pass, what
    /// the first pass left for a second); a region not started, or cut short, ends unfinished.
    pub(crate) async fn run_stages<'a, I, P, F, Fut>(
        &self,
        ctx: &Context,
        items: Vec<(&'a str, I)>,
        options: &RunOptions,
        work: F,
    ) -> Vec<Staged<P>>
    where
        F: Fn(&'a str, I) -> Fut,
        Fut: Future<Output = Staged<P>>,
    {
        let (deadline, stop) = (options.deadline, options.stop);
        let work = &work;
        let tell = |event: ProgressEvent<'_>| {
            if let Some(progress) = &ctx.progress {
                progress(event);
            }
        };
        stream::iter(items)
            .map(|(region, item)| async move {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let report = RegionReport::ended(
                        region,
                        Outcome::Unfinished,
                        "not started: the invocation was running out of time",
                    );
                    tell(ProgressEvent::Finished { region, outcome: report.outcome });
                    return Staged::done(report);
                }
                tell(ProgressEvent::Started { region });
                let started = Instant::now();
                let finished = match stop {
                    Some(stop) => tokio::time::timeout_at(stop.into(), work(region, item)).await.ok(),
                    None => Some(work(region, item).await),
                };
                let mut staged = finished.unwrap_or_else(|| {
                    self.memory.forget_detector(region);
                    Staged::done(RegionReport::ended(
                        region,
                        Outcome::Unfinished,
                        "cut short: the invocation was running out of time",
                    ))
                });
                if let Staged::Done(ended) = &mut staged {
                    ended.report.millis += started.elapsed().as_millis() as u64;
                    tell(ProgressEvent::Finished { region, outcome: ended.report.outcome });
                }
                staged
            })
            .buffer_unordered(self.settings.region_concurrency.max(1))
            .collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::report::Outcome;
    use crate::testing::{enabler, World};
    use crate::RunOptions;

    #[tokio::test]
    async fn no_region_is_started_after_the_deadline_and_nothing_is_written() {
        // Given a run whose deadline has passed.
        let enabler = enabler(World::organization(2, &["us-east-1", "eu-west-1"]), |_| {});
        let past = Instant::now() - Duration::from_secs(1);
        let options = RunOptions { deadline: Some(past), ..RunOptions::default() };

        // When it is reconciled.
        let report = enabler.reconcile_with(&options).await.expect("the reconcile");

        // Then every region is reported unfinished, and GuardDuty was not written.
        assert_eq!(report.regions.len(), 2);
        assert!(report.regions.iter().all(|r| r.outcome == Outcome::Unfinished), "{:?}", report.regions);
        assert!(!report.is_success());
        let world = enabler.cloud().world();
        assert!(world.writes.iter().all(|w| w.region == "-"), "{:?}", world.writes);
    }

    #[tokio::test]
    async fn a_region_still_running_at_the_stop_is_cut_short() {
        // Given calls that take 20 ms, and a stop 50 ms away: the region needs more than two calls.
        let mut world = World::organization(2, &["us-east-1"]);
        world.latency = Some(Duration::from_millis(20));
        let enabler = enabler(world, |_| {});
        let options = RunOptions { stop: Some(Instant::now() + Duration::from_millis(50)), ..RunOptions::default() };

        // When it is reconciled.
        let report = enabler.reconcile_with(&options).await.expect("the reconcile");

        // Then the region says it was cut short.
        assert_eq!(report.regions[0].outcome, Outcome::Unfinished);
        assert!(report.regions[0].error.as_deref().unwrap_or_default().contains("cut short"), "{:?}", report.regions);
    }
}
