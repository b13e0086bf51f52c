//! A small organization, as a survey and region reads would give it, for the unit tests of the pure parts: the
//! management account, the delegated admin, a protected member under Root/Prod/Legacy, a member missing S3 Protection,
//! an excluded member, a suspended account and a member that has not enabled an opt-in region; two regions, one of
//! which does not offer RDS Protection; an ARCHIVE filter and an active trusted IP list in us-east-1.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::read::{AdminView, RegionRead};
use crate::config::Settings;
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::ports::{FindingList, ListKind, PublishingDestination, SavedFilter, Subtree};
use crate::regions::RegionChoice;
use crate::report::AccountEntry;
use crate::run::{AccountClasses, Roster, Survey};
use crate::state::{
    AdminStatus, DelegatedAdmin, Detector, FeatureState, Features, MemberStatus, OrgAccount, OrgConfig, OrgFeatureState,
};
use crate::tree::OrgTree;

pub(crate) const MANAGEMENT: &str = "111111111111";
pub(crate) const ADMIN: &str = "222222222222";
pub(crate) const PROTECTED: &str = "333333333333";
pub(crate) const MISSING_S3: &str = "444444444444";
pub(crate) const EXCLUDED: &str = "555555555555";
pub(crate) const SUSPENDED: &str = "666666666666";
pub(crate) const NO_OPT_IN: &str = "777777777777";
pub(crate) const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

pub(crate) fn id(s: &str) -> AccountId {
    s.parse().expect("account id")
}

fn account(id_: &str, name: &str, state: &str) -> OrgAccount {
    OrgAccount {
        id: id(id_),
        name: name.into(),
        email: Arc::from(format!("{name}@example.com").as_str()),
        state: state.into(),
    }
}

/// The plans a region offers: every plan of the SDK with Runtime Monitoring's agents, RDS withheld in eu-west-1.
pub(crate) fn offered(region: &str) -> OrgConfig {
    let agents = |names: &[&str]| names.iter().map(|a| ((*a).to_owned(), "NONE".to_owned())).collect();
    let mut features: BTreeMap<String, OrgFeatureState> = [
        ("S3_DATA_EVENTS", vec![]),
        ("EKS_AUDIT_LOGS", vec![]),
        ("EBS_MALWARE_PROTECTION", vec![]),
        ("RDS_LOGIN_EVENTS", vec!["RDS_DATA_RISK"]),
        ("LAMBDA_NETWORK_LOGS", vec![]),
        ("RUNTIME_MONITORING", vec!["EC2_AGENT_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EKS_ADDON_MANAGEMENT"]),
        ("AI_PROTECTION", vec![]),
    ]
    .into_iter()
    .map(|(name, a)| (name.to_owned(), OrgFeatureState { auto_enable: "ALL".into(), agents: agents(&a) }))
    .collect();
    if region == "eu-west-1" {
        features.remove("RDS_LOGIN_EVENTS");
    }
    OrgConfig { auto_enable: Some("NONE".into()), features }
}

/// Every plan `config` offers enabled with its agents, but `off`.
pub(crate) fn features(config: &OrgConfig, off: &[&str]) -> Features {
    config
        .features
        .iter()
        .map(|(name, f)| {
            let agents = f.agents.keys().map(|a| (a.clone(), true)).collect();
            (name.clone(), FeatureState { enabled: !off.contains(&name.as_str()), agents, ..FeatureState::default() })
        })
        .collect()
}

pub(crate) fn settings() -> Settings {
    let mut s = Settings::with_admin(id(ADMIN));
    s.auto_enable = crate::config::AutoEnable::None;
    s.excluded_accounts = [id(EXCLUDED)].into();
    s
}

