//! The connector's view of the GitLab REST API (`{url}/api/v4`): the SDK's [`HttpClient`] with
//! the token in `PRIVATE-TOKEN`, and GitLab's paging: `Link: rel="next"` first, then
//! `X-Next-Page`, then (neither sent) `X-Total-Pages` or a short page.

use std::sync::Arc;

use reqwest::Method;
use reqwest::header::HeaderName;
use roster_connector_sdk::pagination::page_number_next;
use roster_connector_sdk::{
    Auth, Clock, ConnectorError, HttpClient, HttpClientConfig, NextLinkPolicy, RawResponse,
    Response, Secret,
};
use serde::de::DeserializeOwned;
use url::Url;

pub(crate) struct Api {
    client: HttpClient,
}

impl Api {
    pub(crate) fn new(
        base: Url,
        token: Secret,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let mut config = HttpClientConfig::new(base);
        config.user_agent = concat!("roster/", env!("CARGO_PKG_VERSION"), " (gitlab)").into();
        // A Link to another host is an error, never followed: the token stays on `url`.
        config.next_link_policy = NextLinkPolicy::Refuse;
        let auth = Auth::Header {
            name: HeaderName::from_static("private-token"),
            value: token,
        };
        Ok(Self {
            client: HttpClient::new(config, Some(auth), clock)?,
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
    ) -> Result<Response<T>, ConnectorError> {
        self.client.get_json(path_or_url).await
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path_or_url: &str,
    ) -> Result<RawResponse, ConnectorError> {
        self.client.send(method, path_or_url, None).await
    }
}

/// The next page of a list response that returned `got` items of `per_page`, as a URL already
/// checked against the base URL. `Link: rel="next"` decides when present (offset and keyset
/// paging both send it); a keyset request without one is done. Otherwise `X-Next-Page` (empty:
/// last page); past 10,000 rows GitLab drops `X-Total` and `X-Total-Pages` but keeps these, and
/// without any header a full page means there may be more.
pub(crate) fn next_page<T>(
    response: &Response<T>,
    per_page: u32,
    got: usize,
) -> Result<Option<Url>, ConnectorError> {
    if let Some(next) = &response.next {
        return Ok(Some(next.clone()));
    }
    let url = &response.url;
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if query("pagination").as_deref() == Some("keyset") {
        return Ok(None);
    }
    let page = query("page")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1);
    let Some(next) = page_number_next(&response.headers, page, u64::from(per_page), got) else {
        return Ok(None);
    };
    let mut next_url = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    next_url
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("page", &next.to_string());
    Ok(Some(next_url))
}

/// A 403 means "not seen" with what the endpoint needs; a 404 on a listing GitLab answers for
/// everything it lets the token see means the same (GitLab hides groups and projects a token may
/// not read behind 404).
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
