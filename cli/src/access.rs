//! Whether the command line can reach AWS at all, before its first real call: the credentials the SDK's provider
//! chain finds, then one STS GetCallerIdentity with them. A failure is one line that says what is missing and how to
//! provide it (a profile, an SSO login, keys, the endpoint), not the SDK's chain of errors; `--verbose` adds that
//! chain. Anything else STS answers goes on to the command, which reports it in its own words.

use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use enablement::{Failure, FailureKind};

/// How to give the command line credentials, said with every credentials error.
const HOW: &str = "choose a profile with --profile NAME or AWS_PROFILE (run `aws sso login --profile NAME` first for \
                   an SSO profile), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)";

/// The codes AWS answers a call with when its credentials are expired or not valid (AWS common errors; STS).
const REFUSED: [&str; 6] = [
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
];

/// The caller's ARN, once its credentials are found and accepted; else why not, in one line (with the SDK's own
/// account of it when `verbose`).
pub async fn caller(base: &SdkConfig, verbose: bool) -> Result<Option<String>, Failure> {
    let detail = |text: String| if verbose { format!("\n  {text}") } else { String::new() };
    let Some(provider) = base.credentials_provider() else {
        return Err(Failure::new(FailureKind::NoCredentials, format!("no AWS credentials: {HOW}")));
    };
    if let Err(e) = provider.provide_credentials().await {
        let what = match &e {
            CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials found".to_owned(),
            CredentialsError::ProviderTimedOut(_) => "finding AWS credentials timed out".to_owned(),
            CredentialsError::InvalidConfiguration(_) => {
                format!("the AWS profile's configuration is not valid ({})", innermost(&e))
            }
            _ => {
                "AWS credentials could not be loaded (an SSO session may have expired; --verbose says more)".to_owned()
            }
        };
        let chain = DisplayErrorContext(&e).to_string();
        return Err(Failure::new(FailureKind::NoCredentials, format!("{what}: {HOW}{}", detail(chain))));
    }
    let sts = aws_sdk_sts::Client::new(base);
    match sts.get_caller_identity().send().await {
        Ok(out) => Ok(out.arn().map(str::to_owned)),
        Err(e @ SdkError::DispatchFailure(_)) | Err(e @ SdkError::TimeoutError(_)) => {
            let endpoint = base.endpoint_url().map_or_else(|| "AWS".to_owned(), |u| u.to_owned());
            let chain = DisplayErrorContext(&e).to_string();
            Err(Failure::new(
                FailureKind::EndpointUnreachable,
                format!(
                    "cannot reach {endpoint} (STS GetCallerIdentity): check the network, a proxy (HTTPS_PROXY), or \
                     AWS_ENDPOINT_URL{}",
                    detail(chain)
                ),
            ))
        }
        Err(e) if e.code().is_some_and(|c| REFUSED.contains(&c)) => {
            let code = e.code().unwrap_or_default().to_owned();
            let message = e.message().unwrap_or_default().to_owned();
            Err(Failure::new(
                FailureKind::CredentialsRefused,
                format!(
                    "AWS refused the credentials ({code}: {message}): refresh them, or {HOW}{}",
                    detail(DisplayErrorContext(&e).to_string())
                ),
            ))
        }
        // Anything else (STS denied, throttled): the command's own calls will say what they get.
        Err(_) => Ok(None),
    }
}

/// The last error of `e`'s chain of sources: what went wrong at the bottom (a profile not found, an SSO token
/// expired), in the SDK's words.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
