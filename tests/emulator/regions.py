"""AWS Account Management's region opt-in (API 2021-02-01, rest-json) for the local emulator.

moto's Account service has alternate contacts only. This module keeps which regions exist, which of them are
opt-in, and which opt-in regions each account has enabled, and answers `ListRegions` and `GetRegionOptStatus`
as the Account API reference describes them. GuardDuty consults it: an account's calls into an opt-in region it
has not enabled fail as AWS fails them.
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
_all_accounts_enabled: set[str] = set()  # opt-in regions enabled for every account


class AccountApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def configure(spec: dict) -> None:
    """Replaces the region world: {"default": [...], "opt_in": [...], "enabled": {account: [...]},
    "enabled_everywhere": [...]}; keys left out keep their value."""
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


def status_of(account: str, region: str) -> str | None:
    with _lock:
        if region in _default:
            return "ENABLED_BY_DEFAULT"
        if region in _opt_in:
            enabled = region in _enabled.get(account, set()) or region in _all_accounts_enabled
            return "ENABLED" if enabled else "DISABLED"
        return None


def opt_in(region: str) -> bool:
    """Whether `region` is an opt-in region of the current region world."""
    with _lock:
        return region in _opt_in


def region_enabled_for(account: str, region: str) -> bool:
    """Whether `account` may call regional services in `region` (unknown regions are let through to moto)."""
    return status_of(account, region) in ("ENABLED", "ENABLED_BY_DEFAULT", None)


def handle(method: str, path: str, body: bytes, caller: str) -> tuple[str, dict]:
    """Returns (operation, response JSON) or raises AccountApiError."""
    try:
        req = json.loads(body) if body else {}
    except ValueError:
        raise AccountApiError(400, "ValidationException", "Invalid JSON in the request body.")
    if not isinstance(req, dict):
        raise AccountApiError(400, "ValidationException", "Invalid JSON in the request body.")
    account = req.get("AccountId") or caller
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
