"""GuardDuty's publishing destinations (findings export to Amazon S3) for the local emulator.

The five operations of the GuardDuty API reference, as the SDKs send them (rest-json):
  POST   /detector/{d}/publishingDestination        CreatePublishingDestination
  GET    /detector/{d}/publishingDestination        ListPublishingDestinations   (?maxResults=1..50&nextToken=)
  GET    /detector/{d}/publishingDestination/{id}   DescribePublishingDestination
  POST   /detector/{d}/publishingDestination/{id}   UpdatePublishingDestination
  DELETE /detector/{d}/publishingDestination/{id}   DeletePublishingDestination
(https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreatePublishingDestination.html and the pages of
the four others, API_<Operation>.html beside it), with the checks of the user guide's "Exporting generated findings
to Amazon S3" (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_exportfindings.html, "the user guide"
below). S3 and KMS are not emulated: the buckets GuardDuty would look at are this module's world.

Its world, `POST /_emulator/export` (keys left out keep their value; within "buckets" and "broken" a name given
replaces its entry and null removes it), reset by `POST /_emulator/reset`:
  {"buckets": {"NAME": {"region": "us-east-1", "owner": "ACCOUNT", "prefixes": ["findings/"]}},
   "broken": {"REGION": "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" | "STOPPED"
                        | {"status": ..., "since": EPOCH_MS}},
   "verification_seconds": 0.2}
`prefixes` are the folder marker objects ("findings/") the bucket holds. A broken region's destinations describe
with that status until the switch is removed, failing since `since` when given, else since the switch was set
(or the destination created, if later).

Its state is in `GET /_emulator/state` under "publishing_destinations".
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import regions
from guardduty import MSG_INVALID, MSG_NOT_OWNED, ApiError, bad_request

# panther-labs/panther#1081 quotes it from the service: a second CreatePublishingDestination on a detector that has one
# (https://github.com/panther-labs/panther/pull/1081).
MSG_EXISTS = (
    "The request failed because a publishingDestination already exists with the destinationType value provided in "
    "the request."
)
# What DescribePublishingDestination answers for a destination that is not there: Terraform's AWS provider takes this
# message as "not found" (https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/guardduty/
# publishing_destination.go, findPublishingDestination). Update and Delete answer it too [our choice: not documented].
MSG_NO_DESTINATION = "The request is rejected because the one or more input parameters have invalid values."

# Statuses (PublishingStatus in the API reference,
# https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DescribePublishingDestination.html).
PENDING, PUBLISHING = "PENDING_VERIFICATION", "PUBLISHING"
BROKEN_STATUSES = {"UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY", "STOPPED"}

ROUTES = [
    ("POST", r"/detector/(?P<d>[^/]+)/publishingDestination", "CreatePublishingDestination"),
    ("GET", r"/detector/(?P<d>[^/]+)/publishingDestination", "ListPublishingDestinations"),
    ("GET", r"/detector/(?P<d>[^/]+)/publishingDestination/(?P<id>[^/]+)", "DescribePublishingDestination"),
    ("POST", r"/detector/(?P<d>[^/]+)/publishingDestination/(?P<id>[^/]+)", "UpdatePublishingDestination"),
    ("DELETE", r"/detector/(?P<d>[^/]+)/publishingDestination/(?P<id>[^/]+)", "DeletePublishingDestination"),
]

ACCOUNT_ID = re.compile(r"^\d{12}$")
# S3 bucket naming rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html), loosely.
BUCKET_NAME = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# destinationArn: "To specify an S3 bucket folder use the following format: arn:aws:s3:::DOC-EXAMPLE-BUCKET/myFolder/"
# (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DestinationProperties.html).
DESTINATION_ARN = re.compile(rf"^arn:(?P<partition>aws[a-z-]*):s3:::(?P<bucket>{BUCKET_NAME})(?:/(?P<prefix>.*))?$")
# kmsKeyArn: a key ARN (the user guide, Step 2: "the key ARN"; an alias is not a key ARN).
KMS_KEY_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z]{2,4}(?:-[a-z]+)+-\d+):(?P<account>\d{12})"
    r":key/[A-Za-z0-9-]{1,128}$"
)


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def folder(prefix: str) -> str:
    """A prefix as its folder marker's key: "findings" and "findings/" are both the folder "findings/"."""
    return prefix.rstrip("/") + "/" if prefix.strip("/") else ""


