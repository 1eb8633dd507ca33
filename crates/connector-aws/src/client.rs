//! The official SDK's IAM client, configured from `AwsConfig`: credentials from `*_env` or the
//! standard chain, an optional role to assume per account, the configured endpoint, bounded
//! retries (Throttling, 5xx, timeouts) and timeouts. SDK errors become `ConnectorError`s.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime::client::retries::RetryPartition;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, TimeZone, Utc};
use roster_connector_sdk::ConnectorError;

use crate::config::{AccountConfig, AwsConfig};

/// One secret from the environment variable or the file the config names.
fn secret(
    env: &Option<String>,
    file: &Option<String>,
    what: &str,
) -> Result<Option<String>, ConnectorError> {
    match (env, file) {
        (Some(_), Some(_)) => Err(ConnectorError::Config(format!(
            "give {what}_env or {what}_file, not both"
        ))),
        (Some(name), None) => std::env::var(name)
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| {
                ConnectorError::Config(format!(
                    "environment variable `{name}` ({what}_env) is not set"
                ))
            }),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|e| ConnectorError::Config(format!("{what}_file `{path}`: {e}"))),
        (None, None) => Ok(None),
    }
}

/// The connector's own key from `*_env` / `*_file`, or `None` for the standard chain.
fn configured_credentials(c: &AwsConfig) -> Result<Option<Credentials>, ConnectorError> {
    let id = secret(&c.access_key_id_env, &c.access_key_id_file, "access_key_id")?;
    let key = secret(
        &c.secret_access_key_env,
        &c.secret_access_key_file,
        "secret_access_key",
    )?;
    let token = secret(&c.session_token_env, &None, "session_token")?;
    match (id, key) {
        (Some(id), Some(key)) => Ok(Some(Credentials::new(id, key, token, None, "roster-config"))),
        (None, None) => Ok(None),
        _ => Err(ConnectorError::Config(
            "give both the access key id and the secret access key, or neither (standard AWS chain)".into(),
        )),
    }
}

/// An IAM client for one account.
pub async fn iam_client(c: &AwsConfig, account: &AccountConfig) -> Result<Client, ConnectorError> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let retry = RetryConfig::standard()
        .with_max_attempts(c.max_attempts.max(1))
        .with_initial_backoff(Duration::from_millis(c.initial_backoff_ms))
        .with_max_backoff(Duration::from_secs(c.max_backoff_secs.max(1)));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(c.timeout_secs.clamp(1, 60)))
        .operation_timeout(Duration::from_secs(c.timeout_secs.max(1)))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(c.region.clone()))
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(url) = &c.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let Some(creds) = configured_credentials(c)? {
        loader = loader.credentials_provider(creds);
    }
    let base = loader.load().await;
    let conf = match &account.role_arn {
        None => base,
        Some(role) => {
            let mut assume = aws_config::sts::AssumeRoleProvider::builder(role.clone())
                .session_name("roster-sync")
                .configure(&base);
            if let Some(ext) = &account.external_id {
                assume = assume.external_id(ext.clone());
            }
            let provider = assume.build().await;
            base.into_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                )
                .build()
        }
    };
    // Each account gets its own retry budget: a throttling storm in one account must not use
    // up the retries of the others (by default one budget is shared by every client).
    let conf = aws_sdk_iam::config::Builder::from(&conf)
        .interceptor(CompleteXml)
        .retry_partition(RetryPartition::new(format!("roster-aws-{}", account.id)))
        .build();
    Ok(Client::from_conf(conf))
}

/// Fails a successful response whose XML document is cut short. The SDK's XML reader stops
/// quietly at the end of its input, so a body truncated mid-document would read as a shorter,
/// complete answer — a missing `IsTruncated` reads as `false`, a cut `<UserName>` as a shorter
/// name — and the identities after the cut would be swept as deleted. The failure surfaces as
/// a response error (not retried), reported as malformed.
#[derive(Debug)]
struct CompleteXml;

impl Intercept for CompleteXml {
    fn name(&self) -> &'static str {
        "CompleteXml"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.output_or_error().is_err() {
            return Ok(());
        }
        match context.response().body().bytes().and_then(incomplete_xml) {
            Some(detail) => Err(detail.into()),
            None => Ok(()),
        }
    }
}

