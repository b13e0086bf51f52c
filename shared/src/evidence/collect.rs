//! The report, put together: the organization surveyed as a reconcile sees it, every governed region read (at most
//! GUARDDUTY_REGION_CONCURRENCY at once, the member reads within the same limit across regions), each region
//! classified and its controls evaluated, and the document assembled in a fixed order, so that the same observed
//! state gives the same document apart from `observed_at` and the header.

use futures_util::stream::{self, StreamExt};

use super::classify::{self, Org};
use super::document::{Evidence, Header, LeftOut, Organization, Summary, Tool, SCHEMA};
use super::error::EvidenceError;
use super::read::{self, Limits, Read};
use super::{controls, date, frameworks};
use crate::error::Error;
use crate::ports::{Cloud, OrganizationApi};
use crate::run::{Enabler, Survey};

/// How to read a document, fixed: said in every document.
const NOTES: [&str; 5] = [
    "Read only: producing this report wrote nothing to AWS.",
    "protected: GuardDuty shows the account an Enabled member of the delegated administrator with every protection \
     plan the configuration gives it there (the same rule as `guardduty-enabler status`). Each region counts its \
     ACTIVE accounts once: expected (protected + unprotected), excluded, not_enabled, and the delegated admin, whose \
     own detector is its row.",
    "Plans: ENABLED or DISABLED as GuardDuty shows them to the delegated administrator (GetDetector for its own \
     detector, GetMemberDetectors for members); an account it shows no detector for shows every plan DISABLED. \
     NOT_OFFERED: the region does not offer the plan (DescribeOrganizationConfiguration). managed_by GUARDDUTY_POLICY: \
     a GuardDuty organization policy decides it.",
    "Controls: AWS Security Hub's titles are quoted verbatim; results are computed here from what GuardDuty showed, \
     not read from Security Hub. A plan control fails for the admin or any member record without the plan (AWS: it \
     fails unless the delegated administrator and all member accounts have it, suspended members included); \
     GuardDuty.1 fails for every ACTIVE account GuardDuty does not show enabled, excluded ones included (a detector \
     an excluded account may have of its own is not visible to the delegated administrator).",
    "Frameworks: requirements are paraphrased, not quoted; PASSED or FAILED only where mapped controls decide it.",
];

/// Observes the organization through `enabler` (reads only) and returns the evidence; `ran_by` is the caller's
/// identity, if known (else the management account is named).
pub async fn collect<C: Cloud>(enabler: &Enabler<C>, ran_by: Option<String>) -> Result<Evidence, EvidenceError> {
    let observed_at = date::now();
    let settings = enabler.settings();
    let cloud = enabler.cloud();
    let (shape, organization_id) = tokio::try_join!(enabler.shape(), cloud.organization().organization_id())?;
    let governed = shape.choice.governed.clone();
    let limits = Limits::new(settings.region_concurrency);
    let admin = settings.admin_account;
    // The regions are read while the organization's tree is.
    let regions = stream::iter(governed.iter())
        .map(|region| {
            let limits = &limits;
            async move { (region.clone(), read::region(cloud, &admin, region, limits).await) }
        })
        .buffer_unordered(settings.region_concurrency.max(1))
        .collect::<Vec<(String, Result<Read, Error>)>>();
    let (survey, mut reads) = tokio::join!(enabler.survey(shape), regions);
    let survey = survey?;
    reads.sort_by(|a, b| a.0.cmp(&b.0));
    let reads = reads.into_iter().map(|(region, read)| read.map(|r| (region, r))).collect::<Result<Vec<_>, _>>()?;
    let header = Header {
        ran_by: ran_by.unwrap_or_else(|| format!("the management account {}", survey.management)),
        configuration: serde_json::to_value(settings).unwrap_or_default(),
    };
    assemble(settings, &survey, reads, Observation { organization_id, observed_at, header })
}

/// What an observation adds to what was read: the organization's id, when, who and how.
pub(crate) struct Observation {
    pub(crate) organization_id: String,
    pub(crate) observed_at: String,
    pub(crate) header: Header,
}

