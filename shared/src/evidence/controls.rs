//! AWS Security Hub's controls for GuardDuty, evaluated per region from the matrix: GuardDuty.1 (enabled) and the
//! plan controls GuardDuty.5 to GuardDuty.13 ("Security Hub CSPM controls for Amazon GuardDuty",
//! <https://docs.aws.amazon.com/securityhub/latest/userguide/guardduty-controls.html>; titles verbatim). A plan control
//! "fails if the delegated GuardDuty administrator account and all member accounts don't have" the plan, and fails
//! for "a suspended member account that doesn't have" it: taken as failing for any member record, the admin's own
//! detector included, without the plan. GuardDuty.1 is evaluated for every ACTIVE account where it has the region
//! (Security Hub checks it in each account). The evidence is about the organization, not this tool's wishes: a plan
//! the configuration leaves off still fails its control, and an excluded account fails GuardDuty.1; the note says
//! which failures the configuration accounts for. Pure.

use std::collections::BTreeMap;

use super::classify::Classified;
use super::document::{Cell, Control, ControlResult, Coverage, PlanStatus};
use crate::config::Plan;
use crate::ids::AccountId;
use crate::state::DetectorState;

/// What a control checks.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// GuardDuty enabled for the account.
    Enabled,
    /// A plan ENABLED.
    Plan(&'static str),
    /// A plan ENABLED with an additional configuration ENABLED, any of these pairs (plan, additional configuration).
    Agent(&'static [(&'static str, &'static str)]),
}

/// The controls, with Security Hub's titles.
const CONTROLS: [(&str, &str, Check); 10] = [
    ("GuardDuty.1", "GuardDuty should be enabled", Check::Enabled),
    ("GuardDuty.5", "GuardDuty EKS Audit Log Monitoring should be enabled", Check::Plan("EKS_AUDIT_LOGS")),
    ("GuardDuty.6", "GuardDuty Lambda Protection should be enabled", Check::Plan("LAMBDA_NETWORK_LOGS")),
    // "EKS Runtime Monitoring with automated agent management" (the control's description): the EKS add-on's
    // management, under Runtime Monitoring or under its older EKS-only flavour.
    (
        "GuardDuty.7",
        "GuardDuty EKS Runtime Monitoring should be enabled",
        Check::Agent(&[
            ("RUNTIME_MONITORING", "EKS_ADDON_MANAGEMENT"),
            ("EKS_RUNTIME_MONITORING", "EKS_ADDON_MANAGEMENT"),
        ]),
    ),
    ("GuardDuty.8", "GuardDuty Malware Protection for EC2 should be enabled", Check::Plan("EBS_MALWARE_PROTECTION")),
    ("GuardDuty.9", "GuardDuty RDS Protection should be enabled", Check::Plan("RDS_LOGIN_EVENTS")),
    ("GuardDuty.10", "GuardDuty S3 Protection should be enabled", Check::Plan("S3_DATA_EVENTS")),
    ("GuardDuty.11", "GuardDuty Runtime Monitoring should be enabled", Check::Plan("RUNTIME_MONITORING")),
    (
        "GuardDuty.12",
        "GuardDuty ECS Runtime Monitoring should be enabled",
        Check::Agent(&[("RUNTIME_MONITORING", "ECS_FARGATE_AGENT_MANAGEMENT")]),
    ),
    (
        "GuardDuty.13",
        "GuardDuty EC2 Runtime Monitoring should be enabled",
        Check::Agent(&[("RUNTIME_MONITORING", "EC2_AGENT_MANAGEMENT")]),
    ),
];

/// The ids of the controls, in order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    CONTROLS.iter().map(|(id, _, _)| *id)
}

/// Why an account fails a control, as far as the configuration accounts for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    /// Excluded by the configuration (or its GuardDuty policy turns GuardDuty off there).
    Excluded,
    /// The configuration does not turn the plan on for it.
    OffByConfiguration,
    /// Nothing in the configuration accounts for it.
    Unexplained,
}

/// Every control in one classified region; `admin` is the delegated admin.
pub(crate) fn region(classified: &Classified, admin: &AccountId) -> Vec<Control> {
    CONTROLS.iter().map(|(id, title, check)| control(classified, admin, id, title, *check)).collect()
}

