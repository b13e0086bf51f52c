//! An in-memory cloud for tests (feature `testing`): the ports of [`crate::ports`] over a small model of one
//! organization, so that the executor can be tested without AWS or the emulator.
//!
//! It keeps what the executor reads and writes, and refuses what AWS refuses where the executor relies on it (the
//! GuardDuty API reference and the facts gathered in the project's notes):
//! - one detector per account and region ("a detector already exists for the current account");
//! - only the management account designates the delegated admin, and one admin at a time ("another account is
//!   already enabled as GuardDuty delegated administrator");
//! - only the designated admin reads and writes the organization configuration and the members;
//! - CreateMembers, GetMemberDetectors and UpdateMemberDetectors take 1 to 50 accounts; an account that cannot be a
//!   member comes back unprocessed, not as an error; the management account needs its own detector first;
//! - CreateMembers enables GuardDuty in the member, applying the organization's auto-enable settings to its plans;
//! - EnablePolicyType is asynchronous (PENDING_ENABLE, then ENABLED on the next ListRoots), and AttachPolicy answers
//!   PolicyTypeNotEnabledException until then; a policy holds at most 10,000 characters;
//! - a region a service control policy denies answers AccessDeniedException naming "a service control policy".
//!
//! Faults are injected by operation (and region); every write is logged, so a test can say what was written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::config::{AutoEnable, FindingFrequency, Plan};
use crate::error::{AwsError, Error};
use crate::ids::AccountId;
use crate::plan::MemberAccount;
use crate::ports::{
    Cloud, Cost, CreateAccountStatus, EnabledRegion, FindingList, GuardDutyApi, ListKind, MemberFeatures,
    OrganizationApi, PolicyRecord, PolicyTypeStatus, PublishingDestination, Root, SavedFilter, Side, Subtree,
    Unprocessed,
};
use crate::state::{
    AdminStatus, DelegatedAdmin, Detector, Features, MemberStatus, Members, OrgAccount, OrgConfig, OrgFeatureState,
};

/// The most accounts one member call takes (CreateMembers, GetMembers, Get/UpdateMemberDetectors, ...).
const MEMBER_CALL_LIMIT: usize = 50;
/// The most characters of a policy's content (Organizations User Guide, "Quotas and service limits").
const POLICY_SIZE_LIMIT: usize = 10_000;

/// A detector of one account in one region.
#[derive(Clone, Debug, Default)]
pub struct FakeDetector {
    /// Its id.
    pub id: String,
    /// Whether it is ENABLED.
    pub enabled: bool,
    /// Its finding publishing frequency.
    pub frequency: Option<String>,
    /// Its plans.
    pub features: Features,
    /// The organization configuration (the delegated admin's detector only).
    pub org_config: OrgConfig,
    /// Its members (the delegated admin's detector only).
    pub members: Members,
    /// Its publishing destinations.
    pub destinations: Vec<PublishingDestination>,
}

/// A GuardDuty policy.
#[derive(Clone, Debug, Default)]
pub struct FakePolicy {
    /// Its name, description and id.
    pub record: PolicyRecord,
    /// Its content.
    pub content: String,
    /// What it is attached to.
    pub targets: BTreeSet<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// An error an operation answers, in a region or everywhere, for a number of calls or for good.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The API operation (`CreateMembers`, ...).
    pub operation: &'static str,
    /// Only in this region, where given.
    pub region: Option<String>,
    /// The error code.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// How many calls it answers; `None` for every call.
    pub times: Option<usize>,
}

/// A write the cloud accepted or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The API operation.
    pub operation: &'static str,
    /// The region (`-` for Organizations).
    pub region: String,
    /// The calling account.
    pub account: AccountId,
}

/// The organization and its GuardDuty, as the fake holds them.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// The management account.
    pub management: Option<AccountId>,
    /// The root, and whether the GuardDuty policy type is enabled on it.
    pub root: Option<Root>,
    /// Every account, with its parent.
    pub accounts: Vec<(OrgAccount, String)>,
    /// Organizational units: id, parent and name.
    pub units: Vec<(String, String, String)>,
    /// The regions every account has enabled.
    pub regions: Vec<String>,
    /// What every region offers: the organization configuration of a new detector (DescribeOrganizationConfiguration
    /// lists the features available in the region, each NONE until set).
    pub offered: OrgConfig,
    /// Detectors by account and region.
    pub detectors: BTreeMap<(AccountId, String), FakeDetector>,
    /// The delegated admin by region.
    pub admins: BTreeMap<String, DelegatedAdmin>,
    /// Regions where a service control policy denies GuardDuty to the admin.
    pub denied: BTreeSet<String>,
    /// How long each call takes (none by default).
    pub latency: Option<std::time::Duration>,
    /// Injected errors.
    pub faults: Vec<Fault>,
    /// Every write, in order.
    pub writes: Vec<Write>,
    /// GuardDuty policies by id.
    pub policies: BTreeMap<String, FakePolicy>,
    /// The service principals with trusted access.
    pub trusted: BTreeSet<String>,
    /// The next id handed out.
    next: u64,
}

