//! `retire-policy`: the one way this tool stops owning its GuardDuty policies (see the library's
//! `Enabler::retire_policies`): every policy tagged as this tool's is detached from every target and deleted, and the
//! GuardDuty policy type is disabled on the root once no GuardDuty policy is left attached (or, with
//! `--disable-policy-type`, in any case). Nothing else in the tool does any of this: switching away from policy mode
//! is the user's decision.

use enablement::{AwsCloud, Enabler, Failure};

/// What was (or, in a dry run, would be) done, one line each.
pub async fn retire(enabler: &Enabler<AwsCloud>, disable_type: bool) -> Result<Vec<String>, Failure> {
    Ok(enabler.retire_policies(disable_type).await?)
}