@dataclass
class Destination:
    id: str
    detector: str
    destination_arn: str
    kms_key_arn: str
    expected_bucket_owner: str | None
    tags: dict
    client_token: str | None
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    written: float = field(default_factory=time.monotonic)  # the last Create or Update


@dataclass
class ExportWorld:
    buckets: dict = field(default_factory=dict)  # name -> {"region", "owner", "prefixes": set of folders}
    broken: dict = field(default_factory=dict)  # region -> (status, since epoch ms, whether `since` was given)
    verification_seconds: float = 0.2


_lock = threading.Lock()
_world = ExportWorld()
_destinations: dict[tuple[str, str], dict[str, Destination]] = {}  # (region, account) -> id -> destination


def matches(path: str) -> bool:
    return "/publishingDestination" in path


def operation(method: str, path: str):
    for verb, pattern, name in ROUTES:
        m = re.fullmatch(pattern, path.rstrip("/") or "/")
        if verb == method and m:
            return name, m.groupdict()
    return None, {}


# ---- world ----------------------------------------------------------------------------------------------------------
def configure(spec: dict) -> None:
    """Applies `POST /_emulator/export`; raises ValueError on a malformed switch (and then changes nothing)."""
    if not isinstance(spec, dict):
        raise ValueError("the export world is a JSON object")
    unknown = set(spec) - {"buckets", "broken", "verification_seconds"}
    if unknown:
        raise ValueError(f"unknown export setting {sorted(unknown)[0]}")
    for key in ("buckets", "broken"):
        if not isinstance(spec.get(key) or {}, dict):
            raise ValueError(f"{key} is an object")
    buckets, broken = {}, {}
    for name, b in (spec.get("buckets") or {}).items():
        if b is None:
            buckets[name] = None
            continue
        if not isinstance(b, dict) or not isinstance(b.get("region"), str) or not isinstance(b.get("owner"), str) \
                or not ACCOUNT_ID.match(b["owner"]):
            raise ValueError(f"bucket {name} needs a region and a 12-digit owner")
        prefixes = b.get("prefixes", [])
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise ValueError(f"bucket {name}: prefixes is a list of folder names")
        marked = {folder(p) for p in prefixes if folder(p)}
        buckets[name] = {"region": b["region"], "owner": b["owner"], "prefixes": marked}
    now_ms = int(time.time() * 1000)
    for region, value in (spec.get("broken") or {}).items():
        if value is None:
            broken[region] = None
            continue
        status, since = (value.get("status"), value.get("since")) if isinstance(value, dict) else (value, None)
        if status not in BROKEN_STATUSES or not isinstance(since, (int, type(None))):
            raise ValueError(f"broken[{region}] is one of {sorted(BROKEN_STATUSES)} (or {{status, since}})")
        broken[region] = (status, now_ms if since is None else since, since is not None)
    seconds = spec.get("verification_seconds", _world.verification_seconds)
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError("verification_seconds is a number of seconds")
    with _lock:
        for target, given in ((_world.buckets, buckets), (_world.broken, broken)):
            for key, value in given.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        _world.verification_seconds = float(seconds)


def reset() -> None:
    global _world
    with _lock:
        _world = ExportWorld()
        _destinations.clear()


def _detector_ids(guardduty) -> dict:
    """(region, account) -> the detector id there, read under GuardDuty's lock."""
    with guardduty.lock:
        return {key: det.id for key, det in guardduty.detectors.items()}


