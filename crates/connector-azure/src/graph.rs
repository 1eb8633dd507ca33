//! The connector's view of Microsoft Graph: the SDK's [`HttpClient`] on `graph_url`, with an
//! access token from the client-credentials grant (obtained, and renewed before it expires,
//! here). `@odata.nextLink`s are rebased onto `graph_url`, so the token never follows a link to
//! another host; paths are relative to the Graph root (`v1.0/…`, `beta/…`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use roster_connector_sdk::{
    Auth, Clock, ConnectorError, HttpClient, HttpClientConfig, NextLinkPolicy, RawResponse,
    RequestBody, Secret,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

use crate::client_credentials::request_token;
use crate::config::Credentials;

/// Microsoft Graph's hosts (global and national clouds): nextLinks naming them are rebased.
const GRAPH_HOSTS: &[&str] = &[
    "graph.microsoft.com",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn",
];

/// A token is renewed when it has less than this left (they last about an hour).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// One page of a Graph collection.
#[derive(Debug, Deserialize)]
pub(crate) struct ODataPage<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

pub(crate) struct Graph {
    config: HttpClientConfig,
    clock: Arc<dyn Clock>,
    credentials: Credentials,
    client_id: String,
    scope: String,
    token_url: Url,
    token_client: HttpClient,
    current: Mutex<Option<(Arc<HttpClient>, DateTime<Utc>)>>,
}

impl Graph {
    pub(crate) fn new(
        graph_url: Url,
        token_url: Url,
        client_id: String,
        scope: String,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let mut config = HttpClientConfig::new(graph_url);
        config.user_agent = concat!("roster/", env!("CARGO_PKG_VERSION"), " (entra)").into();
        // A link off graph_url is refused; `next_url` rebases the ones that name Microsoft
        // Graph's own hosts (graph_url may be a proxy or a test double in front of them).
        config.next_link_policy = NextLinkPolicy::Refuse;
        // Fail on a bad base URL now rather than at the first request.
        HttpClient::new(config.clone(), None, clock.clone())?;
        let mut token_config = HttpClientConfig::new(token_url.clone());
        token_config.user_agent = config.user_agent.clone();
        let token_client = HttpClient::new(token_config, None, clock.clone())?;
        Ok(Self {
            config,
            clock,
            credentials,
            client_id,
            scope,
            token_url,
            token_client,
            current: Mutex::new(None),
        })
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.config.base_url
    }

    /// GET and decode. A 401 (token revoked or expired early) gets a new token and one retry.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
    ) -> Result<(T, Url), ConnectorError> {
        let client = self.client(false).await?;
        let response = match client.get_json::<T>(path_or_url).await {
            Err(ConnectorError::Unauthorized { .. }) if self.renewable() => {
                tracing::info!("Graph refused the access token; asking for a new one");
                self.client(true).await?.get_json::<T>(path_or_url).await?
            }
            other => other?,
        };
        Ok((response.body, response.url))
    }

    /// One page of a collection; the next link (if any) is checked against `graph_url` (and
    /// rebased onto it) before it is handed back, so a foreign one fails here.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
    ) -> Result<(Vec<T>, Option<String>, Url), ConnectorError> {
        let (page, url): (ODataPage<T>, Url) = self.get(path_or_url).await?;
        let next = match page.next_link {
            Some(link) => {
                let next = self.next_url(&link).await?;
                if next == url {
                    return Err(ConnectorError::PaginationLoop {
                        listing: url.to_string(),
                        detail: format!("{url} names itself as the next page"),
                    });
                }
                Some(next.to_string())
            }
            None => None,
        };
        Ok((page.value, next, url))
    }

    /// Where a nextLink goes: under `graph_url` as is; on one of Microsoft Graph's own hosts
    /// (over https), rebased onto `graph_url`; anywhere else refused as `ForeignHost`.
    async fn next_url(&self, link: &str) -> Result<Url, ConnectorError> {
        let client = self.client(false).await?;
        match Url::parse(link) {
            Ok(url)
                if !client.is_under_base(&url)
                    && url.scheme() == "https"
                    && url.host_str().is_some_and(|h| {
                        GRAPH_HOSTS.contains(&h.to_ascii_lowercase().as_str())
                    }) =>
            {
                let rebased = client.rebase(&url)?;
                tracing::debug!(from = %url, to = %rebased, "rebased a nextLink onto graph_url");
                Ok(rebased)
            }
            _ => client.resolve(link),
        }
    }

    /// Every page of a small collection (owners, app role assignments, the sign-in report).
    pub(crate) async fn all<T: DeserializeOwned>(
        &self,
        first: &str,
        max_pages: u64,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut guard = roster_connector_sdk::PageGuard::new(first, max_pages);
        let mut out = Vec::new();
        let mut url = first.to_string();
        loop {
            let (items, next, _) = self.page::<T>(&url).await?;
            out.extend(items);
            match next {
                Some(next) => {
                    guard.advance(&next)?;
                    url = next;
                }
                None => return Ok(out),
            }
        }
    }

    /// Any method, undecoded (remediation). A 401 gets a new token and one retry (a 401 was
    /// not processed).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, ConnectorError> {
        let body = || body.map(RequestBody::json).transpose();
        let client = self.client(false).await?;
        match client.send(method.clone(), path, body()?).await {
            Err(ConnectorError::Unauthorized { .. }) if self.renewable() => {
                self.client(true).await?.send(method, path, body()?).await
            }
            other => other,
        }
    }

    fn renewable(&self) -> bool {
        !matches!(self.credentials, Credentials::Token(_))
    }

    /// The client of the current token (obtained when missing, close to expiry, or `force`d).
    async fn client(&self, force: bool) -> Result<Arc<HttpClient>, ConnectorError> {
        let mut current = self.current.lock().await;
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
        let (token, expires_at): (Secret, DateTime<Utc>) = request_token(
            &self.token_client,
            &self.token_url,
            &self.client_id,
            &self.scope,
            &self.credentials,
            now,
        )
        .await?;
        let client = Arc::new(HttpClient::new(
            self.config.clone(),
            Some(Auth::Bearer(token)),
            self.clock.clone(),
        )?);
        *current = Some((client.clone(), expires_at));
        Ok(client)
    }
}

/// A 403 (or, for a beta report, a 400 "tenant not licensed") means "not seen", with the Graph
/// permission the endpoint needs. Graph names no permission in its 403s, so the caller does.
pub(crate) fn forbidden(error: ConnectorError, needs: &str) -> ConnectorError {
    match error {
        ConnectorError::Forbidden { url, needs: None } => ConnectorError::Forbidden {
            url,
            needs: Some(needs.to_string()),
        },
        other => other,
    }
}