/// The document from the survey and each region read, in region order.
pub(crate) fn assemble(
    settings: &crate::config::Settings,
    survey: &Survey,
    reads: Vec<(String, Read)>,
    observation: Observation,
) -> Result<Evidence, EvidenceError> {
    let org = Org::new(settings, survey);
    let admin = settings.admin_account;
    let mut left_out: Vec<LeftOut> =
        survey.choice.left_out.iter().map(|l| LeftOut { region: l.region.clone(), reason: l.reason.clone() }).collect();
    let (mut regions, mut controls, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (region, read) in reads {
        match read {
            Read::Denied(reason) => left_out.push(LeftOut { region, reason }),
            Read::Region(read) => {
                let classified = classify::region(&org, &read)?;
                controls.extend(controls::region(&classified, &admin));
                regions.push(classified.region);
                rows.push(classified.rows.into_iter());
            }
        }
    }
    left_out.sort_by(|a, b| a.region.cmp(&b.region));
    // Account by account, each account's regions in order.
    let mut matrix = Vec::with_capacity(org.order.len() * rows.len());
    for _ in 0..org.order.len() {
        matrix.extend(rows.iter_mut().filter_map(Iterator::next));
    }
    let separate = admin != survey.management && regions.iter().all(|r| r.admin_designated);
    let expected: usize = regions.iter().map(|r| r.expected).sum();
    let protected: usize = regions.iter().map(|r| r.protected).sum();
    let failed = controls.iter().filter(|c| c.result == super::document::ControlResult::Failed);
    let controls_failed = failed.clone().count();
    let unexplained = failed.filter(|c| !c.explained_by_configuration).count();
    Ok(Evidence {
        schema: SCHEMA.into(),
        observed_at: observation.observed_at,
        header: observation.header,
        tool: Tool { version: env!("CARGO_PKG_VERSION").into() },
        organization: Organization {
            id: observation.organization_id,
            management_account: survey.management,
            admin_account: admin,
        },
        enablement: survey.mode.into(),
        accounts: org.accounts(),
        matrix,
        frameworks: frameworks::crosswalk(&controls, separate),
        summary: Summary {
            expected,
            protected,
            controls_failed,
            controls_failed_unexplained: unexplained,
            clean: expected == protected && unexplained == 0,
        },
        regions,
        regions_left_out: left_out,
        controls,
        notes: NOTES.iter().map(|n| (*n).to_owned()).collect(),
        preventive_scp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::document::{ControlResult, Coverage};
    use super::super::fixture::{self, *};

    #[test]
    fn the_matrix_is_account_by_account_each_in_every_region_in_order() {
        let d = fixture::evidence("2026-11-29T03:00:00Z", "arn:aws:iam::111111111111:user/auditor");
        assert_eq!(d.matrix.len(), d.accounts.len() * REGIONS.len());
        for (i, cell) in d.matrix.iter().enumerate() {
            assert_eq!(cell.account, d.accounts[i / REGIONS.len()].account);
            assert_eq!(&*cell.region, REGIONS[i % REGIONS.len()]);
        }
        assert_eq!(d.regions.iter().map(|r| &*r.region).collect::<Vec<_>>(), REGIONS);
        assert_eq!(d.controls.len(), 10 * REGIONS.len());
    }

    #[test]
    fn the_summary_is_not_clean_while_an_expected_account_is_unprotected() {
        let d = fixture::evidence("2026-11-29T03:00:00Z", "someone");
        // expected: eu-west-1 3 (management, prod-a, prod-b), us-east-1 4 (and newcomer); prod-b unprotected in both
        assert_eq!((d.summary.expected, d.summary.protected), (7, 5));
        assert!(!d.summary.clean);
        assert!(d.summary.controls_failed_unexplained >= 2, "{:?}", d.summary);
        // and with S3 Protection on for prod-b, the only failure left is the excluded account's GuardDuty.1
        let fixed = fixture::evidence_with("2026-11-29T03:00:00Z", "someone", |read| {
            let side = read.side.as_mut().expect("side");
            if let Some(f) = side.plans.get_mut(&id(MISSING_S3)) {
                std::sync::Arc::make_mut(f).get_mut("S3_DATA_EVENTS").expect("s3").enabled = true;
            }
        });
        assert!(fixed.summary.clean, "{:?}", fixed.summary);
        let failed: Vec<_> = fixed.controls.iter().filter(|c| c.result == ControlResult::Failed).collect();
        assert_eq!(failed.len(), 2, "GuardDuty.1, for the excluded account, in each region");
        assert!(failed.iter().all(|c| c.id == "GuardDuty.1" && c.explained_by_configuration));
        let cis = fixed.frameworks.iter().find(|f| f.requirement == "2.1.6").expect("cis");
        assert_eq!(cis.result, "PASSED");
        let pci = fixed.frameworks.iter().find(|f| f.requirement == "11.5.1").expect("pci");
        assert_eq!(pci.result, "FAILED", "GuardDuty.1 fails (the excluded account): 11.5.1 is not claimed");
        assert!(fixed.matrix.iter().any(|c| c.coverage == Coverage::Excluded));
    }

    #[test]
    fn the_same_state_gives_the_same_document_apart_from_when_and_who() {
        let a = fixture::evidence("2026-11-29T03:00:00Z", "arn:aws:sts::111111111111:assumed-role/Audit/a");
        let b = fixture::evidence("2026-11-30T17:45:12Z", "the management account 111111111111");
        let strip = |d: &super::super::document::Evidence| {
            let mut v = serde_json::to_value(d).expect("json");
            v["observed_at"] = serde_json::Value::Null;
            v["header"] = serde_json::Value::Null;
            v
        };
        assert_ne!(a, b);
        assert_eq!(strip(&a), strip(&b));
        assert_eq!(super::super::csv::matrix(&a), super::super::csv::matrix(&b));
        let body = |html: String| html[html.find("<!-- /header -->").expect("marker")..].to_owned();
        assert_eq!(body(super::super::html::report(&a)), body(super::super::html::report(&b)));
        // and it reads back as written
        let text = serde_json::to_string(&a).expect("json");
        let back: super::super::document::Evidence = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, a);
    }
}
