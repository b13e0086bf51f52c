//! The event classifier: turns an EventBridge event into what the responder must do. Pure (no AWS), total
//! (any JSON gets an answer, never a panic), and strict where it matters: an event of a handled kind without a
//! valid account id is an error, so that EventBridge retries it and then dead-letters it.

use std::collections::BTreeSet;
use std::fmt;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use enablement::tamper::Call;
use enablement::{json_type, AccountId};
use serde::Serialize;
use serde_json::Value;

/// What an event asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Enrol this account in every governed region.
    Onboard {
        /// The account.
        account: AccountId,
        /// The event that announced it.
        trigger: &'static str,
        /// When the event happened (its `time`), in milliseconds since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        announced_ms: Option<i64>,
    },
    /// A CreateAccount API call: resolve its request id, then onboard the account it created.
    ResolveCreateAccount {
        /// The CreateAccount request id (`car-...`).
        request_id: String,
        /// When the event happened (its `time`), in milliseconds since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        announced_ms: Option<i64>,
    },
    /// An account moved to another organizational unit: its plans are checked against the ones it should have now
    /// (its unit's, or its new effective GuardDuty policy's), and its membership created only if it has none.
    Replan {
        /// The account.
        account: AccountId,
        /// When the event happened (its `time`), in milliseconds since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        announced_ms: Option<i64>,
    },
    /// A call someone made to GuardDuty or to the organization's policy plane that may weaken what this tool
    /// keeps: answered by [`enablement::tamper::decide`].
    Tamper {
        /// The call, as CloudTrail recorded it.
        call: Box<Call>,
    },
    /// Nothing to do.
    Ignore {
        /// Why.
        reason: String,
    },
}

/// Why an event cannot be handled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct EventError(pub String);

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed event: {}", self.0)
    }
}

fn malformed(message: impl Into<String>) -> EventError {
    EventError(message.into())
}

fn ignore(reason: impl Into<String>) -> Result<Request, EventError> {
    Ok(Request::Ignore { reason: reason.into() })
}

/// A string at a JSON pointer, if there is one.
fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Parses an account id found at `what`, with an error that says where.
fn account_at(v: &Value, pointer: &str, what: &str) -> Result<AccountId, EventError> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Err(malformed(format!("{what} has no account id ({pointer})"))),
        Some(Value::String(s)) => s.parse().map_err(|e| malformed(format!("{what}: {e}"))),
        Some(other) => Err(malformed(format!("{what}: the account id is {}, not a string", json_type(other)))),
    }
}

/// The detail-type of an API call CloudTrail recorded (EventBridge User Guide, "Events from AWS services delivered
/// via AWS CloudTrail").
const API_CALL: &str = "AWS API Call via CloudTrail";

/// Classifies one event.
pub fn classify(event: &Value) -> Result<Request, EventError> {
    if !event.is_object() {
        return Err(malformed(format!("expected a JSON object, got {}", json_type(event))));
    }
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|e| malformed(format!("not an EventBridge event: {e}")))?;
    let source = envelope.source.as_str();
    let detail_type = envelope.detail_type.as_str();
    if source.is_empty() || detail_type.is_empty() {
        return Err(malformed("not an EventBridge event: source and detail-type are required"));
    }
    let detail = &envelope.detail;
    let event_name = text(detail, "/eventName").unwrap_or_default();
    let announced_ms = envelope.time.map(|t| t.timestamp_millis());
    // A call as CloudTrail records it ("AWS API Call via CloudTrail"), of a name that may weaken GuardDuty.
    if detail_type == API_CALL {
        if let Some(call) = Call::from_event(source, detail, announced_ms) {
            return call.map(|call| Request::Tamper { call: Box::new(call) }).map_err(malformed);
        }
    }
    let request = match (source, detail_type, event_name) {
        ("aws.organizations", _, "CreateAccountResult") => create_account_result(detail),
        ("aws.organizations", _, "CreateAccount") => create_account_call(detail),
        ("aws.organizations", _, "AcceptHandshake") => accept_handshake(detail),
        ("aws.organizations", _, "AccountJoinedOrganization") => account_joined(detail),
        ("aws.organizations", _, "MoveAccount") => move_account(detail),
        ("aws.controltower", _, "CreateManagedAccount") => managed_account(detail, "createManagedAccountStatus", "CreateManagedAccount"),
        ("aws.controltower", _, "UpdateManagedAccount") => managed_account(detail, "updateManagedAccountStatus", "UpdateManagedAccount"),
        _ => ignore(format!("not an event this function handles (source {source:?}, detail-type {detail_type:?}, eventName {event_name:?})")),
    }?;
    Ok(match request {
        Request::Onboard { account, trigger, .. } => Request::Onboard { account, trigger, announced_ms },
        Request::ResolveCreateAccount { request_id, .. } => Request::ResolveCreateAccount { request_id, announced_ms },
        Request::Replan { account, .. } => Request::Replan { account, announced_ms },
        other => other,
    })
}

