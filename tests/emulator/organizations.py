"""AWS Organizations for the local emulator: moto's backend, with the operations whose AWS behaviour moto does not
have answered here.

- ListAccounts pages at most 20 accounts (API reference: "MaxResults ... Maximum value of 20"), so that a client
  that does not follow NextToken is caught, and an organization of 10,000 accounts is listed in 500 pages.
  ListAccountsForParent likewise (moto's own looks through every account for every page, which makes an organization
  of 10,000 accounts slow to walk): the accounts directly under the parent, in creation order;
  ParentNotFoundException where the parent is not a root or organizational unit.
- CreateAccount is asynchronous (API reference: it "returns an ... CreateAccountStatus ... IN_PROGRESS"): with
  `create_account_seconds` set, a new account stays IN_PROGRESS that long. CreateAccount's answer and
  DescribeCreateAccountStatus say so, without an account id, and the account is not listed or described yet.
- Trusted access for `malware-protection.guardduty.amazonaws.com` (GuardDuty User Guide, "Enabling
  GuardDuty-initiated malware scan in multiple-account environments") is a service principal Organizations
  accepts; so is `account.amazonaws.com` (AWS Account Management,
  https://docs.aws.amazon.com/accounts/latest/reference/using-orgs-trusted-access.html; moto 5.2 lists it already),
  which may also have a delegated administrator
  (https://docs.aws.amazon.com/accounts/latest/reference/using-orgs-delegated-admin.html; moto's list lacks it).
- GuardDuty policies, the policy type GUARDDUTY_POLICY ("Amazon GuardDuty policies",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_guardduty.html; syntax and
  effective policies in policies.py): moto learns the type, so that EnablePolicyType, DisablePolicyType, ListRoots,
  DescribePolicy, DeletePolicy, ListPolicies, ListPoliciesForTarget and ListTargetsForPolicy work for it as for its
  own types. Answered here, as each operation's API reference has it
  (https://docs.aws.amazon.com/organizations/latest/APIReference/API_<Operation>.html):
  - CreatePolicy and UpdatePolicy refuse content that is not GuardDuty policy syntax
    (MalformedPolicyDocumentException) and a second GuardDuty policy of the same name (DuplicatePolicyException);
    the policy's ARN is `arn:aws:organizations::<management>:policy/o-<org>/guardduty_policy/p-<id>` (as the other
    types spell theirs; not documented for this one).
  - AttachPolicy needs the type enabled on the root (PolicyTypeNotEnabledException) and refuses an attachment that
    exists (DuplicatePolicyAttachmentException); DetachPolicy one that does not (PolicyNotAttachedException). A
    target is the root, an OU at any depth, or an account (TargetNotFoundException otherwise).
  - DisablePolicyType detaches every GuardDuty policy from every entity; the policies stay ("Disabling a policy
    type", https://docs.aws.amazon.com/organizations/latest/userguide/disable-policy-type.html).
  - DescribeEffectivePolicy for an account (a root or OU target "is not supported": InvalidInputException, reason
    TARGET_NOT_SUPPORTED); EffectivePolicyNotFoundException when the type is not enabled or nothing is attached on
    the account's path. Any account may ask about itself ("You can call this operation from any account in a
    organization"), the management account about any account; another account's question is refused
    (AccessDeniedException; not documented; modelled as that). Other policy types are not modelled here.
  - ListAccountsWithInvalidEffectivePolicy: the accounts whose effective policy breaks the syntax's rules, paged
    like ListAccounts.
  - Every change to a GuardDuty policy's content or attachments, the type's enabling and disabling, and MoveAccount
    tell policies.py which accounts are due for enforcement.
- Service control policies (SERVICE_CONTROL_POLICY) are moto's, with what moto answers otherwise than AWS answered
  here (API references as above): EnablePolicyType and DisablePolicyType are asynchronous as for GuardDuty policies
  (moto's are immediate), and disabling detaches every SCP ("When you disable the SCP policy type in a root, all SCPs
  are automatically detached", "Service control policies (SCPs)",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html); AttachPolicy needs the
  type ENABLED (PolicyTypeNotEnabledException) and refuses an attachment that exists
  (DuplicatePolicyAttachmentException; moto accepts both); CreatePolicy and UpdatePolicy refuse content that is not a
  JSON object (MalformedPolicyDocumentException) or longer than 5,120 characters (ConstraintViolationException,
  POLICY_CONTENT_LIMIT_EXCEEDED; "Service control policies: 5,120 characters", "Quotas and service limits for AWS
  Organizations", https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html). What an SCP
  denies is not evaluated (scp.py models the Region deny control alone).
"""

