//! Retiring the GuardDuty policies this tool owns (`guardduty-enabler retire-policy`): the one way back from policy
//! mode, and the user's decision (the functions never do it). Each policy that carries this tool's owner tag is
//! detached from every target and deleted; detaching leaves GuardDuty enabled where it is ("If you detach an Amazon
//! GuardDuty policy, Amazon GuardDuty remains enabled in previously covered accounts", Organizations User Guide,
//! "Amazon GuardDuty policies"). Then the policy type is disabled on the root where no GuardDuty policy is left
//! attached anywhere: while it is enabled, "the Regional GuardDuty auto-enablement settings no longer apply, whether
//! or not a policy is attached" (GuardDuty User Guide), and api mode refuses every run. Where other GuardDuty
//! policies are still attached, the type stays (disabling it would detach them all: "all policies of the specified
//! type are automatically detached from all entities", "Disabling a policy type") unless the user insists.

use super::Enabler;
use crate::error::Error;
use crate::ports::{Cloud, OrganizationApi, PolicyTypeStatus};

impl<C: Cloud> Enabler<C> {
    /// Detaches and deletes every GuardDuty policy this tool owns, then disables the policy type where none is left
    /// attached (or, with `disable_type`, in any case). Honours GUARDDUTY_DRY_RUN. Gives what was (or would be) done,
    /// one line each.
    pub async fn retire_policies(&self, disable_type: bool) -> Result<Vec<String>, Error> {
        let org = self.cloud.organization();
        let dry = self.settings.dry_run;
        let (found, map) = self.found_policies().await?;
        let mut done = Vec::new();
        if found.ours.is_empty() {
            let name = &self.settings.policy_name;
            done.push(format!(
                "no GuardDuty policy tagged {}={name}: nothing to detach or delete",
                super::policy::OWNER_TAG
            ));
        }
        for (name, owned) in &found.ours {
            for target in &owned.targets {
                if !dry {
                    org.detach_policy(&owned.id, target).await?;
                }
                done.push(format!("detach {name} ({}) from {target}", owned.id));
            }
            if !dry {
                org.delete_policy(&owned.id).await?;
            }
            done.push(format!("delete {name} ({})", owned.id));
        }
        let others: Vec<&str> = map
            .records
            .iter()
            .filter(|p| !found.ours.values().any(|o| o.id == p.id))
            .filter(|p| map.targets.get(&p.id).is_some_and(|t| !t.is_empty()))
            .map(|p| p.name.as_str())
            .collect();
        done.push(self.retire_type(&others, disable_type).await?);
        Ok(done)
    }

    /// Disables the GuardDuty policy type where no other policy of it is attached (`others`), or where asked to;
    /// what was (or would be) done, or why not.
    async fn retire_type(&self, others: &[&str], insist: bool) -> Result<String, Error> {
        let org = self.cloud.organization();
        let root = org.root().await?;
        if !root.guardduty_policies.in_force() {
            return Ok(format!("the GuardDuty policy type is not enabled on {}", root.id));
        }
        if !others.is_empty() && !insist {
            return Ok(format!(
                "the GuardDuty policy type stays enabled on {}: other GuardDuty policies are attached ({}), and \
                 disabling the type would detach them all; the organization configuration's auto-enable settings \
                 apply only once it is disabled (--disable-policy-type does it anyway)",
                root.id,
                others.join(", ")
            ));
        }
        if !self.settings.dry_run {
            org.disable_policy_type(&root.id).await?;
            let pending = crate::ports::Root { guardduty_policies: PolicyTypeStatus::PendingDisable, ..root.clone() };
            self.memory.remember_root(&pending);
        }
        Ok(format!(
            "disable the GuardDuty policy type on {} (asynchronous: ListRoots shows PENDING_DISABLE until it is done), \
             so that the organization configuration's auto-enable settings apply again",
            root.id
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Enablement;
    use crate::ports::PolicyTypeStatus;
    use crate::testing::{enabler, World};

    #[tokio::test]
    async fn retiring_detaches_and_deletes_the_owned_policy_then_disables_the_type() {
        // Given a run that owns a policy.
        let enabler = enabler(World::organization(1, &["us-east-1"]), |s| s.enablement = Enablement::Policy);
        enabler.reconcile().await.expect("the reconcile");
        assert_eq!(enabler.cloud().world().policies.len(), 1);

        // When its policies are retired.
        let done = enabler.retire_policies(false).await.expect("retired");

        // Then the policy is gone, the type disabled, and GuardDuty left as it was.
        let world = enabler.cloud().world();
        assert!(world.policies.is_empty(), "{done:?}");
        assert_eq!(world.root.as_ref().map(|r| r.guardduty_policies), Some(PolicyTypeStatus::NotEnabled));
        assert!(done.iter().any(|line| line.starts_with("detach")), "{done:?}");
        assert!(world.writes_of("DeleteMembers").is_empty(), "no membership is touched");
        assert!(world.detectors.values().all(|d| d.enabled), "GuardDuty stays enabled everywhere");
    }

    #[tokio::test]
    async fn a_dry_run_of_retiring_says_what_it_would_do_and_does_nothing() {
        // Given a run that owns a policy, and GUARDDUTY_DRY_RUN for the retirement.
        let world = World::organization(1, &["us-east-1"]);
        let owner = enabler(world, |s| s.enablement = Enablement::Policy);
        owner.reconcile().await.expect("the reconcile");
        let world = owner.cloud().world().clone();
        let dry = enabler(world, |s| {
            s.enablement = Enablement::Policy;
            s.dry_run = true;
        });

        // When it is retired as a dry run.
        let done = dry.retire_policies(false).await.expect("planned");

        // Then the lines name the detach and the delete, and the policy is still attached.
        assert!(done.iter().any(|l| l.starts_with("detach")), "{done:?}");
        assert!(done.iter().any(|l| l.starts_with("delete")), "{done:?}");
        let world = dry.cloud().world();
        assert_eq!(world.policies.len(), 1);
        assert!(world.policies.values().all(|p| p.targets.contains("r-root")));
        assert!(world.writes.len() == owner.cloud().world().writes.len(), "no write added");
    }
}