/// Why `body` is not one whole XML document, or `None` when it ends by closing its root
/// element (or is empty: nothing there to have been cut).
fn incomplete_xml(body: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Some("the response body is not UTF-8".into());
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    // The XML declaration and comments before the root element.
    while let Some(r) = rest
        .strip_prefix("<?")
        .or_else(|| rest.strip_prefix("<!--"))
    {
        let Some((_, after)) = r.split_once("?>").or_else(|| r.split_once("-->")) else {
            return Some("the XML document ends in its prologue".into());
        };
        rest = after.trim_start();
    }
    let root: String = rest
        .strip_prefix('<')
        .unwrap_or("")
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
        .collect();
    if root.is_empty() {
        return Some("the response body has no XML root element".into());
    }
    let close = format!("</{root}>");
    let empty_root = rest
        .find('>')
        .is_some_and(|i| rest.get(..i).is_some_and(|t| t.ends_with('/')) && i + 1 == rest.len());
    if text.ends_with(&close) || empty_root {
        None
    } else {
        Some(format!(
            "the XML document ends before `{close}`: the body ({} bytes) was cut short",
            body.len()
        ))
    }
}

/// Smithy time to chrono.
pub fn to_utc(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.secs(), t.subsec_nanos()).single()
}

/// Maps an SDK error on `operation` in `account` to what the run report says.
pub fn map_err<E>(
    endpoint: &str,
    account: &str,
    operation: &str,
    e: SdkError<E, HttpResponse>,
) -> ConnectorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let url = format!("{endpoint} {operation} (account {account})");
    match &e {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("");
            let status = ctx.raw().status().as_u16();
            match code {
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    ConnectorError::Forbidden {
                        url,
                        needs: Some(format!("iam:{operation}")),
                    }
                }
                "InvalidClientTokenId"
                | "ExpiredToken"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "InvalidAccessKeyId"
                | "UnrecognizedClientException"
                | "MissingAuthenticationToken" => ConnectorError::Unauthorized { url },
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                    ConnectorError::RateLimited {
                        url,
                        wait_secs: 0,
                        bound_secs: 0,
                    }
                }
                "NoSuchEntity" => ConnectorError::NotFound { url },
                // An error body the SDK could not read: the status still says what happened.
                _ if status == 401 => ConnectorError::Unauthorized { url },
                _ if status == 403 => ConnectorError::Forbidden {
                    url,
                    needs: Some(format!("iam:{operation} (or valid credentials)")),
                },
                _ if status == 429 => ConnectorError::RateLimited {
                    url,
                    wait_secs: 0,
                    bound_secs: 0,
                },
                _ if status >= 500 => ConnectorError::Status {
                    url,
                    status,
                    attempts: 0,
                },
                _ => ConnectorError::Malformed {
                    url,
                    detail: format!("{code}: {}", ctx.err().message().unwrap_or("no message")),
                },
            }
        }
        SdkError::TimeoutError(_) => ConnectorError::Timeout { url, attempts: 0 },
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            ConnectorError::Timeout { url, attempts: 0 }
        }
        SdkError::DispatchFailure(_) => ConnectorError::Transport {
            url,
            detail: DisplayErrorContext(&e).to_string(),
        },
        SdkError::ResponseError(_) => ConnectorError::Malformed {
            url,
            detail: DisplayErrorContext(&e).to_string(),
        },
        _ => ConnectorError::Transport {
            url,
            detail: DisplayErrorContext(&e).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::incomplete_xml;

    #[test]
    fn whole_and_cut_documents() {
        let whole = r#"<?xml version="1.0"?>
<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccessKeysResult><IsTruncated>false</IsTruncated></ListAccessKeysResult></ListAccessKeysResponse>
"#;
        assert_eq!(incomplete_xml(whole.as_bytes()), None);
        assert_eq!(incomplete_xml(b"<DeleteAccessKeyResponse/>"), None);
        assert_eq!(incomplete_xml(b"  "), None);
        let cut = &whole[..whole.len() - 20];
        assert!(
            incomplete_xml(cut.as_bytes()).is_some_and(|d| d.contains("</ListAccessKeysResponse>"))
        );
        assert!(incomplete_xml(b"<?xml version=").is_some());
        assert!(incomplete_xml(b"not xml").is_some());
        assert!(incomplete_xml(b"<A><B/>").is_some());
    }
}
