"""GuardDuty organization policies (the Organizations policy type GUARDDUTY_POLICY) for the local emulator: their
syntax, how they combine into an account's effective policy, and which accounts a change concerns.

organizations.py answers the Organizations operations with them; guardduty.py enforces the effective policies.
What this module follows (each with its page):
- Syntax ("GuardDuty policy syntax and examples",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_guardduty_syntax.html, and the
  key table of "Amazon GuardDuty policies",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_guardduty.html):
  `{"guardduty": {"enablement": {<block>: {<key>: {"status": {"@@assign": "enabled"|"disabled"}}}}}}`, a block
  being `default` or a region name, at least one block; `runtime_monitoring` alone has an `additional_configuration`
  of three agent keys. Anything else is malformed.
- A block that enables a plan without `foundational` enabled breaks the rules: a policy like that is refused, an
  effective policy like that is invalid (`invalid_blocks`).
- Effective policy ("Understanding declarative policy inheritance",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_inheritance_mgmt.html): the policies
  attached along the path root -> each OU -> the account, top down, each child's `@@assign` overwriting what it
  inherits key by key; policies attached to one target are merged in policy-id order (not documented; modelled as
  that). `default` and region blocks merge as separate keys; the region-replaces-default rule is the enforcer's.
  Values are kept with the operators resolved ("status": "enabled"), which is how DescribeEffectivePolicy shows them
  here (the effective policy "includes the effect of all of the inheritance operators").
- Enforcement is eventually consistent (not documented; modelled as `policy_enforcement_seconds`): `changes` keeps,
  per account, the latest change that concerns it (the type's enabling or disabling, a content or attachment change on
  its path, its move, its creation) until guardduty.py has brought the account to it.

The module's state is read and written under the GuardDuty lock, which every caller holds.
"""

from __future__ import annotations

import json
import re
import time

POLICY_TYPE = "GUARDDUTY_POLICY"
# Policy key -> the GuardDuty feature it governs ("GuardDuty policy feature mapping"); `foundational` is the detector.
FEATURES = {
    "s3_data_events": "S3_DATA_EVENTS",
    "eks_audit_logs": "EKS_AUDIT_LOGS",
    "ebs_malware_protection": "EBS_MALWARE_PROTECTION",
    "rds_login_events": "RDS_LOGIN_EVENTS",
    "lambda_network_logs": "LAMBDA_NETWORK_LOGS",
    "runtime_monitoring": "RUNTIME_MONITORING",
    "ai_protection": "AI_PROTECTION",
}
AGENTS = {
    "eks_addon_management": "EKS_ADDON_MANAGEMENT",
    "ecs_fargate_agent_management": "ECS_FARGATE_AGENT_MANAGEMENT",
    "ec2_agent_management": "EC2_AGENT_MANAGEMENT",
}
# Block names: `default` or a region name (what a region name may be is not documented; modelled as AWS spells them).
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


# The quotas of the other management policy types ("Quotas and service limits for AWS Organizations": backup, tag,
# Security Hub and declarative policies hold at most 10,000 characters of content, and at most 10 of a type attach to
# one root, OU or account; the page has no row for GUARDDUTY_POLICY, modelled as the same). Saved through the API,
# "the policy is saved exactly as you provided": white space counts.
CONTENT_LIMIT = 10_000
ATTACHED_LIMIT = 10

# EnablePolicyType and DisablePolicyType are asynchronous ("This is an asynchronous request that AWS performs in the
# background. AWS recommends that you first use ListRoots to see the status of policy types", EnablePolicyType API
# reference; PolicyTypeSummary's Status: ENABLED | PENDING_ENABLE | PENDING_DISABLE): (root id, policy type) -> (when
# the pending status settles, the type's status then, or None for removed). GUARDDUTY_POLICY's, and
# SERVICE_CONTROL_POLICY's (organizations.py).
_settling: dict[tuple[str, str], tuple[float, str | None]] = {}


def root_of(backend):
    return next((o for o in backend.ou if o.id == backend.org.root_id), None)