impl World {
    /// An organization of a management account (…0001), a delegated admin (…0002) and `members` more accounts
    /// (…0003 onwards), all ACTIVE under the root, in `regions`; GuardDuty is nowhere yet.
    pub fn organization(members: usize, regions: &[&str]) -> Self {
        let none = |agents: &[&str]| OrgFeatureState {
            auto_enable: "NONE".into(),
            agents: agents.iter().map(|a| ((*a).to_owned(), "NONE".to_owned())).collect(),
        };
        let offered = OrgConfig {
            auto_enable: Some("NONE".into()),
            features: BTreeMap::from([
                ("S3_DATA_EVENTS".to_owned(), none(&[])),
                ("EBS_MALWARE_PROTECTION".to_owned(), none(&[])),
                ("RUNTIME_MONITORING".to_owned(), none(&["EKS_ADDON_MANAGEMENT", "EC2_AGENT_MANAGEMENT"])),
            ]),
        };
        let mut world = Self {
            management: Some(Self::account(1)),
            offered,
            root: Some(Root { id: "r-root".into(), guardduty_policies: PolicyTypeStatus::NotEnabled }),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            ..Self::default()
        };
        for n in 1..=members + 2 {
            world.add_account(Self::account(n), "r-root");
        }
        world
    }

    /// The management account.
    pub fn management(&self) -> AccountId {
        self.management.unwrap_or(AccountId::UNSET)
    }

    /// The account `n` of [`World::organization`] (1 the management account, 2 the admin).
    pub fn account(n: usize) -> AccountId {
        format!("{:012}", 100_000_000_000 + n).parse().unwrap_or(AccountId::UNSET)
    }

    /// Adds an ACTIVE account under `parent`.
    pub fn add_account(&mut self, id: AccountId, parent: &str) {
        let account = OrgAccount {
            id,
            name: format!("account {id}"),
            email: format!("{id}@example.com").into(),
            state: "ACTIVE".into(),
        };
        self.accounts.push((account, parent.to_owned()));
    }

    /// A member's status in `region`, as the admin's detector there has it.
    pub fn member(&self, admin: AccountId, region: &str, member: AccountId) -> Option<MemberStatus> {
        self.detectors.get(&(admin, region.to_owned()))?.members.get(&member).cloned()
    }

    /// The writes of `operation`.
    pub fn writes_of(&self, operation: &str) -> Vec<&Write> {
        self.writes.iter().filter(|w| w.operation == operation).collect()
    }

    /// Injects an error for `operation` (in `region` where given), for good.
    pub fn fail(&mut self, operation: &'static str, region: Option<&str>, code: &'static str, message: &str) {
        self.faults.push(Fault {
            operation,
            region: region.map(str::to_owned),
            code,
            message: message.to_owned(),
            times: None,
        });
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:08x}", self.next)
    }

    /// The injected error `operation` answers in `region`, if any (counting it down).
    fn fault(&mut self, operation: &'static str, region: &str, account: AccountId) -> Option<Error> {
        let fault = self.faults.iter_mut().find(|f| {
            f.operation == operation && f.region.as_deref().is_none_or(|r| r == region) && f.times != Some(0)
        })?;
        if let Some(n) = &mut fault.times {
            *n -= 1;
        }
        Some(aws_error(operation, region, account, fault.code, &fault.message.clone()))
    }

    /// `account`'s effective GuardDuty policy: what the policies attached along its path from the root inherit into.
    fn effective(&self, account: &AccountId) -> Option<Value> {
        let mut path = vec![account.to_string()];
        while let Some(up) = self.parent_of(path.last().map(String::as_str).unwrap_or_default()) {
            path.push(up);
        }
        let mut effective: Option<Value> = None;
        for node in path.iter().rev() {
            for policy in self.policies.values().filter(|p| p.targets.contains(node)) {
                let content: Value = serde_json::from_str(&policy.content).unwrap_or(Value::Null);
                inherit(effective.get_or_insert(Value::Object(Default::default())), &content);
            }
        }
        effective
    }

    /// Whether the GuardDuty policy type shows ENABLED on the root (not while it is PENDING_ENABLE).
    fn policies_in_force(&self) -> bool {
        self.root.as_ref().is_some_and(|r| r.guardduty_policies == PolicyTypeStatus::Enabled)
    }

    /// What GuardDuty does to `account`'s detector in `region` where a GuardDuty policy is in force: the plans the
    /// effective policy governs take its values and are `ManagedBy` `GUARDDUTY_POLICY` (GuardDuty applies policies
    /// in the background; here it is done when the detector is read).
    fn enforce(&mut self, account: AccountId, region: &str) {
        if !self.policies_in_force() {
            return;
        }
        let Some(text) = self.effective(&account).map(|v| v.to_string()) else { return };
        let Ok(effective) = crate::policy::Effective::parse(&text) else { return };
        let Some(block) = effective.block(region) else { return };
        let Some(detector) = self.detectors.get_mut(&(account, region.to_owned())) else { return };
        for (plan, (on, agents)) in &block.plans {
            let state = detector.features.entry(plan.clone()).or_default();
            (state.enabled, state.by_policy) = (*on, true);
            for (agent, on) in agents {
                state.agents.insert(agent.clone(), *on);
                state.agents_by_policy.insert(agent.clone());
            }
        }
    }

    fn parent_of(&self, child: &str) -> Option<String> {
        let account = self.accounts.iter().find(|(a, _)| a.id.as_str() == child).map(|(_, p)| p.clone());
        account.or_else(|| self.units.iter().find(|(id, _, _)| id == child).map(|(_, p, _)| p.clone()))
    }
}

