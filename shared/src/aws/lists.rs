//! GuardDuty's saved filters and its trusted and threat lists, read, and written only to revert a silencing change
//! when GUARDDUTY_TAMPER_REVERT asks for it (a filter's action, a list's activation): what can change which findings
//! GuardDuty reports in a region. Only the delegated administrator manages them in an organization ("In a
//! multi-account environment, only the GuardDuty administrator account can manage lists. This setting automatically
//! applies to the member accounts", GuardDuty User Guide, "Customizing threat detection with entity lists and IP
//! address lists"), so they are read on the admin's detector.

use aws_sdk_guardduty as gd;
use serde_json::{json, Map, Value};

use super::{each_page, Caller};
use crate::error::Error;
use crate::ports::{FindingList, ListKind, SavedFilter};

/// ListFilters, every page (API reference: `GET /detector/{detectorId}/filter`, `filterNames`).
pub(super) async fn filter_names(client: &gd::Client, caller: &Caller, detector: &str) -> Result<Vec<String>, Error> {
    let pages = client.list_filters().detector_id(detector).into_paginator().send();
    let mut names = Vec::new();
    each_page(pages, "ListFilters", caller, |page| names.extend(page.filter_names().iter().cloned())).await?;
    Ok(names)
}

/// GetFilter (API reference: `GET /detector/{detectorId}/filter/{filterName}`).
pub(super) async fn filter(
    client: &gd::Client,
    caller: &Caller,
    detector: &str,
    name: &str,
) -> Result<SavedFilter, Error> {
    let out =
        client.get_filter().detector_id(detector).filter_name(name).send().await.map_err(caller.fail("GetFilter"))?;
    Ok(SavedFilter {
        name: out.name().unwrap_or(name).to_owned(),
        description: out.description().filter(|d| !d.is_empty()).map(str::to_owned),
        action: out.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
        rank: out.rank(),
        criteria: criteria(out.finding_criteria()),
    })
}

/// Finding criteria as the API's JSON spells them (`Condition`, API reference), the conditions given and no others.
/// The older conditions (`eq`, `neq`, `gt`, `gte`, `lt`, `lte`) are deprecated in the API, and still what a filter
/// made with them holds: they are read too.
#[allow(deprecated)]
fn criteria(given: Option<&gd::types::FindingCriteria>) -> Value {
    let mut criterion = Map::new();
    // The criterion is a map without an order: its fields are taken sorted, so that the same criteria read the same.
    let mut fields: Vec<_> = given.and_then(|c| c.criterion()).into_iter().flatten().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, c) in fields {
        let mut condition = Map::new();
        let lists = [
            ("eq", &c.eq),
            ("neq", &c.neq),
            ("equals", &c.equals),
            ("notEquals", &c.not_equals),
            ("matches", &c.matches),
            ("notMatches", &c.not_matches),
        ];
        for (key, values) in lists {
            if let Some(values) = values {
                condition.insert(key.into(), json!(values));
            }
        }
        let numbers = [
            ("gt", c.gt.map(i64::from)),
            ("gte", c.gte.map(i64::from)),
            ("lt", c.lt.map(i64::from)),
            ("lte", c.lte.map(i64::from)),
            ("greaterThan", c.greater_than),
            ("greaterThanOrEqual", c.greater_than_or_equal),
            ("lessThan", c.less_than),
            ("lessThanOrEqual", c.less_than_or_equal),
        ];
        for (key, value) in numbers {
            if let Some(value) = value {
                condition.insert(key.into(), json!(value));
            }
        }
        criterion.insert(field.clone(), Value::Object(condition));
    }
    json!({ "criterion": criterion })
}