fn control(c: &Classified, admin: &AccountId, id: &str, title: &str, check: Check) -> Control {
    let mut out = Control {
        id: id.to_owned(),
        region: c.region.region.clone(),
        title: title.to_owned(),
        result: ControlResult::Passed,
        failing_accounts: Vec::new(),
        note: None,
        explained_by_configuration: true,
    };
    if !applicable(c, check) {
        out.result = ControlResult::NotApplicable;
        out.note = Some("the region does not offer the plan".into());
        return out;
    }
    let mut why: BTreeMap<Why, Vec<AccountId>> = BTreeMap::new();
    for cell in c.rows.iter().filter(|cell| concerned(cell, check)) {
        if !passes(c, cell, check) {
            why.entry(explain(c, cell, admin, check)).or_default().push(cell.account);
        }
    }
    out.failing_accounts = why.values().flatten().copied().collect();
    out.failing_accounts.sort();
    if !out.failing_accounts.is_empty() {
        out.result = ControlResult::Failed;
        out.explained_by_configuration = !why.contains_key(&Why::Unexplained);
        out.note = Some(note(&why));
    }
    out
}

/// Whether the region offers what the control checks (where what it offers could not be read, it is taken to).
fn applicable(c: &Classified, check: Check) -> bool {
    let Some(offered) = &c.offered else { return true };
    match check {
        Check::Enabled => true,
        Check::Plan(plan) => offered.features.contains_key(plan),
        Check::Agent(pairs) => {
            pairs.iter().any(|(plan, agent)| offered.features.get(*plan).is_some_and(|f| f.agents.contains_key(*agent)))
        }
    }
}

/// Whether the control concerns the account's row: GuardDuty.1 every ACTIVE account that has the region; a plan
/// control the admin and every member record but those of accounts that have not enabled the region.
fn concerned(cell: &Cell, check: Check) -> bool {
    match check {
        Check::Enabled => !matches!(cell.coverage, Coverage::NotActive | Coverage::RegionNotEnabled),
        _ => {
            cell.coverage == Coverage::Admin
                || cell.relationship.as_deref().is_some_and(|r| !r.eq_ignore_ascii_case("RegionDisabled"))
        }
    }
}

fn passes(c: &Classified, cell: &Cell, check: Check) -> bool {
    let on = |plan: &str| cell.plans.get(plan).is_some_and(|p| p.status == PlanStatus::Enabled);
    match check {
        Check::Enabled if cell.coverage == Coverage::Admin => c.region.admin_detector == DetectorState::Enabled,
        Check::Enabled => cell.relationship.as_deref().is_some_and(|r| r.eq_ignore_ascii_case("Enabled")),
        Check::Plan(plan) => on(plan),
        Check::Agent(pairs) => pairs.iter().any(|(plan, agent)| {
            on(plan) && cell.plans.get(plan).and_then(|p| p.agent(agent)) == Some(PlanStatus::Enabled)
        }),
    }
}

/// How far the configuration accounts for an account failing a control.
fn explain(c: &Classified, cell: &Cell, admin: &AccountId, check: Check) -> Why {
    if cell.coverage == Coverage::Excluded {
        return Why::Excluded;
    }
    let wanted: &[Plan] =
        if cell.account == *admin { &c.admin_plans } else { &c.wants.sets[c.wants.index(&cell.account)].on };
    let wants = |plan: &str, agent: Option<&str>| {
        wanted.iter().any(|p| p.name == plan && agent.is_none_or(|a| p.agents.iter().any(|x| x == a)))
    };
    let configured = match check {
        Check::Enabled => true,
        Check::Plan(plan) => wants(plan, None),
        Check::Agent(pairs) => pairs.iter().any(|(plan, agent)| wants(plan, Some(agent))),
    };
    if configured || cell.coverage == Coverage::NotActive {
        Why::Unexplained
    } else {
        Why::OffByConfiguration
    }
}

