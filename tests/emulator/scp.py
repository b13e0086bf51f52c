"""Regions a service control policy denies (AWS Control Tower's Region deny control, or any SCP like it), for the local
emulator.

The world setting `scp_denied_regions` ({account: [region, ...]}, world.py) stands for an SCP on the account's path in
its organization that denies every action outside the NotAction list below in those regions, as the landing zone's
Region deny control does (statement `GRREGIONDENY`: `NotAction` the list below, `StringNotEquals aws:RequestedRegion`
the governed regions; https://docs.aws.amazon.com/controltower/latest/controlreference/primary-region-deny-policy.html).
server.py asks `denial` before the service sees a request, and answers the refusal IAM gives under an SCP:
HTTP 403, `AccessDeniedException`, with the message format of "Troubleshoot access denied error messages"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html):
`User: <principal> is not authorized to perform: <service>:<Action> with an explicit deny in a service control policy`.

- SCPs do not restrict the management account ("security features like Organizations service control policies
  (SCPs) do not restrict users or roles in the management account",
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html; "SCPs don't affect users
  or roles in the management account", orgs_manage_policies_scps.html of the same guide): a denied list for an
  account that is an organization's management account is ignored.
- Whether the listed account belongs to an organization is not checked: the setting declares the SCP (not
  documented; an account outside an organization has no SCP, so a test lists members only).
- The control's exemption of the `AWSControlTowerExecution` role (its `ArnNotLike aws:PrincipalARN` condition) is not
  modelled: the setting stands for any SCP like the control, and the roles this project assumes have other names.
- A call into an opt-in region the account has not enabled is not judged here: its credentials are not valid there,
  and the service answers that (regions.py, guardduty.py) as authentication comes before authorization (not
  documented for SCPs; modelled as that).
- A REST call whose operation server.py does not name (Lambda's, say) is named from botocore's model of the service
  (method and request URI). S3 calls, and any call still unnamed, are let through: S3's IAM actions are not its
  operations' names (ListBuckets is s3:ListAllMyBuckets) and some of them are exempt (not documented; modelled as
  that).
- The operation is the API operation's name, which is its IAM action name for the services modelled here (GuardDuty,
  Control Tower: "Actions defined by ..." in the Service Authorization Reference,
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonguardduty.html).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

# The Region deny control's NotAction list, verbatim from the controls reference page cited above (as of 2026; the
# list changes over time). Anything matching one of these is not denied by the region.
NOT_ACTION = [
    "a4b:*", "access-analyzer:*", "account:*", "acm:*", "activate:*", "artifact:*", "aws-marketplace-management:*",
    "aws-marketplace:*", "aws-portal:*", "billing:*", "billingconductor:*", "budgets:*", "ce:*", "chatbot:*",
    "chime:*", "cloudfront:*", "cloudtrail:LookupEvents", "compute-optimizer:*", "config:*", "consoleapp:*",
    "consolidatedbilling:*", "cur:*", "datapipeline:GetAccountLimits", "devicefarm:*", "directconnect:*",
    "ec2:DescribeRegions", "ec2:DescribeTransitGateways", "ec2:DescribeVpnGateways", "ecr-public:*", "fms:*",
    "freetier:*", "globalaccelerator:*", "health:*", "iam:*", "importexport:*", "invoicing:*", "iq:*", "kms:*",
    "license-manager:ListReceivedLicenses", "lightsail:Get*", "mobileanalytics:*", "networkmanager:*",
    "notifications-contacts:*", "notifications:*", "organizations:*", "payments:*", "pricing:*",
    "quicksight:DescribeAccountSubscription", "resource-explorer-2:*", "route53-recovery-cluster:*",
    "route53-recovery-control-config:*", "route53-recovery-readiness:*", "route53:*", "route53domains:*",
    "s3:CreateMultiRegionAccessPoint", "s3:DeleteMultiRegionAccessPoint", "s3:DescribeMultiRegionAccessPointOperation",
    "s3:GetAccountPublicAccessBlock", "s3:GetBucketLocation", "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock", "s3:GetMultiRegionAccessPoint", "s3:GetMultiRegionAccessPointPolicy",
    "s3:GetMultiRegionAccessPointPolicyStatus", "s3:GetStorageLensConfiguration", "s3:GetStorageLensDashboard",
    "s3:ListAllMyBuckets", "s3:ListMultiRegionAccessPoints", "s3:ListStorageLensConfigurations",
    "s3:PutAccountPublicAccessBlock", "s3:PutMultiRegionAccessPointPolicy", "savingsplans:*", "shield:*", "sso:*",
    "sts:*", "support:*", "supportapp:*", "supportplans:*", "sustainability:*", "tag:GetResources", "tax:*",
    "trustedadvisor:*", "vendor-insights:ListEntitledSecurityProfiles", "waf-regional:*", "waf:*", "wafv2:*",
]
# SigV4 signing names that are not the service's IAM prefix (CloudWatch signs as `monitoring`, SES as `email`).
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
MESSAGE = "User: {principal} is not authorized to perform: {action} with an explicit deny in a service control policy"


def action_of(service: str, operation: str) -> str:
    """The IAM action a call is, e.g. `guardduty:ListDetectors`."""
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def exempt(action: str) -> bool:
    """Whether the control's NotAction list leaves `action` alone (IAM action names are case-insensitive:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html)."""
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in NOT_ACTION)


