"""How the emulated AWS behaves where AWS varies or takes its time: which protection plans each region offers,
and how long GuardDuty's auto-enable, a designation's removal, an account's creation and the enforcement of
GuardDuty organization policies take. Set through `POST /_emulator/world` (keys left out keep their value), reset by
`POST /_emulator/reset`.
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
    # account -> the reason GuardDuty gives when it will not make it a member (CreateMembers, StartMonitoringMembers
    # and DeleteMembers answer it in UnprocessedAccounts): what AWS does for an account it cannot enrol
    refused_members: dict = field(default_factory=dict)

    def update(self, spec: dict) -> None:
        for key, value in spec.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown world setting {key}")
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