def type_status(backend, policy_type: str = POLICY_TYPE) -> str | None:
    """The type's status on the root (ListRoots' PolicyTypes), its pending change settled when due."""
    root = root_of(backend)
    if root is None:
        return None
    due = _settling.get((root.id, policy_type))
    if due is not None and time.time() >= due[0]:
        del _settling[(root.id, policy_type)]
        root.policy_types[:] = [t for t in root.policy_types if t["Type"] != policy_type]
        if due[1] is not None:
            root.policy_types.append({"Type": policy_type, "Status": due[1]})
    return next((t["Status"] for t in root.policy_types if t["Type"] == policy_type), None)


def set_type_status(backend, pending: str, settled: str | None, seconds: float, policy_type: str = POLICY_TYPE) -> None:
    """Starts an enabling (PENDING_ENABLE, then ENABLED) or a disabling (PENDING_DISABLE, then gone) of the type."""
    root = root_of(backend)
    root.policy_types[:] = [t for t in root.policy_types if t["Type"] != policy_type]
    root.policy_types.append({"Type": policy_type, "Status": pending})
    _settling[(root.id, policy_type)] = (time.time() + seconds, settled)
    type_status(backend, policy_type)


def type_enabled(backend, policy_type: str = POLICY_TYPE) -> bool:
    """Whether the type is enabled on the organization's root: ENABLED, not still PENDING_ENABLE ("To attach a policy
    of the specified type to a root or to an OU or account in that root, it must be available in the organization and
    enabled for that root", PolicyTypeSummary API reference)."""
    return type_status(backend, policy_type) == "ENABLED"


# ---- syntax ---------------------------------------------------------------------------------------------------------
def blocks_of(content) -> dict:
    """A policy's blocks with the operators resolved: {block: {key: {"status": "enabled", "additional_configuration":
    {agent: {"status": ...}}}}}. Raises ValueError for content that is not GuardDuty policy syntax."""
    try:
        doc = json.loads(content)
    except (TypeError, ValueError):
        raise ValueError("not JSON")
    enablement = only(only(doc, "guardduty"), "enablement")
    if not isinstance(enablement, dict) or not enablement:
        raise ValueError("a policy must contain at least one block")
    blocks = {}
    for name, block in enablement.items():
        if name != "default" and not REGION_NAME.fullmatch(name):
            raise ValueError(f"unknown block {name}")
        if not isinstance(block, dict):
            raise ValueError(f"block {name} is not an object")
        blocks[name] = {key: setting(key, value) for key, value in block.items()}
    bad = invalid_blocks(blocks)
    if bad:
        raise ValueError(f"blocks {sorted(bad)} enable a plan without foundational enabled")
    return blocks


def only(node, key: str):
    if not isinstance(node, dict) or set(node) != {key}:
        raise ValueError(f"expected an object with {key} only")
    return node[key]


def setting(key: str, value) -> dict:
    if key != "foundational" and key not in FEATURES:
        raise ValueError(f"unknown key {key}")
    allowed = {"status", "additional_configuration"} if key == "runtime_monitoring" else {"status"}
    if not isinstance(value, dict) or not value or not set(value) <= allowed:
        raise ValueError(f"{key} is not a feature setting")
    out = {}
    if "status" in value:
        out["status"] = assigned(value["status"])
    if "additional_configuration" in value:
        agents = value["additional_configuration"]
        if not isinstance(agents, dict) or not set(agents) <= set(AGENTS):
            raise ValueError("unknown additional configuration")
        out["additional_configuration"] = {a: {"status": assigned(only(v, "status"))} for a, v in agents.items()}
    return out


def assigned(node) -> str:
    value = only(node, "@@assign")
    if value not in ("enabled", "disabled"):
        raise ValueError("a status is enabled or disabled")
    return value


