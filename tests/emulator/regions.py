"""AWS Account Management's region opt-in (API 2021-02-01, rest-json) for the local emulator.

moto's Account service has alternate contacts only. This module keeps which regions exist, which of them are
opt-in, and which opt-in regions each account has enabled, and answers `ListRegions` and `GetRegionOptStatus`
as the Account API reference describes them. GuardDuty consults it: an account's calls into an opt-in region it
has not enabled fail as AWS fails them.

`AccountId` (organizations mode) is accepted as the `AccountId` parameter's text in the API reference has it
(https://docs.aws.amazon.com/accounts/latest/reference/API_ListRegions.html and API_GetRegionOptStatus.html): "the
caller must be an identity in the organization's management account or a delegated administrator account. The
specified account ID must be a member account in the same organization. The organization must have all features
enabled, and the organization must have trusted access enabled for the Account Management service"; and "The
management account can't specify its own AccountId. It must call the operation in standalone context by not
including the AccountId parameter." (ValidationException, with that sentence as its message: the reference documents
the rule, not the error's text). Trusted access is `account.amazonaws.com`
(https://docs.aws.amazon.com/accounts/latest/reference/using-orgs-trusted-access.html), the delegated administrator
one registered for that principal (https://docs.aws.amazon.com/accounts/latest/reference/using-orgs-delegated-admin.html).
Not documented, modelled as: the checks run in the order a malformed id (ValidationException), a caller that is
neither (AccessDeniedException), the management account's own id (ValidationException), trusted access not enabled
or not all features (AccessDeniedException), an id that is not a member account of the caller's organization, the
management account's included (AccessDeniedException); the AccessDeniedException messages open with the exception's
documented description ("The operation failed because the calling identity doesn't have the minimum required
permissions.") and add the reason; a delegated administrator may name its own id (it is a member account).
"""

from __future__ import annotations

import json
import pathlib
import threading

# Regions enabled by default in every account, then the opt-in regions (as of 2026): the project's one list of the
# aws partition's regions, infra/regions.json, which the findings-bucket template's generator reads too.
_REGIONS_FILE = pathlib.Path(__file__).resolve().parents[2] / "infra" / "regions.json"
_REGIONS = json.loads(_REGIONS_FILE.read_text())
DEFAULT_REGIONS = list(_REGIONS["default"])
OPT_IN_REGIONS = list(_REGIONS["opt_in"])
STATUSES = {"ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT"}

_lock = threading.Lock()
_default = list(DEFAULT_REGIONS)
_opt_in = list(OPT_IN_REGIONS)
_enabled: dict[str, set[str]] = {}  # account -> opt-in regions it has enabled
_all_accounts_enabled: set[str] = set()  # opt-in regions enabled for every account there was when it was set
# Accounts made by Organizations' CreateAccount. "Opt-in Regions - Regions launched after March 20, 2019 are disabled
# by default ... To use these opt-in Regions, you must first enable them in your AWS account" (AWS Account Management
# Reference Guide, "Enable or disable AWS Regions in your account",
# https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html): a new account has the default
# regions only, and an opt-in region once enabled for it (`enabled`).
_created: set[str] = set()


class AccountApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def configure(spec: dict) -> None:
    """Replaces the region world: {"default": [...], "opt_in": [...], "enabled": {account: [...]},
    "enabled_everywhere": [...]}; keys left out keep their value. `enabled_everywhere` stands for the accounts the
    organization has (the seeded ones): an account CreateAccount makes later has the default regions only, as AWS
    creates it, until `enabled` names an opt-in region for it."""
    with _lock:
        if "default" in spec:
            _default[:] = list(spec["default"])
        if "opt_in" in spec:
            _opt_in[:] = list(spec["opt_in"])
        if "enabled" in spec:
            for account, regions in spec["enabled"].items():
                _enabled.setdefault(account, set()).update(regions)
        if "enabled_everywhere" in spec:
            _all_accounts_enabled.update(spec["enabled_everywhere"])


def reset() -> None:
    with _lock:
        _default[:] = list(DEFAULT_REGIONS)
        _opt_in[:] = list(OPT_IN_REGIONS)
        _enabled.clear()
        _all_accounts_enabled.clear()
        _created.clear()


def created(account: str) -> None:
    """Records an account Organizations' CreateAccount made: it starts with the default regions only."""
    with _lock:
        _created.add(account)