/// Waits as long as a call takes.
async fn pause(world: &Mutex<World>) {
    let latency = world.lock().unwrap_or_else(|e| e.into_inner()).latency;
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
}

/// An AWS error as the adapters make it.
fn aws_error(operation: &'static str, region: &str, account: AccountId, code: &str, message: &str) -> Error {
    Error::Aws(Box::new(AwsError {
        operation,
        region: region.to_owned(),
        account: account.to_string(),
        code: Some(code.to_owned()),
        message: message.to_owned(),
        source: message.to_owned().into(),
    }))
}

fn bad_request(operation: &'static str, region: &str, account: AccountId, message: &str) -> Error {
    aws_error(operation, region, account, "BadRequestException", message)
}

/// The cloud: one [`World`], shared by every port it hands out.
#[derive(Clone)]
pub struct FakeCloud {
    world: Arc<Mutex<World>>,
    admin: AccountId,
    organization: FakeOrganization,
}

impl FakeCloud {
    /// A cloud over `world`, whose delegated admin (the admin side's account) is `admin`.
    pub fn new(world: World, admin: AccountId) -> Self {
        let world = Arc::new(Mutex::new(world));
        Self { organization: FakeOrganization { world: world.clone() }, world, admin }
    }

    /// The world, to arrange or inspect.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Cloud for FakeCloud {
    type GuardDuty = FakeGuardDuty;
    type Organization = FakeOrganization;

    fn guardduty(&self, side: Side, region: &str) -> FakeGuardDuty {
        let account = match side {
            Side::Management => self.world().management(),
            Side::Admin => self.admin,
        };
        FakeGuardDuty { world: self.world.clone(), account, region: region.to_owned() }
    }

    fn organization(&self) -> &FakeOrganization {
        &self.organization
    }

    fn home_region(&self) -> &str {
        "us-east-1"
    }

    async fn enabled_regions(&self, _side: Side) -> Result<Vec<EnabledRegion>, Error> {
        let regions = self.world().regions.clone();
        Ok(regions.into_iter().map(|name| EnabledRegion { name, by_default: true }).collect())
    }
}

/// GuardDuty in one region, as one account.
pub struct FakeGuardDuty {
    world: Arc<Mutex<World>>,
    account: AccountId,
    region: String,
}

impl FakeGuardDuty {
    /// The world, once the call is let through: refused where a fault or a service control policy says so, and
    /// logged when it writes.
    async fn call(&self, operation: &'static str, writes: bool) -> Result<MutexGuard<'_, World>, Error> {
        pause(&self.world).await;
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        if world.denied.contains(&self.region) && Some(self.account) != world.management {
            let message = format!(
                "User is not authorized to perform: guardduty:{operation} with an explicit deny in a service control \
                 policy"
            );
            return Err(aws_error(operation, &self.region, self.account, "AccessDeniedException", &message));
        }
        if let Some(e) = world.fault(operation, &self.region, self.account) {
            return Err(e);
        }
        if writes {
            let write = Write { operation, region: self.region.clone(), account: self.account };
            world.writes.push(write);
        }
        Ok(world)
    }

    fn key(&self) -> (AccountId, String) {
        (self.account, self.region.clone())
    }

    /// The caller's detector `id`, or GuardDuty's refusal.
    fn detector<'w>(
        &self,
        world: &'w mut World,
        operation: &'static str,
        id: &str,
    ) -> Result<&'w mut FakeDetector, Error> {
        match world.detectors.get_mut(&self.key()) {
            Some(d) if d.id == id => Ok(d),
            _ => Err(bad_request(
                operation,
                &self.region,
                self.account,
                "The request is rejected because the input detectorId is not owned by the current account.",
            )),
        }
    }

    /// The caller's detector `id`, where the caller is the delegated admin here.
    fn admin_detector<'w>(
        &self,
        world: &'w mut World,
        operation: &'static str,
        id: &str,
        ids: usize,
    ) -> Result<&'w mut FakeDetector, Error> {
        if ids > MEMBER_CALL_LIMIT {
            let message = format!("The request failed because the length provided for the accountDetails array was {ids}. Max allowed length is 50.");
            return Err(bad_request(operation, &self.region, self.account, &message));
        }
        let designated = world
            .admins
            .get(&self.region)
            .is_some_and(|a| a.account == self.account.as_str() && a.status == AdminStatus::Enabled);
        if !designated {
            return Err(bad_request(operation, &self.region, self.account, "The request is rejected because the current account is not the delegated administrator of the organization."));
        }
        self.detector(world, operation, id)
    }
}

/// Plans turned on, with their additional configurations.
fn turn_on(features: &mut Features, plans: &[Plan]) {
    for plan in plans {
        let state = features.entry(plan.name.clone()).or_default();
        state.enabled = true;
        for agent in &plan.agents {
            state.agents.insert(agent.clone(), true);
        }
    }
}

