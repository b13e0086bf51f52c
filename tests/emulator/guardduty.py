"""Amazon GuardDuty (API 2017-11-28, rest-json) for the local emulator.

moto ships detectors and filters only; this module implements the operations an organization-wide rollout
needs, to the shapes, error types and messages of the GuardDuty API reference: detectors with protection plans,
the delegated administrator, the organization configuration and the member list (publishing destinations are
publishing.py's; saved filters and the trusted and threat lists, lists.py's: moto's own filters are not used, as no
GuardDuty request reaches moto). Organization membership comes from moto's Organizations backend, so the accounts the
tests create there are the ones GuardDuty knows.

Beyond the happy path it models what a real organization shows (each with the page it follows):
- Protection plans per region: DescribeOrganizationConfiguration lists the features a region offers; a region
  can withhold some ("Region-specific feature availability", GuardDuty User Guide), and a feature it does not
  offer is rejected in CreateDetector, UpdateDetector and UpdateOrganizationConfiguration.
- Member records of the invitation era (Created, Invited, EmailVerificationInProgress/Failed, Resigned, Removed):
  CreateMembers answers them in UnprocessedAccounts ("already a member or associated member"), except Removed and
  Resigned, which it associates again (CreateMembers API reference); DeleteMembers removes a record.
- Auto-enable (UpdateOrganizationConfiguration API reference): with NEW, "when a new account joins the
  organization, they will have GuardDuty enabled automatically", after `auto_enable_seconds`; with ALL, the
  accounts that were there before too, after `auto_enable_existing_seconds` ("It may take up to 24 hours").
  Per feature (OrganizationFeatureConfiguration API reference,
  https://docs.aws.amazon.com/guardduty/latest/APIReference/API_OrganizationFeatureConfiguration.html): NEW reaches
  the accounts that become members after it is set; ALL also the members that were there, `auto_enable_existing_seconds`
  after it was set ("It may take up to 24 hours to update the configuration for all the member accounts").
- CreateMembers applies the organization's auto-enable settings to every account in the request, "irrespective of
  the accounts being new or existing members"
  (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateMembers.html): an associated member (Enabled
  or Disabled) is processed again and gets the plans whose autoEnable is NEW or ALL; nothing is turned off.
- A member's protection plans, read and written by the delegated administrator: GetMemberDetectors and
  UpdateMemberDetectors (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetMemberDetectors.html,
  .../API_UpdateMemberDetectors.html). An account that is not an associated member (yet) is answered in
  UnprocessedAccounts, not as an error; EKS_RUNTIME_MONITORING and RUNTIME_MONITORING together, a plan the region
  does not offer, and dataSources beside features ("GuardDuty API changes in March 2023",
  https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-feature-object-api-changes-march2023.html) are refused.
- GuardDuty organization policies (Organizations' GUARDDUTY_POLICY; syntax and effective policies in policies.py),
  enforced `policy_enforcement_seconds` after the latest change that concerns an account (not documented; modelled as
  that). Per region the account has enabled, the region's block, else `default`, else nothing ("GuardDuty policy
  syntax and examples",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_guardduty_syntax.html). With
  `foundational` enabled the account gets an enabled detector, and becomes an Enabled member of the region's
  delegated administrator; each plan the block names gets the block's status and is managed by the policy: GetDetector
  and GetMemberDetectors say `managedBy: GUARDDUTY_POLICY`, and UpdateDetector and UpdateMemberDetectors refuse to
  change it ("Managed protection plans are read-only in console and API", "Considerations and limitations",
  https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-organization-policies-considerations.html). The same page:
  accounts linked by invitation only are not managed; the management account is enabled only once GuardDuty's
  service-linked role exists there (modelled as: it has created a detector at some time); plans an account stops
  being covered for stay as they are, no longer managed. While the type is enabled "the Regional GuardDuty
  auto-enablement settings no longer apply, whether or not a policy is attached": UpdateOrganizationConfiguration
  is stored, but neither the auto-enable sweep nor CreateMembers applies it.
- DisableOrganizationAdminAccount leaves the designation in DISABLE_IN_PROGRESS (ListOrganizationAdminAccounts'
  AdminStatus) for `admin_disable_seconds`.
- EnableOrganizationAdminAccount enables trusted access for guardduty.amazonaws.com in Organizations, as AWS does.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs

import policies
import regions
from regions import region_enabled_for
from world import World

# Plans a new detector gets when CreateDetector names none (the console's defaults).
DEFAULT_ON = {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS"}
FREQUENCIES = {"FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"}
AUTO_ENABLE = {"NEW", "ALL", "NONE"}
ACCOUNT_ID = re.compile(r"^\d{12}$")
# RelationshipStatus values of records that protect nothing and date from GuardDuty invitations.
INVITATION_ERA = {"Created", "Invited", "EmailVerificationInProgress", "EmailVerificationFailed", "Resigned", "Removed"}
# Of those, the ones that were never associated (Removed and Resigned were, and can be again).
NEVER_ASSOCIATED = INVITATION_ERA - {"Resigned", "Removed"}
STATUSES = INVITATION_ERA | {"Enabled", "Disabled", "RegionDisabled", "AccountSuspended"}

MSG_INVALID = "The request is rejected because an invalid or out-of-range value is specified as an input parameter."
MSG_NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."
MSG_DETECTOR_EXISTS = "The request is rejected because a detector already exists for the current account."
MSG_OTHER_ADMIN = (
    "The request failed because another account is already enabled as GuardDuty delegated administrator "
    "for the organization."
)
MSG_NOT_MANAGEMENT = (
    "The request failed because the account calling the operation is not the management account of an organization."
)
MSG_NOT_ASSOCIATED = (
    "The request is rejected because the given account ID is not an associated member of account the current account."
)
MSG_ALREADY_MEMBER = (
    "The request is rejected because the given account ID is already a member or associated member of the current "
    "account."
)
MSG_MASTER_FIRST = "Operation failed because your organization master must first enable GuardDuty to be added as a member."
MSG_BOTH_RUNTIME = (
    "The request is rejected because a feature EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot be specified "
    "together."
)
MSG_BOTH_SOURCES = "The request is rejected because both data sources and features were provided. Use only features."
# The text is not documented; the rule is ("Managed protection plans are read-only in console and API").
MSG_MANAGED = "The request is rejected because the feature {} is managed by a GuardDuty organization policy."
MANAGED_BY = "GUARDDUTY_POLICY"
# The deprecated dataSources and the features they stand for ("GuardDuty API changes in March 2023").
DATA_SOURCES = {
    ("s3Logs", "enable"): "S3_DATA_EVENTS",
    ("kubernetes", "auditLogs", "enable"): "EKS_AUDIT_LOGS",
    ("malwareProtection", "scanEc2InstanceWithFindings", "ebsVolumes"): "EBS_MALWARE_PROTECTION",
}
MSG_AUTO_ENABLE_ALL = (
    "The request is rejected because the member account is managed through AWS Organizations and "
    "autoEnableOrganizationMembers is set to ALL."
)


class ApiError(Exception):
    """An error response: HTTP status, the x-amzn-ErrorType code, the message and the GuardDuty `__type`."""

    def __init__(self, status: int, code: str, message: str, kind: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind


# GetUsageStatistics: its statistic types (API reference), and the usage features with the price a detector with
# each costs here (the documented UsageCriteria feature values; the prices are our choice, for sums to check).
USAGE_TYPES = {"SUM_BY_ACCOUNT", "SUM_BY_DATA_SOURCE", "SUM_BY_RESOURCE", "TOP_RESOURCES", "SUM_BY_FEATURES",
               "TOP_ACCOUNTS_BY_FEATURE"}
USAGE_PRICES = {
    "CLOUD_TRAIL": 1.00, "DNS_LOGS": 0.50, "FLOW_LOGS": 2.00, "S3_DATA_EVENTS": 0.80, "EKS_AUDIT_LOGS": 0.30,
    "EBS_MALWARE_PROTECTION": 0.40, "RDS_LOGIN_EVENTS": 0.20, "LAMBDA_NETWORK_LOGS": 0.10,
    "EKS_RUNTIME_MONITORING": 0.60, "EC2_RUNTIME_MONITORING": 0.70, "FARGATE_RUNTIME_MONITORING": 0.90,
    "RDS_DBI_PROTECTION_PROVISIONED": 0.25, "RDS_DBI_PROTECTION_SERVERLESS": 0.15,
}


def usage_features(plans: dict) -> list[str]:
    """The usage features an enabled detector with `plans` bills: the foundational sources always, and each enabled
    plan's own (Runtime Monitoring bills EC2, EKS and Fargate apart; modelled as EC2 and EKS)."""
    on = {name for name, p in plans.items() if p.get("status") == "ENABLED"}
    out = ["CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS"]
    out += [f for f in ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS",
                        "LAMBDA_NETWORK_LOGS", "EKS_RUNTIME_MONITORING") if f in on]
    if "RUNTIME_MONITORING" in on:
        out += ["EC2_RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING"]
    return sorted(set(out))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequestException", message, "InvalidInputException")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Detector:
    id: str
    account: str
    enabled: bool
    frequency: str
    # name -> {"status": ..., "agents": {name: status}}, plus "managed_by": "GUARDDUTY_POLICY" on a feature a policy
    # manages and "agents_managed_by": {name: "GUARDDUTY_POLICY"} for the additional configurations it manages
    features: dict
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Member:
    account: str
    email: str
    status: str
    admin: str
    updated_at: str = field(default_factory=now_iso)
    invited_at: str = field(default_factory=now_iso)
    created_mono: float = field(default_factory=time.monotonic)
    # The status before the last StartMonitoringMembers/StopMonitoringMembers changed it, and when: for the
    # `status_lag_seconds` fault, reads show the old status that long (eventual consistency; GuardDuty documents
    # no delay for these reads, as AWS's APIs generally promise none).
    previous: str | None = None
    changed_mono: float = 0.0