def _prune(detectors: dict) -> None:
    """A destination lives and dies with its detector [our choice: the API reference does not say what DeleteDetector
    does to a detector's destination; a detector created anew has none]. Call with _lock held."""
    for key, found in list(_destinations.items()):
        for dest_id, dest in list(found.items()):
            if detectors.get(key) != dest.detector:
                del found[dest_id]
        if not found:
            del _destinations[key]


def _status(region: str, dest: Destination) -> tuple[str, int | None]:
    """(status, publishingFailureStartTimestamp). PENDING_VERIFICATION for a while after a Create or an Update, then
    PUBLISHING: Terraform's provider waits from the one to the other after creating a destination
    (https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/guardduty/publishing_destination.go,
    waitPublishingDestinationCreated). In a broken region: the broken status, failing since the `since` the switch
    gives, else since the switch was set or the destination created, whichever came later (the API reference: "The
    time, in epoch millisecond format, at which GuardDuty was first unable to publish findings to the destination",
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DescribePublishingDestination.html). A broken
    region wins over verification, and an Update does not mend it while the switch is on (the user guide's
    troubleshooting: the cause is the bucket or the key, "To start exporting the findings again, update the
    configuration settings" once it is fixed) [our choice]. Call with _lock held."""
    broken = _world.broken.get(region)
    if broken is not None:
        status, since, given = broken
        return status, since if given else max(since, dest.created_ms)
    if time.monotonic() - dest.written < _world.verification_seconds:
        return PENDING, None
    return PUBLISHING, None


def snapshot(guardduty) -> list[dict]:
    detectors = _detector_ids(guardduty)
    with _lock:
        _prune(detectors)
        return [
            {"region": region, "account": account, "detector": d.detector, "id": d.id,
             "destination_arn": d.destination_arn, "kms_key_arn": d.kms_key_arn,
             "expected_bucket_owner": d.expected_bucket_owner, "status": _status(region, d)[0]}
            for (region, account), found in sorted(_destinations.items())
            for d in sorted(found.values(), key=lambda d: d.id)
        ]


# ---- requests -------------------------------------------------------------------------------------------------------
def handle(guardduty, method: str, path: str, query: str, body: bytes, account: str, region: str):
    """(status, headers, body bytes) for one publishing-destination request, or raises ApiError as guardduty.py does."""
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
    detectors = _detector_ids(guardduty)
    # The caller must own the detector in this region, as for every detector operation (guardduty.py's own_detector).
    if detectors.get((region, account)) != params["d"]:
        raise bad_request(MSG_NOT_OWNED)
    with _lock:
        _prune(detectors)
        out = OPERATIONS[name](account, region, params["d"], params.get("id"), req, q)
    return 200, {"Content-Type": "application/json"}, json.dumps(out or {}).encode()


def _properties(given) -> dict:
    """destinationProperties as given: the fields present, each a string of the right shape."""
    if not isinstance(given, dict):
        raise bad_request(MSG_INVALID)
    out = {}
    for key in ("destinationArn", "kmsKeyArn", "expectedBucketOwner"):
        value = given.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise bad_request(MSG_INVALID)
        out[key] = value
    # expectedBucketOwner: "Length Constraints: Fixed length of 12" (API_DestinationProperties.html)
    if "expectedBucketOwner" in out and not ACCOUNT_ID.match(out["expectedBucketOwner"]):
        raise bad_request(MSG_INVALID)
    return out


