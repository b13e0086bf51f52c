//! The record over time: each observation's document, gzip JSON, under `evidence/YYYY/MM/DD/` of a bucket
//! (GUARDDUTY_EVIDENCE_BUCKET), one object per observation named by its time (`20261101T030000Z.json.gz`, so that
//! names sort as times do). [`store`] writes one; [`RecordStore`] is the port to the bucket ([`super::S3Records`]
//! implements it with Amazon S3, behind the `evidence-store` feature).

use std::future::Future;
use std::io::Read as _;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::date::Day;
use super::document::{Evidence, SCHEMA};
use super::error::EvidenceError;

/// Where records are kept: a bucket, or anything that stores bytes by key.
pub trait RecordStore: Send + Sync {
    /// Stores `body` under `key`.
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), EvidenceError>> + Send;
    /// The keys under `prefix`, every page.
    fn keys(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, EvidenceError>> + Send;
    /// The bytes stored under `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, EvidenceError>> + Send;
}

/// The folder of a day's records: `evidence/YYYY/MM/DD/`.
pub(crate) fn folder(day: Day) -> String {
    format!("evidence/{}/", day.folder())
}

/// The key of the record of a document observed at `observed_at` (RFC 3339, UTC).
pub fn key(observed_at: &str) -> Result<String, EvidenceError> {
    let day = Day::of_timestamp(observed_at)
        .filter(|_| super::date::seconds(observed_at).is_some())
        .ok_or_else(|| EvidenceError::Dates(format!("{observed_at:?} is not an RFC 3339 UTC timestamp")))?;
    let compact: String = observed_at.get(..19).unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
    Ok(format!("{}{}T{}Z.json.gz", folder(day), &compact[..8], &compact[8..]))
}

/// A document as its record holds it: compact JSON, gzip (no file name or time in the gzip header). The JSON is
/// written straight into the compressor: the text of 170,000 rows is tens of megabytes, its gzip a few.
pub fn encode(document: &Evidence) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail, nor can serializing the document (string keys, no floats that are not finite).
    let _ = serde_json::to_writer(&mut gz, document);
    gz.finish().unwrap_or_default()
}

/// A record's document; `key` names it in errors.
pub fn decode(key: &str, bytes: &[u8]) -> Result<Evidence, EvidenceError> {
    let fail = |source: crate::error::BoxError| EvidenceError::Record { key: key.to_owned(), source };
    let mut json = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut json).map_err(|e| fail(Box::new(e)))?;
    let document: Evidence = serde_json::from_slice(&json).map_err(|e| fail(Box::new(e)))?;
    if document.schema != SCHEMA {
        return Err(fail(format!("schema {:?}, not {SCHEMA}", document.schema).into()));
    }
    Ok(document)
}

/// Stores `document` in the record (gzip JSON under `evidence/YYYY/MM/DD/`, named by `observed_at`); returns its
/// key. The scheduled run's entry point: `store(&S3Records::new(client, bucket), &document)`.
pub async fn store(records: &impl RecordStore, document: &Evidence) -> Result<String, EvidenceError> {
    let key = key(&document.observed_at)?;
    records.put(&key, encode(document)).await?;
    Ok(key)
}

/// The keys of the records of the days `from` to `to` (both included), in time order.
pub async fn keys_between(records: &impl RecordStore, from: Day, to: Day) -> Result<Vec<String>, EvidenceError> {
    if to < from {
        return Err(EvidenceError::Dates(format!("--to {to} is before --from {from}")));
    }
    let mut keys = Vec::new();
    let mut day = from;
    while day <= to {
        keys.extend(records.keys(&folder(day)).await?.into_iter().filter(|k| k.ends_with(".json.gz")));
        day = day.next();
    }
    keys.sort();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn keys_sort_as_times_under_the_day_folder() {
        assert_eq!(key("2026-11-01T03:00:07Z").ok().as_deref(), Some("evidence/2026/11/01/20261101T030007Z.json.gz"));
        assert!(key("2026-11-01").is_err() && key("yesterday").is_err());
        let (a, b) = (key("2026-11-01T09:00:00Z").ok(), key("2026-11-01T10:00:00Z").ok());
        assert!(a < b);
    }

    #[test]
    fn a_record_is_gzip_json_that_reads_back_and_a_foreign_object_does_not() {
        let d = crate::evidence::fixture::evidence("2026-11-01T09:00:00Z", "a");
        let bytes = encode(&d);
        assert_eq!(&bytes[..2], [0x1f, 0x8b], "gzip");
        assert_eq!(encode(&d), bytes, "the same document, the same bytes");
        assert_eq!(decode("k", &bytes).expect("reads back"), d);
        let err = decode("evidence/2026/11/01/x.json.gz", b"{}").expect_err("not gzip");
        assert!(err.to_string().contains("evidence/2026/11/01/x.json.gz"), "{err}");
        let mut other = serde_json::to_value(&d).expect("json");
        other["schema"] = "something/else".into();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(other.to_string().as_bytes()).expect("gzip");
        assert!(decode("k", &gz.finish().expect("gzip")).is_err());
    }
}
