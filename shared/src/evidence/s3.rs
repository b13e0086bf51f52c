//! The record kept in an Amazon S3 bucket: PutObject, ListObjectsV2 (every page) and GetObject, with the caller's
//! client (the command line's, or the scheduled run's). Only with the `evidence-store` feature, so that a binary that
//! keeps no record does not link S3.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::error::{EvidenceError, StoreError};
use super::record::RecordStore;

/// A bucket that keeps the record.
#[derive(Clone, Debug)]
pub struct S3Records {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Records {
    /// The record in `bucket`, through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// The record in `bucket`, with the credentials and region of `base`: path-style addressing where `base` names
    /// an endpoint other than AWS's (a local endpoint serves buckets by path, not by host name).
    pub fn connect(base: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(base).force_path_style(base.endpoint_url().is_some()).build();
        Self::new(aws_sdk_s3::Client::from_conf(conf), bucket)
    }

    fn fail<E, R>(&self, operation: &'static str, key: &str) -> impl FnOnce(SdkError<E, R>) -> EvidenceError + '_
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let key = key.to_owned();
        move |err| {
            EvidenceError::Store(Box::new(StoreError {
                operation,
                bucket: self.bucket.clone(),
                key,
                code: err.code().map(str::to_owned),
                message: err.message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(&err).to_string()),
                source: Box::new(err),
            }))
        }
    }
}

impl RecordStore for S3Records {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), EvidenceError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/gzip")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(self.fail("PutObject", key))?;
        Ok(())
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, EvidenceError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(self.fail("ListObjectsV2", prefix))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_owned));
        }
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, EvidenceError> {
        let out =
            self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(self.fail("GetObject", key))?;
        let bytes =
            out.body.collect().await.map_err(|e| EvidenceError::Record { key: key.to_owned(), source: Box::new(e) })?;
        Ok(bytes.into_bytes().to_vec())
    }
}