def status_of(account: str, region: str) -> str | None:
    with _lock:
        if region in _default:
            return "ENABLED_BY_DEFAULT"
        if region in _opt_in:
            everywhere = region in _all_accounts_enabled and account not in _created
            enabled = region in _enabled.get(account, set()) or everywhere
            return "ENABLED" if enabled else "DISABLED"
        return None


def opt_in(region: str) -> bool:
    """Whether `region` is an opt-in region of the current region world."""
    with _lock:
        return region in _opt_in


def region_enabled_for(account: str, region: str) -> bool:
    """Whether `account` may call regional services in `region` (unknown regions are let through to moto)."""
    return status_of(account, region) in ("ENABLED", "ENABLED_BY_DEFAULT", None)


ACCOUNT_PRINCIPAL = "account.amazonaws.com"
MSG_ACCESS_DENIED = "The operation failed because the calling identity doesn't have the minimum required permissions."
MSG_OWN_ACCOUNT_ID = (
    "The management account can't specify its own AccountId. It must call the operation in standalone context by not "
    "including the AccountId parameter."
)


def target_of(req: dict, caller: str) -> str:
    """The account a request is about: the caller's own (standalone context), or the `AccountId` it may name."""
    if req.get("AccountId") is None:
        return caller
    account = req["AccountId"]
    if not isinstance(account, str) or not account.isdigit() or len(account) != 12:
        raise AccountApiError(400, "ValidationException", "AccountId must be a 12-digit account ID.")
    from guardduty import org_account, organization_of

    backend = organization_of(caller)
    org = backend.org if backend is not None else None
    management = org is not None and org.master_account_id == caller
    delegated = org is not None and any(
        admin.account.id == caller and ACCOUNT_PRINCIPAL in admin.services for admin in backend.admins)
    if not (management or delegated):
        raise AccountApiError(403, "AccessDeniedException", MSG_ACCESS_DENIED + " Only the organization's management "
                              "account or the delegated administrator for Account Management can specify AccountId.")
    if management and account == caller:
        raise AccountApiError(400, "ValidationException", MSG_OWN_ACCOUNT_ID)
    if org.feature_set != "ALL" or not any(s["ServicePrincipal"] == ACCOUNT_PRINCIPAL for s in backend.services):
        raise AccountApiError(403, "AccessDeniedException", MSG_ACCESS_DENIED + " Trusted access for Account "
                              f"Management ({ACCOUNT_PRINCIPAL}) is not enabled in the organization.")
    if account == org.master_account_id or org_account(backend, account) is None:
        raise AccountApiError(403, "AccessDeniedException", MSG_ACCESS_DENIED + f" The account {account} is not a "
                              "member account of the caller's organization.")
    return account


def handle(method: str, path: str, body: bytes, caller: str) -> tuple[str, dict]:
    """Returns (operation, response JSON) or raises AccountApiError."""
    try:
        req = json.loads(body) if body else {}
    except ValueError:
        raise AccountApiError(400, "ValidationException", "Invalid JSON in the request body.")
    if not isinstance(req, dict):
        raise AccountApiError(400, "ValidationException", "Invalid JSON in the request body.")
    account = target_of(req, caller)
    if path == "/listRegions" and method == "POST":
        wanted = req.get("RegionOptStatusContains") or sorted(STATUSES)
        if not isinstance(wanted, list) or any(s not in STATUSES for s in wanted):
            raise AccountApiError(400, "ValidationException", "Invalid value for RegionOptStatusContains.")
        size = req.get("MaxResults", 20)
        if not isinstance(size, int) or not 1 <= size <= 50:
            raise AccountApiError(400, "ValidationException", "MaxResults must be between 1 and 50.")
        try:
            start = int(req.get("NextToken") or 0)
        except ValueError:
            raise AccountApiError(400, "ValidationException", "Invalid NextToken.")
        with _lock:
            names = sorted(_default + _opt_in)
        regions = [
            {"RegionName": r, "RegionOptStatus": status_of(account, r)}
            for r in names
            if status_of(account, r) in wanted
        ]
        out = {"Regions": regions[start : start + size]}
        if start + size < len(regions):
            out["NextToken"] = str(start + size)
        return "ListRegions", out
    if path == "/getRegionOptStatus" and method == "POST":
        region = req.get("RegionName")
        status = status_of(account, region) if isinstance(region, str) else None
        if status is None:
            raise AccountApiError(400, "ValidationException", f"Invalid region: {region}")
        return "GetRegionOptStatus", {"RegionName": region, "RegionOptStatus": status}
    raise AccountApiError(404, "UnknownOperationException", f"No Account operation matches {method} {path}")