impl GuardDutyApi for FakeGuardDuty {
    async fn detector_id(&self) -> Result<Option<String>, Error> {
        let world = self.call("ListDetectors", false).await?;
        Ok(world.detectors.get(&self.key()).map(|d| d.id.clone()))
    }

    async fn get_detector(&self, id: &str) -> Result<Detector, Error> {
        let mut world = self.call("GetDetector", false).await?;
        world.enforce(self.account, &self.region);
        let d = self.detector(&mut world, "GetDetector", id)?;
        Ok(Detector {
            id: d.id.clone(),
            enabled: d.enabled,
            frequency: d.frequency.clone(),
            features: d.features.clone(),
        })
    }

    async fn create_detector(&self, plans: &[Plan], frequency: Option<FindingFrequency>) -> Result<String, Error> {
        let mut world = self.call("CreateDetector", true).await?;
        if world.detectors.contains_key(&self.key()) {
            let message = "The request is rejected because a detector already exists for the current account.";
            return Err(bad_request("CreateDetector", &self.region, self.account, message));
        }
        let id = world.id("d");
        let org_config = world.offered.clone();
        let mut detector = FakeDetector { id: id.clone(), enabled: true, org_config, ..FakeDetector::default() };
        detector.frequency = Some(frequency.map_or("SIX_HOURS", |f| f.as_str()).to_owned());
        turn_on(&mut detector.features, plans);
        world.detectors.insert(self.key(), detector);
        Ok(id)
    }

    async fn update_detector(
        &self,
        id: &str,
        plans: &[Plan],
        frequency: Option<FindingFrequency>,
    ) -> Result<(), Error> {
        let mut world = self.call("UpdateDetector", true).await?;
        let d = self.detector(&mut world, "UpdateDetector", id)?;
        d.enabled = true;
        turn_on(&mut d.features, plans);
        if let Some(f) = frequency {
            d.frequency = Some(f.as_str().to_owned());
        }
        Ok(())
    }

    async fn delegated_admins(&self) -> Result<Vec<DelegatedAdmin>, Error> {
        let world = self.call("ListOrganizationAdminAccounts", false).await?;
        if Some(self.account) != world.management {
            let message = "The request is rejected because the current account is not the management account.";
            return Err(bad_request("ListOrganizationAdminAccounts", &self.region, self.account, message));
        }
        Ok(world.admins.get(&self.region).cloned().into_iter().collect())
    }

    async fn designate_admin(&self, admin: &AccountId) -> Result<(), Error> {
        let mut world = self.call("EnableOrganizationAdminAccount", true).await?;
        let operation = "EnableOrganizationAdminAccount";
        if Some(self.account) != world.management {
            let message = "The request is rejected because the current account is not the management account.";
            return Err(bad_request(operation, &self.region, self.account, message));
        }
        match world.admins.get(&self.region) {
            Some(a) if a.account != admin.as_str() => {
                let message = "The request failed because another account is already enabled as GuardDuty delegated administrator for the organization.";
                Err(bad_request(operation, &self.region, self.account, message))
            }
            _ => {
                let designation = DelegatedAdmin { account: admin.to_string(), status: AdminStatus::Enabled };
                world.admins.insert(self.region.clone(), designation);
                Ok(())
            }
        }
    }

    async fn org_config(&self, detector: &str) -> Result<OrgConfig, Error> {
        let mut world = self.call("DescribeOrganizationConfiguration", false).await?;
        Ok(self.admin_detector(&mut world, "DescribeOrganizationConfiguration", detector, 0)?.org_config.clone())
    }

    async fn update_org_config(
        &self,
        detector: &str,
        auto_enable: AutoEnable,
        plans: &[Plan],
        new_only: &[String],
    ) -> Result<(), Error> {
        let mut world = self.call("UpdateOrganizationConfiguration", true).await?;
        let d = self.admin_detector(&mut world, "UpdateOrganizationConfiguration", detector, 0)?;
        d.org_config.auto_enable = Some(auto_enable.as_str().to_owned());
        for plan in plans {
            let value = if new_only.contains(&plan.name) { "NEW" } else { auto_enable.as_str() };
            let feature = d.org_config.features.entry(plan.name.clone()).or_default();
            feature.auto_enable = value.to_owned();
            for agent in &plan.agents {
                feature.agents.insert(agent.clone(), value.to_owned());
            }
        }
        Ok(())
    }

    async fn list_members(&self, detector: &str) -> Result<Members, Error> {
        let mut world = self.call("ListMembers", false).await?;
        Ok(self.admin_detector(&mut world, "ListMembers", detector, 0)?.members.clone())
    }

    async fn get_members(&self, detector: &str, ids: &[AccountId]) -> Result<Members, Error> {
        let mut world = self.call("GetMembers", false).await?;
        let d = self.admin_detector(&mut world, "GetMembers", detector, ids.len())?;
        Ok(d.members.iter().filter(|(id, _)| ids.contains(id)).map(|(id, s)| (*id, s.clone())).collect())
    }