fn create_account_result(detail: &Value) -> Result<Request, EventError> {
    const STATUS: &str = "/serviceEventDetails/createAccountStatus";
    match text(detail, &format!("{STATUS}/state")) {
        Some("SUCCEEDED") => Ok(Request::Onboard {
            account: account_at(detail, &format!("{STATUS}/accountId"), "CreateAccountResult")?,
            trigger: "CreateAccountResult",
            announced_ms: None,
        }),
        Some("FAILED") => ignore(format!(
            "CreateAccountResult FAILED ({})",
            text(detail, &format!("{STATUS}/failureReason")).unwrap_or("no reason given")
        )),
        Some("IN_PROGRESS") => ignore("CreateAccountResult IN_PROGRESS: the SUCCEEDED result follows"),
        Some(other) => Err(malformed(format!("CreateAccountResult has an unknown state {other:?}"))),
        None => Err(malformed(format!("CreateAccountResult has no state ({STATUS}/state)"))),
    }
}

fn create_account_call(detail: &Value) -> Result<Request, EventError> {
    if let Some(code) = text(detail, "/errorCode") {
        return ignore(format!("the CreateAccount call failed ({code})"));
    }
    match text(detail, "/responseElements/createAccountStatus/id") {
        Some(id)
            if id.starts_with("car-")
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(Request::ResolveCreateAccount { request_id: id.to_owned(), announced_ms: None })
        }
        Some(id) => Err(malformed(format!("CreateAccount request id {:?} is not of the form car-...", shorten(id)))),
        None => Err(malformed("CreateAccount has no request id (/responseElements/createAccountStatus/id)")),
    }
}

/// MoveAccount, as CloudTrail records the API call (AWS Organizations User Guide, "Logging and monitoring in AWS
/// Organizations": every Organizations API call is a CloudTrail event, which EventBridge receives as "AWS API Call via
/// CloudTrail" in us-east-1); the moved account is `requestParameters.accountId` (MoveAccount API reference).
fn move_account(detail: &Value) -> Result<Request, EventError> {
    if let Some(code) = text(detail, "/errorCode") {
        return ignore(format!("the MoveAccount call failed ({code})"));
    }
    Ok(Request::Replan {
        account: account_at(detail, "/requestParameters/accountId", "MoveAccount")?,
        announced_ms: None,
    })
}

fn accept_handshake(detail: &Value) -> Result<Request, EventError> {
    if let Some(code) = text(detail, "/errorCode") {
        return ignore(format!("the AcceptHandshake call failed ({code})"));
    }
    let Some(handshake) = detail.pointer("/responseElements/handshake").filter(|h| h.is_object()) else {
        return Err(malformed("AcceptHandshake has no handshake (/responseElements/handshake)"));
    };
    let action = text(handshake, "/action").unwrap_or_default();
    let state = text(handshake, "/state").unwrap_or_default();
    if action != "INVITE" {
        return ignore(format!("a handshake for {action:?}, not an invitation"));
    }
    if state != "ACCEPTED" {
        return ignore(format!("an invitation handshake in state {state:?}, not ACCEPTED"));
    }
    let parties = handshake.get("parties").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let accounts: Vec<&Value> = parties.iter().filter(|p| text(p, "/type") == Some("ACCOUNT")).collect();
    match accounts.as_slice() {
        [one] => Ok(Request::Onboard {
            account: account_at(one, "/id", "AcceptHandshake")?,
            trigger: "AcceptHandshake",
            announced_ms: None,
        }),
        [] => Err(malformed("AcceptHandshake names no ACCOUNT party")),
        _ => Err(malformed("AcceptHandshake names more than one ACCOUNT party")),
    }
}

