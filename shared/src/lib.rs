//! Brings Amazon GuardDuty to a declared state across every account and region of an AWS Organization.
//!
//! The pieces, from the outside in:
//! - [`Settings`] reads and validates the `GUARDDUTY_*` configuration before any AWS call.
//! - [`Enabler`] runs a full [`reconcile`](Enabler::reconcile) or [`onboard`](Enabler::onboard)s one account:
//!   it observes each region through the [`Cloud`] port, asks the pure [`plan_region`] what to write, and applies
//!   it with bounded concurrency across regions.
//! - [`AwsCloud`] implements the ports with the AWS SDK, reaching the delegated admin through sts:AssumeRole.
//! - [`Report`] says per region what was found, done and left, and why.

mod aws;
mod budget;
mod config;
mod error;
mod guard;
mod ids;
mod metrics;
mod plan;
mod ports;
mod reconcile;
mod report;
mod state;

pub use aws::{AwsCloud, AwsGuardDuty, AwsOrganization, RetryPolicy, SettlingRetry, SETTLING_MESSAGES};
pub use budget::Budget;
pub use config::{
    default_plans, Agent, AutoEnable, ConfigError, Feature, FindingFrequency, Plan, Problem, Settings,
    DEFAULT_ADMIN_ROLE_NAME, DEFAULT_REGION_CONCURRENCY,
};
pub use error::{BoxError, Error};
pub use guard::{guarded, json_type, Interrupted};
pub use ids::{is_region_name, partition_of, AccountId, InvalidAccountId};
pub use metrics::{emf, publish, NAMESPACE};
pub use plan::{
    org_config_matches, plan_admin_side, plan_foundation, plan_region, plans_not_enabled, Desired, Left, MemberAccount,
    RegionPlan, Step, MEMBER_BATCH,
};
pub use ports::{Cloud, CreateAccountStatus, GuardDutyApi, OrganizationApi, Side, Unprocessed};
pub use reconcile::{Enabler, RunOptions};
pub use report::{Action, ActionStatus, Found, Outcome, RegionReport, Report, Summary};
pub use state::{
    enabled_count, AdminSide, Detector, FeatureState, OrgAccount, OrgConfig, OrgFeatureState, RegionState, Relationship,
};

/// Connects to AWS with the process's configuration (region, credentials and `AWS_ENDPOINT_URL` from the
/// environment, as every SDK reads them) and returns an enabler for `settings`.
pub async fn connect(settings: Settings) -> Enabler<AwsCloud> {
    let base = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cloud = AwsCloud::connect(&base, &settings, RetryPolicy::default()).await;
    Enabler::new(cloud, settings)
}
