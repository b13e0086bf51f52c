//! The crosswalk from the report to the requirements auditors ask about, fixed in code. Each entry says what the
//! report shows toward the requirement and what it does not: a result of PASSED or FAILED only where Security Hub's
//! own mapping (or, for CIS 2.1.6, a fact the report reads) decides it; EVIDENCE where the report is evidence an
//! assessor weighs. The requirements are paraphrased, not quoted: the standards' texts are their owners'.

use super::document::{Control, ControlResult, Framework};

/// One requirement: who, which, in this tool's words, what bears on it, what the report shows and does not.
struct Entry {
    framework: &'static str,
    requirement: &'static str,
    paraphrase: &'static str,
    evidence: &'static [&'static str],
    shows: &'static str,
    does_not_show: &'static str,
}

/// The controls Security Hub lists as related to PCI DSS v4.0.1 requirement 11.5.1 ("Security Hub CSPM controls for
/// Amazon GuardDuty": GuardDuty.1, .6, .7, .9 and .10).
const PCI_11_5_1: [&str; 5] = ["GuardDuty.1", "GuardDuty.6", "GuardDuty.7", "GuardDuty.9", "GuardDuty.10"];

/// PCI DSS 4.0.1, SOC 2 and CIS: what bears on each requirement.
const ENTRIES: [Entry; 6] = [
    Entry {
        framework: "PCI DSS 4.0.1",
        requirement: "11.5.1",
        paraphrase: "Intrusion-detection or intrusion-prevention techniques detect or prevent intrusions into the \
                     network, with traffic monitored at the perimeter and critical points of the cardholder data \
                     environment, personnel alerted to suspected compromises, and engines and signatures kept up to \
                     date.",
        evidence: &["GuardDuty.1", "GuardDuty.6", "GuardDuty.7", "GuardDuty.9", "GuardDuty.10", "matrix"],
        shows: "GuardDuty, a managed threat-detection service, enabled with the plans Security Hub relates to 11.5.1 \
                for every account and governed region, as GuardDuty showed it when observed.",
        does_not_show: "Where the cardholder data environment's perimeter and critical points are, that findings \
                        reach the personnel who respond, or how detections are kept current (GuardDuty's are AWS's).",
    },
    Entry {
        framework: "PCI DSS 4.0.1",
        requirement: "10.7.2",
        paraphrase: "Failures of critical security control systems, intrusion detection among them, are detected, \
                     alerted and addressed promptly.",
        evidence: &["matrix", "regions", "controls", "record over time"],
        shows: "Every account-region where GuardDuty's coverage failed when observed (unprotected, a plan off, the \
                delegated admin missing, findings export failing), named with the cause; with the daily record, \
                that such failures are detected every day.",
        does_not_show: "That failures were alerted and addressed promptly: the deployment's alarms and the response \
                        to them are outside this report.",
    },
    Entry {
        framework: "PCI DSS 4.0.1",
        requirement: "10.7.3",
        paraphrase: "Failures of critical security control systems are responded to promptly, including documenting \
                     the duration (date and time from start to end) and the cause of each failure.",
        evidence: &["record over time (guardduty-enabler report --from --to)"],
        shows: "From the daily records: every gap in coverage per account-region, from the first record that shows \
                it to the first that no longer does, with the cause the record gives and what changed when it \
                closed. A single observation shows no durations.",
        does_not_show: "What happened between two records (a gap shorter than the interval between records is not \
                        seen), or the remediation decided and the further actions taken.",
    },
    Entry {
        framework: "SOC 2 (2017 Trust Services Criteria)",
        requirement: "CC7.1",
        paraphrase: "Detection and monitoring procedures identify changes to configurations that introduce \
                     vulnerabilities, and susceptibilities to newly discovered vulnerabilities.",
        evidence: &["regions", "header (configuration)", "record over time"],
        shows: "The configuration of the organization's threat detection (delegated admin, auto-enable, plans, \
                findings export, archive filters and lists) as observed, and, with the record, its changes over \
                time.",
        does_not_show: "Vulnerability management: GuardDuty detects threats, it does not scan for vulnerabilities.",
    },
    Entry {
        framework: "SOC 2 (2017 Trust Services Criteria)",
        requirement: "CC7.2",
        paraphrase: "System components and their operation are monitored for anomalies indicative of malicious acts, \
                     natural disasters and errors, and anomalies are analyzed to determine whether they are security \
                     events.",
        evidence: &[
            "GuardDuty.1",
            "GuardDuty.5",
            "GuardDuty.6",
            "GuardDuty.7",
            "GuardDuty.8",
            "GuardDuty.9",
            "GuardDuty.10",
            "GuardDuty.11",
            "GuardDuty.12",
            "GuardDuty.13",
            "matrix",
            "silencing places",
        ],
        shows: "Which accounts and regions GuardDuty monitors, with which protection plans, and where findings can be \
                archived or suppressed before anyone sees them.",
        does_not_show: "That findings are analyzed and acted upon.",
    },
    Entry {
        framework: "CIS AWS Foundations Benchmark v7.0.0",
        requirement: "2.1.6",
        paraphrase: "Services that integrate with AWS Organizations and support delegated administration are managed \
                     from delegated administrator member accounts rather than the management account (the \
                     recommendation's example is CloudTrail; GuardDuty is such a service).",
        evidence: &["organization", "regions (admin_designated)"],
        shows: "Whether GuardDuty's delegated administrator is an account other than the management account, and is \
                designated in every governed region.",
        does_not_show: "The other services the recommendation covers.",
    },
];

/// The crosswalk for `controls`; `separate_admin` is whether the delegated admin is not the management account and
/// is designated in every governed region.
pub(crate) fn crosswalk(controls: &[Control], separate_admin: bool) -> Vec<Framework> {
    ENTRIES
        .iter()
        .map(|e| Framework {
            framework: e.framework.into(),
            requirement: e.requirement.into(),
            paraphrase: e.paraphrase.into(),
            evidence: e.evidence.iter().map(|x| (*x).to_owned()).collect(),
            result: match e.requirement {
                "11.5.1" => verdict(controls, &PCI_11_5_1),
                "2.1.6" if separate_admin => "PASSED".into(),
                "2.1.6" => "FAILED".into(),
                _ => "EVIDENCE".into(),
            },
            shows: e.shows.into(),
            does_not_show: e.does_not_show.into(),
        })
        .collect()
}

/// PASSED when every listed control passed (or does not apply) in every region, else FAILED.
fn verdict(controls: &[Control], ids: &[&str]) -> String {
    let failed = controls.iter().any(|c| ids.contains(&c.id.as_str()) && c.result == ControlResult::Failed);
    if failed { "FAILED" } else { "PASSED" }.into()
}