@dataclass
class OrgConfig:
    auto_enable: str = "NONE"
    features: dict = field(default_factory=dict)  # name -> {"autoEnable": ..., "agents": {name: autoEnable}}
    # Since when auto-enable has had its value, and how many organization accounts there were then.
    since: float = field(default_factory=time.time)
    accounts_then: int = 0
    # How far the auto-enable sweep has got through the organization's accounts (in creation order).
    swept_existing: bool = False
    cursor: int = 0
    # feature -> when its autoEnable last became ALL, until the members that were there then have it
    all_since: dict = field(default_factory=dict)


def organization_of(account: str):
    """The moto Organizations backend of the organization `account` belongs to, or None."""
    from moto.organizations.models import organizations_backends

    if account in organizations_backends.master_accounts:
        master, partition = organizations_backends.master_accounts[account]
        return organizations_backends[master][partition]
    backend = organizations_backends[account]["aws"]
    return backend if backend.org is not None else None


_index: dict = {}


def org_account(backend, account: str):
    """An account of the organization by id (indexed: organizations here reach 10,000 accounts)."""
    key = id(backend)
    cached = _index.get(key)
    if cached is None or cached[0] != len(backend.accounts):
        cached = (len(backend.accounts), {a.id: a for a in backend.accounts})
        _index[key] = cached
    return cached[1].get(account)


def created_at(acct) -> float:
    return acct.create_time.replace(tzinfo=timezone.utc).timestamp()


def region_world() -> list[str]:
    """Every region of the emulator's region world, as the Account API lists them (regions.py keeps it)."""
    names, token = [], None
    while True:
        req = {"MaxResults": 50, **({"NextToken": token} if token else {})}
        _, out = regions.handle("POST", "/listRegions", json.dumps(req).encode(), "000000000000")
        names += [r["RegionName"] for r in out["Regions"]]
        token = out.get("NextToken")
        if not token:
            return names


def managed(entry: dict, agent: str | None = None) -> bool:
    """Whether a policy manages a detector feature entry (or one of its additional configurations)."""
    return (agent in entry.get("agents_managed_by", {})) if agent else "managed_by" in entry


def feature_json(name: str, entry: dict, agents) -> dict:
    """A detector's feature as GetDetector and GetMemberDetectors show it, with the additional configurations
    `agents`."""
    out = {"name": name, "status": entry["status"], "updatedAt": time.time()}
    if agents:
        out["additionalConfiguration"] = [
            {"name": a, "status": entry["agents"].get(a, "DISABLED"), "updatedAt": time.time(),
             **({"managedBy": MANAGED_BY} if managed(entry, a) else {})}
            for a in agents
        ]
    if managed(entry):
        out["managedBy"] = MANAGED_BY
    return out


