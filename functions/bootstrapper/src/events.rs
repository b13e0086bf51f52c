//! The EventBridge events the bootstrapper runs on besides CloudFormation's: its schedule (the full reconcile that
//! repairs drift and enrols any account an event missed) and a region's opt-in (that region reconciled, once the
//! management account or the admin enabled it). Pure and total: any JSON gets an answer, never a panic.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use enablement::{is_region_name, json_type, shorten};
use serde::Serialize;
use serde_json::Value;

/// What an event asks the bootstrapper for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Run {
    /// The schedule: every governed region.
    Reconcile,
    /// A region was enabled: reconcile it, if it is governed.
    Region {
        /// The region.
        region: String,
    },
    /// Nothing to do.
    Ignore {
        /// Why.
        reason: String,
    },
}

/// Whether a payload is an EventBridge event (it has `source` and `detail-type`), not a direct invocation.
pub fn is_event(payload: &Value) -> bool {
    payload.get("source").is_some() && payload.get("detail-type").is_some()
}

/// What an EventBridge event asks for; an error, naming what is wrong, for an event of a handled kind that cannot be
/// read.
pub fn classify(event: &Value) -> Result<Run, String> {
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|e| format!("not an EventBridge event: {e}"))?;
    match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.events", "Scheduled Event") => Ok(Run::Reconcile),
        ("aws.account", "Region Opt-In Status Change") => region_opt_in(&envelope.detail),
        (source, detail_type) => Ok(Run::Ignore {
            reason: format!(
                "not an event this function handles (source {:?}, detail-type {:?})",
                shorten(source, 64),
                shorten(detail_type, 64)
            ),
        }),
    }
}

/// "Region Opt-In Status Change" (AWS Account Management Reference Guide): `detail.regionName` and `detail.status`
/// (ENABLING, ENABLED, DISABLING, DISABLED); only ENABLED asks for anything.
fn region_opt_in(detail: &Value) -> Result<Run, String> {
    let text = |key: &str| detail.get(key).and_then(Value::as_str);
    let region = match (text("regionName"), detail.get("regionName")) {
        (Some(r), _) if is_region_name(r) => r.to_owned(),
        (Some(r), _) => return Err(format!("Region Opt-In Status Change: {:?} is not a region name", shorten(r, 64))),
        (None, Some(other)) => {
            return Err(format!("Region Opt-In Status Change: regionName is {}, not a string", json_type(other)))
        }
        (None, None) => return Err("Region Opt-In Status Change has no regionName".into()),
    };
    match text("status") {
        Some("ENABLED") => Ok(Run::Region { region }),
        Some(status @ ("ENABLING" | "DISABLING" | "DISABLED")) => {
            Ok(Run::Ignore { reason: format!("region {region} is {status}") })
        }
        Some(other) => Err(format!("Region Opt-In Status Change has an unknown status {:?}", shorten(other, 64))),
        None => Err("Region Opt-In Status Change has no status".into()),
    }
}

#[cfg(test)]
mod tests {
    use enablement::testing::envelope;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schedule_is_a_full_reconcile_and_an_enabled_region_is_reconciled() {
        assert_eq!(classify(&envelope("aws.events", "Scheduled Event", json!({}))), Ok(Run::Reconcile));
        let enabled = envelope(
            "aws.account",
            "Region Opt-In Status Change",
            json!({"accountId": "111122223333", "regionName": "af-south-1", "status": "ENABLED"}),
        );
        assert_eq!(classify(&enabled), Ok(Run::Region { region: "af-south-1".into() }));
        assert!(is_event(&enabled) && !is_event(&json!({"dryRun": true})));
    }

    #[test]
    fn other_statuses_and_events_are_ignored_and_broken_opt_ins_refused() {
        let opt_in = |detail: Value| classify(&envelope("aws.account", "Region Opt-In Status Change", detail));
        assert!(matches!(opt_in(json!({"regionName": "af-south-1", "status": "DISABLED"})), Ok(Run::Ignore { .. })));
        for broken in [
            json!({"regionName": "../../etc", "status": "ENABLED"}),
            json!({"regionName": 5, "status": "ENABLED"}),
            json!({"status": "ENABLED"}),
            json!({"regionName": "af-south-1"}),
            json!({"regionName": "af-south-1", "status": "HALF"}),
        ] {
            assert!(opt_in(broken.clone()).is_err(), "{broken}");
        }
        let other = envelope("aws.ec2", "EC2 Instance State-change Notification", json!({}));
        assert!(matches!(classify(&other), Ok(Run::Ignore { .. })));
        assert!(classify(&json!({"source": 5, "detail-type": "x"})).is_err());
    }
}