def invalid_blocks(blocks: dict) -> set:
    """The blocks that enable a plan (or an agent) without `foundational` enabled."""
    bad = set()
    for name, block in blocks.items():
        enabling = any(
            s.get("status") == "enabled"
            or any(a["status"] == "enabled" for a in s.get("additional_configuration", {}).values())
            for key, s in block.items()
            if key != "foundational"
        )
        if enabling and block.get("foundational", {}).get("status") != "enabled":
            bad.add(name)
    return bad


# ---- effective policy -----------------------------------------------------------------------------------------------
def path(backend, acct, index: dict | None = None) -> list:
    """The root, each OU down to the account, and the account (`index`: the OUs by id, when the caller has it)."""
    index = index if index is not None else {o.id: o for o in backend.ou}
    nodes, parent = [acct], acct.parent_id
    while parent in index:
        nodes.append(index[parent])
        parent = index[parent].parent_id
    return nodes[::-1]


def effective(backend, acct) -> dict | None:
    """The account's effective GuardDuty policy (merged blocks), or None when the type is not enabled or nothing is
    attached on its path."""
    if not type_enabled(backend):
        return None
    merged, found = {}, False
    for node in path(backend, acct):
        for policy in sorted((p for p in node.attached_policies if p.type == POLICY_TYPE), key=lambda p: p.id):
            merge(merged, blocks_of(policy.content))
            found = True
    return merged if found else None


def merge(into: dict, child: dict) -> dict:
    """Declarative inheritance: what the child assigns overwrites what `into` inherited, key by key."""
    for key, value in child.items():
        inherited = into.get(key)
        into[key] = merge(inherited if isinstance(inherited, dict) else {}, value) if isinstance(value, dict) else value
    return into


def last_updated(backend, acct) -> float:
    """When the account's effective policy last changed: the latest change on its path."""
    return max((changes.touched.get(node.id, 0.0) for node in path(backend, acct)), default=0.0)


# ---- which accounts a change concerns -------------------------------------------------------------------------------
class Changes:
    def __init__(self):
        self.touched: dict[str, float] = {}  # root, OU or account id -> when its GuardDuty policies last changed
        self.pending: dict[str, tuple[float, str]] = {}  # account -> (latest change not enforced yet, management)
        self.seen: dict[str, int] = {}  # management account -> how many of its accounts the new-account watch has seen
        self.earliest = float("inf")  # the oldest change in `pending`

    def changed(self, backend, target_id: str) -> None:
        """A change at `target_id` (the root for the type itself): every account under it is due again."""
        now = time.time()
        self.touched[target_id] = now
        management = backend.org.master_account_id
        if target_id == backend.org.root_id:
            self.seen.setdefault(management, len(backend.accounts))
        if management not in self.seen:
            return  # the type was never enabled here: nothing to enforce
        if target_id == backend.org.root_id:
            under = backend.accounts
        else:
            index = {o.id: o for o in backend.ou}
            under = [a for a in backend.accounts if a.id == target_id] or [
                a for a in backend.accounts if any(n.id == target_id for n in path(backend, a, index))]
        for acct in under:
            self.pend(acct.id, management, now)

    def pend(self, account: str, management: str, since: float) -> None:
        latest = max(since, self.pending.get(account, (0.0, ""))[0])
        self.pending[account] = (latest, management)
        self.earliest = min(self.earliest, latest)

    def watched(self) -> list[str]:
        """The management accounts of the organizations that have enabled the type at some time."""
        return list(self.seen)

    def new_accounts(self, backend) -> list:
        """The organization's accounts created since the last look (organizations list them in creation order)."""
        management = backend.org.master_account_id
        fresh = backend.accounts[self.seen[management]:]
        self.seen[management] = len(backend.accounts)
        return fresh

    def due(self, cutoff: float) -> dict:
        """Takes the accounts whose latest change is at or before `cutoff`: {account: (change, management)}."""
        if cutoff < self.earliest:
            return {}
        out = {a: entry for a, entry in self.pending.items() if entry[0] <= cutoff}
        for account in out:
            del self.pending[account]
        self.earliest = min((entry[0] for entry in self.pending.values()), default=float("inf"))
        return out


changes = Changes()


def reset() -> None:
    changes.__init__()
    _settling.clear()