def _validate(account: str, region: str, props: dict) -> None:
    """What GuardDuty checks of a destination on Create and on every Update, in this order [the order is our choice].
    Messages are our choice where no source gives them. Call with _lock held; may create the prefix's folder."""
    arn = DESTINATION_ARN.match(props["destinationArn"])
    key = KMS_KEY_ARN.match(props["kmsKeyArn"])
    if arn is None or key is None:
        raise bad_request(MSG_INVALID)
    if arn["partition"] != partition_of(region) or key["partition"] != partition_of(region):
        raise bad_request(MSG_INVALID)
    name, prefix = arn["bucket"], folder(arn["prefix"] or "")
    bucket = _world.buckets.get(name)
    if bucket is None:
        # "Before you start exporting the findings, the destination resource must exist." (API reference, Create)
        raise bad_request(f"The request is rejected because the S3 bucket {name} does not exist.")
    # "Your Amazon S3 bucket or object, and AWS KMS key must belong to the same AWS Region." (user guide)
    if key["region"] != bucket["region"]:
        raise bad_request(
            f"The request is rejected because the S3 bucket {name} ({bucket['region']}) and the KMS key "
            f"({key['region']}) are not in the same Region."
        )
    # The user guide's Region rules: "For the findings generated in a commercial Region, you can choose to export these
    # findings to an S3 bucket in any commercial Region. However, you can't export these findings to an S3 bucket in
    # an opt-in Region." and "For the findings generated in an opt-in Region, you can choose to export these findings
    # to the same opt-in Region where they're generated or any commercial Region. However, you can't export findings
    # from one opt-in Region to another opt-in Region." So a bucket elsewhere must be in a commercial (default) Region,
    # of this partition. A region the region world does not know counts as commercial [our choice].
    target = bucket["region"]
    if target != region and (regions.opt_in(target) or partition_of(target) != partition_of(region)):
        raise bad_request(
            f"The request is rejected because findings generated in {region} cannot be exported to an S3 bucket in "
            f"{target}: an opt-in Region takes only its own findings."
        )
    # expectedBucketOwner: "When you provide this value, GuardDuty verifies that the specified account owns the bucket"
    # (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DestinationProperties.html). Checked here, as a
    # 400 [our choice: the page says only that GuardDuty then "doesn't export findings to that bucket"].
    owner = props.get("expectedBucketOwner")
    if owner is not None and owner != bucket["owner"]:
        raise bad_request(f"The request is rejected because the S3 bucket {name} is not owned by account {owner}.")
    if prefix and prefix not in bucket["prefixes"]:
        # "When you provide an optional folder location that doesn't exist already, GuardDuty will create that location
        # only if the account associated with the S3 bucket is the same as the account exporting the findings. When
        # you export findings to an S3 bucket that belongs to another account, the folder location must exist
        # already." (user guide, Step 3). The check is of the folder's marker object, and it runs on every Update:
        # an Update fails once a lifecycle rule has expired the marker, even with nothing changed and the destination
        # PUBLISHING (https://github.com/aws/aws-cli/issues/10483, whose error says "resource folder does not exist").
        if bucket["owner"] != account:
            raise bad_request(
                f"The request is rejected because the resource folder does not exist: s3://{name}/{prefix} "
                f"(a bucket of another account needs the folder created first)."
            )
        bucket["prefixes"].add(prefix)


def _find(region: str, account: str, detector: str, dest_id: str | None) -> Destination:
    dest = _destinations.get((region, account), {}).get(dest_id or "")
    if dest is None or dest.detector != detector:
        raise bad_request(MSG_NO_DESTINATION)
    return dest