class GuardDuty:
    """All accounts' GuardDuty state, per region, behind one lock."""

    def __init__(self, faults, world: World):
        self.lock = threading.RLock()
        self.faults = faults
        self.world = world
        self.detectors: dict[tuple[str, str], Detector] = {}  # (region, account)
        # (region, management) -> (admin, since, disabling since or None)
        self.admins: dict[tuple[str, str], tuple[str, float, float | None]] = {}
        self.org_configs: dict[tuple[str, str], OrgConfig] = {}  # (region, admin)
        self.members: dict[tuple[str, str], dict[str, Member]] = {}  # (region, admin) -> members
        self.sorted_members: dict[tuple[str, str], list] = {}  # ListMembers' order, rebuilt after a change
        self.last_sweep = 0.0
        # Accounts that have created a detector at some time: GuardDuty's service-linked role exists there.
        self.service_roles: set[str] = set()

    def reset(self) -> None:
        with self.lock:
            self.detectors.clear()
            self.admins.clear()
            self.org_configs.clear()
            self.members.clear()
            self.sorted_members.clear()
            self.service_roles.clear()
            policies.reset()

    def snapshot(self) -> dict:
        """The whole state, for tests to check outcomes independently of the client under test. A detector's
        `features` maps each plan to {"status", "agents": {name: status}}, with "managed_by": "GUARDDUTY_POLICY" when a
        GuardDuty policy manages the plan and "agents_managed_by": {name: "GUARDDUTY_POLICY"} for the additional
        configurations it manages (both absent otherwise)."""
        with self.lock:
            self.expire_disabling()
            self.sweep_auto_enable(force=True)
            self.sweep_policies()
            return {
                "detectors": [
                    {"region": r, "account": a, "id": d.id, "enabled": d.enabled, "frequency": d.frequency,
                     "features": d.features}
                    for (r, a), d in sorted(self.detectors.items())
                ],
                "admins": [
                    {"region": r, "management": m, "admin": a,
                     "status": "DISABLE_IN_PROGRESS" if disabling is not None else "ENABLED"}
                    for (r, m), (a, _, disabling) in sorted(self.admins.items())
                ],
                "org_configs": [
                    {"region": r, "admin": a, "auto_enable": c.auto_enable, "features": c.features}
                    for (r, a), c in sorted(self.org_configs.items())
                ],
                "members": [
                    {"region": r, "admin": a, "account": m.account, "status": m.status}
                    for (r, a), ms in sorted(self.members.items())
                    for m in sorted(ms.values(), key=lambda m: m.account)
                ],
            }

    def seed_members(self, spec: dict) -> None:
        """Writes member records as they are, for tests: {"region", "admin", "members": {account: status}}."""
        with self.lock:
            region, admin = spec["region"], spec["admin"]
            members = self.members.setdefault((region, admin), {})
            for account, status in spec["members"].items():
                if status not in STATUSES:
                    raise ValueError(f"unknown member status {status}")
                members[account] = Member(account, f"{account}@example.com", status, admin)
            self.sorted_members.pop((region, admin), None)

    # ---- routing ---------------------------------------------------------------------------------------------
    ROUTES = [
        ("POST", r"/detector", "CreateDetector"),
        ("GET", r"/detector", "ListDetectors"),
        ("GET", r"/detector/(?P<d>[^/]+)", "GetDetector"),
        ("POST", r"/detector/(?P<d>[^/]+)", "UpdateDetector"),
        ("DELETE", r"/detector/(?P<d>[^/]+)", "DeleteDetector"),
        ("POST", r"/admin/enable", "EnableOrganizationAdminAccount"),
        ("POST", r"/admin/disable", "DisableOrganizationAdminAccount"),
        ("GET", r"/admin", "ListOrganizationAdminAccounts"),
        ("POST", r"/detector/(?P<d>[^/]+)/admin", "UpdateOrganizationConfiguration"),
        ("GET", r"/detector/(?P<d>[^/]+)/admin", "DescribeOrganizationConfiguration"),
        ("POST", r"/detector/(?P<d>[^/]+)/member", "CreateMembers"),
        ("GET", r"/detector/(?P<d>[^/]+)/member", "ListMembers"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/get", "GetMembers"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/delete", "DeleteMembers"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/disassociate", "DisassociateMembers"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/start", "StartMonitoringMembers"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/stop", "StopMonitoringMembers"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/detector/get", "GetMemberDetectors"),
        ("POST", r"/detector/(?P<d>[^/]+)/member/detector/update", "UpdateMemberDetectors"),
        ("POST", r"/detector/(?P<d>[^/]+)/usage/statistics", "GetUsageStatistics"),
    ]

    @classmethod
    def operation(cls, method: str, path: str):
        for verb, pattern, name in cls.ROUTES:
            m = re.fullmatch(pattern, path.rstrip("/") or "/")
            if verb == method and m:
                return name, m.groupdict()
        return None, {}

    def handle(self, method: str, path: str, query: str, body: bytes, account: str, region: str):
        """Returns (status, headers, body bytes) for one request."""
        name, params = self.operation(method, path)
        if name is None:
            raise ApiError(404, "UnknownOperationException", f"No GuardDuty operation matches {method} {path}")
        if not region_enabled_for(account, region):
            raise ApiError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            raise bad_request("The request is rejected because the JSON could not be processed.")
        if not isinstance(req, dict):
            raise bad_request("The request is rejected because the JSON could not be processed.")
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        with self.lock:
            self.expire_disabling()
            self.sweep_auto_enable()
            self.sweep_policies()
            out = getattr(self, "op_" + name)(account, region, req, q, params.get("d"))
        return 200, {"Content-Type": "application/json"}, json.dumps(out or {}).encode()

    # ---- helpers ---------------------------------------------------------------------------------------------
    def own_detector(self, account: str, region: str, detector_id: str) -> Detector:
        det = self.detectors.get((region, account))
        if det is None or det.id != detector_id:
            raise bad_request(MSG_NOT_OWNED)
        return det

    def admin_of(self, region: str, management: str):
        entry = self.admins.get((region, management))
        return entry[0] if entry and entry[2] is None else None

    def require_admin(self, account: str, region: str, detector_id: str) -> tuple[Detector, object]:
        """The caller must own the detector and be the delegated administrator here, past the settling window."""
        det = self.own_detector(account, region, detector_id)
        org = organization_of(account)
        if org is None:
            raise bad_request(MSG_INVALID)
        entry = self.admins.get((region, org.org.master_account_id))
        if entry is None or entry[0] != account or entry[2] is not None:
            raise bad_request(MSG_INVALID)
        if time.monotonic() - entry[1] < self.faults.admin_consistency_seconds:
            raise bad_request(MSG_INVALID)
        return det, org

    def expire_disabling(self) -> None:
        """Designations whose removal has run its course are gone, with their members."""
        now = time.monotonic()
        for key, (admin, _since, disabling) in list(self.admins.items()):
            if disabling is not None and now - disabling >= self.world.admin_disable_seconds:
                del self.admins[key]
                region = key[0]
                for m in self.members.get((region, admin), {}).values():
                    m.status = "Removed"

    def validate_features(self, region: str, features, key: str, allowed_values: set[str], known: dict) -> dict:
        """The features of a request, checked against what the region offers."""
        if features is None:
            return {}
        if not isinstance(features, list):
            raise bad_request(MSG_INVALID)
        out = {}
        for f in features:
            if not isinstance(f, dict) or f.get("name") not in known:
                raise bad_request(MSG_INVALID)
            value = f.get(key)
            if value is not None and value not in allowed_values:
                raise bad_request(MSG_INVALID)
            agents = {}
            for a in f.get("additionalConfiguration") or []:
                if not isinstance(a, dict) or a.get("name") not in known[f["name"]]:
                    raise bad_request(MSG_INVALID)
                if a.get(key) is not None and a.get(key) not in allowed_values:
                    raise bad_request(MSG_INVALID)
                agents[a["name"]] = a.get(key)
            out[f["name"]] = {"value": value, "agents": agents}
        if "EKS_RUNTIME_MONITORING" in out and "RUNTIME_MONITORING" in out:
            raise bad_request(MSG_BOTH_RUNTIME)
        return out

    @staticmethod
    def page(items: list, q: dict, default: int = 50):
        try:
            size = int(q.get("maxResults", default))
            start = int(q.get("nextToken") or 0)
        except ValueError:
            raise bad_request(MSG_INVALID)
        if not 1 <= size <= 50 or start < 0:
            raise bad_request(MSG_INVALID)
        chunk = items[start : start + size]
        token = str(start + size) if start + size < len(items) else None
        return chunk, token

    @staticmethod
    def batch(req: dict, field: str) -> list:
        """The list in `field`: 1 to 50 items, as every member operation takes."""
        items = req.get(field)
        if not isinstance(items, list) or not items:
            raise bad_request(MSG_INVALID)
        if len(items) > 50:
            raise bad_request(
                f"The request failed because the length provided for the {field} array was {len(items)}. "
                "Max allowed length is 50."
            )
        return items

    @classmethod
    def account_ids(cls, req: dict) -> list[str]:
        ids = cls.batch(req, "accountIds")
        if any(not isinstance(i, str) or not ACCOUNT_ID.match(i) for i in ids):
            raise bad_request(MSG_INVALID)
        return ids

    def new_detector(self, account: str, region: str, features: dict, frequency: str | None, enabled=True) -> Detector:
        state = {}
        for name, agents in self.world.detector_features(region).items():
            on = name in DEFAULT_ON
            given = features.get(name)
            if given is not None and given["value"] is not None:
                on = given["value"] == "ENABLED"
            agent_states = {a: "DISABLED" for a in agents}
            if given:
                agent_states.update({k: v for k, v in given["agents"].items() if v})
            state[name] = {"status": "ENABLED" if on else "DISABLED", "agents": agent_states}
        det = Detector(uuid.uuid4().hex, account, enabled, frequency or "SIX_HOURS", state)
        self.detectors[(region, account)] = det
        return det

    @staticmethod
    def apply_detector_features(det: Detector, features: dict) -> None:
        for name, given in features.items():
            entry = det.features.setdefault(name, {"status": "DISABLED", "agents": {}})
            if given["value"] is not None:
                entry["status"] = given["value"]
            for agent, value in given["agents"].items():
                if value is not None:
                    entry["agents"][agent] = value
        det.updated_at = now_iso()

    @staticmethod
    def auto_enabled(cfg: OrgConfig, values=("NEW", "ALL"), names=None) -> dict:
        """The plans the organization configuration turns on (autoEnable among `values`; only `names`, if given), as
        a detector request's features: nothing is turned off."""
        return {
            n: {"value": "ENABLED" if f["autoEnable"] in values else None,
                "agents": {a: "ENABLED" for a, v in f["agents"].items() if v in values}}
            for n, f in cfg.features.items()
            if names is None or n in names
        }

    def member_detector(self, region: str, account: str, cfg: OrgConfig) -> None:
        """The detector a new member gets: the plans the organization configuration auto-enables."""
        if (region, account) in self.detectors:
            self.detectors[(region, account)].enabled = True
            return
        self.new_detector(account, region, self.auto_enabled(cfg), None)

    def reapply_auto_enabled(self, region: str, account: str, cfg: OrgConfig) -> None:
        """CreateMembers' part: the account's detector (a Removed member's, one it made itself) gets the plans."""
        det, wanted = self.detectors.get((region, account)), self.auto_enabled(cfg)
        if det is not None and wanted:
            self.apply_detector_features(det, wanted)

    @staticmethod
    def managed_refusal(det: Detector, features: dict) -> str | None:
        """Why a request that would change a plan (or names an additional configuration) a GuardDuty policy manages
        is refused. A managed plan named with the status it has, for its agents that no policy manages, is not: each
        additional configuration result carries its own ManagedBy (API reference,
        MemberAdditionalConfigurationResult), so a policy can own a plan and leave its agents to the API (not
        documented further; modelled as that)."""
        for name, given in features.items():
            entry = det.features.get(name, {})
            if managed(entry) and given["value"] not in (None, entry.get("status")):
                return MSG_MANAGED.format(name)
            for agent in given["agents"]:
                if managed(entry, agent):
                    return MSG_MANAGED.format(agent)
        return None

    def changed(self, region: str, admin: str) -> None:
        self.sorted_members.pop((region, admin), None)

    # ---- auto-enable -----------------------------------------------------------------------------------------
    def sweep_auto_enable(self, force: bool = False) -> None:
        """GuardDuty's own enrolment: under NEW, accounts that joined after the setting, `auto_enable_seconds`
        after they joined; under ALL also the accounts that were there, `auto_enable_existing_seconds` after it
        was set. Each account is looked at once per setting (a cursor in creation order), so it stays cheap. A plan
        set to ALL reaches the members that were there `auto_enable_existing_seconds` after it was set. Nothing of
        this happens in an organization that has enabled GuardDuty policies."""
        now = time.time()
        if now - self.last_sweep < 0.1 and not force:
            return
        self.last_sweep = now
        for (region, admin), cfg in self.org_configs.items():
            org = organization_of(admin)
            if org is None or policies.type_enabled(org):
                continue
            self.sweep_plans_for_existing(region, admin, cfg, now)
            if cfg.auto_enable not in ("NEW", "ALL"):
                continue
            accounts = org.accounts
            if cfg.auto_enable == "ALL" and not cfg.swept_existing:
                if now - cfg.since >= self.world.auto_enable_existing_seconds:
                    for acct in accounts[: cfg.accounts_then]:
                        self.auto_enrol(region, admin, org, acct, cfg)
                    cfg.swept_existing = True
            cfg.cursor = max(cfg.cursor, cfg.accounts_then)
            while cfg.cursor < len(accounts):
                acct = accounts[cfg.cursor]
                if now - max(created_at(acct), cfg.since) < self.world.auto_enable_seconds:
                    break
                self.auto_enrol(region, admin, org, acct, cfg)
                cfg.cursor += 1

    def sweep_plans_for_existing(self, region: str, admin: str, cfg: OrgConfig, now: float) -> None:
        """A plan set to ALL, once `auto_enable_existing_seconds` have passed: every Enabled member's detector gets
        it, with the additional configurations set to ALL (OrganizationFeatureConfiguration API reference)."""
        for name, since in list(cfg.all_since.items()):
            if now - since < self.world.auto_enable_existing_seconds:
                continue
            del cfg.all_since[name]
            wanted = self.auto_enabled(cfg, ("ALL",), {name})
            for m in self.members.get((region, admin), {}).values():
                det = self.detectors.get((region, m.account))
                if m.status == "Enabled" and det is not None:
                    self.apply_detector_features(det, wanted)

    def auto_enrol(self, region: str, admin: str, org, acct, cfg: OrgConfig) -> None:
        management = org.org.master_account_id
        if acct.id in (admin, management) or acct.status != "ACTIVE":
            return
        members = self.members.setdefault((region, admin), {})
        if acct.id in members:
            return
        if not region_enabled_for(acct.id, region):
            members[acct.id] = Member(acct.id, acct.email, "RegionDisabled", admin)
        else:
            members[acct.id] = Member(acct.id, acct.email, "Enabled", admin)
            self.member_detector(region, acct.id, cfg)
        self.changed(region, admin)

    # ---- GuardDuty organization policies ---------------------------------------------------------------------
    def sweep_policies(self) -> None:
        """Each account a policy change concerns (policies.changes) is brought to its effective policy
        `policy_enforcement_seconds` after the latest such change; accounts nothing happened to are not looked at."""
        for management in policies.changes.watched():
            org = organization_of(management)
            for acct in policies.changes.new_accounts(org) if org is not None else []:
                policies.changes.pend(acct.id, management, created_at(acct) + self.world.create_account_seconds)
        world, due = None, policies.changes.due(time.time() - self.world.policy_enforcement_seconds)
        for account, (since, management) in due.items():
            org = organization_of(management)
            acct = org_account(org, account) if org is not None else None
            if acct is None or acct.status != "ACTIVE":
                continue
            if account == management and account not in self.service_roles:
                # Considerations: without GuardDuty's service-linked role a policy cannot enable the management
                # account; it waits until the role exists
                policies.changes.pend(account, management, since)
                continue
            world = world or region_world()
            blocks = policies.effective(org, acct) or {}
            invalid = policies.invalid_blocks(blocks)
            for region in world:
                if region_enabled_for(account, region):
                    name = region if region in blocks else "default"
                    # an invalid block is not enforced (not documented; modelled as that)
                    self.enforce(region, org, acct, None if name in invalid else blocks.get(name))

    def enforce(self, region: str, org, acct, block: dict | None) -> None:
        """One region of an account brought to a policy block; None: the region is not managed (any more)."""
        det = self.detectors.get((region, acct.id))
        foundational = (block or {}).get("foundational", {}).get("status")
        if foundational == "enabled":
            if det is None:
                det = self.new_detector(acct.id, region, {}, None)
            det.enabled = True
            self.policy_member(region, org, acct)
        elif foundational == "disabled" and det is not None:
            det.enabled = False  # not documented in detail; modelled as suspending the detector
        if det is None:
            return
        named = {policies.FEATURES[key]: s for key, s in (block or {}).items() if key != "foundational"}
        for name, entry in det.features.items():
            setting = named.get(name, {})
            entry.pop("managed_by", None)
            entry.pop("agents_managed_by", None)
            if "status" in setting:
                entry["status"], entry["managed_by"] = setting["status"].upper(), MANAGED_BY
            given = {policies.AGENTS[k]: v["status"] for k, v in setting.get("additional_configuration", {}).items()}
            agents = {a: status.upper() for a, status in given.items() if a in entry["agents"]}
            if agents:
                entry["agents"].update(agents)
                entry["agents_managed_by"] = {a: MANAGED_BY for a in agents}
        if named:
            det.updated_at = now_iso()

    def policy_member(self, region: str, org, acct) -> None:
        """An account a policy enables becomes an Enabled member of the region's delegated administrator; records of
        the invitation era that were never associated are left ("cannot manage accounts linked only by the legacy
        invitation method")."""
        admin = self.admin_of(region, org.org.master_account_id)
        if admin is None or acct.id == admin or acct.id in self.world.refused_members:
            return
        members = self.members.setdefault((region, admin), {})
        m = members.get(acct.id)
        if m is None:
            members[acct.id] = Member(acct.id, acct.email, "Enabled", admin)
        elif m.status not in NEVER_ASSOCIATED and m.status != "Enabled":
            m.status, m.updated_at = "Enabled", now_iso()
        self.changed(region, admin)

    # ---- detectors -------------------------------------------------------------------------------------------
    def detector_request(self, region, req) -> tuple:
        """CreateDetector's and UpdateDetector's common fields, checked: (enable, frequency, features)."""
        enable = req.get("enable")
        if enable is not None and not isinstance(enable, bool):
            raise bad_request(MSG_INVALID)
        freq = req.get("findingPublishingFrequency")
        if freq is not None and freq not in FREQUENCIES:
            raise bad_request(MSG_INVALID)
        features = self.validate_features(
            region, req.get("features"), "status", {"ENABLED", "DISABLED"}, self.world.detector_features(region))
        return enable, freq, features

    def op_CreateDetector(self, account, region, req, q, _):
        if not isinstance(req.get("enable"), bool):
            raise bad_request(MSG_INVALID)
        _enable, freq, features = self.detector_request(region, req)
        if (region, account) in self.detectors:
            raise bad_request(MSG_DETECTOR_EXISTS)
        det = self.new_detector(account, region, features, freq, req["enable"])
        self.service_roles.add(account)
        return {"detectorId": det.id}

    def op_ListDetectors(self, account, region, req, q, _):
        det = self.detectors.get((region, account))
        ids, token = self.page([det.id] if det else [], q)
        out = {"detectorIds": ids}
        if token:
            out["nextToken"] = token
        return out

    def op_GetDetector(self, account, region, req, q, detector_id):
        det = self.own_detector(account, region, detector_id)
        features = [{"name": n, "status": "ENABLED", "updatedAt": time.time()} for n in ("CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS")]
        features += [feature_json(name, f, f["agents"]) for name, f in det.features.items()]
        return {
            "createdAt": det.created_at,
            "updatedAt": det.updated_at,
            "findingPublishingFrequency": det.frequency,
            "serviceRole": f"arn:aws:iam::{account}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
            "status": "ENABLED" if det.enabled else "DISABLED",
            "features": features,
            "tags": {},
        }

    def op_UpdateDetector(self, account, region, req, q, detector_id):
        det = self.own_detector(account, region, detector_id)
        enable, freq, features = self.detector_request(region, req)
        refusal = self.managed_refusal(det, features)
        if refusal:
            raise bad_request(refusal)
        if enable is not None:
            det.enabled = enable
        if freq is not None:
            det.frequency = freq
        self.apply_detector_features(det, features)
        return {}

    def op_DeleteDetector(self, account, region, req, q, detector_id):
        self.own_detector(account, region, detector_id)
        del self.detectors[(region, account)]
        self.members.pop((region, account), None)
        self.org_configs.pop((region, account), None)
        self.changed(region, account)
        return {}

    # ---- delegated administrator -----------------------------------------------------------------------------
    def management_org(self, account: str):
        org = organization_of(account)
        if org is None or org.org.master_account_id != account:
            raise bad_request(MSG_NOT_MANAGEMENT)
        return org

    def op_EnableOrganizationAdminAccount(self, account, region, req, q, _):
        admin = req.get("adminAccountId")
        if not isinstance(admin, str) or not ACCOUNT_ID.match(admin):
            raise bad_request(MSG_INVALID)
        org = self.management_org(account)
        member = org_account(org, admin)
        if member is None or member.status != "ACTIVE":
            raise bad_request(MSG_INVALID)
        for (r, mgmt), (current, _since, disabling) in self.admins.items():
            if mgmt == account and current != admin:
                raise bad_request(MSG_OTHER_ADMIN)
            if mgmt == account and r == region and disabling is not None:
                raise bad_request(MSG_INVALID)
        if (region, account) not in self.admins:
            self.admins[(region, account)] = (admin, time.monotonic(), None)
            # As AWS does: designating a delegated administrator enables trusted access for GuardDuty.
            org.enable_aws_service_access(ServicePrincipal="guardduty.amazonaws.com")
        return {}

    def op_DisableOrganizationAdminAccount(self, account, region, req, q, _):
        admin = req.get("adminAccountId")
        self.management_org(account)
        entry = self.admins.get((region, account))
        if entry is None or entry[0] != admin or entry[2] is not None:
            raise bad_request(MSG_INVALID)
        self.admins[(region, account)] = (admin, entry[1], time.monotonic())
        self.expire_disabling()
        return {}

    def op_ListOrganizationAdminAccounts(self, account, region, req, q, _):
        self.management_org(account)
        entry = self.admins.get((region, account))
        items = []
        if entry:
            status = "DISABLE_IN_PROGRESS" if entry[2] is not None else "ENABLED"
            items.append({"adminAccountId": entry[0], "adminStatus": status})
        chunk, token = self.page(items, q)
        out = {"adminAccounts": chunk}
        if token:
            out["nextToken"] = token
        return out

    # ---- organization configuration -------------------------------------------------------------------------
    def op_UpdateOrganizationConfiguration(self, account, region, req, q, detector_id):
        _det, org = self.require_admin(account, region, detector_id)
        legacy, members = req.get("autoEnable"), req.get("autoEnableOrganizationMembers")
        if legacy is not None and members is not None:
            raise bad_request(
                "The request is rejected because autoEnable and autoEnableOrganizationMembers cannot be specified "
                "together."
            )
        if legacy is not None and not isinstance(legacy, bool):
            raise bad_request(MSG_INVALID)
        if members is not None and members not in AUTO_ENABLE:
            raise bad_request(MSG_INVALID)
        features = self.validate_features(region, req.get("features"), "autoEnable", AUTO_ENABLE, self.world.offered(region))
        cfg = self.org_configs.setdefault((region, account), OrgConfig())
        value = ("NEW" if legacy else "NONE") if legacy is not None else members
        if value is not None and value != cfg.auto_enable:
            cfg.auto_enable, cfg.since, cfg.accounts_then = value, time.time(), len(org.accounts)
            cfg.swept_existing, cfg.cursor = False, len(org.accounts)
        for name, given in features.items():
            entry = cfg.features.setdefault(name, {"autoEnable": "NONE", "agents": {}})
            was_all = entry["autoEnable"] == "ALL"
            agents_all = {a for a, v in entry["agents"].items() if v == "ALL"}
            if given["value"] is not None:
                entry["autoEnable"] = given["value"]
            entry["agents"].update({k: v for k, v in given["agents"].items() if v is not None})
            # the plan (or one of its additional configurations) became ALL: the members that are there get it later
            if entry["autoEnable"] == "ALL" and (
                    not was_all or any(v == "ALL" and a not in agents_all for a, v in entry["agents"].items())):
                cfg.all_since[name] = time.time()
        return {}

    def op_DescribeOrganizationConfiguration(self, account, region, req, q, detector_id):
        self.require_admin(account, region, detector_id)
        cfg = self.org_configs.get((region, account), OrgConfig())

        def auto(name):
            return cfg.features.get(name, {}).get("autoEnable", "NONE")

        features = []
        for name, agents in self.world.offered(region).items():
            entry = {"name": name, "autoEnable": auto(name)}
            if agents:
                configured = cfg.features.get(name, {}).get("agents", {})
                entry["additionalConfiguration"] = [{"name": a, "autoEnable": configured.get(a, "NONE")} for a in agents]
            features.append(entry)
        return {
            "autoEnable": cfg.auto_enable != "NONE",
            "autoEnableOrganizationMembers": cfg.auto_enable,
            "memberAccountLimitReached": False,
            "dataSources": {
                "s3Logs": {"autoEnable": auto("S3_DATA_EVENTS") != "NONE"},
                "kubernetes": {"auditLogs": {"autoEnable": auto("EKS_AUDIT_LOGS") != "NONE"}},
                "malwareProtection": {
                    "scanEc2InstanceWithFindings": {
                        "ebsVolumes": {"autoEnable": auto("EBS_MALWARE_PROTECTION") != "NONE"}
                    }
                },
            },
            "features": features,
        }

    # ---- members ---------------------------------------------------------------------------------------------
    def shown_status(self, m: Member) -> str:
        """The member's status as a read shows it: the one before its last change while `status_lag_seconds` last."""
        lag = getattr(self.faults, "status_lag_seconds", 0.0)
        if m.previous is not None and time.monotonic() - m.changed_mono < lag:
            return m.previous
        return m.status

    def member_json(self, admin: str, region: str, m: Member) -> dict:
        out = {
            "accountId": m.account,
            "masterId": admin,
            "administratorId": admin,
            "email": m.email,
            "relationshipStatus": self.shown_status(m),
            "invitedAt": m.invited_at,
            "updatedAt": m.updated_at,
        }
        det = self.detectors.get((region, m.account))
        if det is not None and m.status == "Enabled":
            out["detectorId"] = det.id
        return out

    def op_CreateMembers(self, account, region, req, q, detector_id):
        details = self.batch(req, "accountDetails")
        for d in details:
            if (
                not isinstance(d, dict)
                or not isinstance(d.get("accountId"), str)
                or not ACCOUNT_ID.match(d["accountId"])
                or not isinstance(d.get("email"), str)
                or not 1 <= len(d["email"]) <= 64
            ):
                raise bad_request(MSG_INVALID)
        _det, org = self.require_admin(account, region, detector_id)
        members = self.members.setdefault((region, account), {})
        # With GuardDuty policies enabled the auto-enable settings no longer apply: a new member gets the defaults.
        cfg = OrgConfig() if policies.type_enabled(org) else self.org_configs.get((region, account), OrgConfig())
        management = org.org.master_account_id
        unprocessed = []
        for d in details:
            target = d["accountId"]
            acct = org_account(org, target)
            existing = members.get(target)
            if target in self.world.refused_members:
                unprocessed.append({"accountId": target, "result": self.world.refused_members[target]})
            elif target == account:
                unprocessed.append({"accountId": target, "result": "The request is rejected because the current account cannot be added as a member of itself."})
            elif acct is None:
                unprocessed.append({"accountId": target, "result": "The request is rejected because the input account is not a member of your organization."})
            elif acct.status != "ACTIVE":
                unprocessed.append({"accountId": target, "result": "The request is rejected because the account is suspended."})
            elif target == management and (region, management) not in self.detectors:
                unprocessed.append({"accountId": target, "result": MSG_MASTER_FIRST})
            elif existing is not None and existing.status in ("Enabled", "Disabled"):
                # "irrespective of the accounts being new or existing members": the plans, and nothing else
                self.reapply_auto_enabled(region, target, cfg)
            elif existing is not None and existing.status not in ("Removed", "Resigned"):
                # RegionDisabled, AccountSuspended, and the invitation-era records that were never associated.
                unprocessed.append({"accountId": target, "result": MSG_ALREADY_MEMBER})
            elif not region_enabled_for(target, region):
                members[target] = Member(target, d["email"], "RegionDisabled", account)
            else:
                members[target] = Member(target, d["email"], "Enabled", account)
                self.member_detector(region, target, cfg)
                self.reapply_auto_enabled(region, target, cfg)
        self.changed(region, account)
        return {"unprocessedAccounts": unprocessed}

    def visible_member(self, members: dict, target: str):
        """A member, or None while it is still settling after CreateMembers (eventual consistency)."""
        m = members.get(target)
        if m is None:
            return None
        if time.monotonic() - m.created_mono < self.faults.member_consistency_seconds:
            return None
        return m

    def op_GetMembers(self, account, region, req, q, detector_id):
        ids = self.account_ids(req)
        self.require_admin(account, region, detector_id)
        members = self.members.get((region, account), {})
        found, unprocessed = [], []
        for target in ids:
            m = self.visible_member(members, target)
            if m is None:
                unprocessed.append({"accountId": target, "result": MSG_NOT_ASSOCIATED})
            else:
                found.append(self.member_json(account, region, m))
        return {"members": found, "unprocessedAccounts": unprocessed}

    def associated_member(self, members: dict, target: str):
        """A member whose plans the administrator can read and write: None for no record, a record of the
        invitation era, or one still settling after CreateMembers."""
        m = self.visible_member(members, target)
        return m if m is not None and m.status not in INVITATION_ERA else None

    def op_GetUsageStatistics(self, account, region, req, q, detector_id):
        """GuardDuty's estimate of the last 30 days' cost (API reference, GetUsageStatistics: `POST
        /detector/{detectorId}/usage/statistics`; UsageCriteria; UsageStatistics). usageStatisticsType and
        usageCriteria are required; accountIds, where given, are 1 to 50 ids of 12 digits ("Array Members: Minimum
        number of 1 item. Maximum number of 50 items"); features only of the documented values. The caller sees its
        own usage and, as an administrator, that of its associated members (our reading of the user guide's "as the
        administrator account you can view the usage of your member accounts"); other ids add nothing. Amounts are
        modelled (our choice: the emulator has no traffic): a fixed price per usage feature of each enabled detector,
        in USD, so that sums can be checked. SUM_BY_FEATURES and SUM_BY_ACCOUNT are answered; the other types with
        nothing."""
        self.own_detector(account, region, detector_id)
        kind = req.get("usageStatisticsType")
        if kind not in USAGE_TYPES:
            raise bad_request(MSG_INVALID)
        criteria = req.get("usageCriteria")
        if not isinstance(criteria, dict):
            raise bad_request(MSG_INVALID)
        ids = criteria.get("accountIds")
        if ids is not None and (not isinstance(ids, list) or not 1 <= len(ids) <= 50
                                or not all(isinstance(i, str) and ACCOUNT_ID.match(i) for i in ids)):
            raise bad_request(MSG_INVALID)
        wanted = criteria.get("features")
        if wanted is not None and (not isinstance(wanted, list) or any(f not in USAGE_PRICES for f in wanted)):
            raise bad_request(MSG_INVALID)
        members = self.members.get((region, account), {})
        visible = [i for i in (ids or [account]) if i == account or self.associated_member(members, i) is not None]
        by_account, by_feature = {}, {}
        for target in visible:
            det = self.detectors.get((region, target))
            if det is None or not det.enabled:
                continue
            for feature in usage_features(det.features):
                if wanted is None or feature in wanted:
                    by_feature[feature] = by_feature.get(feature, 0.0) + USAGE_PRICES[feature]
                    by_account[target] = by_account.get(target, 0.0) + USAGE_PRICES[feature]
        total = lambda amount: {"amount": f"{amount:.2f}", "unit": "USD"}  # noqa: E731
        if kind == "SUM_BY_FEATURES":
            stats = {"sumByFeature": [{"feature": f, "total": total(v)} for f, v in sorted(by_feature.items())]}
        elif kind == "SUM_BY_ACCOUNT":
            stats = {"sumByAccount": [{"accountId": a, "total": total(v)} for a, v in sorted(by_account.items())]}
        else:
            stats = {}
        return {"usageStatistics": stats}

    def op_GetMemberDetectors(self, account, region, req, q, detector_id):
        ids = self.account_ids(req)
        self.require_admin(account, region, detector_id)
        members = self.members.get((region, account), {})
        found, unprocessed = [], []
        for target in ids:
            det = self.detectors.get((region, target))
            # A member without a detector here (RegionDisabled: the account has not enabled this opt-in region) has
            # no plans to read: unprocessed until the account enables the region, which may be never (not documented;
            # modelled as not associated)
            if self.associated_member(members, target) is None or det is None:
                unprocessed.append({"accountId": target, "result": MSG_NOT_ASSOCIATED})
                continue
            plans = det.features if det is not None else {}
            on = "ENABLED" if det is not None and det.enabled else "DISABLED"
            found.append({
                "accountId": target,
                # the deprecated shape, its required parts only
                "dataSources": {
                    "cloudTrail": {"status": on}, "dnsLogs": {"status": on}, "flowLogs": {"status": on},
                    "s3Logs": {"status": plans.get("S3_DATA_EVENTS", {}).get("status", "DISABLED")},
                },
                "features": [
                    feature_json(name, plans.get(name, {"status": "DISABLED", "agents": {}}), agents)
                    for name, agents in self.world.offered(region).items()
                ],
            })
        return {"members": found, "unprocessedAccounts": unprocessed}

    def op_UpdateMemberDetectors(self, account, region, req, q, detector_id):
        ids = self.account_ids(req)
        if req.get("dataSources") is not None and req.get("features") is not None:
            raise bad_request(MSG_BOTH_SOURCES)
        given = req.get("features") if req.get("dataSources") is None else self.data_source_features(req["dataSources"])
        features = self.validate_features(region, given, "status", {"ENABLED", "DISABLED"}, self.world.offered(region))
        self.require_admin(account, region, detector_id)
        members = self.members.get((region, account), {})
        unprocessed = []
        for target in ids:
            det = self.detectors.get((region, target))
            # an associated member without a detector here (RegionDisabled, say) has nothing to update: not
            # documented; modelled as not associated
            if self.associated_member(members, target) is None or det is None:
                unprocessed.append({"accountId": target, "result": MSG_NOT_ASSOCIATED})
            elif refusal := self.managed_refusal(det, features):
                unprocessed.append({"accountId": target, "result": refusal})
            else:
                self.apply_detector_features(det, features)
        return {"unprocessedAccounts": unprocessed}

    @staticmethod
    def data_source_features(sources) -> list:
        """The features a deprecated dataSources object stands for."""
        if not isinstance(sources, dict):
            raise bad_request(MSG_INVALID)
        features = []
        for keys, name in DATA_SOURCES.items():
            node = sources
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, bool):
                features.append({"name": name, "status": "ENABLED" if node else "DISABLED"})
        return features

    def op_ListMembers(self, account, region, req, q, detector_id):
        self.require_admin(account, region, detector_id)
        only = q.get("onlyAssociated", "true").lower()
        if only not in ("true", "false"):
            raise bad_request(MSG_INVALID)
        key = (region, account)
        ordered = self.sorted_members.get(key)
        if ordered is None:
            ordered = sorted(self.members.get(key, {}).values(), key=lambda m: m.account)
            self.sorted_members[key] = ordered
        if only == "true":
            ordered = [m for m in ordered if m.status not in INVITATION_ERA]
        chunk, token = self.page(ordered, q)
        out = {"members": [self.member_json(account, region, m) for m in chunk]}
        if token:
            out["nextToken"] = token
        return out

    def change_members(self, account, region, req, detector_id, change):
        ids = self.account_ids(req)
        self.require_admin(account, region, detector_id)
        members = self.members.setdefault((region, account), {})
        cfg = self.org_configs.get((region, account), OrgConfig())
        unprocessed = []
        for target in ids:
            m = self.visible_member(members, target)
            if m is None:
                unprocessed.append({"accountId": target, "result": MSG_NOT_ASSOCIATED})
                continue
            refusal = self.world.refused_members.get(target) or change(members, m, cfg)
            if refusal:
                unprocessed.append({"accountId": target, "result": refusal})
        self.changed(region, account)
        return {"unprocessedAccounts": unprocessed}

    @staticmethod
    def refused_under_all(cfg: OrgConfig, m: Member):
        """DeleteMembers and DisassociateMembers API references: with ALL, "you'll receive an error if you attempt
        to disable GuardDuty for a member account" / "to disassociate a member account before removing them from
        your organization" (a record that protects nothing disables nothing)."""
        if cfg.auto_enable == "ALL" and m.status in ("Enabled", "Disabled"):
            return MSG_AUTO_ENABLE_ALL
        return None

    def op_DeleteMembers(self, account, region, req, q, detector_id):
        def change(ms, m, cfg):
            refusal = self.refused_under_all(cfg, m)
            if refusal is None:
                ms.pop(m.account)
            return refusal

        return self.change_members(account, region, req, detector_id, change)

    def op_DisassociateMembers(self, account, region, req, q, detector_id):
        def change(ms, m, cfg):
            refusal = self.refused_under_all(cfg, m)
            if refusal is None:
                m.status, m.updated_at = "Removed", now_iso()
            return refusal

        return self.change_members(account, region, req, detector_id, change)

    def monitoring(self, account, region, req, detector_id, before: str, after: str):
        """StartMonitoringMembers and StopMonitoringMembers: a member in `before` goes to `after`."""

        def change(ms, m, cfg):
            if m.status == before:
                m.previous, m.changed_mono = m.status, time.monotonic()
                m.status, m.updated_at = after, now_iso()
            return None

        return self.change_members(account, region, req, detector_id, change)

    def op_StartMonitoringMembers(self, account, region, req, q, detector_id):
        return self.monitoring(account, region, req, detector_id, "Disabled", "Enabled")

    def op_StopMonitoringMembers(self, account, region, req, q, detector_id):
        return self.monitoring(account, region, req, detector_id, "Enabled", "Disabled")
