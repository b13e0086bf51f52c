//! Trusted access for Malware Protection, once per run. GuardDuty User Guide, "Enabling GuardDuty-initiated
//! malware scan in multiple-account environments": "If the GuardDuty delegated administrator account is not the
//! same as the management account in your organization, the management account must enable GuardDuty-initiated
//! malware scan for their organization. This way, the delegated administrator account can create the
//! Service-linked role permissions for Malware Protection for EC2 in member accounts." The API for it is
//! Organizations' EnableAWSServiceAccess for `malware-protection.guardduty.amazonaws.com`.

use super::context::Context;
use super::Enabler;
use crate::ports::{Cloud, OrganizationApi};
use crate::report::{ActionStatus, OrgAction};

/// The service principal Malware Protection for EC2 needs trusted access for.
pub(super) const MALWARE_PROTECTION_PRINCIPAL: &str = "malware-protection.guardduty.amazonaws.com";

/// The protection plan that needs it.
const MALWARE_PROTECTION_PLAN: &str = "EBS_MALWARE_PROTECTION";

impl<C: Cloud> Enabler<C> {
    /// Enables the trusted access Malware Protection needs, where the admin is not the management account and the
    /// plan is managed; reads first, and remembers in a warm process what it found enabled.
    pub(crate) async fn trusted_access(&self, ctx: &Context) -> Vec<OrgAction> {
        let principal = MALWARE_PROTECTION_PRINCIPAL;
        if ctx.admin_is_management
            || !self.settings.plans.selects(MALWARE_PROTECTION_PLAN)
            || self.memory.knows_trusted(principal)
        {
            return Vec::new();
        }
        let org = self.cloud.organization();
        let action = |status, error: Option<String>| {
            vec![OrgAction {
                action: crate::report::OrgActionKind::EnableTrustedAccess,
                target: principal.to_owned(),
                status,
                error,
            }]
        };
        match org.trusted_services().await {
            Ok(enabled) if enabled.iter().any(|p| p == principal) => {
                self.memory.remember_trusted(principal);
                Vec::new()
            }
            Ok(_) if ctx.dry_run => action(ActionStatus::Planned, None),
            Ok(_) => match org.enable_trusted_service(principal).await {
                Ok(()) => {
                    self.memory.remember_trusted(principal);
                    action(ActionStatus::Done, None)
                }
                Err(e) => action(ActionStatus::Failed, Some(e.to_string())),
            },
            Err(e) => action(ActionStatus::Failed, Some(e.to_string())),
        }
    }
}