    async fn member_features(&self, detector: &str, ids: &[AccountId]) -> Result<MemberFeatures, Error> {
        let mut world = self.call("GetMemberDetectors", false).await?;
        let members = self.admin_detector(&mut world, "GetMemberDetectors", detector, ids.len())?.members.clone();
        let (mut features, mut unprocessed) = (BTreeMap::new(), Vec::new());
        for id in ids {
            world.enforce(*id, &self.region);
            let own = world.detectors.get(&(*id, self.region.clone()));
            match (members.get(id), own) {
                (Some(MemberStatus::Enabled), Some(own)) => {
                    features.insert(*id, own.features.clone());
                }
                _ => unprocessed.push((*id, not_associated())),
            }
        }
        Ok((features, unprocessed))
    }

    async fn update_member_features(
        &self,
        detector: &str,
        ids: &[AccountId],
        on: &[Plan],
        off: &[String],
    ) -> Result<Unprocessed, Error> {
        let mut world = self.call("UpdateMemberDetectors", true).await?;
        let members = self.admin_detector(&mut world, "UpdateMemberDetectors", detector, ids.len())?.members.clone();
        let mut unprocessed = Vec::new();
        for id in ids {
            let own = world.detectors.get_mut(&(*id, self.region.clone()));
            match (members.get(id), own) {
                (Some(MemberStatus::Enabled), Some(own)) => {
                    turn_on(&mut own.features, on);
                    for plan in off {
                        own.features.entry(plan.clone()).or_default().enabled = false;
                    }
                }
                _ => unprocessed.push((*id, not_associated())),
            }
        }
        Ok(unprocessed)
    }

    async fn publishing_destinations(&self, detector: &str) -> Result<Vec<(String, String)>, Error> {
        let mut world = self.call("ListPublishingDestinations", false).await?;
        let d = self.detector(&mut world, "ListPublishingDestinations", detector)?;
        Ok(d.destinations.iter().map(|p| (p.id.clone(), p.status.clone())).collect())
    }

    async fn publishing_destination(&self, detector: &str, id: &str) -> Result<PublishingDestination, Error> {
        let mut world = self.call("DescribePublishingDestination", false).await?;
        let d = self.detector(&mut world, "DescribePublishingDestination", detector)?;
        let Some(found) = d.destinations.iter_mut().find(|p| p.id == id) else {
            let message = "The request is rejected because the destination does not exist.";
            return Err(bad_request("DescribePublishingDestination", &self.region, self.account, message));
        };
        let seen = found.clone();
        // Verified by the next read: PENDING_VERIFICATION is seen once.
        if found.status == "PENDING_VERIFICATION" {
            found.status = "PUBLISHING".into();
        }
        Ok(seen)
    }

    async fn create_publishing_destination(
        &self,
        detector: &str,
        destination: &str,
        kms_key: &str,
        _token: &str,
    ) -> Result<String, Error> {
        let mut world = self.call("CreatePublishingDestination", true).await?;
        let id = world.id("pd");
        let d = self.detector(&mut world, "CreatePublishingDestination", detector)?;
        d.destinations.push(PublishingDestination {
            id: id.clone(),
            // A new destination is verified in the background: PENDING_VERIFICATION until then.
            status: "PENDING_VERIFICATION".into(),
            destination: destination.to_owned(),
            kms_key: kms_key.to_owned(),
            failing_since_ms: None,
        });
        Ok(id)
    }

    async fn update_publishing_destination(
        &self,
        detector: &str,
        id: &str,
        destination: &str,
        kms_key: &str,
    ) -> Result<(), Error> {
        let mut world = self.call("UpdatePublishingDestination", true).await?;
        let d = self.detector(&mut world, "UpdatePublishingDestination", detector)?;
        if let Some(p) = d.destinations.iter_mut().find(|p| p.id == id) {
            (p.destination, p.kms_key) = (destination.to_owned(), kms_key.to_owned());
        }
        Ok(())
    }

    async fn create_members(&self, detector: &str, accounts: &[MemberAccount]) -> Result<Unprocessed, Error> {
        let mut world = self.call("CreateMembers", true).await?;
        let region = self.region.clone();
        let members = self.admin_detector(&mut world, "CreateMembers", detector, accounts.len())?.members.clone();
        // Where GuardDuty policies are in force, the auto-enable settings no longer apply.
        let config = if world.policies_in_force() {
            OrgConfig::default()
        } else {
            world.detectors[&self.key()].org_config.clone()
        };
        let (management, mut unprocessed) = (world.management(), Vec::new());
        for a in accounts {
            let in_organization = world.accounts.iter().any(|(o, _)| o.id == a.id && o.is_active());
            let refusal = match members.get(&a.id) {
                _ if a.id == self.account => Some("the current account cannot be added as a member of itself"),
                _ if !in_organization => Some("the input account is not an active member of your organization"),
                _ if a.id == management && !world.detectors.contains_key(&(a.id, region.clone())) => {
                    Some("your organization master must first enable GuardDuty to be added as a member")
                }
                // An associated member is processed again: its plans, nothing else (its status is kept).
                Some(MemberStatus::Enabled | MemberStatus::Disabled) | None => None,
                // Removed and Resigned are associated again (CreateMembers API reference).
                Some(MemberStatus::Removed | MemberStatus::Resigned) => None,
                // RegionDisabled, AccountSuspended and the invitation-era records that were never associated.
                Some(_) => Some("the account is already a member or associated member"),
            };
            if let Some(why) = refusal {
                unprocessed.push((a.id, format!("The request is rejected because {why}.")));
                continue;
            }
            // CreateMembers "applies your organization's auto-enable settings to the member accounts in this
            // request, irrespective of the accounts being new or existing members" (CreateMembers API reference).
            let fresh = FakeDetector { id: world.id("d"), enabled: true, ..FakeDetector::default() };
            let own = world.detectors.entry((a.id, region.clone())).or_insert(fresh);
            for (name, f) in &config.features {
                if f.auto_enable != "NONE" {
                    let state = own.features.entry(name.clone()).or_default();
                    state.enabled = true;
                    state.agents.extend(f.agents.iter().filter(|(_, v)| *v != "NONE").map(|(k, _)| (k.clone(), true)));
                }
            }
            let admin = world.detectors.get_mut(&self.key()).expect("the admin's detector");
            if !matches!(admin.members.get(&a.id), Some(MemberStatus::Enabled | MemberStatus::Disabled)) {
                admin.members.insert(a.id, MemberStatus::Enabled);
            }
        }
        Ok(unprocessed)
    }

