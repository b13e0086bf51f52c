"""AWS Organizations for the local emulator: moto's backend, with the operations whose AWS behaviour moto does not
have answered here.

- ListAccounts pages at most 20 accounts (API reference: "MaxResults ... Maximum value of 20"), so that a client
  that does not follow NextToken is caught, and an organization of 10,000 accounts is listed in 500 pages.
- CreateAccount is asynchronous (API reference: it "returns an ... CreateAccountStatus ... IN_PROGRESS"): with
  `create_account_seconds` set, a new account stays IN_PROGRESS that long. CreateAccount's answer and
  DescribeCreateAccountStatus say so, without an account id, and the account is not listed or described yet.
- Trusted access for `malware-protection.guardduty.amazonaws.com` (GuardDuty User Guide, "Enabling
  GuardDuty-initiated malware scan in multiple-account environments") is a service principal Organizations
  accepts.
"""

from __future__ import annotations

import json
import time

from guardduty import created_at

MAX_PAGE = 20
EXTRA_TRUSTED_SERVICES = ["malware-protection.guardduty.amazonaws.com"]
HANDLED = {"ListAccounts", "DescribeAccount", "DescribeCreateAccountStatus"}


class OrgError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def extend_trusted_services() -> None:
    from moto.organizations.models import FakeServiceAccess

    for principal in EXTRA_TRUSTED_SERVICES:
        if principal not in FakeServiceAccess.TRUSTED_SERVICES:
            FakeServiceAccess.TRUSTED_SERVICES.append(principal)


def backend_of(account: str):
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[account]["aws"]
    if backend.org is None:
        raise OrgError("AWSOrganizationsNotInUseException",
                       "Your account is not a member of an organization.")
    return backend


def requested(backend, request_id):
    """The account a CreateAccount request made (or is making), if any."""
    return next((a for a in backend.accounts if a.create_account_status_id == request_id), None)


class Organizations:
    """The operations answered here; the rest go to moto."""

    def __init__(self, world):
        self.world = world

    def in_progress(self, acct) -> bool:
        return time.time() - created_at(acct) < self.world.create_account_seconds

    def visible(self, backend):
        return [a for a in backend.accounts if not self.in_progress(a)] if self.world.create_account_seconds else backend.accounts

    def handle(self, operation: str, body: bytes, account: str) -> dict:
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            raise OrgError("InvalidInputException", "The request body is not JSON.")
        backend = backend_of(account)
        return getattr(self, "op_" + operation)(backend, req)

    def op_ListAccounts(self, backend, req):
        size = req.get("MaxResults", MAX_PAGE)
        if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
            raise OrgError("InvalidInputException",
                           f"You provided a value that does not match the required pattern: MaxResults must be 1 to {MAX_PAGE}.")
        try:
            start = int(req.get("NextToken") or 0)
        except ValueError:
            raise OrgError("InvalidInputException", "The NextToken is not valid.")
        accounts = self.visible(backend)
        chunk = [a.describe() for a in accounts[start:start + size]]
        out = {"Accounts": chunk}
        if start + size < len(accounts):
            out["NextToken"] = str(start + size)
        return out

    def op_DescribeAccount(self, backend, req):
        acct = next((a for a in self.visible(backend) if a.id == req.get("AccountId")), None)
        if acct is None:
            raise OrgError("AccountNotFoundException",
                           "You specified an account that doesn't exist.")
        return {"Account": acct.describe()}

    def op_DescribeCreateAccountStatus(self, backend, req):
        acct = requested(backend, req.get("CreateAccountRequestId"))
        if acct is None:
            raise OrgError("CreateAccountStatusNotFoundException",
                           "We can't find a create account request with the CreateAccountRequestId that you specified.")
        return self.status_of(acct)

    def status_of(self, acct) -> dict:
        status = acct.create_account_status
        if self.in_progress(acct):
            s = status["CreateAccountStatus"]
            status = {"CreateAccountStatus": {"Id": s["Id"], "AccountName": s["AccountName"], "State": "IN_PROGRESS",
                                              "RequestedTimestamp": s["RequestedTimestamp"]}}
        return status

    def rewrite_create_account(self, account: str, payload: bytes) -> bytes:
        """CreateAccount as AWS answers it: IN_PROGRESS, with no account id, while the creation runs."""
        if not self.world.create_account_seconds:
            return payload
        try:
            out = json.loads(payload)
            request_id = out["CreateAccountStatus"]["Id"]
        except (ValueError, KeyError, TypeError):
            return payload
        acct = requested(backend_of(account), request_id)
        return json.dumps(self.status_of(acct)).encode() if acct else payload

    @staticmethod
    def trusted_access(account: str) -> list[str]:
        try:
            backend = backend_of(account)
        except OrgError:
            return []
        return sorted(s["ServicePrincipal"] for s in backend.list_aws_service_access_for_organization()["EnabledServicePrincipals"])
