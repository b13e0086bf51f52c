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

#[cfg(test)]
mod tests {
    use super::MALWARE_PROTECTION_PRINCIPAL;
    use crate::report::{ActionStatus, OrgActionKind};
    use crate::testing::{enabler, World};

    #[tokio::test]
    async fn trusted_access_for_malware_protection_is_enabled_once_and_then_only_read() {
        // Given an organization without trusted access for Malware Protection.
        let enabler = enabler(World::organization(1, &["us-east-1"]), |_| {});

        // When it is reconciled twice.
        let first = enabler.reconcile().await.expect("the reconcile");
        let second = enabler.reconcile().await.expect("the second reconcile");

        // Then the first run enables it and says so; the second writes nothing for it.
        let enabled = |r: &crate::Report| {
            r.organization
                .iter()
                .any(|a| a.action == OrgActionKind::EnableTrustedAccess && a.status == ActionStatus::Done)
        };
        assert!(enabled(&first), "{:?}", first.organization);
        assert!(!enabled(&second), "{:?}", second.organization);
        let world = enabler.cloud().world();
        assert!(world.trusted.contains(MALWARE_PROTECTION_PRINCIPAL));
        assert_eq!(world.writes_of("EnableAWSServiceAccess").len(), 1);
    }

    #[tokio::test]
    async fn a_refused_enable_is_reported_failed_and_the_regions_go_on() {
        // Given Organizations refusing EnableAWSServiceAccess.
        let mut world = World::organization(1, &["us-east-1"]);
        world.fail("EnableAWSServiceAccess", None, "AccessDeniedException", "not allowed");
        let enabler = enabler(world, |_| {});

        // When it is reconciled.
        let report = enabler.reconcile().await.expect("the reconcile");

        // Then the action is failed with the reason, and the region is still converged.
        let action = report.organization.iter().find(|a| a.action == OrgActionKind::EnableTrustedAccess);
        let action = action.expect("the trusted-access action");
        assert_eq!(action.status, ActionStatus::Failed);
        assert!(action.error.as_deref().unwrap_or_default().contains("not allowed"));
        assert_eq!(report.regions[0].coverage.protected, report.regions[0].coverage.expected);
    }
}