from __future__ import annotations

import json
import time

import policies
from guardduty import created_at, org_account, organization_of

MAX_PAGE = 20
SCP_TYPE = "SERVICE_CONTROL_POLICY"
SCP_CONTENT_LIMIT = 5_120
# The policy types whose enabling and disabling are asynchronous here.
ASYNC_TYPES = (policies.POLICY_TYPE, SCP_TYPE)
EXTRA_TRUSTED_SERVICES = ["malware-protection.guardduty.amazonaws.com", "account.amazonaws.com"]
EXTRA_DELEGATED_SERVICES = ["account.amazonaws.com"]
HANDLED = {
    "ListAccounts", "ListAccountsForParent", "DescribeAccount", "DescribeCreateAccountStatus", "MoveAccount", "ListRoots",
    "EnablePolicyType", "DisablePolicyType", "CreatePolicy", "UpdatePolicy", "AttachPolicy", "DetachPolicy",
    "DescribeEffectivePolicy", "ListAccountsWithInvalidEffectivePolicy",
}
POLICY_ARN_FORMAT = "arn:{0}:organizations::{1}:policy/{2}/guardduty_policy/{3}"
MSG_TARGET_NOT_FOUND = "We can't find a root, OU, account, or policy with the TargetId that you specified."
MSG_NO_EFFECTIVE_POLICY = (
    "If you ran this action on the management account, this policy type is not enabled. If you ran the action on a "
    "member account, the account doesn't have an effective policy of this type."
)


class OrgError(Exception):
    def __init__(self, code: str, message: str, reason: str | None = None):
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


def constraint(reason: str, message: str) -> OrgError:
    """A ConstraintViolationException with its Reason ("This exception includes a reason that contains additional
    information about the violated limit", Organizations API reference, ConstraintViolationException)."""
    return OrgError("ConstraintViolationException", message, reason)


def extend_trusted_services() -> None:
    """What moto's Organizations lacks for GuardDuty: its extra service principal, and its policy type; and Account
    Management's principal and delegated administrator."""
    from moto.organizations.models import FakeDelegatedAdministrator, FakePolicy, FakeRoot, FakeServiceAccess

    for principal in EXTRA_TRUSTED_SERVICES:
        if principal not in FakeServiceAccess.TRUSTED_SERVICES:
            FakeServiceAccess.TRUSTED_SERVICES.append(principal)
    for principal in EXTRA_DELEGATED_SERVICES:
        if principal not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(principal)
    for known in (FakeRoot.SUPPORTED_POLICY_TYPES, FakePolicy.SUPPORTED_POLICY_TYPES):
        if policies.POLICY_TYPE not in known:
            known.append(policies.POLICY_TYPE)


def via_moto(method, **kwargs):
    """A moto backend call, its errors as this module raises them."""
    from moto.organizations.exceptions import OrganizationsClientError

    try:
        return method(**kwargs)
    except OrganizationsClientError as e:
        raise OrgError(e.code, e.message)


def page(items: list, req: dict) -> tuple[list, str | None]:
    """One page of a list operation: MaxResults at most 20 (API reference: "Maximum value of 20"), NextToken an
    offset."""
    size = req.get("MaxResults", MAX_PAGE)
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
        raise OrgError("InvalidInputException",
                       f"You provided a value that does not match the required pattern: MaxResults must be 1 to {MAX_PAGE}.")
    try:
        start = int(req.get("NextToken") or 0)
    except ValueError:
        raise OrgError("InvalidInputException", "The NextToken is not valid.")
    return items[start:start + size], str(start + size) if start + size < len(items) else None