def op_create(account, region, detector, _id, req, q):
    # destinationType: "Valid Values: S3" (API_CreatePublishingDestination.html); required, as are the properties.
    if req.get("destinationType") != "S3":
        raise bad_request(MSG_INVALID)
    props = _properties(req.get("destinationProperties"))
    if "destinationArn" not in props or "kmsKeyArn" not in props:
        raise bad_request(MSG_INVALID)
    token = req.get("clientToken")
    if token is not None and (not isinstance(token, str) or len(token) > 64):
        raise bad_request(MSG_INVALID)
    tags = req.get("tags")
    if tags is not None and (
        not isinstance(tags, dict) or not 1 <= len(tags) <= 200
        or any(not isinstance(k, str) or not isinstance(v, str) or not 1 <= len(k) <= 128 or len(v) > 256
               for k, v in tags.items())
    ):
        raise bad_request(MSG_INVALID)
    found = _destinations.setdefault((region, account), {})
    # clientToken: "The idempotency token for the create request." (API_CreatePublishingDestination.html): the same
    # token again answers the destination it made, and makes nothing. The answer does not depend on the rest of the
    # request, and a token is remembered only while its destination exists [our choice: not documented].
    if token:
        for dest in found.values():
            if dest.client_token == token:
                return {"destinationId": dest.id}
    # One destination per detector: S3 is the only destinationType, and a second one of a type fails (MSG_EXISTS).
    if found:
        raise bad_request(MSG_EXISTS)
    _validate(account, region, props)
    dest = Destination(uuid.uuid4().hex, detector, props["destinationArn"], props["kmsKeyArn"],
                       props.get("expectedBucketOwner"), dict(tags or {}), token or None)
    found[dest.id] = dest
    return {"destinationId": dest.id}


def op_list(account, region, detector, _id, req, q):
    # maxResults: "Minimum value of 1. Maximum value of 50." (API_ListPublishingDestinations.html)
    try:
        size = int(q.get("maxResults", 50))
        start = int(q.get("nextToken") or 0)
    except ValueError:
        raise bad_request(MSG_INVALID)
    if not 1 <= size <= 50 or start < 0:
        raise bad_request(MSG_INVALID)
    found = sorted(_destinations.get((region, account), {}).values(), key=lambda d: d.id)
    chunk = found[start : start + size]
    out = {"destinations": [{"destinationId": d.id, "destinationType": "S3", "status": _status(region, d)[0]}
                            for d in chunk]}
    if start + size < len(found):
        out["nextToken"] = str(start + size)
    return out


def op_describe(account, region, detector, dest_id, req, q):
    dest = _find(region, account, detector, dest_id)
    status, failing_since = _status(region, dest)
    props = {"destinationArn": dest.destination_arn, "kmsKeyArn": dest.kms_key_arn}
    # expectedBucketOwner "appears in the response only if it was provided when the publishing destination was
    # created or updated." (API_DestinationProperties.html)
    if dest.expected_bucket_owner is not None:
        props["expectedBucketOwner"] = dest.expected_bucket_owner
    out = {"destinationId": dest.id, "destinationType": "S3", "status": status, "destinationProperties": props,
           "tags": dict(dest.tags)}
    if failing_since is not None:
        out["publishingFailureStartTimestamp"] = failing_since
    return out


def op_update(account, region, detector, dest_id, req, q):
    dest = _find(region, account, detector, dest_id)
    given = req.get("destinationProperties")
    given = _properties(given) if given is not None else {}
    # Only what is given changes: "omitting this field leaves the currently stored value unchanged"
    # (expectedBucketOwner, API_DestinationProperties.html; likewise the others [our choice]).
    merged = {"destinationArn": dest.destination_arn, "kmsKeyArn": dest.kms_key_arn}
    if dest.expected_bucket_owner is not None:
        merged["expectedBucketOwner"] = dest.expected_bucket_owner
    merged.update(given)
    # Every Update is a write and checks the destination again, changed or not (aws-cli#10483, in _validate).
    _validate(account, region, merged)
    dest.destination_arn, dest.kms_key_arn = merged["destinationArn"], merged["kmsKeyArn"]
    dest.expected_bucket_owner = merged.get("expectedBucketOwner")
    dest.written = time.monotonic()
    return {}


def op_delete(account, region, detector, dest_id, req, q):
    dest = _find(region, account, detector, dest_id)
    del _destinations[(region, account)][dest.id]
    return {}


OPERATIONS = {
    "CreatePublishingDestination": op_create,
    "ListPublishingDestinations": op_list,
    "DescribePublishingDestination": op_describe,
    "UpdatePublishingDestination": op_update,
    "DeletePublishingDestination": op_delete,
}