/// AccountJoinedOrganization has no published sample: the account id is the one 12-digit `accountId` found
/// anywhere under `serviceEventDetails`.
fn account_joined(detail: &Value) -> Result<Request, EventError> {
    let Some(details) = detail.get("serviceEventDetails") else {
        return Err(malformed("AccountJoinedOrganization has no serviceEventDetails"));
    };
    let mut found = BTreeSet::new();
    let mut bad = Vec::new();
    collect_account_ids(details, 0, &mut found, &mut bad);
    match (found.len(), bad.first()) {
        (1, _) => Ok(Request::Onboard {
            account: found.into_iter().next().expect("one id"),
            trigger: "AccountJoinedOrganization",
            announced_ms: None,
        }),
        (0, Some(value)) => {
            Err(malformed(format!("AccountJoinedOrganization: {value:?} is not an AWS account id (12 digits)")))
        }
        (0, None) => Err(malformed("AccountJoinedOrganization has no accountId under serviceEventDetails")),
        (n, _) => Err(malformed(format!("AccountJoinedOrganization names {n} different account ids"))),
    }
}

fn collect_account_ids(v: &Value, depth: usize, found: &mut BTreeSet<AccountId>, bad: &mut Vec<String>) {
    if depth > 16 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "accountId" {
                    match value.as_str().map(str::parse::<AccountId>) {
                        Some(Ok(id)) => {
                            found.insert(id);
                        }
                        _ => bad.push(shorten(&value.to_string())),
                    }
                } else {
                    collect_account_ids(value, depth + 1, found, bad);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_account_ids(i, depth + 1, found, bad)),
        _ => {}
    }
}

fn managed_account(detail: &Value, status_key: &str, name: &'static str) -> Result<Request, EventError> {
    let status = format!("/serviceEventDetails/{status_key}");
    match text(detail, &format!("{status}/state")) {
        Some("SUCCEEDED") => Ok(Request::Onboard {
            account: account_at(detail, &format!("{status}/account/accountId"), name)?,
            trigger: name,
            announced_ms: None,
        }),
        Some(state @ ("FAILED" | "IN_PROGRESS")) => ignore(format!("{name} {state}")),
        Some(other) => Err(malformed(format!("{name} has an unknown state {:?}", shorten(other)))),
        None => Err(malformed(format!("{name} has no state ({status}/state)"))),
    }
}

fn shorten(s: &str) -> String {
    enablement::shorten(s, 64)
}

#[cfg(test)]
mod tests {
    use enablement::testing::envelope;
    use serde_json::json;

    use super::*;

    fn service_event(source: &str, name: &str, details: Value) -> Value {
        envelope(source, "AWS Service Event via CloudTrail", json!({"eventName": name, "serviceEventDetails": details}))
    }

    /// The onboarding the envelope's time (2026-11-29T08:00:00Z) announces.
    fn onboard(account: &str, trigger: &'static str) -> Request {
        Request::Onboard { account: account.parse().unwrap(), trigger, announced_ms: Some(1_795_939_200_000) }
    }

    #[test]
    fn a_succeeded_account_creation_onboards_the_account() {
        let e = service_event(
            "aws.organizations",
            "CreateAccountResult",
            json!({"createAccountStatus": {"state": "SUCCEEDED", "accountId": "444455556666"}}),
        );
        assert_eq!(classify(&e), Ok(onboard("444455556666", "CreateAccountResult")));
    }

    #[test]
    fn a_failed_account_creation_is_ignored_but_a_success_without_id_is_malformed() {
        let failed = service_event(
            "aws.organizations",
            "CreateAccountResult",
            json!({"createAccountStatus": {"state": "FAILED", "failureReason": "EMAIL_ALREADY_EXISTS"}}),
        );
        assert!(matches!(classify(&failed), Ok(Request::Ignore { reason }) if reason.contains("EMAIL_ALREADY_EXISTS")));
        let no_id = service_event(
            "aws.organizations",
            "CreateAccountResult",
            json!({"createAccountStatus": {"state": "SUCCEEDED"}}),
        );
        assert!(classify(&no_id).is_err());
        let bad_id = service_event(
            "aws.organizations",
            "CreateAccountResult",
            json!({"createAccountStatus": {"state": "SUCCEEDED", "accountId": "4444"}}),
        );
        assert!(classify(&bad_id).unwrap_err().to_string().contains("12 digits"));
    }