    async fn start_monitoring(&self, detector: &str, ids: &[AccountId]) -> Result<Unprocessed, Error> {
        let mut world = self.call("StartMonitoringMembers", true).await?;
        let d = self.admin_detector(&mut world, "StartMonitoringMembers", detector, ids.len())?;
        let mut unprocessed = Vec::new();
        for id in ids {
            match d.members.get_mut(id) {
                Some(status @ MemberStatus::Disabled) => *status = MemberStatus::Enabled,
                Some(MemberStatus::Enabled) => {}
                _ => unprocessed.push((*id, not_associated())),
            }
        }
        Ok(unprocessed)
    }

    async fn delete_members(&self, detector: &str, ids: &[AccountId]) -> Result<Unprocessed, Error> {
        let mut world = self.call("DeleteMembers", true).await?;
        let d = self.admin_detector(&mut world, "DeleteMembers", detector, ids.len())?;
        let unprocessed = ids.iter().filter(|id| d.members.remove(id).is_none()).map(|id| (*id, not_associated()));
        Ok(unprocessed.collect())
    }

    async fn filter_names(&self, _detector: &str) -> Result<Vec<String>, Error> {
        self.call("ListFilters", false).await.map(|_| Vec::new())
    }

    async fn filter(&self, _detector: &str, name: &str) -> Result<SavedFilter, Error> {
        drop(self.call("GetFilter", false).await?);
        Err(bad_request("GetFilter", &self.region, self.account, &format!("The filter {name} does not exist.")))
    }

    async fn list_ids(&self, _detector: &str, kind: ListKind) -> Result<Vec<String>, Error> {
        self.call(kind.list_operation(), false).await.map(|_| Vec::new())
    }

    async fn list(&self, _detector: &str, kind: ListKind, id: &str) -> Result<FindingList, Error> {
        drop(self.call(kind.get_operation(), false).await?);
        Err(bad_request(kind.get_operation(), &self.region, self.account, &format!("The list {id} does not exist.")))
    }

    async fn set_filter_action(&self, _detector: &str, name: &str, _action: &str) -> Result<(), Error> {
        drop(self.call("UpdateFilter", true).await?);
        Err(bad_request("UpdateFilter", &self.region, self.account, &format!("The filter {name} does not exist.")))
    }

    async fn set_list_active(&self, _detector: &str, kind: ListKind, id: &str, _active: bool) -> Result<(), Error> {
        let operation = if kind == ListKind::TrustedIps { "UpdateIPSet" } else { "UpdateThreatIntelSet" };
        drop(self.call(operation, true).await?);
        Err(bad_request(operation, &self.region, self.account, &format!("The {kind:?} list {id} does not exist.")))
    }

    async fn usage_by_feature(&self, _detector: &str, _ids: &[AccountId]) -> Result<Vec<Cost>, Error> {
        self.call("GetUsageStatistics", false).await.map(|_| Vec::new())
    }
}

/// GuardDuty's reason for a member call on an account that is not an associated member.
fn not_associated() -> String {
    "The request is rejected because the given account ID is not an associated member of account the current account."
        .into()
}

/// Organizations, from the management account.
#[derive(Clone)]
pub struct FakeOrganization {
    world: Arc<Mutex<World>>,
}

