//! Answering CloudFormation: the custom-resource response, PUT once to the pre-signed ResponseURL.

use std::time::{Duration, Instant};

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use enablement::{shorten, Backoff};

/// The most bytes a response may have: "The total combined size of the response body cannot exceed 4096 bytes"
/// (CloudFormation User Guide, "Custom resource response objects",
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>).
const MAX_RESPONSE_BYTES: usize = 4_096;

/// The reason is first cut to this many characters; then the response as a whole to [`MAX_RESPONSE_BYTES`].
const MAX_REASON: usize = 1_500;

/// How long the PUT of a response may take in all, retries included: what the bootstrapper keeps free of its run
/// for its answer (its `RESPONSE_RESERVE` is this and a margin).
pub const PUT_WINDOW: Duration = Duration::from_secs(30);

/// The longest one attempt waits for an answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The waits between attempts: from 400 ms, doubling to 3 s, within [`PUT_WINDOW`].
const PUT_BACKOFF: Backoff =
    Backoff { first: Duration::from_millis(400), longest: Duration::from_secs(3), total: PUT_WINDOW };

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

    /// PUTs `response` to `url`, again after transport errors, timeouts and 5xx answers (waits from 400 ms, doubling
    /// to 3 s), for at most [`PUT_WINDOW`] in all: each attempt has at most 10 s, and no more than the window has left.
    pub async fn send(&self, url: &str, response: &CloudFormationCustomResourceResponse) -> Result<(), SendError> {
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| SendError::Url(e.to_string()))?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
            return Err(SendError::Url(format!("{} has no http(s) scheme or host", shorten(url, 80))));
        }
        let body = Bytes::from(serde_json::to_vec(response).map_err(|e| SendError::Put(e.to_string()))?);
        let started = Instant::now();
        let mut waits = PUT_BACKOFF.waits(started, None);
        let gave_up = |last: &str| SendError::Put(format!("{last} (still, after {} s)", started.elapsed().as_secs()));
        loop {
            // Pre-signed S3 URLs are signed for an empty content type.
            let request = http::Request::put(uri.clone())
                .header(http::header::CONTENT_TYPE, "")
                .header(http::header::CONTENT_LENGTH, body.len())
                .body(Full::new(body.clone()))
                .map_err(|e| SendError::Put(e.to_string()))?;
            let patience = ATTEMPT_TIMEOUT.min(PUT_WINDOW.saturating_sub(started.elapsed()));
            let last = match tokio::time::timeout(patience, self.client.request(request)).await {
                Ok(Ok(answer)) if answer.status().is_success() => return Ok(()),
                Ok(Ok(answer)) if answer.status().is_server_error() => format!("HTTP {}", answer.status()),
                Ok(Ok(answer)) => return Err(SendError::Put(format!("HTTP {}", answer.status()))),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} ms", patience.as_millis()),
            };
            // An attempt with less than a second left would only time out.
            let left = PUT_WINDOW.saturating_sub(started.elapsed());
            match waits.next_wait() {
                Some(wait) if left.saturating_sub(wait) >= Duration::from_secs(1) => tokio::time::sleep(wait).await,
                _ => return Err(gave_up(&last)),
            }
        }
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
    use std::io::{BufRead, BufReader, Read, Write};

    use super::*;

    /// A ResponseURL that answers 500 to the first `failures` PUTs and 200 after; gives the URL and the count of PUTs.
    fn flaky(failures: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/response", listener.local_addr().expect("address"));
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0;
                for line in reader.by_ref().lines().map_while(Result::ok).take_while(|l| !l.is_empty()) {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let status = if n < failures { "500 Internal Server Error" } else { "200 OK" };
                let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn the_put_is_tried_again_while_its_window_lasts_not_a_fixed_number_of_times() {
        // given a ResponseURL that fails three times before it takes the answer
        let (url, seen) = flaky(3);
        let sender = ResponseSender::new().expect("a sender");
        let answer = response(CloudFormationCustomResourceResponseStatus::Success, "ok", "p", "s", "r", "l", vec![]);
        // when the answer is sent
        let sent = sender.send(&url, &answer).await;
        // then it is delivered on the fourth PUT (three counted attempts gave up after the third)
        assert!(sent.is_ok(), "{sent:?}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

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