    #[test]
    fn an_accepted_invitation_onboards_the_account_party_and_other_handshakes_are_ignored() {
        let handshake = |action: &str, state: &str| {
            envelope(
                "aws.organizations",
                "AWS API Call via CloudTrail",
                json!({"eventName": "AcceptHandshake", "responseElements": {"handshake": {
                "action": action, "state": state,
                "parties": [{"type": "ORGANIZATION", "id": "o-exampleorgid"}, {"type": "ACCOUNT", "id": "444455556666"}]}}}),
            )
        };
        assert_eq!(classify(&handshake("INVITE", "ACCEPTED")), Ok(onboard("444455556666", "AcceptHandshake")));
        assert!(matches!(classify(&handshake("ENABLE_ALL_FEATURES", "ACCEPTED")), Ok(Request::Ignore { .. })));
        assert!(matches!(classify(&handshake("INVITE", "OPEN")), Ok(Request::Ignore { .. })));
    }

    #[test]
    fn account_joined_reads_the_one_account_id_at_any_depth() {
        let nested = service_event(
            "aws.organizations",
            "AccountJoinedOrganization",
            json!({"account": {"accountId": "444455556666", "joinedMethod": "Invited"}}),
        );
        assert_eq!(classify(&nested), Ok(onboard("444455556666", "AccountJoinedOrganization")));
        let flat =
            service_event("aws.organizations", "AccountJoinedOrganization", json!({"accountId": "444455556666"}));
        assert_eq!(classify(&flat), Ok(onboard("444455556666", "AccountJoinedOrganization")));
        let same_twice = service_event(
            "aws.organizations",
            "AccountJoinedOrganization",
            json!({"accountId": "444455556666", "x": {"accountId": "444455556666"}}),
        );
        assert_eq!(classify(&same_twice), Ok(onboard("444455556666", "AccountJoinedOrganization")));
        let two = service_event(
            "aws.organizations",
            "AccountJoinedOrganization",
            json!({"a": {"accountId": "444455556666"}, "b": {"accountId": "777788889999"}}),
        );
        assert!(classify(&two).unwrap_err().to_string().contains("2 different"));
        let none = service_event("aws.organizations", "AccountJoinedOrganization", json!({"joinedMethod": "Created"}));
        assert!(classify(&none).is_err());
    }

    #[test]
    fn control_tower_creations_and_retries_onboard_when_succeeded() {
        for (name, key) in [
            ("CreateManagedAccount", "createManagedAccountStatus"),
            ("UpdateManagedAccount", "updateManagedAccountStatus"),
        ] {
            let ok = service_event(
                "aws.controltower",
                name,
                json!({key: {"state": "SUCCEEDED", "account": {"accountName": "x", "accountId": "444455556666"}}}),
            );
            assert!(
                matches!(classify(&ok), Ok(Request::Onboard { account, .. }) if account.as_str() == "444455556666"),
                "{name}"
            );
            let failed = service_event(
                "aws.controltower",
                name,
                json!({key: {"state": "FAILED", "account": {"accountId": "444455556666"}}}),
            );
            assert!(matches!(classify(&failed), Ok(Request::Ignore { .. })), "{name}");
        }
    }

    #[test]
    fn the_create_account_call_is_resolved_by_its_request_id() {
        let call = envelope(
            "aws.organizations",
            "AWS API Call via CloudTrail",
            json!({"eventName": "CreateAccount", "responseElements": {"createAccountStatus": {"id": "car-0123456789abcdef", "state": "IN_PROGRESS"}}}),
        );
        assert_eq!(
            classify(&call),
            Ok(Request::ResolveCreateAccount {
                request_id: "car-0123456789abcdef".into(),
                announced_ms: Some(1_795_939_200_000)
            })
        );
        let failed_call = envelope(
            "aws.organizations",
            "AWS API Call via CloudTrail",
            json!({"eventName": "CreateAccount", "errorCode": "AccessDenied", "responseElements": null}),
        );
        assert!(matches!(classify(&failed_call), Ok(Request::Ignore { .. })));
    }

