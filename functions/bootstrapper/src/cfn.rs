//! Answering CloudFormation: the custom-resource response, PUT once to the pre-signed ResponseURL.

use std::time::Duration;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use enablement::shorten;

/// The most bytes a response may have: "The total combined size of the response body cannot exceed 4096 bytes"
/// (CloudFormation User Guide, "Custom resource response objects",
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>).
const MAX_RESPONSE_BYTES: usize = 4_096;

/// The reason is first cut to this many characters; then the response as a whole to [`MAX_RESPONSE_BYTES`].
const MAX_REASON: usize = 1_500;

/// Why a response could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL is not one we can PUT to.
    #[error("the ResponseURL is not a usable http(s) URL: {0}")]
    Url(String),
    /// Every attempt failed.
    #[error("PUT to the ResponseURL failed: {0}")]
    Put(String),
}

/// Sends custom-resource responses over HTTPS (or plain HTTP, for local tests).
#[derive(Clone)]
pub struct ResponseSender {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl ResponseSender {
    /// A sender that trusts the system's root certificates.
    pub fn new() -> Result<Self, std::io::Error> {
        let connector =
            hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?.https_or_http().enable_http1().build();
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(connector) })
    }

    /// PUTs `response` to `url`, trying up to three times on transport errors and 5xx answers.
    pub async fn send(&self, url: &str, response: &CloudFormationCustomResourceResponse) -> Result<(), SendError> {
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| SendError::Url(e.to_string()))?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
            return Err(SendError::Url(format!("{} has no http(s) scheme or host", shorten(url, 80))));
        }
        let body = Bytes::from(serde_json::to_vec(response).map_err(|e| SendError::Put(e.to_string()))?);
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            // Pre-signed S3 URLs are signed for an empty content type.
            let request = http::Request::put(uri.clone())
                .header(http::header::CONTENT_TYPE, "")
                .header(http::header::CONTENT_LENGTH, body.len())
                .body(Full::new(body.clone()))
                .map_err(|e| SendError::Put(e.to_string()))?;
            match tokio::time::timeout(Duration::from_secs(10), self.client.request(request)).await {
                Ok(Ok(answer)) if answer.status().is_success() => return Ok(()),
                Ok(Ok(answer)) if answer.status().is_server_error() => last = format!("HTTP {}", answer.status()),
                Ok(Ok(answer)) => return Err(SendError::Put(format!("HTTP {}", answer.status()))),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "no answer within 10 s".into(),
            }
        }
        Err(SendError::Put(last))
    }
}

/// A response for a request's identifiers.
pub fn response(
    status: CloudFormationCustomResourceResponseStatus,
    reason: &str,
    physical_resource_id: &str,
    stack_id: &str,
    request_id: &str,
    logical_resource_id: &str,
    data: Vec<(&str, String)>,
) -> CloudFormationCustomResourceResponse {
    let mut r = CloudFormationCustomResourceResponse::default();
    r.status = status;
    r.reason = Some(shorten(reason, MAX_REASON));
    r.physical_resource_id = physical_resource_id.to_owned();
    r.stack_id = stack_id.to_owned();
    r.request_id = request_id.to_owned();
    r.logical_resource_id = logical_resource_id.to_owned();
    r.data = data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    fit(&mut r);
    r
}

/// The response's size in bytes, as sent (JSON: escapes and multi-byte characters count in full).
fn size(r: &CloudFormationCustomResourceResponse) -> usize {
    serde_json::to_vec(r).map_or(usize::MAX, |v| v.len())
}

/// Cuts the longest (as sent) of the reason and the `Data` values, by what is over or by half of it, until the
/// response fits [`MAX_RESPONSE_BYTES`].
fn fit(r: &mut CloudFormationCustomResourceResponse) {
    let escaped = |t: &str| serde_json::to_string(t).map_or(t.len(), |j| j.len());
    for _ in 0..64 {
        let over = size(r).saturating_sub(MAX_RESPONSE_BYTES);
        if over == 0 {
            return;
        }
        let reason = r.reason.get_or_insert_with(String::new);
        let reason_size = escaped(reason);
        let longest = r.data.values_mut().max_by_key(|v| escaped(v)).filter(|v| escaped(v) > reason_size);
        let text = match longest {
            Some(value) => value,
            None => reason,
        };
        let sent = escaped(text).max(1);
        if sent <= 8 {
            // Nothing left worth cutting: drop the data, which the template's outputs can live without.
            r.data.clear();
            continue;
        }
        // Escaped in JSON, a byte of text takes from one (plain ASCII) to six (a control character) bytes: cut in
        // proportion.
        let cut_sent = (over + 8).min(sent / 2);
        let cut_bytes = (cut_sent * text.len()).div_ceil(sent);
        let mut keep = text.len().saturating_sub(cut_bytes);
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        text.truncate(keep);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut_so_the_response_stays_under_four_kilobytes() {
        let long = "x".repeat(10_000);
        let r = response(CloudFormationCustomResourceResponseStatus::Failed, &long, "p", "s", "r", "l", vec![]);
        assert!(serde_json::to_vec(&r).expect("json").len() < 4_096);
    }

    #[test]
    fn the_response_is_bounded_in_bytes_whatever_the_characters_and_escapes() {
        // given a reason of multi-byte characters and problems full of quotes and control characters, which JSON
        // escapes to two and six bytes each, and a stack id of the longest kind
        let reason = "é€𝄞".repeat(600);
        let problems = "\"\u{1}".repeat(900);
        let stack =
            format!("arn:aws:cloudformation:us-east-1:111122223333:stack/{}/{}", "s".repeat(128), "u".repeat(36));
        let data = vec![("Regions", "17".to_owned()), ("Problems", problems)];
        // when the response is built
        let r = response(CloudFormationCustomResourceResponseStatus::Success, &reason, "p", &stack, "r", "l", data);
        // then its JSON is at most 4,096 bytes, and both texts are kept in part, ending in an ellipsis
        let bytes = serde_json::to_vec(&r).expect("json").len();
        assert!(bytes <= MAX_RESPONSE_BYTES, "{bytes} bytes");
        assert!(bytes > 3_000, "not cut more than needed: {bytes} bytes");
        assert!(r.reason.as_deref().is_some_and(|t| t.ends_with('…') && t.len() > 100));
        assert!(r.data["Problems"].ends_with('…'));
        assert_eq!(r.data["Regions"], "17");
    }

    #[tokio::test]
    async fn a_url_without_a_scheme_is_refused_without_a_call() {
        let sender = ResponseSender::new().expect("sender");
        let r = response(CloudFormationCustomResourceResponseStatus::Success, "ok", "p", "s", "r", "l", vec![]);
        assert!(matches!(sender.send("not a url", &r).await, Err(SendError::Url(_))));
        assert!(matches!(sender.send("ftp://example.com/x", &r).await, Err(SendError::Url(_))));
    }
}
