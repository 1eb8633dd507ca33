//! The connector's view of Google's APIs: one SDK [`HttpClient`] per service base URL (IAM,
//! Resource Manager, Policy Analyzer), all sending the current access token, which is minted
//! here from the configured credential and refreshed before it expires (or once after a 401).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::HeaderValue;
use roster_connector_sdk::{
    Auth, Clock, ConnectorError, HttpClient, HttpClientConfig, NextLinkPolicy, RawResponse,
    RequestBody, Response, Secret,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::auth::{CLOUD_PLATFORM_SCOPE, Credentials, ExternalAccount, ServiceAccountKey};
use crate::config::Endpoints;

/// A token is replaced when it has less than this left (they last an hour).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Which API a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Iam,
    ResourceManager,
    PolicyAnalyzer,
}

/// The clients of one access token.
struct Clients {
    iam: Arc<HttpClient>,
    resource_manager: Arc<HttpClient>,
    policy_analyzer: Arc<HttpClient>,
}

impl Clients {
    fn of(&self, service: Service) -> Arc<HttpClient> {
        match service {
            Service::Iam => self.iam.clone(),
            Service::ResourceManager => self.resource_manager.clone(),
            Service::PolicyAnalyzer => self.policy_analyzer.clone(),
        }
    }
}

pub(crate) struct Api {
    endpoints: Endpoints,
    clock: Arc<dyn Clock>,
    credentials: Credentials,
    current: Mutex<Option<Current>>,
}

/// The current token's clients and when the token expires (`None`: a token from the
/// environment, whose lifetime Roster does not know).
type Current = (Arc<Clients>, Option<DateTime<Utc>>);

/// OAuth token endpoint and STS answer (RFC 6749 §5.1, RFC 8693 §2.2.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// IAM Credentials `generateAccessToken` answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedToken {
    access_token: String,
    expire_time: DateTime<Utc>,
}

fn client_config(base: url::Url) -> HttpClientConfig {
    let mut config = HttpClientConfig::new(base);
    config.user_agent = concat!("roster/", env!("CARGO_PKG_VERSION"), " (gcp)").into();
    // GCP pages with tokens, not links; any absolute URL handed to the client stays refused.
    config.next_link_policy = NextLinkPolicy::Refuse;
    config
}

fn form(pairs: &[(&str, &str)]) -> RequestBody {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    RequestBody::new(
        HeaderValue::from_static("application/x-www-form-urlencoded"),
        s.finish().into_bytes(),
    )
}

/// A token endpoint that refuses the credential answers 400 (`invalid_grant`) or 401.
fn refused_credential(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Status {
            url, status: 400, ..
        } => ConnectorError::Unauthorized { url },
        other => other,
    }
}

impl Api {
    pub(crate) fn new(
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        // Fail on a bad base URL now rather than at the first request.
        for base in [
            &endpoints.iam,
            &endpoints.resource_manager,
            &endpoints.policy_analyzer,
            &endpoints.token,
            &endpoints.sts,
            &endpoints.iam_credentials,
        ] {
            HttpClient::new(client_config(base.clone()), None, clock.clone())?;
        }
        Ok(Self {
            endpoints,
            clock,
            credentials,
            current: Mutex::new(None),
        })
    }

