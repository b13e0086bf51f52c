//! Evidence an auditor accepts: `guardduty-enabler report`. One read-only observation of the organization in every
//! governed region, by the same rules as `status` ([`collect`]), written as four files ([`write()`]): `evidence.json`
//! ([`Evidence`], schema `guardduty-enabler/evidence/1`), `evidence.csv` (the matrix), `evidence.html` (one
//! self-contained page) and `SHA256SUMS` ([`verify`] checks them). And the record over time: each observation's
//! document kept in a bucket under `evidence/YYYY/MM/DD/` ([`store`], through a [`RecordStore`], such as
//! `S3Records` with the `evidence-store` feature), read back over a range of days ([`history`]) into every gap's
//! start, end and cause ([`Range`], written by [`write_range`]).
//!
//! Where things live: `read.rs` is what is read in a region, `classify.rs` where each account stands there (the
//! crate's own rules), `controls.rs` Security Hub's GuardDuty controls, `frameworks.rs` the crosswalk, `collect.rs`
//! puts them together; `json.rs`, `csv.rs`, `html/` and `bundle.rs` write the files, `sums.rs` their checksums; `record.rs`,
//! `history.rs` and `s3.rs` are the record over time.

mod bundle;
mod classify;
mod collect;
mod controls;
mod csv;
mod date;
mod document;
mod error;
#[cfg(test)]
mod fixture;
mod frameworks;
mod history;
mod html;
mod json;
mod read;
mod record;
#[cfg(feature = "evidence-store")]
mod s3;
mod sums;

use std::path::{Path, PathBuf};

pub use bundle::{verify, write, Check, Verification, FILES, SUMS};
pub use collect::collect;
pub use controls::ids as control_ids;
pub use date::{now, Day};
pub use document::{
    Account, Cell, Control, ControlResult, Coverage, Evidence, Export, Filter, Framework, Header, LeftOut, List,
    Organization, PlanCell, PlanStatus, Plans, PreventiveScp, Region, Summary, Tool, SCHEMA,
};
pub use error::{EvidenceError, StoreError};
pub use history::{Gap, History, Range, RangeSummary, RecordRef, Share, RANGE_SCHEMA};
pub use record::{decode, encode, key, keys_between, store, RecordStore};
#[cfg(feature = "evidence-store")]
pub use s3::S3Records;

/// The record of the days `from` to `to` (both included) read back, one record at a time, in time order; `header`
/// says who reads it.
pub async fn history(records: &impl RecordStore, from: Day, to: Day, header: Header) -> Result<Range, EvidenceError> {
    let keys = keys_between(records, from, to).await?;
    let mut history = History::new(from, to);
    for key in keys {
        let bytes = records.get(&key).await?;
        history.add(&key, &decode(&key, &bytes)?);
    }
    Ok(history.finish(header))
}

/// Writes the files of a range into `dir`: `evidence.json` (the [`Range`]), `evidence.csv` (one line per gap),
/// `evidence.html` and `SHA256SUMS`.
pub fn write_range(dir: &Path, range: &Range) -> Result<Vec<PathBuf>, EvidenceError> {
    bundle::write_files(dir, range, csv::gaps(range), html::history(range))
}

/// The CSV of a document's matrix, as `evidence.csv` holds it.
pub fn matrix_csv(document: &Evidence) -> String {
    csv::matrix(document)
}

/// The page of a document, as `evidence.html` holds it.
pub fn page(document: &Evidence) -> String {
    html::report(document)
}
