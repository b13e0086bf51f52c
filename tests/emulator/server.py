"""The local AWS emulator: moto in server mode, extended with GuardDuty, Account region opt-in and Control Tower's
landing zone. S3 (the evidence record's bucket) is moto's own, path-style.

One WSGI application on a loopback port. It reads the SigV4 credential scope of each request to learn the service
and region, and moto's access-key map to learn the calling account (so credentials from sts:AssumeRole act as the
role's account). GuardDuty, Account and Control Tower go to this package's implementations; everything else (STS,
Organizations, IAM, CloudTrail's trails and EventBridge's rules, ...) goes to moto unchanged, and the request log names
each call by its signing name (`cloudtrail`, `events`) and its X-Amz-Target operation. Before any service sees a call, a service control policy may refuse
it: the world's `scp_denied_regions` (scp.py) denies an account's calls to regional services in those regions with
IAM's 403 AccessDeniedException (ignored for an organization's management account, which SCPs do not restrict).

Control endpoints, under /_emulator/ (plain JSON, no signature):
  GET    /_emulator/health             ready check
  GET    /_emulator/state              GuardDuty's whole state (detectors, admins, org configs, members), the
                                        root's policy types ("policy_types") and the GuardDuty policies ("policies":
                                        [{id, name, type, content, targets}]), the saved filters ("filters") and the
                                        trusted and threat lists ("lists", lists.py)
  GET    /_emulator/log                the request log: [{seq, service, operation, account, region, status, kind}]
  DELETE /_emulator/log                clears it
  POST   /_emulator/faults             {latency_ms, throttle_rate, error_rate, services, down_regions,
                                        admin_consistency_seconds, member_consistency_seconds, bad_request,
                                        assume_role_denied_seconds, status_lag_seconds, seed}
  POST   /_emulator/regions            the region world (see regions.configure)
  POST   /_emulator/world              plan availability and GuardDuty's timing, policy enforcement's too (see
                                        world.World); "scp_denied_regions": {account: [region]}, the regions an
                                        SCP denies to an account (ignored for the management account; scp.py);
                                        "landing_zone": {"home", "governed_regions"} or null, the organization's
                                        Control Tower landing zone (controltower.py)
  POST   /_emulator/members            {"region", "admin", "members": {account: status}} writes member records as
                                        they are (invitation-era ones, say)
  POST   /_emulator/organization       {"accounts": N, "suspended": M} creates an organization owned by the
                                        caller's default account and N member accounts; returns their ids
  POST   /_emulator/export             the findings-export world: {"buckets", "broken", "verification_seconds"} (see
                                        publishing.py); its destinations are in the state's "publishing_destinations"
  POST   /_emulator/reset              forgets everything (moto's state too)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import controltower  # noqa: E402
import lists  # noqa: E402
import publishing  # noqa: E402
import regions  # noqa: E402
import scp  # noqa: E402
from guardduty import MSG_INVALID, ApiError, GuardDuty  # noqa: E402
from organizations import HANDLED as ORGANIZATIONS_HANDLED  # noqa: E402
from organizations import Organizations, OrgError, extend_trusted_services  # noqa: E402
from world import World  # noqa: E402

READ_PREFIXES = ("Get", "List", "Describe", "Scan", "Query")
ASSUME_ROLE_DENIED = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    b"<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:root is not authorized to perform: "
    b"sts:AssumeRole on the role (it does not exist yet, or its trust policy has not propagated)</Message></Error>"
    b"<RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
)
ACCOUNT_OPERATIONS = {"/listRegions": "ListRegions", "/getRegionOptStatus": "GetRegionOptStatus"}


@dataclass
class Faults:
    latency_ms: float = 0.0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    services: list = field(default_factory=lambda: ["guardduty", "organizations", "account"])
    down_regions: list = field(default_factory=list)
    admin_consistency_seconds: float = 0.0
    member_consistency_seconds: float = 0.0
    # region -> operations that answer GuardDuty's generic InvalidInputException, every time (a real input error,
    # not the settling answer it shares its text with)
    bad_request: dict = field(default_factory=dict)
    # STS refuses AssumeRole this long after the switches are set, as it does while a new role propagates
    assume_role_denied_seconds: float = 0.0
    # GetMembers and ListMembers show a member's status from before its last Start/StopMonitoringMembers this long
    status_lag_seconds: float = 0.0
    seed: int | None = None


def s3_operation(method: str, path: str, query: str) -> str:
    """The S3 operation of a path-style request (/bucket or /bucket/key), for the log: the few the record uses."""
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if has_key:
        return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
            method, "Unknown")
    if method == "GET":
        return "ListObjectsV2" if "list-type=2" in query else "ListObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, "Unknown")


def kind_of(service: str, operation: str) -> str:
    if service == "sts":
        return "auth"
    return "read" if operation.startswith(READ_PREFIXES) else "write"


def credential_scope(environ) -> tuple[str | None, str | None, str | None]:
    """(access key, region, service) from a SigV4 Authorization header."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        credential = auth.split("Credential=")[1].split(",")[0]
        key, _date, region, service, _ = credential.split("/")
        return key, region, service
    except (IndexError, ValueError):
        return None, None, None