    /// GET and decode.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
    ) -> Result<Response<T>, ConnectorError> {
        let client = self.clients(false).await?.of(service);
        match client.get_json::<T>(path).await {
            Err(ConnectorError::Unauthorized { .. }) if self.mints() => {
                tracing::info!("access token refused; minting a new one");
                self.clients(true).await?.of(service).get_json(path).await
            }
            other => other,
        }
    }

    /// POST a JSON body and decode the answer (`getIamPolicy` is a read that Google spells as
    /// POST).
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(T, url::Url), ConnectorError> {
        let raw = self.send(service, Method::POST, path, Some(body)).await?;
        let decoded = serde_json::from_slice(&raw.body).map_err(|e| ConnectorError::Malformed {
            url: raw.url.to_string(),
            detail: format!(
                "not the documented JSON at line {} column {}",
                e.line(),
                e.column()
            ),
        })?;
        Ok((decoded, raw.url))
    }

    /// Any method, undecoded. A 401 with a minted token mints a new one and tries once more.
    pub(crate) async fn send(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, ConnectorError> {
        let body = || body.map(RequestBody::json).transpose();
        let client = self.clients(false).await?.of(service);
        match client.send(method.clone(), path, body()?).await {
            Err(ConnectorError::Unauthorized { .. }) if self.mints() => {
                tracing::info!("access token refused; minting a new one");
                self.clients(true)
                    .await?
                    .of(service)
                    .send(method, path, body()?)
                    .await
            }
            other => other,
        }
    }

    fn mints(&self) -> bool {
        !matches!(self.credentials, Credentials::AccessToken(_))
    }

    /// The clients of the current token (minted when missing, close to expiry, or `force`d).
    async fn clients(&self, force: bool) -> Result<Arc<Clients>, ConnectorError> {
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some((clients, expires_at)) = current.as_ref() {
            let fresh = match expires_at {
                None => true,
                Some(at) => chrono::Duration::from_std(REFRESH_MARGIN)
                    .ok()
                    .and_then(|m| now.checked_add_signed(m))
                    .is_some_and(|limit| *at > limit),
            };
            if fresh && !force {
                return Ok(clients.clone());
            }
        }
        let (token, expires_at) = match &self.credentials {
            Credentials::AccessToken(token) => (token.clone(), None),
            Credentials::ServiceAccountKey(key) => {
                let (t, e) = self.jwt_bearer(key, now).await?;
                (t, Some(e))
            }
            Credentials::ExternalAccount(ext) => {
                let (t, e) = self.federate(ext, now).await?;
                (t, Some(e))
            }
        };
        let client = |base: &url::Url| {
            HttpClient::new(
                client_config(base.clone()),
                Some(Auth::Bearer(token.clone())),
                self.clock.clone(),
            )
            .map(Arc::new)
        };
        let clients = Arc::new(Clients {
            iam: client(&self.endpoints.iam)?,
            resource_manager: client(&self.endpoints.resource_manager)?,
            policy_analyzer: client(&self.endpoints.policy_analyzer)?,
        });
        *current = Some((clients.clone(), expires_at));
        Ok(clients)
    }

    /// The JWT bearer grant: a signed assertion for an access token at `token_url`.
    async fn jwt_bearer(
        &self,
        key: &ServiceAccountKey,
        now: DateTime<Utc>,
    ) -> Result<(Secret, DateTime<Utc>), ConnectorError> {
        let url = self.endpoints.token.clone();
        let assertion = key.assertion(url.as_str(), now);
        let client = HttpClient::new(client_config(url.clone()), None, self.clock.clone())?;
        let raw = client
            .send(
                Method::POST,
                url.as_str(),
                Some(form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.expose()),
                ])),
            )
            .await
            .map_err(refused_credential)?;
        let token = token_of(&raw)?;
        tracing::debug!(account = %key.client_email, "minted an access token with a service-account key");
        Ok((
            Secret::new(token.access_token),
            expiry(now, token.expires_in),
        ))
    }

    /// Workload identity federation: the subject token for a federated token at `sts_url`,
    /// then, if the file says so, for a service account's token.
    async fn federate(
        &self,
        ext: &ExternalAccount,
        now: DateTime<Utc>,
    ) -> Result<(Secret, DateTime<Utc>), ConnectorError> {
        let subject = ext.subject_token()?;
        let sts_url = self.endpoints.sts.clone();
        let sts = HttpClient::new(client_config(sts_url.clone()), None, self.clock.clone())?;
        let raw = sts
            .send(
                Method::POST,
                sts_url.as_str(),
                Some(form(&[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    ),
                    ("audience", &ext.audience),
                    ("scope", CLOUD_PLATFORM_SCOPE),
                    (
                        "requested_token_type",
                        "urn:ietf:params:oauth:token-type:access_token",
                    ),
                    ("subject_token", subject.expose()),
                    ("subject_token_type", &ext.subject_token_type),
                ])),
            )
            .await
            .map_err(refused_credential)?;
        let federated = token_of(&raw)?;
        let federated_expiry = expiry(now, federated.expires_in);
        let Some(path) = &ext.impersonation_path else {
            return Ok((Secret::new(federated.access_token), federated_expiry));
        };
        let iamcreds = HttpClient::new(
            client_config(self.endpoints.iam_credentials.clone()),
            Some(Auth::bearer(federated.access_token)),
            self.clock.clone(),
        )?;
        let raw = iamcreds
            .send(
                Method::POST,
                path,
                Some(RequestBody::json(&serde_json::json!({
                    "scope": [CLOUD_PLATFORM_SCOPE],
                    "lifetime": "3600s",
                }))?),
            )
            .await?;
        let generated: GeneratedToken =
            serde_json::from_slice(&raw.body).map_err(|_| ConnectorError::Malformed {
                url: raw.url.to_string(),
                detail: "generateAccessToken answer lacks `accessToken` or `expireTime`".into(),
            })?;
        tracing::debug!("minted an access token through workload identity federation");
        Ok((Secret::new(generated.access_token), generated.expire_time))
    }
}

/// The body holds the token: a parse error must not quote it, so no serde detail.
fn token_of(raw: &RawResponse) -> Result<TokenResponse, ConnectorError> {
    serde_json::from_slice(&raw.body).map_err(|_| ConnectorError::Malformed {
        url: raw.url.to_string(),
        detail: "token response lacks `access_token`".into(),
    })
}

/// `expires_in` seconds from `now`; Google's tokens last an hour when the answer does not say.
fn expiry(now: DateTime<Utc>, expires_in: Option<i64>) -> DateTime<Utc> {
    let secs = expires_in.filter(|s| *s > 0).unwrap_or(3600).min(24 * 3600);
    now + chrono::Duration::seconds(secs)
}