def content_of(req: dict) -> str:
    """A GuardDuty policy's content, checked (policies.blocks_of) and at most CONTENT_LIMIT characters as given."""
    try:
        policies.blocks_of(req.get("Content"))
    except ValueError:
        raise OrgError("MalformedPolicyDocumentException",
                       "The provided policy document doesn't meet the requirements of the specified policy type.")
    if len(req["Content"]) > policies.CONTENT_LIMIT:
        raise constraint("POLICY_CONTENT_LIMIT_EXCEEDED",
                         "You attempted to create a policy that is larger than the maximum size.")
    return req["Content"]


def scp_content_of(req: dict) -> str:
    """A service control policy's content: a JSON object of at most SCP_CONTENT_LIMIT characters as given (IAM's own
    grammar is not checked)."""
    content = req.get("Content")
    try:
        if not isinstance(json.loads(content), dict):
            raise ValueError("not an object")
    except (TypeError, ValueError):
        raise OrgError("MalformedPolicyDocumentException",
                       "The provided policy document doesn't meet the requirements of the specified policy type.")
    if len(content) > SCP_CONTENT_LIMIT:
        raise constraint("POLICY_CONTENT_LIMIT_EXCEEDED",
                         "You attempted to create a policy that is larger than the maximum size.")
    return content


def unique_name(backend, name, policy=None) -> None:
    """GuardDuty policy names are unique among the type's policies (other types may have the name)."""
    if any(p.type == policies.POLICY_TYPE and p.name == name and p is not policy for p in backend.policies):
        raise OrgError("DuplicatePolicyException", "A policy with the same name already exists.")