impl FakeOrganization {
    async fn call(&self, operation: &'static str, writes: bool) -> Result<MutexGuard<'_, World>, Error> {
        pause(&self.world).await;
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let management = world.management();
        if let Some(e) = world.fault(operation, "-", management) {
            return Err(e);
        }
        if writes {
            world.writes.push(Write { operation, region: "-".into(), account: management });
        }
        Ok(world)
    }
}

fn organizations_error(operation: &'static str, world: &World, code: &str, message: &str) -> Error {
    aws_error(operation, "us-east-1", world.management(), code, message)
}

/// ConstraintViolationException (POLICY_CONTENT_LIMIT_EXCEEDED) for content over the size limit.
fn within_size_limit(world: &World, operation: &'static str, content: &str) -> Result<(), Error> {
    if content.chars().count() <= POLICY_SIZE_LIMIT {
        return Ok(());
    }
    let message = "The policy content exceeds the size limit (POLICY_CONTENT_LIMIT_EXCEEDED).";
    Err(organizations_error(operation, world, "ConstraintViolationException", message))
}

/// PolicyNotFoundException for an id the organization does not have. (Attaching twice, and detaching what is not
/// attached, are success: the port says so, its adapter turning DuplicatePolicyAttachmentException and
/// PolicyNotAttachedException into it.)
fn known_policy(world: &World, operation: &'static str, id: &str) -> Result<(), Error> {
    if world.policies.contains_key(id) {
        return Ok(());
    }
    let message = "We can't find a policy with the PolicyId that you specified.";
    Err(organizations_error(operation, world, "PolicyNotFoundException", message))
}

/// `over` laid on `base`: objects merged key by key, anything else replaced (a child's `@@assign` overwrites what
/// it inherits: Organizations User Guide, "Understanding declarative policy inheritance").
fn inherit(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                inherit(base.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (base, over) => *base = over.clone(),
    }
}

impl OrganizationApi for FakeOrganization {
    async fn management_account(&self) -> Result<AccountId, Error> {
        Ok(self.call("DescribeOrganization", false).await?.management())
    }

    async fn organization_id(&self) -> Result<String, Error> {
        self.call("DescribeOrganization", false).await.map(|_| "o-fake".to_owned())
    }

    async fn accounts(&self) -> Result<Vec<OrgAccount>, Error> {
        Ok(self.call("ListAccounts", false).await?.accounts.iter().map(|(a, _)| a.clone()).collect())
    }

    async fn account(&self, id: &AccountId) -> Result<Option<OrgAccount>, Error> {
        let world = self.call("DescribeAccount", false).await?;
        Ok(world.accounts.iter().find(|(a, _)| a.id == *id).map(|(a, _)| a.clone()))
    }

    async fn subtree(&self, parent: &str) -> Result<Subtree, Error> {
        let world = self.call("ListOrganizationalUnitsForParent", false).await?;
        let mut subtree = Subtree::default();
        let mut parents = vec![parent.to_owned()];
        while let Some(p) = parents.pop() {
            for (id, up, name) in world.units.iter().filter(|(_, up, _)| *up == p) {
                subtree.ous.push((id.clone(), up.clone()));
                subtree.names.insert(id.clone(), name.clone());
                parents.push(id.clone());
            }
            subtree.accounts.extend(world.accounts.iter().filter(|(_, up)| *up == p).cloned());
        }
        Ok(subtree)
    }

    async fn parent(&self, child: &str) -> Result<String, Error> {
        let world = self.call("ListParents", false).await?;
        world.parent_of(child).ok_or_else(|| {
            organizations_error(
                "ListParents",
                &world,
                "ChildNotFoundException",
                "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
            )
        })
    }

    async fn root(&self) -> Result<Root, Error> {
        let mut world = self.call("ListRoots", false).await?;
        let root = world
            .root
            .clone()
            .unwrap_or(Root { id: "r-root".into(), guardduty_policies: PolicyTypeStatus::NotEnabled });
        // EnablePolicyType "is an asynchronous request": PENDING_ENABLE is seen once, then ENABLED.
        if let Some(r) = world.root.as_mut().filter(|r| r.guardduty_policies == PolicyTypeStatus::PendingEnable) {
            r.guardduty_policies = PolicyTypeStatus::Enabled;
        }
        Ok(root)
    }

    async fn guardduty_policies(&self) -> Result<Vec<PolicyRecord>, Error> {
        Ok(self.call("ListPolicies", false).await?.policies.values().map(|p| p.record.clone()).collect())
    }

    async fn policy_content(&self, id: &str) -> Result<String, Error> {
        let world = self.call("DescribePolicy", false).await?;
        world.policies.get(id).map(|p| p.content.clone()).ok_or_else(|| {
            organizations_error(
                "DescribePolicy",
                &world,
                "PolicyNotFoundException",
                "We can't find a policy with the PolicyId that you specified.",
            )
        })
    }

    async fn policy_targets(&self, id: &str) -> Result<Vec<String>, Error> {
        let world = self.call("ListTargetsForPolicy", false).await?;
        Ok(world.policies.get(id).map(|p| p.targets.iter().cloned().collect()).unwrap_or_default())
    }

    async fn effective_policy(&self, account: &AccountId) -> Result<Option<String>, Error> {
        let world = self.call("DescribeEffectivePolicy", false).await?;
        Ok(world.effective(account).map(|v| v.to_string()))
    }

    async fn invalid_policy_accounts(&self) -> Result<Vec<AccountId>, Error> {
        self.call("ListAccountsWithInvalidEffectivePolicy", false).await.map(|_| Vec::new())
    }

