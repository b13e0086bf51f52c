//! Brings Amazon GuardDuty to a declared state across every account and region of an AWS Organization.
//!
//! The pieces, from the outside in:
//! - [`Settings`] reads and validates the `GUARDDUTY_*` configuration ([`VARIABLES`]) before any AWS call.
//! - [`Enabler`] runs a full [`reconcile`](Enabler::reconcile) or [`onboard`](Enabler::onboard)s one account:
//!   it chooses the regions, observes each through the [`Cloud`] port, asks a pure planner what to write, applies
//!   it with bounded concurrency across regions, and checks what GuardDuty shows.
//!
//! Where things live: `config/` (the variables), `regions.rs` (which regions), `plan/` (what to change: the
//! foundation and the designation rule in `mod.rs`, members' plans in `protection.rs`, the policy writer's content in
//! `policy.rs`, the findings export in `export.rs`), `ports.rs` (what the executor reaches) and `aws/` (how AWS is
//! called), `run/` (how a run reads, applies and checks; `run/memory.rs`, what a warm process remembers),
//! `report.rs` and `metrics.rs` (what a run says), `evidence/` (the evidence report and its record), `tamper.rs`,
//! `flaps.rs`, `detection.rs` and `forwarding.rs` (tamper response). How an event becomes work is the responder's
//! (`functions/responder/src/event.rs`).
//! - [`AwsCloud`] implements the ports with the AWS SDK, reaching the delegated admin through sts:AssumeRole.
//! - [`Report`] says per region what was found, done and left, which accounts are protected and which are not;
//!   [`publish`] turns it into logs and CloudWatch metrics.
//! - [`tamper`] reads what someone else's call to GuardDuty or the policy plane broke, and [`Enabler::repair`] puts
//!   back exactly that; [`detection`] checks that such calls can reach it (trails and forwarding rules).
//! - `testing` (feature `testing`) is an in-memory cloud behind the same ports, for unit tests of the executor.
//! - [`evidence`] turns one read-only observation into evidence an auditor accepts (the command line's `report`), and
//!   keeps it over time in a bucket.

// The names the shells use are re-exported flat below; the rest of the public types are named by their module
// (`enablement::report::Found`, `enablement::state::Features`); everything else says pub(crate).
#![warn(unreachable_pub)]

pub mod aws;
mod backoff;
mod budget;
pub mod config;
pub mod detection;
pub mod error;
pub mod evidence;
pub mod flaps;
pub mod forwarding;
mod guard;
pub mod ids;
mod metrics;
pub mod plan;
mod policy;
pub mod ports;
mod regions;
pub mod report;
pub mod run;
pub mod state;
pub mod tamper;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tree;

pub use aws::{AwsCloud, RetryPolicy};
pub use backoff::{Backoff, Waits};
pub use budget::Budget;
pub use config::{
    AutoEnable, ConfigError, Enablement, FindingFrequency, Plan, Resolved, Settings, Variable, DEFAULT_ADMIN_ROLE_NAME,
    VARIABLES,
};
pub use error::{AwsError, Error, Failure, FailureKind};
pub use guard::{guarded, json_type, Interrupted};
pub use ids::{is_region_name, short_region, shorten, AccountId};
pub use metrics::{emf, emf_evidence, emf_failure, emf_flapping, emf_onboarding, emf_tamper, publish, TamperOutcome};
pub use plan::{MemberAccount, Step};
pub use ports::{
    Cloud, Cost, CreateAccountStatus, EnabledRegion, FindingList, GuardDutyApi, ListKind, MemberFeatures,
    OrganizationApi, PolicyRecord, PolicyTypeStatus, PublishingDestination, Root, SavedFilter, Side, Subtree,
    Unprocessed,
};
pub use report::{
    AccountEntry, Action, ActionStatus, Coverage, ExportStatus, OrgActionKind, Outcome, RegionReport, Report, Summary,
};
pub use run::{Enabler, Entry, Gate, Onboarding, Patience, Progress, ProgressEvent, Repaired, RunOptions, Usage};
pub use state::{DelegatedAdmin, Detector, DetectorState, MemberStatus, Members, OrgAccount, OrgConfig};

/// Connects to AWS with the process's configuration (region, credentials and `AWS_ENDPOINT_URL` from the
/// environment, as every SDK reads them) and returns an enabler for `settings`.
pub async fn connect(settings: Settings) -> Enabler<AwsCloud> {
    let base = sdk_config_loader().load().await;
    connect_with(&base, settings).await
}

/// The SDK's configuration loader, as every AWS client of this project is built from: the standard chain for the
/// region, credentials and endpoint, and the SDK's own HTTPS client with rustls on ring.
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https)
}

/// An enabler for `settings` over an SDK configuration built once (a function's cold start, the command line's
/// profile).
pub async fn connect_with(base: &aws_config::SdkConfig, settings: Settings) -> Enabler<AwsCloud> {
    let cloud = AwsCloud::connect(base, &settings, RetryPolicy::default()).await;
    Enabler::new(cloud, settings)
}
