"""AWS Control Tower's landing zone (API 2018-05-10, rest-json) for the local emulator: ListLandingZones and
GetLandingZone, which is where a tool reads the governed regions. moto has no Control Tower.

Requests as aws-sdk-controltower 1.128 sends them (`operation/list_landing_zones.rs`, `get_landing_zone.rs`,
`protocol_serde/shape_*_input.rs`): `POST /list-landingzones` with `{"maxResults", "nextToken"}`, `POST
/get-landingzone` with `{"landingZoneIdentifier"}`; SigV4 service `controltower`.

The landing zone is the world's `landing_zone` setting (world.py): {"home", "governed_regions"} (optionally "id",
"log_archive_account", "audit_account"), or None, the default: no landing zone. It belongs to the management account
of the caller's organization. Each behaviour with its page:
- ListLandingZones "Returns the landing zone ARN for the landing zone deployed in your managed account ... Returns one
  landing zone ARN." `maxResults` is "The maximum number of returned landing zone ARNs, which is one" (the model's
  range is 1..1; another value is a ValidationException)
  (https://docs.aws.amazon.com/controltower/latest/APIReference/API_ListLandingZones.html). The ARN is
  `arn:aws:controltower:<home>:<management>:landingzone/<id>`; "This API returns one landing zone identifier (ARN)
  across any commercial region, regardless of the landing zone's home region ... For opt-in regions, the
  ListLandingZones API only returns the landing zone identifier if you call the API in the same region as the API's
  home region." (https://docs.aws.amazon.com/controltower/latest/userguide/lz-api-list.html): called in an opt-in
  region other than the home region, the list is empty.
- GetLandingZone (https://docs.aws.amazon.com/controltower/latest/APIReference/API_GetLandingZone.html):
  `{"landingZone": {"arn", "version", "latestAvailableVersion", "status", "driftStatus": {"status"}, "manifest"}}`;
  an identifier that is not the landing zone's ARN is ResourceNotFoundException (404). The manifest follows
  "Landing zone manifest" (https://docs.aws.amazon.com/controltower/latest/userguide/lz-manifest-file.html):
  `governedRegions` ("Required: No": left out when the world's landing zone has no `governed_regions`),
  `organizationStructure.security.name`, `centralizedLogging` {accountId, enabled}, `securityRoles.accountId`,
  `accessManagement.enabled`. The version is 3.3, ACTIVE, drift IN_SYNC.
Not documented, modelled as:
- An account that belongs to an organization but is not its management account is refused both operations
  (AccessDeniedException, 403; a landing zone "can only be managed from the Organizations management account").
  An account in no organization has no landing zone: an empty list, and ResourceNotFoundException.
- A `nextToken` is refused (ValidationException): the list is never longer than one, so none is ever given out.
- GetLandingZone answers in any region but an opt-in region other than the home region (ResourceNotFoundException
  there, as ListLandingZones hides it there).
- The log archive and audit accounts default to the management account; the id defaults to 16 characters derived
  from the management account's id.
- Calls into an opt-in region the account has not enabled fail as guardduty.py fails them
  (UnrecognizedClientException, 403).
"""

from __future__ import annotations

import hashlib
import json

import regions

OPERATIONS = {"/list-landingzones": "ListLandingZones", "/get-landingzone": "GetLandingZone"}
VERSION = "3.3"
MSG_NOT_MANAGEMENT = (
    "User is not authorized to perform this operation: AWS Control Tower landing zone operations can be called from "
    "the organization's management account only."
)
MSG_NOT_FOUND = "The requested resource does not exist."


class CtError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def operation(method: str, path: str) -> str | None:
    return OPERATIONS.get(path.rstrip("/")) if method == "POST" else None


def management_of(caller: str) -> str | None:
    """The caller's organization's management account when the caller is it; None when it is in no organization;
    AccessDeniedException when it is a member."""
    from guardduty import organization_of

    backend = organization_of(caller)
    if backend is None or backend.org is None:
        return None
    if backend.org.master_account_id != caller:
        raise CtError(403, "AccessDeniedException", MSG_NOT_MANAGEMENT)
    return caller


def landing_zone_id(management: str, spec: dict) -> str:
    if spec.get("id"):
        return spec["id"]
    return hashlib.sha256(f"landingzone/{management}".encode()).hexdigest()[:16].upper()


def arn_of(management: str, spec: dict) -> str:
    return f"arn:aws:controltower:{spec['home']}:{management}:landingzone/{landing_zone_id(management, spec)}"


def visible_in(spec: dict, region: str) -> bool:
    """lz-api-list: in an opt-in region, only when it is the home region."""
    return region == spec["home"] or not regions.opt_in(region)


def detail(management: str, spec: dict) -> dict:
    manifest = {
        "organizationStructure": {"security": {"name": "Security"}},
        "centralizedLogging": {"accountId": spec.get("log_archive_account") or management, "enabled": True},
        "securityRoles": {"accountId": spec.get("audit_account") or management},
        "accessManagement": {"enabled": True},
    }
    if "governed_regions" in spec:
        manifest = {"governedRegions": list(spec["governed_regions"]), **manifest}
    return {
        "arn": arn_of(management, spec),
        "version": VERSION,
        "latestAvailableVersion": VERSION,
        "status": "ACTIVE",
        "driftStatus": {"status": "IN_SYNC"},
        "manifest": manifest,
    }


def handle(world, method: str, path: str, body: bytes, caller: str, region: str) -> tuple[str, dict]:
    """Returns (operation, response JSON) or raises CtError."""
    name = operation(method, path)
    if name is None:
        raise CtError(404, "UnknownOperationException", f"No Control Tower operation matches {method} {path}")
    if not regions.region_enabled_for(caller, region):
        raise CtError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    try:
        req = json.loads(body) if body else {}
    except ValueError:
        raise CtError(400, "ValidationException", "The request body is not valid JSON.")
    if not isinstance(req, dict):
        raise CtError(400, "ValidationException", "The request body is not a JSON object.")
    spec = world.landing_zone
    if name == "ListLandingZones":
        size = req.get("maxResults", 1)
        if not isinstance(size, int) or isinstance(size, bool) or size != 1:
            bound = "greater than or equal to 1" if isinstance(size, int) and size < 1 else "less than or equal to 1"
            raise CtError(400, "ValidationException", "1 validation error detected: Value at 'maxResults' failed to "
                          f"satisfy constraint: Member must have value {bound}")
        if req.get("nextToken") is not None:
            raise CtError(400, "ValidationException", "The nextToken is not valid.")
        management = management_of(caller)
        if management is None or spec is None or not visible_in(spec, region):
            return name, {"landingZones": []}
        return name, {"landingZones": [{"arn": arn_of(management, spec)}]}
    identifier = req.get("landingZoneIdentifier")
    if not isinstance(identifier, str) or not identifier:
        raise CtError(400, "ValidationException",
                      "1 validation error detected: Value null at 'landingZoneIdentifier' failed to satisfy "
                      "constraint: Member must not be null")
    management = management_of(caller)
    if management is None or spec is None or not visible_in(spec, region) or identifier != arn_of(management, spec):
        raise CtError(404, "ResourceNotFoundException", MSG_NOT_FOUND)
    return name, {"landingZone": detail(management, spec)}
