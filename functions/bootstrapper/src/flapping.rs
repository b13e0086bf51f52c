//! The schedule's part in the count of tamper repairs ([`enablement::flaps`]): after a full reconcile that reported,
//! the keys the responder holds for flapping are released where the run found their region in sync, and
//! `TamperFlapping` says how many are still held, so that its alarm stays raised until none is. Only where the count
//! is shared (the template's table, `TAMPER_LEDGER`): a process's own count is not this function's to see.

use enablement::flaps::{self, Ledger};
use enablement::{emf_flapping, guarded, Budget, Report};
use serde_json::{json, Value};

use crate::Lookup;

/// The ledger `TAMPER_LEDGER` names, called with `conf`'s credentials; without it, a count of this process alone.
pub fn ledger(lookup: &Lookup, conf: &aws_config::SdkConfig) -> Ledger {
    Ledger::named(conf, lookup(flaps::VARIABLE).as_deref())
}

/// Releases the held keys `report` finds stable; what it did, for the answer.
pub(crate) async fn settle(ledger: &Ledger, report: &Report, budget: Option<Budget>) -> Value {
    if !ledger.is_shared() {
        return json!({"skipped": format!("{} is not set: each responder process counts its own repairs", flaps::VARIABLE)});
    }
    let settled = match guarded(budget, Box::pin(flaps::settle(ledger, report))).await {
        Ok(settled) => settled,
        Err(interrupted) => return json!({"failed": [format!("not settled: {interrupted}")]}),
    };
    if settled.failed.is_empty() {
        let held: Vec<String> = settled.held.iter().map(flaps::Key::id).collect();
        println!("{}", emf_flapping("bootstrapper", &held));
    }
    if !settled.released.is_empty() || !settled.held.is_empty() {
        tracing::warn!(released = ?settled.released, held = ?settled.held, "tamper repairs held for flapping");
    }
    if !settled.failed.is_empty() {
        tracing::warn!(failed = ?settled.failed, "the count of tamper repairs could not be settled");
    }
    json!(settled)
}
