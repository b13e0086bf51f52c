"""Amazon GuardDuty (API 2017-11-28, rest-json) for the local emulator.

moto ships detectors and filters only; this module implements the operations an organization-wide rollout
needs, to the shapes, error types and messages of the GuardDuty API reference: detectors with protection plans,
the delegated administrator, the organization configuration and the member list. Organization membership comes
from moto's Organizations backend, so the accounts the tests create there are the ones GuardDuty knows.

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

from regions import region_enabled_for
from world import World

# Plans a new detector gets when CreateDetector names none (the console's defaults).
DEFAULT_ON = {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS"}
FREQUENCIES = {"FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"}
AUTO_ENABLE = {"NEW", "ALL", "NONE"}
ACCOUNT_ID = re.compile(r"^\d{12}$")
# RelationshipStatus values of records that protect nothing and date from GuardDuty invitations.
INVITATION_ERA = {"Created", "Invited", "EmailVerificationInProgress", "EmailVerificationFailed", "Resigned", "Removed"}
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
MSG_AUTO_ENABLE_ALL = (
    "The request is rejected because the member account is managed through AWS Organizations and "
    "autoEnableOrganizationMembers is set to ALL."
)


class ApiError(Exception):
    """An error response: HTTP status, the x-amzn-ErrorType code, the message and the GuardDuty `__type`."""

    def __init__(self, status: int, code: str, message: str, kind: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind


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
    features: dict  # name -> {"status": ..., "agents": {name: status}}
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

    def reset(self) -> None:
        with self.lock:
            self.detectors.clear()
            self.admins.clear()
            self.org_configs.clear()
            self.members.clear()
            self.sorted_members.clear()

    def snapshot(self) -> dict:
        """The whole state, for tests to check outcomes independently of the client under test."""
        with self.lock:
            self.expire_disabling()
            self.sweep_auto_enable(force=True)
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

    def member_detector(self, region: str, account: str, cfg: OrgConfig) -> None:
        """The detector a new member gets: the plans the organization configuration auto-enables."""
        if (region, account) in self.detectors:
            self.detectors[(region, account)].enabled = True
            return
        wanted = {
            n: {"value": "ENABLED" if f["autoEnable"] in ("NEW", "ALL") else None,
                "agents": {a: "ENABLED" for a, v in f["agents"].items() if v in ("NEW", "ALL")}}
            for n, f in cfg.features.items()
        }
        self.new_detector(account, region, wanted, None)

    def changed(self, region: str, admin: str) -> None:
        self.sorted_members.pop((region, admin), None)

    # ---- auto-enable -----------------------------------------------------------------------------------------
    def sweep_auto_enable(self, force: bool = False) -> None:
        """GuardDuty's own enrolment: under NEW, accounts that joined after the setting, `auto_enable_seconds`
        after they joined; under ALL also the accounts that were there, `auto_enable_existing_seconds` after it
        was set. Each account is looked at once per setting (a cursor in creation order), so it stays cheap."""
        now = time.time()
        if now - self.last_sweep < 0.1 and not force:
            return
        self.last_sweep = now
        for (region, admin), cfg in self.org_configs.items():
            if cfg.auto_enable not in ("NEW", "ALL"):
                continue
            org = organization_of(admin)
            if org is None:
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
        for name, f in det.features.items():
            entry = {"name": name, "status": f["status"], "updatedAt": time.time()}
            if f["agents"]:
                entry["additionalConfiguration"] = [
                    {"name": a, "status": s, "updatedAt": time.time()} for a, s in f["agents"].items()
                ]
            features.append(entry)
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
            if given["value"] is not None:
                entry["autoEnable"] = given["value"]
            entry["agents"].update({k: v for k, v in given["agents"].items() if v is not None})
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
    def member_json(self, admin: str, region: str, m: Member) -> dict:
        out = {
            "accountId": m.account,
            "masterId": admin,
            "administratorId": admin,
            "email": m.email,
            "relationshipStatus": m.status,
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
        cfg = self.org_configs.get((region, account), OrgConfig())
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
            elif existing is not None and existing.status not in ("Removed", "Resigned"):
                # Enabled, Disabled, RegionDisabled, and the invitation-era records that were never associated.
                unprocessed.append({"accountId": target, "result": MSG_ALREADY_MEMBER})
            elif not region_enabled_for(target, region):
                members[target] = Member(target, d["email"], "RegionDisabled", account)
            else:
                members[target] = Member(target, d["email"], "Enabled", account)
                self.member_detector(region, target, cfg)
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
                m.status, m.updated_at = after, now_iso()
            return None

        return self.change_members(account, region, req, detector_id, change)

    def op_StartMonitoringMembers(self, account, region, req, q, detector_id):
        return self.monitoring(account, region, req, detector_id, "Disabled", "Enabled")

    def op_StopMonitoringMembers(self, account, region, req, q, detector_id):
        return self.monitoring(account, region, req, detector_id, "Enabled", "Disabled")