    #[test]
    fn a_moved_account_is_replanned_and_a_failed_move_ignored() {
        let moved = |extra: Value| {
            let mut detail = json!({"eventName": "MoveAccount", "requestParameters": {"accountId": "444455556666",
                "sourceParentId": "r-ab12", "destinationParentId": "ou-ab12-cd34ef56"}});
            detail.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            envelope("aws.organizations", "AWS API Call via CloudTrail", detail)
        };
        assert_eq!(
            classify(&moved(json!({}))),
            Ok(Request::Replan { account: "444455556666".parse().unwrap(), announced_ms: Some(1_795_939_200_000) })
        );
        assert!(matches!(classify(&moved(json!({"errorCode": "AccessDenied"}))), Ok(Request::Ignore { .. })));
        let no_id = envelope("aws.organizations", "AWS API Call via CloudTrail", json!({"eventName": "MoveAccount"}));
        assert!(classify(&no_id).unwrap_err().to_string().contains("MoveAccount"));
    }

    #[test]
    fn the_schedule_and_region_opt_ins_are_the_bootstrappers_and_unknown_events_are_ignored() {
        let opt_in = envelope(
            "aws.account",
            "Region Opt-In Status Change",
            json!({"accountId": "111122223333", "regionName": "af-south-1", "status": "ENABLED"}),
        );
        for other in [envelope("aws.events", "Scheduled Event", json!({})), opt_in] {
            assert!(matches!(classify(&other), Ok(Request::Ignore { .. })), "{other}");
        }
        let ec2 = envelope(
            "aws.ec2",
            "EC2 Instance State-change Notification",
            json!({"instance-id": "i-1", "state": "running"}),
        );
        assert!(matches!(classify(&ec2), Ok(Request::Ignore { .. })));
    }

    #[test]
    fn non_objects_and_envelopes_without_source_are_malformed() {
        for bad in [json!(null), json!(42), json!("text"), json!([1, 2]), json!({"detail": {}})] {
            assert!(classify(&bad).is_err(), "{bad}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Arbitrary JSON, up to a few levels deep, with the keys the classifier looks for among the random ones.
        fn json() -> impl Strategy<Value = Value> {
            let key = prop_oneof![
                Just("source".to_owned()),
                Just("detail-type".to_owned()),
                Just("detail".to_owned()),
                Just("eventName".to_owned()),
                Just("serviceEventDetails".to_owned()),
                Just("accountId".to_owned()),
                Just("state".to_owned()),
                Just("responseElements".to_owned()),
                Just("handshake".to_owned()),
                Just("parties".to_owned()),
                "[a-zA-Z-]{0,12}",
            ];
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>().prop_map(|f| json!(f)),
                prop_oneof![
                    Just("aws.organizations".to_owned()),
                    Just("CreateAccountResult".to_owned()),
                    Just("SUCCEEDED".to_owned()),
                    Just("444455556666".to_owned()),
                    ".{0,40}"
                ]
                .prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 64, 8, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(key.clone(), inner, 0..8)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn fixtures() -> Vec<Value> {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/events");
            std::fs::read_dir(dir)
                .expect("fixtures")
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "json") && !e.path().ends_with("index.json"))
                .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).expect("read")).expect("JSON"))
                .collect()
        }

        /// Replaces the value at the `pick`-th node (in document order) of `doc` with `with`.
        fn replace_nth(doc: &mut Value, pick: &mut usize, with: &Value) -> bool {
            if *pick == 0 {
                *doc = with.clone();
                return true;
            }
            *pick -= 1;
            match doc {
                Value::Object(map) => map.values_mut().any(|v| replace_nth(v, pick, with)),
                Value::Array(items) => items.iter_mut().any(|v| replace_nth(v, pick, with)),
                _ => false,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            #[test]
            fn arbitrary_json_never_panics_the_classifier(event in json()) {
                let _ = classify(&event);
            }

            #[test]
            fn real_events_with_any_node_replaced_never_panic_and_stay_strict(index in 0usize..64, pick in 0usize..200, with in json()) {
                let all = fixtures();
                let mut event = all[index % all.len()].clone();
                let mut n = pick;
                replace_nth(&mut event, &mut n, &with);
                if let Ok(Request::Onboard { account, .. }) = classify(&event) {
                    // whatever was changed, an onboarding always names a valid account
                    prop_assert!(account.as_str().len() == 12 && account.as_str().bytes().all(|b| b.is_ascii_digit()));
                }
            }
        }
    }
}