/// The organization as a survey gives it.
pub(crate) fn survey(settings: &Settings) -> Survey {
    let accounts = vec![
        (account(MANAGEMENT, "management", "ACTIVE"), "r-root"),
        (account(ADMIN, "security", "ACTIVE"), "r-root"),
        (account(PROTECTED, "prod-a", "ACTIVE"), "ou-legacy"),
        (account(MISSING_S3, "prod-b", "ACTIVE"), "ou-prod"),
        (account(EXCLUDED, "sandbox", "ACTIVE"), "r-root"),
        (account(SUSPENDED, "closed", "SUSPENDED"), "r-root"),
        (account(NO_OPT_IN, "newcomer", "ACTIVE"), "r-root"),
    ];
    let subtree = Subtree {
        ous: vec![("ou-prod".into(), "r-root".into()), ("ou-legacy".into(), "ou-prod".into())],
        accounts: accounts.iter().map(|(a, p)| (a.clone(), (*p).to_owned())).collect(),
        names: [("ou-prod".to_owned(), "Prod".to_owned()), ("ou-legacy".to_owned(), "Legacy".to_owned())].into(),
    };
    let unit_names = subtree.names.clone();
    let tree = OrgTree::new(subtree);
    // The roster as a reconcile makes it: every ACTIVE account but the admin and the excluded ones.
    let mut roster = Roster::default();
    for (a, _) in &accounts {
        let excluded = settings.excluded_accounts.contains(&a.id);
        if a.is_active() && a.id != settings.admin_account && !excluded {
            roster.members.push(MemberAccount { id: a.id, email: a.email.clone() });
        }
        roster.entries.push(AccountEntry { id: a.id, name: a.name.clone(), state: a.state.clone(), excluded });
    }
    let choice = RegionChoice {
        governed: REGIONS.iter().map(|r| (*r).to_owned()).collect(),
        left_out: Vec::new(),
        not_run: Vec::new(),
        defaults: BTreeSet::new(),
        ungoverned: Vec::new(),
    };
    Survey {
        management: id(MANAGEMENT),
        mode: "api",
        choice,
        tree,
        unit_names,
        roster,
        classes: AccountClasses::default(),
    }
}

/// A region as read: every member Enabled with every plan, but the member missing S3 Protection, the excluded account
/// (no member record), the suspended account (no record) and, in eu-west-1, the account without the opt-in region.
pub(crate) fn read(region: &str) -> RegionRead {
    let config = offered(region);
    let mut members = BTreeMap::new();
    let mut plans = BTreeMap::new();
    for member in [MANAGEMENT, PROTECTED, MISSING_S3, NO_OPT_IN] {
        if member == NO_OPT_IN && region == "eu-west-1" {
            members.insert(id(member), MemberStatus::RegionDisabled);
            continue;
        }
        members.insert(id(member), MemberStatus::Enabled);
        let off: &[&str] = if member == MISSING_S3 { &["S3_DATA_EVENTS"] } else { &[] };
        plans.insert(id(member), std::sync::Arc::new(features(&config, off)));
    }
    let mut side = AdminView {
        members,
        plans,
        opted_in: [(id(NO_OPT_IN), false)].into(),
        destinations: vec![PublishingDestination {
            id: "d".into(),
            status: if region == "eu-west-1" { "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" } else { "PUBLISHING" }
                .into(),
            destination: "arn:aws:s3:::findings/guardduty".into(),
            kms_key: "arn:aws:kms:us-east-1:999988887777:key/k".into(),
            failing_since_ms: (region == "eu-west-1").then_some(1_795_910_400_000),
        }],
        ..AdminView::default()
    };
    if region == "us-east-1" {
        side.filters = vec![SavedFilter {
            name: "quiet-scanners".into(),
            description: Some("known <scanner>".into()),
            action: "ARCHIVE".into(),
            rank: Some(1),
            criteria: serde_json::json!({"criterion": {"type": {"equals": ["Recon:EC2/PortProbeUnprotectedPort"]}}}),
        }];
        let list = FindingList {
            id: "ip1".into(),
            name: "office".into(),
            format: "TXT".into(),
            location: "https://s3.amazonaws.com/lists/office.txt".into(),
            status: "ACTIVE".into(),
        };
        side.lists.insert(ListKind::TrustedIps, vec![list]);
    }
    side.org_config = config.clone();
    let admin_detector = Detector { id: "a".into(), enabled: true, frequency: None, features: features(&config, &[]) };
    RegionRead {
        region: region.into(),
        admins: vec![DelegatedAdmin { account: ADMIN.into(), status: AdminStatus::Enabled }],
        admin_detector: Some(admin_detector),
        side: Some(side),
    }
}

/// The document of the small organization observed at `observed_at` by `ran_by`, with `change` applied to each
/// region read first.
pub(crate) fn evidence_with(
    observed_at: &str,
    ran_by: &str,
    change: impl Fn(&mut RegionRead),
) -> super::document::Evidence {
    let s = settings();
    let survey = survey(&s);
    let reads = REGIONS
        .iter()
        .map(|r| {
            let mut read = read(r);
            change(&mut read);
            ((*r).to_owned(), super::read::Read::Region(Box::new(read)))
        })
        .collect();
    let header = super::document::Header { ran_by: ran_by.into(), configuration: serde_json::json!({"who": ran_by}) };
    let observation =
        super::collect::Observation { organization_id: "o-abcd1234ef".into(), observed_at: observed_at.into(), header };
    super::collect::assemble(&s, &survey, reads, observation).expect("assembled")
}

/// The document of the small organization, unchanged.
pub(crate) fn evidence(observed_at: &str, ran_by: &str) -> super::document::Evidence {
    evidence_with(observed_at, ran_by, |_| {})
}