def target_of(backend, target_id):
    """The root, OU or account `target_id` names."""
    node = next((o for o in backend.ou if o.id == target_id), None) or org_account(backend, target_id)
    if node is None:
        raise OrgError("TargetNotFoundException", MSG_TARGET_NOT_FOUND)
    return node


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
        self.moves = 0
        self.by_parent: tuple = (None, {})

    def in_progress(self, acct) -> bool:
        return time.time() - created_at(acct) < self.world.create_account_seconds

    def visible(self, backend):
        return [a for a in backend.accounts if not self.in_progress(a)] if self.world.create_account_seconds else backend.accounts

    def handle(self, operation: str, body: bytes, account: str) -> dict:
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            raise OrgError("InvalidInputException", "The request body is not JSON.")
        if not isinstance(req, dict):
            raise OrgError("InvalidInputException", "The request body is not a JSON object.")
        if operation == "DescribeEffectivePolicy":
            return self.op_DescribeEffectivePolicy(account, req)
        backend = backend_of(account)
        return getattr(self, "op_" + operation)(backend, req)

    def op_ListAccounts(self, backend, req):
        chunk, token = page(self.visible(backend), req)
        out = {"Accounts": [a.describe() for a in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def op_ListAccountsForParent(self, backend, req):
        parent = req.get("ParentId")
        if not any(o.id == parent for o in backend.ou):
            raise OrgError("ParentNotFoundException", "You specified parent that doesn't exist.")
        chunk, token = page(self.children(backend).get(parent, []), req)
        out = {"Accounts": [a.describe() for a in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def children(self, backend) -> dict:
        """The visible accounts by parent, in creation order, kept until an account is created, moved or appears."""
        visible = self.visible(backend)
        key = (id(backend), len(visible), self.moves)
        if self.by_parent[0] != key:
            index: dict = {}
            for acct in visible:
                index.setdefault(acct.parent_id, []).append(acct)
            self.by_parent = (key, index)
        return self.by_parent[1]

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

    def op_MoveAccount(self, backend, req):
        via_moto(backend.move_account, **req)
        self.moves += 1
        policies.changes.changed(backend, req["AccountId"])
        return {}

    def op_ListRoots(self, backend, req):
        for policy_type in ASYNC_TYPES:
            policies.type_status(backend, policy_type)  # a pending enabling or disabling that is due shows settled
        return via_moto(backend.list_roots)

    # ---- GuardDuty policies (and the asynchrony of service control policies) -----------------------------------------
    def op_EnablePolicyType(self, backend, req):
        policy_type = req.get("PolicyType")
        if policy_type not in ASYNC_TYPES:
            return via_moto(backend.enable_policy_type, **req)
        via_moto(backend._get_root_by_id, root_id=req.get("RootId"))
        status = policies.type_status(backend, policy_type)
        if status == "PENDING_DISABLE":
            raise OrgError("ConcurrentModificationException", "The target of the operation is currently being modified "
                           "by a different request. Try again later.")
        if status is not None:
            raise OrgError("PolicyTypeAlreadyEnabledException", "The specified policy type is already enabled.")
        policies.set_type_status(backend, "PENDING_ENABLE", "ENABLED", self.world.policy_type_seconds, policy_type)
        if policy_type == policies.POLICY_TYPE:
            policies.changes.changed(backend, backend.org.root_id)
        return {"Root": policies.root_of(backend).describe()}

    def op_DisablePolicyType(self, backend, req):
        policy_type = req.get("PolicyType")
        if policy_type not in ASYNC_TYPES:
            return via_moto(backend.disable_policy_type, **req)
        via_moto(backend._get_root_by_id, root_id=req.get("RootId"))
        if policies.type_status(backend, policy_type) != "ENABLED":
            raise OrgError("PolicyTypeNotEnabledException",
                           "The specified policy type isn't currently enabled in this root.")
        # "When you disable a policy type, all policies of the specified type are automatically detached from all
        # entities in the organization root. The policies are not deleted." ("Disabling a policy type")
        for policy in backend.policies:
            if policy.type == policy_type:
                for node in policy.attachments:
                    node.attached_policies.remove(policy)
                policy.attachments.clear()
        policies.set_type_status(backend, "PENDING_DISABLE", None, self.world.policy_type_seconds, policy_type)
        if policy_type == policies.POLICY_TYPE:
            policies.changes.changed(backend, backend.org.root_id)
        return {"Root": policies.root_of(backend).describe()}

    def op_CreatePolicy(self, backend, req):
        from moto.organizations.models import FakePolicy

        if req.get("Type") == SCP_TYPE:
            scp_content_of(req)
        if req.get("Type") != policies.POLICY_TYPE:
            return via_moto(backend.create_policy, **req)
        content_of(req)
        unique_name(backend, req.get("Name"))
        # moto's constructor has an ARN format for its own types only: the policy is made as one, then retyped
        policy = FakePolicy(backend.org, **{**req, "Type": "TAG_POLICY"})
        policy.type, policy._arn_format = policies.POLICY_TYPE, POLICY_ARN_FORMAT
        backend.policies.append(policy)
        return policy.describe()

    def op_UpdatePolicy(self, backend, req):
        policy = via_moto(backend.get_policy_by_id, policy_id=req.get("PolicyId"))
        if policy.type == SCP_TYPE and "Content" in req:
            scp_content_of(req)
        if policy.type != policies.POLICY_TYPE:
            return via_moto(backend.update_policy, **req)
        if "Name" in req:
            unique_name(backend, req["Name"], policy)
        content = content_of(req) if "Content" in req else policy.content
        policy.name = req.get("Name", policy.name)
        policy.description = req.get("Description", policy.description)
        if content != policy.content:
            policy.content = content
            for node in policy.attachments:
                policies.changes.changed(backend, node.id)
        return policy.describe()

    def op_AttachPolicy(self, backend, req):
        policy = via_moto(backend.get_policy_by_id, policy_id=req.get("PolicyId"))
        if policy.type == SCP_TYPE:
            if not policies.type_enabled(backend, SCP_TYPE):
                raise OrgError("PolicyTypeNotEnabledException",
                               "The specified policy type isn't currently enabled in this root.")
            if any(node.id == req.get("TargetId") for node in policy.attachments):
                raise OrgError("DuplicatePolicyAttachmentException",
                               "The selected policy is already attached to the specified target.")
        if policy.type != policies.POLICY_TYPE:
            return via_moto(backend.attach_policy, **req) or {}
        if not policies.type_enabled(backend):
            raise OrgError("PolicyTypeNotEnabledException",
                           "The specified policy type isn't currently enabled in this root.")
        node = target_of(backend, req.get("TargetId"))
        if policy in node.attached_policies:
            raise OrgError("DuplicatePolicyAttachmentException",
                           "The selected policy is already attached to the specified target.")
        if sum(p.type == policies.POLICY_TYPE for p in node.attached_policies) >= policies.ATTACHED_LIMIT:
            raise constraint("MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED", "You attempted to exceed the number of "
                             "policies of a certain type that can be attached to an entity at one time.")
        node.attached_policies.append(policy)
        policy.attachments.append(node)
        policies.changes.changed(backend, node.id)
        return {}

    def op_DetachPolicy(self, backend, req):
        policy = via_moto(backend.get_policy_by_id, policy_id=req.get("PolicyId"))
        if policy.type != policies.POLICY_TYPE:
            return via_moto(backend.detach_policy, **req) or {}
        node = target_of(backend, req.get("TargetId"))
        if policy not in node.attached_policies:
            raise OrgError("PolicyNotAttachedException",
                           "The policy isn't attached to the specified target in the specified root.")
        node.attached_policies.remove(policy)
        policy.attachments.remove(node)
        policies.changes.changed(backend, node.id)
        return {}

    @staticmethod
    def guardduty_type(req: dict) -> None:
        if req.get("PolicyType") != policies.POLICY_TYPE:
            raise OrgError("InvalidInputException",
                           f"The emulator models effective policies of type {policies.POLICY_TYPE} only.")

    def op_DescribeEffectivePolicy(self, caller: str, req):
        self.guardduty_type(req)
        backend = organization_of(caller)
        if backend is None:
            raise OrgError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
        target = req.get("TargetId") or caller
        if target.startswith(("r-", "ou-")):
            raise OrgError("InvalidInputException", "You can't perform the specified operation on that target entity.")
        if caller not in (target, backend.org.master_account_id):
            raise OrgError("AccessDeniedException", "You don't have permissions to perform the requested operation.")
        acct = org_account(backend, target)
        if acct is None:
            raise OrgError("TargetNotFoundException", MSG_TARGET_NOT_FOUND)
        blocks = policies.effective(backend, acct)
        if blocks is None:
            raise OrgError("EffectivePolicyNotFoundException", MSG_NO_EFFECTIVE_POLICY)
        return {"EffectivePolicy": {
            "PolicyContent": json.dumps({"guardduty": {"enablement": blocks}}),
            "LastUpdatedTimestamp": policies.last_updated(backend, acct),
            "TargetId": target,
            "PolicyType": policies.POLICY_TYPE,
        }}

    def op_ListAccountsWithInvalidEffectivePolicy(self, backend, req):
        self.guardduty_type(req)
        if not policies.type_enabled(backend):
            raise OrgError("EffectivePolicyNotFoundException", MSG_NO_EFFECTIVE_POLICY)
        invalid = []
        for acct in self.visible(backend):
            blocks = policies.effective(backend, acct)
            if blocks and policies.invalid_blocks(blocks):
                invalid.append(acct)
        chunk, token = page(invalid, req)
        out = {"Accounts": [a.describe() for a in chunk], "PolicyType": policies.POLICY_TYPE}
        if token:
            out["NextToken"] = token
        return out

    @staticmethod
    def policy_state(account: str) -> dict:
        """For the emulator's state: the root's policy types, and the GuardDuty policies with their targets."""
        try:
            backend = backend_of(account)
        except OrgError:
            return {"policy_types": [], "policies": []}
        root = next(o for o in backend.ou if o.id == backend.org.root_id)
        return {
            "policy_types": list(root.policy_types),
            "policies": [
                {"id": p.id, "name": p.name, "type": p.type, "content": json.loads(p.content),
                 "targets": [node.id for node in p.attachments]}
                for p in backend.policies if p.type == policies.POLICY_TYPE
            ],
        }

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