fn note(why: &BTreeMap<Why, Vec<AccountId>>) -> String {
    const NAMED: usize = 10;
    let mut parts = Vec::new();
    for (reason, accounts) in why {
        let label = match reason {
            Why::Excluded => "excluded by configuration",
            Why::OffByConfiguration => "off by configuration",
            Why::Unexplained => "not accounted for by the configuration",
        };
        let mut named: Vec<String> = accounts.iter().take(NAMED).map(ToString::to_string).collect();
        if accounts.len() > NAMED {
            named.push(format!("and {} more", accounts.len() - NAMED));
        }
        parts.push(format!("{label}: {}", named.join(", ")));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::classify::{self, Org};
    use super::super::fixture::{self, *};
    use super::*;
    use crate::config::PlanSelection;

    fn controls_of(settings: &crate::config::Settings, read: &super::super::read::RegionRead) -> Vec<Control> {
        let survey = survey(settings);
        let org = Org::new(settings, &survey);
        region(&classify::region(&org, read).expect("classified"), &id(ADMIN))
    }

    fn find<'a>(controls: &'a [Control], id_: &str) -> &'a Control {
        controls.iter().find(|c| c.id == id_).expect("control")
    }

    #[test]
    fn a_member_without_a_plan_fails_its_control_and_the_configuration_does_not_account_for_it() {
        let controls = controls_of(&settings(), &fixture::read("us-east-1"));
        assert_eq!(controls.len(), 10);
        assert_eq!(controls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ids().collect::<Vec<_>>());
        let s3 = find(&controls, "GuardDuty.10");
        assert_eq!((s3.result, s3.failing_accounts.clone()), (ControlResult::Failed, vec![id(MISSING_S3)]));
        assert!(!s3.explained_by_configuration);
        assert_eq!(s3.title, "GuardDuty S3 Protection should be enabled");
        assert_eq!(find(&controls, "GuardDuty.9").result, ControlResult::Passed);
        assert_eq!(find(&controls, "GuardDuty.13").result, ControlResult::Passed);
    }

    #[test]
    fn an_excluded_account_fails_guardduty_1_as_excluded_by_configuration() {
        let controls = controls_of(&settings(), &fixture::read("us-east-1"));
        let enabled = find(&controls, "GuardDuty.1");
        assert_eq!(enabled.result, ControlResult::Failed);
        // the suspended account is not ACTIVE and has no member record: no control concerns it
        assert_eq!(enabled.failing_accounts, vec![id(EXCLUDED)]);
        assert!(enabled.explained_by_configuration);
        assert_eq!(enabled.note.as_deref(), Some("excluded by configuration: 555555555555"));
    }

    #[test]
    fn a_plan_the_region_does_not_offer_is_not_applicable() {
        let controls = controls_of(&settings(), &fixture::read("eu-west-1"));
        let rds = find(&controls, "GuardDuty.9");
        assert_eq!(rds.result, ControlResult::NotApplicable);
        assert!(rds.failing_accounts.is_empty());
        // and the account without the opt-in region is in no control there
        assert!(controls.iter().all(|c| !c.failing_accounts.contains(&id(NO_OPT_IN))));
    }

    #[test]
    fn a_plan_the_configuration_leaves_off_still_fails_and_says_so() {
        // given a configuration of S3 Protection only, and a member with Lambda Protection off
        let mut s = settings();
        s.plans = PlanSelection::parse("S3_DATA_EVENTS").expect("valid");
        let mut read = fixture::read("us-east-1");
        let side = read.side.as_mut().expect("side");
        side.plans
            .get_mut(&id(PROTECTED))
            .and_then(|f| std::sync::Arc::make_mut(f).get_mut("LAMBDA_NETWORK_LOGS"))
            .expect("lambda")
            .enabled = false;
        // then GuardDuty.6 fails for it, accounted for by the configuration
        let controls = controls_of(&s, &read);
        let lambda = find(&controls, "GuardDuty.6");
        assert_eq!((lambda.result, lambda.failing_accounts.clone()), (ControlResult::Failed, vec![id(PROTECTED)]));
        assert!(lambda.explained_by_configuration);
        assert_eq!(lambda.note.as_deref(), Some("off by configuration: 333333333333"));
    }

    #[test]
    fn an_agent_control_needs_the_plan_and_its_additional_configuration() {
        let mut read = fixture::read("us-east-1");
        let side = read.side.as_mut().expect("side");
        let runtime = side
            .plans
            .get_mut(&id(PROTECTED))
            .and_then(|f| std::sync::Arc::make_mut(f).get_mut("RUNTIME_MONITORING"))
            .expect("rm");
        runtime.agents.insert("EKS_ADDON_MANAGEMENT".into(), false);
        let controls = controls_of(&settings(), &read);
        assert_eq!(find(&controls, "GuardDuty.7").failing_accounts, vec![id(PROTECTED)]);
        assert_eq!(find(&controls, "GuardDuty.11").result, ControlResult::Passed);
        assert_eq!(find(&controls, "GuardDuty.13").result, ControlResult::Passed);
    }

    #[test]
    fn the_admin_without_a_detector_fails_every_control() {
        let mut read = fixture::read("us-east-1");
        read.admin_detector = None;
        let controls = controls_of(&settings(), &read);
        for c in &controls {
            assert!(c.failing_accounts.contains(&id(ADMIN)), "{}", c.id);
            assert!(!c.explained_by_configuration, "{}", c.id);
        }
    }
}
