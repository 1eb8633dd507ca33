//! The connector's view of the GitHub REST API: the SDK's [`HttpClient`] with GitHub's headers,
//! authenticated with a token or as a GitHub App installation (token minted and refreshed here).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use roster_connector_sdk::{
    Auth, Clock, ConnectorError, HttpClient, HttpClientConfig, NextLinkPolicy, RawResponse,
    RequestBody, Response, Secret, ValidatorCache,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

use crate::config::{AppCredentials, Credentials};

/// `application/vnd.github+json` alone draws a 406 from Prism; GitHub answers both the same.
pub const ACCEPT_VALUE: &str = "application/vnd.github+json, application/json;q=0.9";
pub const API_VERSION: &str = "2022-11-28";

/// An installation token is replaced when it has less than this left (they last an hour).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Called with the URL and headers of every successful response (the Prism test uses it to
/// check that no response carried an `sl-violations` header).
pub type ResponseObserver = Arc<dyn Fn(&Url, &HeaderMap) + Send + Sync>;

pub(crate) struct Api {
    config: HttpClientConfig,
    clock: Arc<dyn Clock>,
    auth: AuthMode,
    observer: Option<ResponseObserver>,
}

enum AuthMode {
    Token(Arc<HttpClient>),
    App {
        creds: AppCredentials,
        /// The installation token's client and when the token expires.
        current: Mutex<Option<(Arc<HttpClient>, DateTime<Utc>)>>,
    },
}

#[derive(Deserialize)]
struct InstallationToken {
    token: String,
    expires_at: DateTime<Utc>,
}

impl Api {
    /// `validator_cache`: conditional GETs of the listing paths it admits (see
    /// `GithubConnector::with_credentials`); `None` for plain requests only.
    pub(crate) fn new(
        base: Url,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
        validator_cache: Option<Arc<ValidatorCache>>,
    ) -> Result<Self, ConnectorError> {
        let mut config = HttpClientConfig::new(base);
        config.validator_cache = validator_cache;
        config.user_agent = concat!("roster/", env!("CARGO_PKG_VERSION"), " (github)").into();
        // Link headers that name another host (GHES behind a proxy, a test double) are moved
        // onto api_url: the token never follows them elsewhere.
        config.next_link_policy = NextLinkPolicy::RebaseOntoBase;
        config
            .default_headers
            .insert(ACCEPT, HeaderValue::from_static(ACCEPT_VALUE));
        config.default_headers.insert(
            HeaderName::from_static("x-github-api-version"),
            HeaderValue::from_static(API_VERSION),
        );
        let auth = match credentials {
            Credentials::Token(token) => AuthMode::Token(Arc::new(HttpClient::new(
                config.clone(),
                Some(Auth::Bearer(token)),
                clock.clone(),
            )?)),
            Credentials::App(creds) => {
                // Fail on a bad base URL now rather than at the first request.
                HttpClient::new(config.clone(), None, clock.clone())?;
                AuthMode::App {
                    creds,
                    current: Mutex::new(None),
                }
            }
        };
        Ok(Self {
            config,
            clock,
            auth,
            observer: None,
        })
    }

    pub(crate) fn set_observer(&mut self, observer: ResponseObserver) {
        self.observer = Some(observer);
    }

