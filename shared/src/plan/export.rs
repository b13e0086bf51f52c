//! Findings export: where GuardDuty exports a region's findings (the admin's detector's publishing destination,
//! which "also exports" the members' findings of that region), compared with the configuration, into at most one
//! write. Pure. GuardDuty User Guide, "Exporting generated findings to Amazon S3"
//! (<https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_exportfindings.html>); the
//! Create/Update/Describe/ListPublishingDestinations API references.
//!
//! - One destination per detector, S3 only. None: create it (with a client token, so that a retried call cannot
//!   create two). One that exports elsewhere: update it in place. One that matches: nothing, ever: an update with
//!   unchanged properties re-checks the prefix and fails once a lifecycle rule expired its marker (aws-cli #10483).
//!   More than one: report, change nothing.
//! - The region rules, checked before any write: "Your Amazon S3 bucket or object, and AWS KMS key must belong to the
//!   same AWS Region"; "For the findings generated in a commercial Region, you can choose to export these findings to
//!   an S3 bucket in any commercial Region. However, you can't export these findings to an S3 bucket in an opt-in
//!   Region"; "For the findings generated in an opt-in Region, you can choose to export these findings to the same
//!   opt-in Region where they're generated or any commercial Region. However, you can't export findings from one
//!   opt-in Region to another opt-in Region."

use crate::config::FindingsExport;
use crate::ports::PublishingDestination;

/// What a region's export needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExportPlan {
    /// Nothing: it exports where it should.
    Nothing,
    /// CreatePublishingDestination.
    Create,
    /// UpdatePublishingDestination of this destination.
    Update(String),
    /// Several destinations: nothing is changed, and the report says so.
    Several(usize),
}

/// Whether `region`'s findings may be exported to a bucket in `bucket_region`; why not, where they may not.
/// `opt_in` says whether a region is an opt-in one (not enabled by default).
pub(crate) fn allowed(region: &str, bucket_region: &str, opt_in: impl Fn(&str) -> bool) -> Result<(), String> {
    let bucket_opt_in = opt_in(bucket_region);
    match (opt_in(region), bucket_opt_in) {
        (false, true) => Err(format!(
            "its findings cannot be exported to a bucket in the opt-in region {bucket_region} (only to a bucket in a \
             commercial region that is not opt-in)"
        )),
        (true, true) if bucket_region != region => Err(format!(
            "an opt-in region's findings cannot be exported to a bucket in another opt-in region ({bucket_region})"
        )),
        _ => Ok(()),
    }
}

/// The destination's ARN as compared: a trailing slash after a prefix says the same folder.
fn same_destination(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// What to do, from the destinations ListPublishingDestinations gave (`found`) and, where there is one, how
/// DescribePublishingDestination describes it.
pub(crate) fn plan_export(
    wanted: &FindingsExport,
    found: &[(String, String)],
    described: Option<&PublishingDestination>,
) -> ExportPlan {
    match (found, described) {
        ([], _) => ExportPlan::Create,
        ([_], Some(d)) if same_destination(&d.destination, &wanted.destination) && d.kms_key == wanted.kms_key => {
            ExportPlan::Nothing
        }
        ([(id, _)], _) => ExportPlan::Update(id.clone()),
        (several, _) => ExportPlan::Several(several.len()),
    }
}

/// The client token of a detector's CreatePublishingDestination: the same for every attempt, in every run, so that
/// a call retried (or a run repeated) after GuardDuty created the destination cannot create a second one. At most
/// 64 characters (CreatePublishingDestination API reference).
pub(crate) fn client_token(detector: &str) -> String {
    let mut token = format!("guardduty-enabler-{detector}");
    token.truncate(64);
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> FindingsExport {
        FindingsExport {
            destination: "arn:aws:s3:::findings-bucket/guardduty".into(),
            bucket: "findings-bucket".into(),
            kms_key: "arn:aws:kms:us-east-1:111122223333:key/1234abcd".into(),
            partition: "aws".into(),
            region: "us-east-1".into(),
        }
    }

    fn described(destination: &str, key: &str) -> PublishingDestination {
        PublishingDestination {
            id: "d1".into(),
            status: "PUBLISHING".into(),
            destination: destination.into(),
            kms_key: key.into(),
            failing_since_ms: None,
        }
    }

    #[test]
    fn none_is_created_one_elsewhere_updated_in_place_one_matching_left_and_several_reported() {
        let w = wanted();
        assert_eq!(plan_export(&w, &[], None), ExportPlan::Create);
        let one = [("d1".to_owned(), "PUBLISHING".to_owned())];
        let same = described("arn:aws:s3:::findings-bucket/guardduty/", &w.kms_key);
        assert_eq!(plan_export(&w, &one, Some(&same)), ExportPlan::Nothing, "never re-sent unchanged");
        let other = described("arn:aws:s3:::another-bucket", &w.kms_key);
        assert_eq!(plan_export(&w, &one, Some(&other)), ExportPlan::Update("d1".into()));
        let other_key = described(&w.destination, "arn:aws:kms:us-east-1:111122223333:key/other");
        assert_eq!(plan_export(&w, &one, Some(&other_key)), ExportPlan::Update("d1".into()));
        let two = [one[0].clone(), ("d2".to_owned(), "PUBLISHING".to_owned())];
        assert_eq!(plan_export(&w, &two, None), ExportPlan::Several(2));
    }

    #[test]
    fn the_user_guides_region_rules() {
        let opt_in = |r: &str| ["af-south-1", "me-south-1"].contains(&r);
        assert!(allowed("eu-west-1", "us-east-1", opt_in).is_ok(), "commercial to commercial");
        assert!(allowed("af-south-1", "us-east-1", opt_in).is_ok(), "opt-in to commercial");
        assert!(allowed("af-south-1", "af-south-1", opt_in).is_ok(), "opt-in to itself");
        assert!(allowed("eu-west-1", "af-south-1", opt_in).unwrap_err().contains("opt-in region af-south-1"));
        assert!(allowed("me-south-1", "af-south-1", opt_in).unwrap_err().contains("another opt-in region"));
    }

    #[test]
    fn the_client_token_is_the_detectors_and_fits() {
        assert_eq!(client_token("abc"), "guardduty-enabler-abc");
        assert_eq!(client_token(&"d".repeat(300)).len(), 64);
    }
}
