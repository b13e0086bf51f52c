"""GuardDuty's saved filters and its trusted and threat lists for the local emulator: what changes which findings
GuardDuty reports, without turning anything off.

The operations of the GuardDuty API reference, as the SDKs send them (rest-json), each page API_<Operation>.html under
https://docs.aws.amazon.com/guardduty/latest/APIReference/:
  POST   /detector/{d}/filter                 CreateFilter      GET /detector/{d}/filter            ListFilters
  GET    /detector/{d}/filter/{name}          GetFilter         POST /detector/{d}/filter/{name}    UpdateFilter
  DELETE /detector/{d}/filter/{name}          DeleteFilter
  POST   /detector/{d}/ipset                  CreateIPSet       GET /detector/{d}/ipset             ListIPSets
  GET    /detector/{d}/ipset/{id}             GetIPSet          POST /detector/{d}/ipset/{id}       UpdateIPSet
  DELETE /detector/{d}/ipset/{id}             DeleteIPSet
  and the same for threatintelset (ThreatIntelSet), trustedentityset (TrustedEntitySet) and threatentityset
  (ThreatEntitySet).
Rules, each with its source:
- A filter's name: "Valid characters include period (.), underscore (_), dash (-), and alphanumeric characters. A
  whitespace is considered to be an invalid character" (CreateFilter), 3 to 64 characters; action NOOP or ARCHIVE;
  rank 1 to 100; description up to 512 characters; findingCriteria required, its conditions those of API_Condition
  (eq, neq, gt, gte, lt, lte, equals, notEquals, greaterThan, greaterThanOrEqual, lessThan, lessThanOrEqual,
  matches, notMatches). "The maximum number of saved filters per Amazon Web Services account per Region is 100"
  (CreateFilter).
- A list's name: "Allowed characters are alphanumeric, whitespace, dash (-), and underscores (_)" (CreateIPSet), 1 to
  300 characters; format TXT, STIX, OTX_CSV, ALIEN_VAULT, PROOF_POINT or FIRE_EYE; location 1 to 300 characters;
  activate required; expectedBucketOwner 12 digits. Status ACTIVE once activated, INACTIVE otherwise (GuardDuty passes
  through ACTIVATING while it reads the file; not modelled: the status is the end state at once).
- "At any given time, you can add only one trusted entity list and one trusted IP address list per AWS account per
  Region"; "you can upload up to six threat entity lists and threat IP address lists per AWS account per Region"
  (User Guide, "Customizing threat detection with entity lists and IP address lists"): one of each trusted kind, six
  of each threat kind (whether six is per kind or shared is not clear from the page; modelled per kind).
- Only the administrator manages them in an organization: CreateIPSet "Only users from the administrator account can
  use this operation"; "In a multi-account environment, only the GuardDuty administrator account can manage lists.
  This setting automatically applies to the member accounts" (User Guide, same page); suppression rules likewise
  ("Member accounts lose access to these features in a multi-account environment", User Guide, "Understanding the
  relationship between GuardDuty administrator account and member accounts"). A member's Create, Update and Delete are
  refused (BadRequestException; the message is our choice); its ListIPSets and ListThreatIntelSets answer "the IPSets
  from the associated administrator account" (ListIPSets), and the entity lists likewise (our choice, not documented),
  and its Get of those ids answers the administrator's list. A member's ListFilters answers its own (our choice).
Messages where no source gives one are our choice, marked so. Filters and lists live and die with their detector
(our choice: the API reference does not say what DeleteDetector does to them).

Its state is in `GET /_emulator/state` under "filters" and "lists".
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote

import regions
from guardduty import MSG_INVALID, MSG_NOT_OWNED, ApiError, GuardDuty, bad_request

# The kinds of list: path segment -> (operation suffix, id field, list field, how many an account may have per region).
KINDS = {
    "ipset": ("IPSet", "ipSetId", "ipSetIds", 1),
    "threatintelset": ("ThreatIntelSet", "threatIntelSetId", "threatIntelSetIds", 6),
    "trustedentityset": ("TrustedEntitySet", "trustedEntitySetId", "trustedEntitySetIds", 1),
    "threatentityset": ("ThreatEntitySet", "threatEntitySetId", "threatEntitySetIds", 6),
}
FORMATS = {"TXT", "STIX", "OTX_CSV", "ALIEN_VAULT", "PROOF_POINT", "FIRE_EYE"}
ACTIONS = {"NOOP", "ARCHIVE"}
MAX_FILTERS = 100
FILTER_NAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
LIST_NAME = re.compile(r"^[A-Za-z0-9 _-]{1,300}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
LIST_CONDITIONS = {"eq", "neq", "equals", "notEquals", "matches", "notMatches"}
NUMBER_CONDITIONS = {"gt", "gte", "lt", "lte", "greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"}
# [our choice] messages: none is documented
MSG_MEMBER = "The request is rejected because the current account is a member account; only the administrator account can manage this."
MSG_NOT_FOUND = "The request is rejected since no such resource found."
MSG_FILTER_EXISTS = "The request is rejected because a filter with the same name already exists."
MSG_FILTER_LIMIT = "The request is rejected because the maximum number of saved filters (100) has been reached."
MSG_LIST_LIMIT = "The request is rejected because the maximum number of {} for the account in this Region has been reached."

_lock = threading.Lock()
# (region, account) -> {"detector": id, "filters": {name: {...}}, "lists": {kind: {id: {...}}}}
_state: dict[tuple[str, str], dict] = {}


def matches(path: str) -> bool:
    return re.match(r"^/detector/[^/]+/(filter|ipset|threatintelset|trustedentityset|threatentityset)(/|$)", path) is not None


def operation(method: str, path: str):
    """(operation, {"d", "kind", "id"}) for a request, or (None, {})."""
    m = re.fullmatch(r"/detector/(?P<d>[^/]+)/(?P<kind>filter|ipset|threatintelset|trustedentityset|threatentityset)"
                     r"(?:/(?P<id>[^/]+))?", path.rstrip("/"))
    if m is None:
        return None, {}
    kind, item = m["kind"], m["id"]
    noun = "Filter" if kind == "filter" else KINDS[kind][0]
    verbs = {("POST", False): "Create", ("GET", False): "List", ("GET", True): "Get", ("POST", True): "Update",
             ("DELETE", True): "Delete"}
    verb = verbs.get((method, item is not None))
    if verb is None:
        return None, {}
    plural = "s" if verb == "List" else ""
    return f"{verb}{noun}{plural}", {"d": m["d"], "kind": kind, "id": unquote(item) if item else None}


def reset() -> None:
    with _lock:
        _state.clear()


def _prune(guardduty) -> None:
    """Filters and lists go with their detector. Call with _lock held."""
    with guardduty.lock:
        detectors = {key: det.id for key, det in guardduty.detectors.items()}
    for key, entry in list(_state.items()):
        if detectors.get(key) != entry["detector"]:
            del _state[key]


def _administrator(guardduty, account: str, region: str) -> str | None:
    """The administrator `account` is an associated member of in `region`, if any."""
    with guardduty.lock:
        for (r, admin), members in guardduty.members.items():
            m = members.get(account)
            if r == region and m is not None and m.status in ("Enabled", "Disabled"):
                return admin
    return None


def snapshot(guardduty) -> tuple[list, list]:
    with _lock:
        _prune(guardduty)
        filters = [{"region": r, "account": a, **f} for (r, a), e in sorted(_state.items())
                   for f in sorted(e["filters"].values(), key=lambda f: f["name"])]
        lists = [{"region": r, "account": a, "kind": k, "id": i, **item} for (r, a), e in sorted(_state.items())
                 for k, items in sorted(e["lists"].items()) for i, item in sorted(items.items())]
    return filters, lists


def handle(guardduty, method: str, path: str, query: str, body: bytes, account: str, region: str):
    """(status, headers, body bytes) for one request, or raises ApiError as guardduty.py does."""
    name, params = operation(method, path)
    if name is None:
        raise ApiError(404, "UnknownOperationException", f"No GuardDuty operation matches {method} {path}")
    if not regions.region_enabled_for(account, region):
        raise ApiError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    try:
        req = json.loads(body) if body else {}
    except ValueError:
        raise bad_request("The request is rejected because the JSON could not be processed.")
    if not isinstance(req, dict):
        raise bad_request("The request is rejected because the JSON could not be processed.")
    q = {k: v[-1] for k, v in parse_qs(query).items()}
    with guardduty.lock:
        own = guardduty.detectors.get((region, account))
    # The caller must own the detector in this region, as for every detector operation.
    if own is None or own.id != params["d"]:
        raise bad_request(MSG_NOT_OWNED)
    administrator = _administrator(guardduty, account, region)
    verb = re.match(r"[A-Z][a-z]+", name).group(0)
    if administrator is not None and verb in ("Create", "Update", "Delete"):
        raise bad_request(MSG_MEMBER)
    with _lock:
        _prune(guardduty)
        entry = _state.setdefault((region, account), {"detector": own.id, "filters": {}, "lists": {}})
        if params["kind"] == "filter":
            out = FILTER_OPERATIONS[verb](entry, params["id"], req, q)
        else:
            seen = entry
            if administrator is not None:  # a member reads the administrator's lists
                seen = _state.get((region, administrator), {"lists": {}})
            out = LIST_OPERATIONS[verb](entry if verb not in ("List", "Get") else seen, params["kind"], params["id"],
                                        req, q)
    return 200, {"Content-Type": "application/json"}, json.dumps(out or {}).encode()


# ---- filters --------------------------------------------------------------------------------------------------------
def _criteria(given) -> dict:
    """findingCriteria, checked against API_Condition."""
    if not isinstance(given, dict) or set(given) - {"criterion"}:
        raise bad_request(MSG_INVALID)
    criterion = given.get("criterion", {})
    if not isinstance(criterion, dict):
        raise bad_request(MSG_INVALID)
    for field, condition in criterion.items():
        if not isinstance(field, str) or not isinstance(condition, dict) or not condition:
            raise bad_request(MSG_INVALID)
        for key, value in condition.items():
            if key in LIST_CONDITIONS:
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            elif key in NUMBER_CONDITIONS:
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = False
            if not ok:
                raise bad_request(MSG_INVALID)
    return {"criterion": criterion}


def _filter_fields(req: dict, current: dict | None) -> dict:
    out = dict(current or {"action": "NOOP", "rank": None, "description": None, "findingCriteria": None})
    if "action" in req:
        if req["action"] not in ACTIONS:
            raise bad_request(MSG_INVALID)
        out["action"] = req["action"]
    if "rank" in req:
        if not isinstance(req["rank"], int) or isinstance(req["rank"], bool) or not 1 <= req["rank"] <= 100:
            raise bad_request(MSG_INVALID)
        out["rank"] = req["rank"]
    if "description" in req:
        if not isinstance(req["description"], str) or len(req["description"]) > 512:
            raise bad_request(MSG_INVALID)
        out["description"] = req["description"]
    if "findingCriteria" in req:
        out["findingCriteria"] = _criteria(req["findingCriteria"])
    if out["findingCriteria"] is None:
        raise bad_request(MSG_INVALID)
    return out


def _tags(req: dict) -> dict:
    tags = req.get("tags", {})
    if not isinstance(tags, dict) or len(tags) > 200 or any(
            not isinstance(k, str) or not isinstance(v, str) or not 1 <= len(k) <= 128 or len(v) > 256
            for k, v in tags.items()):
        raise bad_request(MSG_INVALID)
    return dict(tags)


def filter_create(entry, _name, req, q):
    name = req.get("name")
    if not isinstance(name, str) or not FILTER_NAME.match(name):
        raise bad_request(MSG_INVALID)
    if name in entry["filters"]:
        raise bad_request(MSG_FILTER_EXISTS)
    if len(entry["filters"]) >= MAX_FILTERS:
        raise bad_request(MSG_FILTER_LIMIT)
    fields = _filter_fields(req, None)
    entry["filters"][name] = {"name": name, **fields, "tags": _tags(req), "createdAt": time.time(),
                              "version": 1}
    return {"name": name}


def _found_filter(entry, name):
    f = entry["filters"].get(name or "")
    if f is None:
        raise bad_request(MSG_NOT_FOUND)
    return f


def filter_get(entry, name, req, q):
    f = _found_filter(entry, name)
    out = {"name": f["name"], "action": f["action"], "findingCriteria": f["findingCriteria"], "tags": f["tags"]}
    for key in ("description", "rank"):
        if f[key] is not None:
            out[key] = f[key]
    return out


def filter_update(entry, name, req, q):
    f = _found_filter(entry, name)
    f.update(_filter_fields(req, f))
    f["version"] += 1
    return {"name": f["name"]}


def filter_delete(entry, name, req, q):
    _found_filter(entry, name)
    del entry["filters"][name]
    return {}


def filter_list(entry, _name, req, q):
    # ListFilters: "maxResults ... Minimum value of 1. Maximum value of 50."
    names = sorted(entry["filters"])
    chunk, token = GuardDuty.page(names, q)
    out = {"filterNames": chunk}
    if token:
        out["nextToken"] = token
    return out


FILTER_OPERATIONS = {"Create": filter_create, "Get": filter_get, "Update": filter_update, "Delete": filter_delete,
                     "List": filter_list}


# ---- lists ----------------------------------------------------------------------------------------------------------
def _list_fields(req: dict, current: dict | None) -> dict:
    out = dict(current or {})
    for key, pattern in (("name", LIST_NAME), ("location", re.compile(r"^.{1,300}$", re.S))):
        if key in req:
            if not isinstance(req[key], str) or not pattern.match(req[key]):
                raise bad_request(MSG_INVALID)
            out[key] = req[key]
    if "activate" in req:
        if not isinstance(req["activate"], bool):
            raise bad_request(MSG_INVALID)
        out["status"] = "ACTIVE" if req["activate"] else "INACTIVE"
    if "expectedBucketOwner" in req:
        if not isinstance(req["expectedBucketOwner"], str) or not ACCOUNT_ID.match(req["expectedBucketOwner"]):
            raise bad_request(MSG_INVALID)
        out["expectedBucketOwner"] = req["expectedBucketOwner"]
    return out


def list_create(entry, kind, _id, req, q):
    noun, id_field, _, limit = KINDS[kind]
    for required in ("name", "format", "location", "activate"):
        if required not in req:
            raise bad_request(MSG_INVALID)
    if req["format"] not in FORMATS:
        raise bad_request(MSG_INVALID)
    items = entry["lists"].setdefault(kind, {})
    if len(items) >= limit:
        raise bad_request(MSG_LIST_LIMIT.format(noun + "s"))
    item = {"format": req["format"], **_list_fields(req, None), "tags": _tags(req), "createdAt": time.time(),
            "updatedAt": time.time()}
    new_id = uuid.uuid4().hex
    items[new_id] = item
    return {id_field: new_id}


def _found_list(entry, kind, item_id):
    item = entry["lists"].get(kind, {}).get(item_id or "")
    if item is None:
        raise bad_request(MSG_NOT_FOUND)
    return item


def list_get(entry, kind, item_id, req, q):
    item = _found_list(entry, kind, item_id)
    out = {k: item[k] for k in ("name", "format", "location", "status", "tags")}
    # expectedBucketOwner "appears in the response only if it was provided during ... creation or update" (GetIPSet)
    if "expectedBucketOwner" in item:
        out["expectedBucketOwner"] = item["expectedBucketOwner"]
    if kind.endswith("entityset"):
        out["createdAt"], out["updatedAt"] = item["createdAt"], item["updatedAt"]
    return out


def list_update(entry, kind, item_id, req, q):
    item = _found_list(entry, kind, item_id)
    item.update(_list_fields(req, item))
    item["updatedAt"] = time.time()
    return {}


def list_delete(entry, kind, item_id, req, q):
    _found_list(entry, kind, item_id)
    del entry["lists"][kind][item_id]
    return {}


def list_list(entry, kind, _id, req, q):
    ids = sorted(entry["lists"].get(kind, {}))
    chunk, token = GuardDuty.page(ids, q)
    out = {KINDS[kind][2]: chunk}
    if token:
        out["nextToken"] = token
    return out


LIST_OPERATIONS = {"Create": list_create, "Get": list_get, "Update": list_update, "Delete": list_delete,
                   "List": list_list}