def is_management(account: str) -> bool:
    from guardduty import organization_of

    backend = organization_of(account)
    return backend is not None and backend.org is not None and backend.org.master_account_id == account


def principal_of(account: str, access_key: str | None) -> str:
    """The caller's ARN as IAM names it in the message: the assumed-role session for role credentials (moto keeps
    them), else the account's root (a plausible principal; moto's default credentials belong to no IAM user)."""
    from moto.sts.models import sts_backends

    role = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key) if access_key else None
    return role.arn if role is not None else f"arn:aws:iam::{account}:root"


_models: dict = {}


def rest_operation(service: str, method: str, path: str) -> str | None:
    """The operation a REST call is, by botocore's model of the service whose signing name is `service`: the
    operation whose method matches and whose request URI matches the path with the most literal characters."""
    import botocore.session

    if service not in _models:
        try:
            model = botocore.session.get_session().get_service_model(service)
            _models[service] = model if service in (model.signing_name, model.endpoint_prefix) else None
        except Exception:  # no model by that name
            _models[service] = None
    model = _models[service]
    if model is None or model.protocol not in ("rest-json", "rest-xml"):
        return None
    best, best_score = None, -1
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?")[0]
        if http.get("method") != method:
            continue
        pattern = "".join(
            (".+" if part.endswith("+}") else "[^/]+") if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", uri))
        if re.fullmatch(pattern, path.rstrip("/") or "/") or re.fullmatch(pattern, path):
            score = len(re.sub(r"\{[^}]+\}", "", uri))
            if score > best_score:
                best, best_score = name, score
    return best


def denial(world, service: str, operation: str, account: str, region: str | None,
           access_key: str | None, method: str = "", path: str = "") -> tuple[str, str] | None:
    """(the operation, the refusal's message) when an SCP denies this call, else None."""
    if not region or not world.scp_denied_regions:
        return None
    if region not in world.scp_denied_regions.get(account, ()):
        return None
    if operation == "Unknown" and service != "s3":
        operation = rest_operation(service, method, path) or "Unknown"
    if operation == "Unknown" or service == "s3":
        return None
    action = action_of(service, operation)
    if exempt(action):
        return None
    import regions

    if not regions.region_enabled_for(account, region):
        return None
    if is_management(account):
        return None
    return operation, MESSAGE.format(principal=principal_of(account, access_key), action=action)
