//! Amazon DynamoDB: the table that holds the count of tamper repairs ([`crate::flaps`]), one item per key, with the
//! functions' own credentials in the stack's region. Each item: `id` (the key), `t0`..`t2` (the times of its last
//! repairs, in milliseconds, oldest first), `held` (since when it is held) and `expires` (seconds since the epoch, the
//! table's time to live, for a key not held: "TTL typically deletes expired items within a few days", DynamoDB
//! Developer Guide, "Using time to live (TTL) in DynamoDB"; the count never relies on it).

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb as dynamodb;
use dynamodb::types::AttributeValue;

use super::{retry, Caller};
use crate::error::Error;
use crate::flaps::LIMIT;

/// The table, and a client for it.
pub(crate) struct LedgerTable {
    client: dynamodb::Client,
    name: String,
    caller: Caller,
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// `#t0`..: the slots' names.
fn slot(i: usize) -> String {
    format!("#t{i}")
}

impl LedgerTable {
    pub(crate) fn new(conf: &SdkConfig, name: &str) -> Self {
        let region = conf.region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
        let conf =
            dynamodb::config::Builder::from(conf).retry_partition(retry::unlimited_partition("dynamodb")).build();
        Self {
            client: dynamodb::Client::from_conf(conf),
            name: name.to_owned(),
            caller: Caller { region, account: "management".to_owned() },
        }
    }

    /// One UpdateItem that shifts the key's repair times and records `now` last, on the condition that the key is
    /// not held and its oldest recorded repair is before `cutoff` (or it has none): `Ok(false)` when the condition
    /// fails ("ConditionalCheckFailedException", DynamoDB API Reference, UpdateItem). Names and values go through
    /// ExpressionAttributeNames and ExpressionAttributeValues, so that no attribute name meets a reserved word.
    pub(crate) async fn admit(&self, id: &str, now: i64, cutoff: i64, ttl_seconds: i64) -> Result<bool, Error> {
        let mut names: HashMap<String, String> = (0..LIMIT).map(|i| (slot(i), format!("t{i}"))).collect();
        names.insert("#held".into(), "held".into());
        names.insert("#expires".into(), "expires".into());
        let shifts: Vec<String> =
            (0..LIMIT - 1).map(|i| format!("{} = if_not_exists({}, :zero)", slot(i), slot(i + 1))).collect();
        let update = format!("SET {}, {} = :now, #expires = :expires", shifts.join(", "), slot(LIMIT - 1));
        let condition =
            format!("attribute_not_exists(#held) AND (attribute_not_exists({0}) OR {0} < :cutoff)", slot(0));
        let answer = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.to_owned()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":cutoff", number(cutoff))
            .expression_attribute_values(":expires", number(now / 1000 + ttl_seconds))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.caller.error("UpdateItem", e)),
        }
    }

    /// Marks the key held since `now` (kept if it already is), and takes its time to live away.
    pub(crate) async fn hold(&self, id: &str, now: i64) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.to_owned()))
            .update_expression("SET #held = if_not_exists(#held, :now) REMOVE #expires")
            .expression_attribute_names("#held", "held")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_values(":now", number(now))
            .send()
            .await
            .map_err(self.caller.fail("UpdateItem"))?;
        Ok(())
    }

    /// The ids of the keys held: a Scan of the (small) table, every page.
    pub(crate) async fn held(&self) -> Result<Vec<String>, Error> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.name)
            .filter_expression("attribute_exists(#held)")
            .projection_expression("#id")
            .expression_attribute_names("#held", "held")
            .expression_attribute_names("#id", "id")
            .into_paginator()
            .items()
            .send();
        let mut ids = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(self.caller.fail("Scan"))?;
            if let Some(AttributeValue::S(id)) = item.get("id") {
                ids.push(id.clone());
            }
        }
        Ok(ids)
    }

    /// Deletes the key's item.
    pub(crate) async fn release(&self, id: &str) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(self.caller.fail("DeleteItem"))?;
        Ok(())
    }
}
