//! What can stop an evidence report: the reads (the library's [`Error`], with operation, region and account), files
//! that cannot be written or read, a record of the bucket that cannot be stored or read, and counts that do not
//! reconcile.

use std::path::PathBuf;

use crate::error::{BoxError, Error};

/// Everything that can stop an evidence report, its verification or the record over time.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Reading the organization failed.
    #[error(transparent)]
    Read(#[from] Error),

    /// A file could not be written or read.
    #[error("{operation} {}: {source}", path.display())]
    File {
        /// What was done: `write`, `read`, `create the directory`.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A call to the record's bucket failed.
    #[error(transparent)]
    Store(Box<StoreError>),

    /// A stored record is not a gzip JSON evidence document.
    #[error("the record {key} cannot be read: {source}")]
    Record {
        /// The record's key.
        key: String,
        /// Why.
        #[source]
        source: BoxError,
    },

    /// A region's counts do not add up: a fault of this tool, never of the organization.
    #[error("the counts of {region} do not reconcile: {detail}")]
    Counts {
        /// The region.
        region: String,
        /// What does not add up.
        detail: String,
    },

    /// A date or a range given is not valid.
    #[error("{0}")]
    Dates(String),
}

/// A call to the record's bucket that failed: the operation, where, and what S3 said.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on s3://{bucket}/{key} failed: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct StoreError {
    /// The S3 operation.
    pub operation: &'static str,
    /// The bucket.
    pub bucket: String,
    /// The key (or prefix).
    pub key: String,
    /// S3's error code, when it gave one.
    pub code: Option<String>,
    /// S3's message, or a description of the failure.
    pub message: String,
    /// The SDK error.
    #[source]
    pub source: BoxError,
}

impl EvidenceError {
    /// The kind of failure, as the command line names it.
    pub fn kind(&self) -> crate::error::FailureKind {
        use crate::error::FailureKind;
        match self {
            Self::Read(e) => e.kind(),
            Self::File { .. } => FailureKind::FileError,
            Self::Store { .. } | Self::Record { .. } => FailureKind::EvidenceStoreError,
            Self::Counts { .. } => FailureKind::InternalError,
            Self::Dates(_) => FailureKind::InvalidRequest,
        }
    }
}

impl From<EvidenceError> for crate::error::Failure {
    fn from(e: EvidenceError) -> Self {
        Self::new(e.kind(), e.to_string())
    }
}