class Emulator:
    def __init__(self):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.moto = DomainDispatcherApplication(create_backend_app)
        self.faults = Faults()
        self.world = World()
        self.random = random.Random()
        self.guardduty = GuardDuty(self.faults, self.world)
        self.organizations = Organizations(self.world)
        extend_trusted_services()
        self.log: list[dict] = []
        self.lock = threading.Lock()
        self.faults_set_at = time.monotonic()

    # ---- helpers ---------------------------------------------------------------------------------------------
    @staticmethod
    def respond(start_response, status: int, body, headers=None):
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
                   500: "Internal Server Error", 503: "Service Unavailable"}
        content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), "application/json")
        extra = {k: v for k, v in (headers or {}).items() if k.lower() not in ("content-type", "content-length")}
        hdrs = [("Content-Type", content_type), ("Content-Length", str(len(payload)))] + list(extra.items())
        start_response(f"{status} {reasons.get(status, 'Error')}", hdrs)
        return [payload]

    def record(self, **entry) -> None:
        entry["done"] = time.time()
        with self.lock:
            entry["seq"] = len(self.log)
            self.log.append(entry)

    @staticmethod
    def read_body(environ) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        return environ["wsgi.input"].read(length) if length else b""

    def operation_of(self, service: str, environ, body: bytes) -> str:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if service == "guardduty":
            return GuardDuty.operation(method, path)[0] or "Unknown"
        if service == "account":
            return ACCOUNT_OPERATIONS.get(path, "Unknown")
        if service == "controltower":
            return controltower.operation(method, path) or "Unknown"
        if service == "s3":
            return s3_operation(method, path, environ.get("QUERY_STRING", ""))
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return target.split(".")[-1]
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if body and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            params.update(parse_qs(body.decode(errors="replace")))
        return params.get("Action", ["Unknown"])[0]

    def error_body(self, service: str, code: str, message: str, kind: str | None = None, reason: str | None = None):
        """An error as the service's protocol carries it: x-amzn-ErrorType header plus JSON body (Organizations' with
        the exception's Reason, where it has one)."""
        if service == "organizations":
            body = {"__type": code, "Message": message}
            if reason:
                body["Reason"] = reason
            return body, {"x-amzn-ErrorType": code}
        body = {"message": message}
        if service == "guardduty":
            body["__type"] = kind or code
        return body, {"x-amzn-ErrorType": code}

    def injected_fault(self, service: str, region: str, operation: str):
        f = self.faults
        if service not in f.services:
            return None
        if region in f.down_regions:
            return 503, "ServiceUnavailableException", "Service unavailable (region down)."
        if operation in f.bad_request.get(region, []):
            return 400, "BadRequestException", MSG_INVALID
        roll = self.random.random()
        if roll < f.throttle_rate:
            return 429, "ThrottlingException" if service == "controltower" else "TooManyRequestsException", \
                "Rate exceeded."
        if roll < f.throttle_rate + f.error_rate:
            code = {"organizations": "ServiceException", "account": "InternalServerException",
                    "controltower": "InternalServerException"}.get(service, "InternalServerErrorException")
            return 500, code, "Internal server error (injected)."
        return None

    @staticmethod
    def scp_denied(environ, service: str, message: str) -> tuple[int, bytes | dict, dict]:
        """IAM's refusal under an SCP (scp.py), in the body format of the service's protocol: JSON (`__type` and
        message, x-amzn-ErrorType) for the JSON and REST-JSON services; for the query protocol's `Action` form an XML
        ErrorResponse with the code those services give for an IAM refusal, `AccessDenied` (as STS answers it above;
        not documented for SCPs, modelled as that)."""
        code = "AccessDeniedException"
        query = "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") or "Action=" in environ.get(
            "QUERY_STRING", "")
        if query and not environ.get("HTTP_X_AMZ_TARGET"):
            from xml.sax.saxutils import escape

            code = "AccessDenied"
            xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
                   "</Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>")
            return 403, xml.encode(), {"Content-Type": "text/xml", "x-emulator-error": code}
        return 403, {"__type": code, "message": message}, {"x-amzn-ErrorType": code, "x-emulator-error": code}

    @staticmethod
    def expired(environ) -> tuple[int, bytes | dict, dict]:
        """A call signed with an expired session token (an access key starting EXPIRED, here): "The security token
        included in the request is expired", HTTP 403, code ExpiredTokenException in the JSON protocols (AWS common
        errors) and ExpiredToken in STS's query protocol (STS API reference, "Common Errors" and AssumeRole)."""
        message = "The security token included in the request is expired"
        query = "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") or "Action=" in environ.get(
            "QUERY_STRING", "")
        if query and not environ.get("HTTP_X_AMZ_TARGET"):
            xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>{message}</Message>"
                   "</Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>")
            return 403, xml.encode(), {"Content-Type": "text/xml", "x-emulator-error": "ExpiredToken"}
        code = "ExpiredTokenException"
        return 403, {"__type": code, "message": message}, {"x-amzn-ErrorType": code, "x-emulator-error": code}

    # ---- control ---------------------------------------------------------------------------------------------
    def control(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        body = self.read_body(environ)
        try:
            spec = json.loads(body) if body else {}
        except ValueError:
            return self.respond(start_response, 400, {"error": "body is not JSON"})
        if path == "/_emulator/health":
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/state" and method == "GET":
            return self.respond(start_response, 200, self.state())
        if path == "/_emulator/world" and method == "POST":
            try:
                self.world.update(spec)
            except ValueError as e:
                return self.respond(start_response, 400, {"error": str(e)})
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/members" and method == "POST":
            try:
                self.guardduty.seed_members(spec)
            except (KeyError, ValueError) as e:
                return self.respond(start_response, 400, {"error": f"bad member records: {e}"})
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/log" and method == "GET":
            with self.lock:
                return self.respond(start_response, 200, list(self.log))
        if path == "/_emulator/log" and method == "DELETE":
            with self.lock:
                self.log.clear()
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/faults" and method == "POST":
            fresh = Faults()
            for key, value in spec.items():
                if not hasattr(fresh, key):
                    return self.respond(start_response, 400, {"error": f"unknown fault switch {key}"})
                setattr(fresh, key, value)
            for key in fresh.__dataclass_fields__:
                setattr(self.faults, key, getattr(fresh, key))
            self.faults_set_at = time.monotonic()
            self.random.seed(fresh.seed)
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/export" and method == "POST":
            try:
                publishing.configure(spec)
            except ValueError as e:
                return self.respond(start_response, 400, {"error": str(e)})
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/regions" and method == "POST":
            regions.configure(spec)
            return self.respond(start_response, 200, {"ok": True})
        if path == "/_emulator/organization" and method == "POST":
            return self.respond(start_response, 200, self.seed_organization(spec))
        if path == "/_emulator/reset" and method == "POST":
            from moto.moto_api._internal import moto_api_backend

            moto_api_backend.reset()
            _accounts_by_key.clear()
            self.guardduty.reset()
            self.world.reset()
            regions.reset()
            publishing.reset()
            lists.reset()
            self.organizations.by_parent = (None, {})
            with self.lock:
                self.log.clear()
            for key in Faults.__dataclass_fields__:
                setattr(self.faults, key, getattr(Faults(), key))
            return self.respond(start_response, 200, {"ok": True})
        return self.respond(start_response, 404, {"error": f"no control endpoint {method} {path}"})

    def state(self) -> dict:
        """GuardDuty's state, the organization's trusted access and GuardDuty policies, and which account each
        CreateAccount request made."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.organizations.models import organizations_backends

        state = self.guardduty.snapshot()
        state["publishing_destinations"] = publishing.snapshot(self.guardduty)
        state["filters"], state["lists"] = lists.snapshot(self.guardduty)
        state["trusted_access"] = Organizations.trusted_access(DEFAULT_ACCOUNT_ID)
        with self.guardduty.lock:
            state.update(Organizations.policy_state(DEFAULT_ACCOUNT_ID))
        backend = organizations_backends[DEFAULT_ACCOUNT_ID]["aws"]
        state["create_requests"] = {a.create_account_status_id: a.id for a in backend.accounts} if backend.org else {}
        return state

    def seed_organization(self, spec: dict) -> dict:
        """Creates an organization whose management account is `management` (default: moto's default account)
        with `accounts` ACTIVE members and `suspended` SUSPENDED ones."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.organizations.models import organizations_backends

        management = spec.get("management", DEFAULT_ACCOUNT_ID)
        backend = organizations_backends[management]["aws"]
        if backend.org is None:
            backend.create_organization(region="us-east-1", FeatureSet="ALL")
        created, suspended = [], []
        for i in range(int(spec.get("accounts", 0))):
            status = backend.create_account(AccountName=f"member-{i}", Email=f"member-{i}@example.com")
            created.append(status["CreateAccountStatus"]["AccountId"])
        for i in range(int(spec.get("suspended", 0))):
            status = backend.create_account(AccountName=f"closed-{i}", Email=f"closed-{i}@example.com")
            account_id = status["CreateAccountStatus"]["AccountId"]
            backend.close_account(AccountId=account_id)
            suspended.append(account_id)
        return {"management": management, "accounts": created, "suspended": suspended,
                "root": backend.org.root_id if hasattr(backend.org, "root_id") else None}

    # ---- requests --------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self.control(environ, start_response)
        key, region, service = credential_scope(environ)
        body = self.read_body(environ)
        environ["wsgi.input"] = _Replay(body)
        if service is None:
            return self.moto(environ, start_response)
        account = account_of(key)
        operation = self.operation_of(service, environ, body)
        entry = {"service": service, "operation": operation, "account": account, "region": region,
                 "kind": kind_of(service, operation), "time": time.time()}
        arrived = time.monotonic()
        status, payload, headers = self.answer(environ, path, body, entry)
        self.record(**entry, status=status, error=headers.pop("x-emulator-error", None))
        # The injected latency stands for the network and the service: the answer leaves that long after the call
        # arrived, whatever part of it the emulator spent computing the answer.
        if self.faults.latency_ms:
            remaining = self.faults.latency_ms / 1000.0 - (time.monotonic() - arrived)
            if remaining > 0:
                time.sleep(remaining)
        return self.respond(start_response, status, payload, headers)

    def answer(self, environ, path: str, body: bytes, entry: dict) -> tuple[int, bytes | dict, dict]:
        """(status, body, headers) for one AWS call; an error's code rides in the x-emulator-error header."""
        service, operation, account, region = entry["service"], entry["operation"], entry["account"], entry["region"]
        exporting = service == "guardduty" and publishing.matches(path)
        if exporting:  # the publishing-destination operations are publishing.py's, and so are their names
            operation = publishing.operation(environ["REQUEST_METHOD"], path)[0] or "Unknown"
            entry["operation"], entry["kind"] = operation, kind_of(service, operation)
        listing = service == "guardduty" and lists.matches(path)
        if listing:  # the saved filters and the trusted and threat lists are lists.py's, and so are their names
            operation = lists.operation(environ["REQUEST_METHOD"], path)[0] or "Unknown"
            entry["operation"], entry["kind"] = operation, kind_of(service, operation)

        def error(status: int, code: str, message: str, kind: str | None = None, reason: str | None = None):
            payload, headers = self.error_body(service, code, message, kind, reason)
            return status, payload, {**headers, "x-emulator-error": code}

        denied = scp.denial(self.world, service, operation, account, region, credential_scope(environ)[0],
                            environ["REQUEST_METHOD"], path)
        if denied:
            entry["operation"], entry["kind"] = denied[0], kind_of(service, denied[0])
            return self.scp_denied(environ, service, denied[1])
        if (credential_scope(environ)[0] or "").startswith("EXPIRED"):
            return self.expired(environ)
        if service == "sts" and operation == "AssumeRole" and \
                time.monotonic() - self.faults_set_at < self.faults.assume_role_denied_seconds:
            return 403, ASSUME_ROLE_DENIED, {"Content-Type": "text/xml", "x-emulator-error": "AccessDenied"}
        fault = self.injected_fault(service, region, operation)
        if fault:
            status, code, message = fault
            return error(status, code, message, "InvalidInputException" if code == "BadRequestException" else None)
        if listing:
            try:
                status, headers, payload = lists.handle(
                    self.guardduty, environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), body, account,
                    region)
            except ApiError as e:
                return error(e.status, e.code, e.message, e.kind)
            return status, payload, headers
        if exporting:
            try:
                status, headers, payload = publishing.handle(
                    self.guardduty, environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), body, account,
                    region)
            except ApiError as e:
                return error(e.status, e.code, e.message, e.kind)
            return status, payload, headers
        if service == "guardduty":
            try:
                status, headers, payload = self.guardduty.handle(
                    environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), body, account, region)
            except ApiError as e:
                return error(e.status, e.code, e.message, e.kind)
            return status, payload, headers
        if service == "organizations" and operation in ORGANIZATIONS_HANDLED:
            try:
                with self.guardduty.lock:
                    return 200, self.organizations.handle(operation, body, account), {}
            except OrgError as e:
                return error(400, e.code, e.message, reason=e.reason)
        if service == "controltower":
            try:
                _, out = controltower.handle(self.world, environ["REQUEST_METHOD"], path, body, account, region)
            except controltower.CtError as e:
                return error(e.status, e.code, e.message)
            return 200, out, {}
        if service == "account" and path in ACCOUNT_OPERATIONS:
            try:
                _, out = regions.handle(environ["REQUEST_METHOD"], path, body, account)
            except regions.AccountApiError as e:
                return error(e.status, e.code, e.message)
            return 200, out, {}
        if service == "events" and operation == "PutTargets":
            refused = cross_region_target_without_role(body, region)
            if refused:
                return error(400, "ValidationException", refused)
        return self.answer_with_moto(environ, entry)

    def answer_with_moto(self, environ, entry: dict) -> tuple[int, bytes, dict]:
        captured = {}

        def capture(status_line, headers, exc_info=None):
            captured["status"], captured["headers"] = int(status_line.split()[0]), headers
            return lambda data: None

        payload = b"".join(self.moto(environ, capture))
        status = captured.get("status", 0)
        if entry["service"] == "organizations" and entry["operation"] == "CreateAccount" and status == 200:
            made = json.loads(payload).get("CreateAccountStatus", {}).get("AccountId")
            if made:
                regions.created(made)
            payload = self.organizations.rewrite_create_account(entry["account"], payload)
        headers = {k: v for k, v in captured.get("headers", []) if k.lower() != "content-length"}
        return status, payload, headers