/// The ids of the lists of `kind`, every page (API reference: ListIPSets `ipSetIds`, ListThreatIntelSets
/// `threatIntelSetIds`, ListTrustedEntitySets `trustedEntitySetIds`, ListThreatEntitySets `threatEntitySetIds`).
pub(super) async fn list_ids(
    client: &gd::Client,
    caller: &Caller,
    detector: &str,
    kind: ListKind,
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let operation = kind.list_operation();
    match kind {
        ListKind::TrustedIps => {
            let pages = client.list_ip_sets().detector_id(detector).into_paginator().send();
            each_page(pages, operation, caller, |p| ids.extend(p.ip_set_ids().iter().cloned())).await?;
        }
        ListKind::ThreatIps => {
            let pages = client.list_threat_intel_sets().detector_id(detector).into_paginator().send();
            each_page(pages, operation, caller, |p| ids.extend(p.threat_intel_set_ids().iter().cloned())).await?;
        }
        ListKind::TrustedEntities => {
            let pages = client.list_trusted_entity_sets().detector_id(detector).into_paginator().send();
            each_page(pages, operation, caller, |p| ids.extend(p.trusted_entity_set_ids().iter().cloned())).await?;
        }
        ListKind::ThreatEntities => {
            let pages = client.list_threat_entity_sets().detector_id(detector).into_paginator().send();
            each_page(pages, operation, caller, |p| ids.extend(p.threat_entity_set_ids().iter().cloned())).await?;
        }
    }
    Ok(ids)
}

/// One list (GetIPSet, GetThreatIntelSet, GetTrustedEntitySet, GetThreatEntitySet: `name`, `format`, `location`,
/// `status`, each required in the response).
pub(super) async fn list(
    client: &gd::Client,
    caller: &Caller,
    detector: &str,
    kind: ListKind,
    id: &str,
) -> Result<FindingList, Error> {
    let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
    // The four outputs are different types with the same four fields.
    macro_rules! fields {
        ($o:expr) => {
            (
                text($o.name()),
                text($o.format().map(|f| f.as_str())),
                text($o.location()),
                text($o.status().map(|s| s.as_str())),
            )
        };
    }
    let op = kind.get_operation();
    let (name, format, location, status) = match kind {
        ListKind::TrustedIps => {
            let o = client.get_ip_set().detector_id(detector).ip_set_id(id).send().await.map_err(caller.fail(op))?;
            fields!(o)
        }
        ListKind::ThreatIps => {
            let o = client
                .get_threat_intel_set()
                .detector_id(detector)
                .threat_intel_set_id(id)
                .send()
                .await
                .map_err(caller.fail(op))?;
            fields!(o)
        }
        ListKind::TrustedEntities => {
            let o = client
                .get_trusted_entity_set()
                .detector_id(detector)
                .trusted_entity_set_id(id)
                .send()
                .await
                .map_err(caller.fail(op))?;
            fields!(o)
        }
        ListKind::ThreatEntities => {
            let o = client
                .get_threat_entity_set()
                .detector_id(detector)
                .threat_entity_set_id(id)
                .send()
                .await
                .map_err(caller.fail(op))?;
            fields!(o)
        }
    };
    Ok(FindingList { id: id.to_owned(), name, format, location, status })
}

/// UpdateFilter with only its action (API reference: `POST /detector/{detectorId}/filter/{filterName}`; "action:
/// Specifies the action that is to be applied to the findings that match the filter", NOOP or ARCHIVE). The criteria
/// are left as they are.
pub(super) async fn set_filter_action(
    client: &gd::Client,
    caller: &Caller,
    detector: &str,
    name: &str,
    action: &str,
) -> Result<(), Error> {
    client
        .update_filter()
        .detector_id(detector)
        .filter_name(name)
        .action(gd::types::FilterAction::from(action))
        .send()
        .await
        .map_err(caller.fail("UpdateFilter"))?;
    Ok(())
}

/// UpdateIPSet or UpdateThreatIntelSet with only `activate` (API reference: "The updated Boolean value that specifies
/// whether the IPSet [ThreatIntelSet] is active or not").
pub(super) async fn set_list_active(
    client: &gd::Client,
    caller: &Caller,
    detector: &str,
    kind: ListKind,
    id: &str,
    active: bool,
) -> Result<(), Error> {
    match kind {
        ListKind::TrustedIps => {
            client
                .update_ip_set()
                .detector_id(detector)
                .ip_set_id(id)
                .activate(active)
                .send()
                .await
                .map_err(caller.fail("UpdateIPSet"))?;
        }
        ListKind::ThreatIps => {
            client
                .update_threat_intel_set()
                .detector_id(detector)
                .threat_intel_set_id(id)
                .activate(active)
                .send()
                .await
                .map_err(caller.fail("UpdateThreatIntelSet"))?;
        }
        other => return Err(Error::Unexpected(format!("{other:?} lists are not reverted"))),
    }
    Ok(())
}
