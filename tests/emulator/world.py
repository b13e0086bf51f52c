"""How the emulated AWS behaves where AWS varies or takes its time: which protection plans each region offers,
and how long GuardDuty's auto-enable, a designation's removal, an account's creation and the enforcement of
GuardDuty organization policies take; which regions a service control policy denies to which account, and the
organization's AWS Control Tower landing zone. Set through `POST /_emulator/world` (keys left out keep their value),
reset by `POST /_emulator/reset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The organization features a region offers unless it withholds some, with their additional configurations.
FEATURES = {
    "S3_DATA_EVENTS": [],
    "EKS_AUDIT_LOGS": [],
    "EBS_MALWARE_PROTECTION": [],
    "RDS_LOGIN_EVENTS": ["RDS_DATA_RISK"],
    "EKS_RUNTIME_MONITORING": ["EKS_ADDON_MANAGEMENT"],
    "LAMBDA_NETWORK_LOGS": [],
    "RUNTIME_MONITORING": ["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"],
    "AI_PROTECTION": [],
}
# Detector features that are not organization features (DetectorFeature has AI_ANALYST; OrgFeature has not).
DETECTOR_ONLY = {"AI_ANALYST": []}


@dataclass
class World:
    """How this GuardDuty behaves where AWS varies: per-region plan availability and the service's own timing."""

    withheld_plans: dict = field(default_factory=dict)  # region -> [feature or additional configuration names]
    auto_enable_seconds: float = 30.0
    auto_enable_existing_seconds: float = 3600.0
    admin_disable_seconds: float = 0.0
    create_account_seconds: float = 0.0
    # How long after the latest change that concerns an account (the GUARDDUTY_POLICY type enabled or disabled, a
    # policy's content or attachment on its path, its move, its creation) GuardDuty brings it to its effective policy
    # (the docs give no figure; policies are applied in the background)
    policy_enforcement_seconds: float = 0.0
    # How long GUARDDUTY_POLICY stays PENDING_ENABLE after EnablePolicyType (PENDING_DISABLE after DisablePolicyType):
    # both are asynchronous (EnablePolicyType API reference); the docs give no figure
    policy_type_seconds: float = 1.0
    # account -> the reason GuardDuty gives when it will not make it a member (CreateMembers, StartMonitoringMembers
    # and DeleteMembers answer it in UnprocessedAccounts): what AWS does for an account it cannot enrol
    refused_members: dict = field(default_factory=dict)
    # account -> [region]: a service control policy denies the account's calls to regional services in those regions,
    # as AWS Control Tower's Region deny control does outside the governed regions (scp.py has the rules and pages).
    # Ignored for an organization's management account, which SCPs do not restrict.
    scp_denied_regions: dict = field(default_factory=dict)
    # The AWS Control Tower landing zone of the organization's management account, or None (no landing zone):
    # {"home": "us-east-1", "governed_regions": ["us-east-1", "eu-west-1"]}, optionally "id" (16 characters),
    # "log_archive_account" and "audit_account" (default: the management account). See controltower.py.
    landing_zone: dict | None = None

    def update(self, spec: dict) -> None:
        for key, value in spec.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown world setting {key}")
            if key == "scp_denied_regions":
                check_denied_regions(value)
            if key == "landing_zone":
                check_landing_zone(value)
        for key, value in spec.items():
            setattr(self, key, value)

    def reset(self) -> None:
        for key, value in World().__dict__.items():
            setattr(self, key, value)

    def offered(self, region: str) -> dict:
        """The organization features `region` offers, each with the additional configurations it offers."""
        withheld = set(self.withheld_plans.get(region, []))
        return {f: [a for a in agents if a not in withheld] for f, agents in FEATURES.items() if f not in withheld}

    def detector_features(self, region: str) -> dict:
        return {**self.offered(region), **DETECTOR_ONLY}


def check_denied_regions(value) -> None:
    if not isinstance(value, dict) or not all(
            isinstance(a, str) and isinstance(r, list) and all(isinstance(x, str) for x in r) for a, r in value.items()):
        raise ValueError("scp_denied_regions is {account: [region, ...]}")


LANDING_ZONE_KEYS = {"home", "governed_regions", "id", "log_archive_account", "audit_account"}


def check_landing_zone(value) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not isinstance(value.get("home"), str) or set(value) - LANDING_ZONE_KEYS:
        raise ValueError(f"landing_zone is null or {{\"home\": region, \"governed_regions\": [region, ...]}} with "
                         f"optional keys {sorted(LANDING_ZONE_KEYS - {'home', 'governed_regions'})}")
    governed = value.get("governed_regions", [])
    if not isinstance(governed, list) or not all(isinstance(r, str) for r in governed):
        raise ValueError("landing_zone.governed_regions is a list of regions")