_accounts_by_key: dict = {}


def cross_region_target_without_role(body: bytes, region: str) -> str | None:
    """Why PutTargets is refused, or None: a rule that sends to an event bus in another region needs a role that
    may put events on it ("Sending and receiving events between AWS Regions in Amazon EventBridge": the target is
    the other region's bus, with an execution role allowed events:PutEvents on it; "Permissions for event buses":
    "We recommend always using IAM roles when the target of a rule is an event bus"). Moto accepts such a target
    without one; how AWS words the refusal is not documented (this wording is a guess)."""
    try:
        targets = json.loads(body or b"{}").get("Targets", [])
    except ValueError:
        return None
    for target in targets:
        arn = str(target.get("Arn", ""))
        parts = arn.split(":")
        if len(parts) > 5 and parts[2] == "events" and parts[5].startswith("event-bus/") and parts[3] != region \
                and not target.get("RoleArn"):
            return f"RoleArn is required for target {arn}."
    return None


def account_of(access_key: str) -> str:
    """The account an access key belongs to. moto looks through every account's IAM for each request, which an
    organization of 10,000 accounts makes slow; a key never moves, so the answer is kept."""
    from moto.iam.models import get_account_id_from

    if access_key not in _accounts_by_key:
        _accounts_by_key[access_key] = get_account_id_from(access_key)
    return _accounts_by_key[access_key]


class _Replay:
    """A wsgi.input that can be read again after the emulator looked at the body."""

    def __init__(self, data: bytes):
        import io

        self._io = io.BytesIO(data)

    def read(self, *args):
        return self._io.read(*args)

    def readline(self, *args):
        return self._io.readline(*args)

    def __iter__(self):
        return iter(self._io)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4599)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the emulator listens on loopback only")
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        """HTTP/1.1, so that a client's connections are kept between its calls, as AWS's endpoints keep them."""

        protocol_version = "HTTP/1.1"

        def log_request(self, *args, **kwargs):
            pass

    server = make_server(args.host, args.port, Emulator(), threaded=True, request_handler=KeepAlive)
    print(f"emulator listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