    async fn policy_tags(&self, id: &str) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.call("ListTagsForResource", false).await?.policies.get(id).map(|p| p.tags.clone()).unwrap_or_default())
    }

    async fn tag_policy(&self, id: &str, key: &str, value: &str) -> Result<(), Error> {
        let mut world = self.call("TagResource", true).await?;
        if let Some(p) = world.policies.get_mut(id) {
            p.tags.insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    async fn create_policy(
        &self,
        name: &str,
        description: &str,
        content: &str,
        tag: (&str, &str),
    ) -> Result<String, Error> {
        let mut world = self.call("CreatePolicy", true).await?;
        within_size_limit(&world, "CreatePolicy", content)?;
        if world.policies.values().any(|p| p.record.name == name) {
            let message = "A policy with the same name already exists.";
            return Err(organizations_error("CreatePolicy", &world, "DuplicatePolicyException", message));
        }
        let id = world.id("p-");
        let record = PolicyRecord { id: id.clone(), name: name.to_owned(), description: description.to_owned() };
        let tags = BTreeMap::from([(tag.0.to_owned(), tag.1.to_owned())]);
        world
            .policies
            .insert(id.clone(), FakePolicy { record, content: content.to_owned(), tags, ..FakePolicy::default() });
        Ok(id)
    }

    async fn delete_policy(&self, id: &str) -> Result<(), Error> {
        let mut world = self.call("DeletePolicy", true).await?;
        known_policy(&world, "DeletePolicy", id)?;
        if world.policies.get(id).is_some_and(|p| !p.targets.is_empty()) {
            let message = "The policy is attached to one or more entities.";
            return Err(organizations_error("DeletePolicy", &world, "PolicyInUseException", message));
        }
        world.policies.remove(id);
        Ok(())
    }

    async fn disable_policy_type(&self, _root: &str) -> Result<(), Error> {
        let mut world = self.call("DisablePolicyType", true).await?;
        for p in world.policies.values_mut() {
            p.targets.clear();
        }
        if let Some(r) = world.root.as_mut() {
            r.guardduty_policies = PolicyTypeStatus::NotEnabled;
        }
        Ok(())
    }

    async fn update_policy(&self, id: &str, content: &str) -> Result<(), Error> {
        let mut world = self.call("UpdatePolicy", true).await?;
        known_policy(&world, "UpdatePolicy", id)?;
        within_size_limit(&world, "UpdatePolicy", content)?;
        if let Some(p) = world.policies.get_mut(id) {
            p.content = content.to_owned();
        }
        Ok(())
    }

    async fn enable_policy_type(&self, _root: &str) -> Result<(), Error> {
        let mut world = self.call("EnablePolicyType", true).await?;
        if let Some(r) = world.root.as_mut().filter(|r| r.guardduty_policies == PolicyTypeStatus::NotEnabled) {
            r.guardduty_policies = PolicyTypeStatus::PendingEnable;
        }
        Ok(())
    }

    async fn attach_policy(&self, id: &str, target: &str) -> Result<(), Error> {
        let mut world = self.call("AttachPolicy", true).await?;
        known_policy(&world, "AttachPolicy", id)?;
        if !world.policies_in_force() {
            let message = "This operation can be performed only for enabled policy types.";
            return Err(organizations_error("AttachPolicy", &world, "PolicyTypeNotEnabledException", message));
        }
        if let Some(p) = world.policies.get_mut(id) {
            p.targets.insert(target.to_owned());
        }
        Ok(())
    }

    async fn detach_policy(&self, id: &str, target: &str) -> Result<(), Error> {
        let mut world = self.call("DetachPolicy", true).await?;
        known_policy(&world, "DetachPolicy", id)?;
        if let Some(p) = world.policies.get_mut(id) {
            p.targets.remove(target);
        }
        Ok(())
    }

    async fn create_account_status(&self, _request_id: &str) -> Result<CreateAccountStatus, Error> {
        self.call("DescribeCreateAccountStatus", false).await.map(|_| CreateAccountStatus::InProgress)
    }

    async fn trusted_services(&self) -> Result<Vec<String>, Error> {
        Ok(self.call("ListAWSServiceAccessForOrganization", false).await?.trusted.iter().cloned().collect())
    }

    async fn enable_trusted_service(&self, principal: &str) -> Result<(), Error> {
        self.call("EnableAWSServiceAccess", true).await?.trusted.insert(principal.to_owned());
        Ok(())
    }
}

/// The delegated admin of [`World::organization`].
pub fn admin() -> AccountId {
    World::account(2)
}

/// An enabler over `world` with the default configuration (changed by `configure`), the admin of
/// [`World::organization`], and waits short enough for tests.
pub fn enabler(world: World, configure: impl FnOnce(&mut crate::Settings)) -> crate::Enabler<FakeCloud> {
    let mut settings = crate::Settings::with_admin(admin());
    configure(&mut settings);
    let patience = crate::Patience {
        first: std::time::Duration::from_millis(1),
        longest: std::time::Duration::from_millis(4),
        total: std::time::Duration::from_millis(40),
        policy_type: std::time::Duration::from_secs(3),
    };
    let cloud = FakeCloud::new(world, settings.admin_account);
    crate::Enabler::new(cloud, settings).with_patience(patience)
}

/// An EventBridge event as it reaches a function (the envelope of the EventBridge User Guide, "Amazon EventBridge
/// events": version, id, detail-type, source, account, time, region, resources, detail).
pub fn envelope(source: &str, detail_type: &str, detail: Value) -> Value {
    serde_json::json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": detail_type,
        "source": source, "account": "111122223333", "time": "2026-11-29T08:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail
    })
}