    /// GET and decode. With App authentication a 401 (token revoked or expired early) mints a
    /// new installation token and tries once more.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
    ) -> Result<Response<T>, ConnectorError> {
        let client = self.client(false).await?;
        let result = match client.get_json::<T>(path_or_url).await {
            Err(ConnectorError::Unauthorized { .. })
                if matches!(self.auth, AuthMode::App { .. }) =>
            {
                tracing::info!("installation token refused; minting a new one");
                self.client(true).await?.get_json::<T>(path_or_url).await
            }
            other => other,
        };
        if let (Ok(response), Some(observer)) = (&result, &self.observer) {
            observer(&response.url, &response.headers);
        }
        result
    }

    /// Any method, undecoded (remediation: DELETE, POST, PATCH). A 401 with App authentication
    /// mints a new installation token and tries once more (a 401 was not processed).
    pub(crate) async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, ConnectorError> {
        let body = || body.map(RequestBody::json).transpose();
        let client = self.client(false).await?;
        let result = match client.send(method.clone(), path_or_url, body()?).await {
            Err(ConnectorError::Unauthorized { .. })
                if matches!(self.auth, AuthMode::App { .. }) =>
            {
                tracing::info!("installation token refused; minting a new one");
                self.client(true)
                    .await?
                    .send(method, path_or_url, body()?)
                    .await
            }
            other => other,
        };
        if let (Ok(response), Some(observer)) = (&result, &self.observer) {
            observer(&response.url, &response.headers);
        }
        result
    }

    /// The client to send with: the token's, or the current installation token's (minted when
    /// missing, close to expiry, or `force`d).
    async fn client(&self, force: bool) -> Result<Arc<HttpClient>, ConnectorError> {
        let (creds, current) = match &self.auth {
            AuthMode::Token(client) => return Ok(client.clone()),
            AuthMode::App { creds, current } => (creds, current),
        };
        let mut current = current.lock().await;
        let now = self.clock.now();
        if let Some((client, expires_at)) = current.as_ref() {
            let fresh = chrono::Duration::from_std(REFRESH_MARGIN)
                .ok()
                .and_then(|m| now.checked_add_signed(m))
                .is_some_and(|limit| *expires_at > limit);
            if fresh && !force {
                return Ok(client.clone());
            }
        }
        let (token, expires_at) = self.mint(creds, now).await?;
        let client = Arc::new(HttpClient::new(
            self.config.clone(),
            Some(Auth::Bearer(token)),
            self.clock.clone(),
        )?);
        *current = Some((client.clone(), expires_at));
        Ok(client)
    }

    /// Exchanges a fresh App JWT for an installation token.
    async fn mint(
        &self,
        creds: &AppCredentials,
        now: DateTime<Utc>,
    ) -> Result<(Secret, DateTime<Utc>), ConnectorError> {
        let jwt = creds.key.jwt(&creds.app_id, now);
        // The token exchange is a POST and never cached anyway; the App's client does not even
        // see the cache.
        let mut config = self.config.clone();
        config.validator_cache = None;
        let app_client = HttpClient::new(config, Some(Auth::Bearer(jwt)), self.clock.clone())?;
        let path = format!("app/installations/{}/access_tokens", creds.installation_id);
        let raw = app_client
            .send(Method::POST, &path, None)
            .await
            .map_err(|e| match e {
                ConnectorError::NotFound { url } => ConnectorError::Config(format!(
                    "GitHub App installation {} not found for app {} ({url})",
                    creds.installation_id, creds.app_id
                )),
                other => other,
            })?;
        if let Some(observer) = &self.observer {
            observer(&raw.url, &raw.headers);
        }
        // The body holds the token: parse errors must not quote it, so no serde detail here.
        let parsed: InstallationToken =
            serde_json::from_slice(&raw.body).map_err(|_| ConnectorError::Malformed {
                url: raw.url.to_string(),
                detail: "installation token response lacks `token` or `expires_at`".into(),
            })?;
        tracing::debug!(expires_at = %parsed.expires_at, "minted an installation token");
        Ok((Secret::new(parsed.token), parsed.expires_at))
    }
}

/// GitHub hides what a credential may not see behind 404 as well as 403: both mean "not seen",
/// with the permission the endpoint needs. A 403 that named the permission keeps GitHub's words.
pub(crate) fn forbidden(error: ConnectorError, needs: &str) -> ConnectorError {
    match error {
        ConnectorError::Forbidden { url, needs: None } | ConnectorError::NotFound { url } => {
            ConnectorError::Forbidden {
                url,
                needs: Some(needs.to_string()),
            }
        }
        other => other,
    }
}
