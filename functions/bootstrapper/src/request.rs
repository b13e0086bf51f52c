//! A direct invocation (not CloudFormation's): `{}` reconciles every governed region; `{"dryRun": true}` reads and
//! plans, writes nothing and returns the plan, whatever GUARDDUTY_DRY_RUN says; `"regions": [...]` narrows either
//! to some governed regions. Any other key is ignored; a key of the wrong type is refused before any AWS call.

use enablement::{is_region_name, json_type, shorten, Failure, FailureKind};
use serde::Serialize;
use serde_json::Value;

/// What a direct invocation asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Direct {
    /// `dryRun`, when given.
    #[serde(rename = "dryRun", skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `regions`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

impl Direct {
    /// Reads a direct invocation's payload.
    pub fn parse(payload: &Value) -> Result<Self, Failure> {
        let bad = |message: String| Failure::new(FailureKind::InvalidRequest, message);
        let Value::Object(map) = payload else {
            return Err(bad(format!(
                "expected a JSON object ({{}}, {{\"dryRun\": true}}, or a CloudFormation custom-resource request), got {}",
                json_type(payload)
            )));
        };
        let dry_run = match map.get("dryRun") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => return Err(bad(format!("dryRun must be true or false, not {}", json_type(other)))),
        };
        let regions = match map.get("regions") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .map(|item| match item.as_str() {
                        Some(r) if is_region_name(r) => Ok(r.to_owned()),
                        Some(r) => {
                            Err(bad(format!("regions: {:?} is not a region name (like eu-west-1)", shorten(r, 64))))
                        }
                        None => Err(bad(format!("regions: each item must be a region name, not {}", json_type(item)))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(bad(format!("regions must be a non-empty list of region names, not {}", json_type(other))))
            }
        };
        Ok(Self { dry_run, regions })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_empty_object_is_a_full_reconcile_and_other_keys_are_ignored() {
        assert_eq!(Direct::parse(&json!({})), Ok(Direct::default()));
        assert_eq!(Direct::parse(&json!({"source": "console", "detail": {}})), Ok(Direct::default()));
    }

    #[test]
    fn a_dry_run_may_name_some_regions() {
        let d = Direct::parse(&json!({"dryRun": true, "regions": ["eu-west-1", "us-east-1"]})).expect("valid");
        assert_eq!(d.dry_run, Some(true));
        assert_eq!(d.regions, Some(vec!["eu-west-1".into(), "us-east-1".into()]));
    }

    #[test]
    fn wrong_types_are_refused_with_the_key_named() {
        for (payload, key) in [
            (json!({"dryRun": "yes"}), "dryRun"),
            (json!({"dryRun": true, "regions": "eu-west-1"}), "regions"),
            (json!({"regions": []}), "regions"),
            (json!({"regions": ["mars-1"]}), "regions"),
            (json!({"regions": [5]}), "regions"),
            (json!("reconcile"), "JSON object"),
            (json!(null), "JSON object"),
        ] {
            let err = Direct::parse(&payload).expect_err("refused");
            assert_eq!(err.kind, FailureKind::InvalidRequest);
            assert!(err.message.contains(key), "{payload}: {err}");
        }
    }
}
