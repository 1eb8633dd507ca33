//! The HTTP client every connector shares. It holds the rules of the house for talking to a
//! source, so that no connector has to get them right on its own:
//!
//! - **The token stays home.** Requests go only to URLs under the configured base URL (same
//!   scheme, host and port, path below the base path). A next-page link elsewhere is refused
//!   ([`NextLinkPolicy::Refuse`]) or rebased onto the base ([`NextLinkPolicy::RebaseOntoBase`]);
//!   redirects are never followed.
//! - **Bounded everything.** A per-request timeout, a retry count for transient failures, a total
//!   rate-limit wait per call, a response size limit counted on the wire.
//! - **Rate limits are honoured**, from whichever headers the platform sends (see
//!   [`rate_limit::wait_for`]), and a window reported exhausted on a success holds the next
//!   request until it resets.
//! - **Conditional requests where a connector opts in** ([`HttpClientConfig::validator_cache`]):
//!   a GET on one of its listing paths carries the last `ETag`, and a 304 is served from the
//!   kept body and `Link`, so a re-sync of an unchanged source reads the same pages.
//! - **Errors say what happened** as a [`ConnectorError`], which the sync engine reports per
//!   listing (a 401/403/timeout means "unknown", never "gone").

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::ConnectorError;
use crate::clock::Clock;
use crate::pagination::link_next;
use crate::rate_limit::{self, RateLimitInfo};
use crate::validator_cache::{CachedResponse, ValidatorCache};

/// How much of an error body is read: enough to tell a rate limit from a refusal.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Longest `detail` kept from a JSON parse error.
const MAX_ERROR_DETAIL: usize = 200;

/// What to do with a next-page link (or any absolute URL handed to the client) that is not under
/// the configured base URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NextLinkPolicy {
    /// Fail with [`ConnectorError::ForeignHost`]; nothing is sent.
    #[default]
    Refuse,
    /// Keep the link's path and query but send it to the base URL's origin (see
    /// [`HttpClient::rebase`]). For APIs reached through a proxy or a test double whose links
    /// name the upstream host (Microsoft Graph's `@odata.nextLink`, GitHub Enterprise behind a
    /// reverse proxy).
    RebaseOntoBase,
}

/// Settings of one [`HttpClient`]. Build with [`HttpClientConfig::new`] and override fields.
#[derive(Clone)]
pub struct HttpClientConfig {
    /// The only place requests go. Normalised to end with `/`.
    pub base_url: Url,
    /// Per attempt, from sending the request to the last byte of the body.
    pub timeout: Duration,
    /// Retries after a 5xx, a timeout or a connection error (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// The first transient-failure backoff; it doubles per retry, with up to 50 % jitter.
    pub retry_base_delay: Duration,
    /// Total time one call may spend waiting on rate limits before failing with `RateLimited`.
    pub max_rate_limit_wait: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: u64,
    pub user_agent: String,
    pub next_link_policy: NextLinkPolicy,
    /// Sent with every request (e.g. GitHub's `Accept` and `X-GitHub-Api-Version`). Not for
    /// credentials: those go in [`Auth`], which is redacted and never logged.
    pub default_headers: HeaderMap,
    /// Conditional requests: `get_json` on a path the cache admits sends `If-None-Match` with
    /// the cached `ETag` and serves a 304 from the cached body. `None`: every GET is plain.
    pub validator_cache: Option<Arc<ValidatorCache>>,
}

impl HttpClientConfig {
    /// Defaults: 30 s timeout, 4 retries from 1 s, 15 min of rate-limit waiting, 32 MiB bodies,
    /// foreign next links refused.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            retry_base_delay: Duration::from_secs(1),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
            max_response_bytes: 32 * 1024 * 1024,
            user_agent: concat!("roster/", env!("CARGO_PKG_VERSION")).to_string(),
            next_link_policy: NextLinkPolicy::Refuse,
            default_headers: HeaderMap::new(),
            validator_cache: None,
        }
    }
}

impl fmt::Debug for HttpClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header names only: a value put here by mistake could be a credential.
        let header_names: Vec<&str> = self
            .default_headers
            .keys()
            .map(HeaderName::as_str)
            .collect();
        f.debug_struct("HttpClientConfig")
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("user_agent", &self.user_agent)
            .field("next_link_policy", &self.next_link_policy)
            .field("default_headers", &header_names)
            .field("validator_cache", &self.validator_cache)
            .finish()
    }
}

/// A credential. Its `Debug` prints `[redacted]` and it has no `Display`, so it cannot end up in
/// a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// How requests authenticate. Sent only to the base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (GitHub, Graph, GCP).
    Bearer(Secret),
    /// Any header, e.g. GitLab's `PRIVATE-TOKEN`.
    Header { name: HeaderName, value: Secret },
}

impl Auth {
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(Secret::new(token))
    }

    pub fn header(name: HeaderName, value: impl Into<String>) -> Self {
        Self::Header {
            name,
            value: Secret::new(value),
        }
    }

    /// The header to send, marked sensitive so that HTTP/2 never indexes it and `http`'s own
    /// `Debug` hides it.
    fn to_header(&self) -> Result<(HeaderName, HeaderValue), ConnectorError> {
        let (name, raw) = match self {
            Auth::Bearer(token) => (header::AUTHORIZATION, format!("Bearer {}", token.expose())),
            Auth::Header { name, value } => (name.clone(), value.expose().to_string()),
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| {
            ConnectorError::Config(format!(
                "the credential for header {name} contains characters not allowed in HTTP"
            ))
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

/// A decoded JSON response.
#[derive(Debug, Clone)]
pub struct Response<T> {
    pub status: StatusCode,
    pub body: T,
    pub headers: HeaderMap,
    /// The URL that answered (redirects are not followed, so the one requested).
    pub url: Url,
    /// The `Link: rel="next"` target, resolved and already checked against the base URL (or
    /// rebased, per [`NextLinkPolicy`]). `None` means the Link header names no next page.
    pub next: Option<Url>,
}

impl<T> Response<T> {
    /// The `ETag`, to send as `If-None-Match` on the next sync.
    pub fn etag(&self) -> Option<&str> {
        self.headers.get(header::ETAG).and_then(|v| v.to_str().ok())
    }
}

/// The answer to a conditional GET.
#[derive(Debug, Clone)]
pub enum Conditional<T> {
    Modified(Response<T>),
    /// 304: what we have is current (GitHub does not count these against the rate limit).
    NotModified {
        headers: HeaderMap,
        url: Url,
    },
}

/// An undecoded successful response, from [`HttpClient::send`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub url: Url,
    pub body: Vec<u8>,
}

/// A request body with its content type.
#[derive(Debug, Clone)]
pub struct RequestBody {
    content_type: HeaderValue,
    bytes: Vec<u8>,
}

impl RequestBody {
    pub fn new(content_type: HeaderValue, bytes: Vec<u8>) -> Self {
        Self {
            content_type,
            bytes,
        }
    }

    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, ConnectorError> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            ConnectorError::Config(format!("request body does not serialise as JSON: {e}"))
        })?;
        Ok(Self::new(
            HeaderValue::from_static("application/json"),
            bytes,
        ))
    }
}

/// The shared HTTP client. Cheap to share behind an `Arc`; safe to use from several tasks.
pub struct HttpClient {
    config: HttpClientConfig,
    auth: Option<Auth>,
    auth_header: Option<(HeaderName, HeaderValue)>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// Set when a response reported the rate-limit window exhausted: no request leaves before.
    /// One window per client; platforms with several buckets (GitHub core/search) are read
    /// through the core one in practice.
    blocked_until: Mutex<Option<DateTime<Utc>>>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Counters of one call: attempts sent, retries after transient failures, rate limits seen and
/// the rate-limit wait used so far.
#[derive(Debug, Default)]
struct CallState {
    sent: u32,
    retries: u32,
    rate_limited: u32,
    waited: Duration,
}

/// A response whose body was read (whole for a success, a prefix for an error).
struct Received {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

enum AttemptError {
    TooLarge,
    Transport(reqwest::Error),
}

impl HttpClient {
    /// A client for `config.base_url`. Fails with `Config` on a base URL that is not a plain
    /// http(s) URL or a credential that cannot be sent as a header.
    pub fn new(
        mut config: HttpClientConfig,
        auth: Option<Auth>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let base = &mut config.base_url;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(ConnectorError::Config(format!(
                "base URL {base} must be an http(s) URL with a host"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ConnectorError::Config(format!(
                "base URL {base} must not have a query or fragment"
            )));
        }
        // A trailing slash makes `join` append to the base path instead of replacing its last
        // segment, and makes "under the base path" a prefix test on whole segments.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let auth_header = auth.as_ref().map(Auth::to_header).transpose()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // A redirect to another host would carry the token there; 3xx is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(config.user_agent.clone())
            .default_headers(config.default_headers.clone())
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            config,
            auth,
            auth_header,
            clock,
            http,
            blocked_until: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &HttpClientConfig {
        &self.config
    }

    /// The normalised base URL (ending with `/`).
    pub fn base_url(&self) -> &Url {
        &self.config.base_url
    }

    /// Whether `url` has the base URL's scheme, host, port and user, and a path at or below the
    /// base path.
    pub fn is_under_base(&self, url: &Url) -> bool {
        let base = &self.config.base_url;
        let base_path = base.path();
        url.scheme() == base.scheme()
            && url.host() == base.host()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.username() == base.username()
            && url.password() == base.password()
            && (url.path().starts_with(base_path) || url.path() == base_path.trim_end_matches('/'))
    }

    /// The URL a path or URL designates. A relative path (with or without a leading `/`) is
    /// joined onto the base URL; an absolute URL must be under the base URL, or is rebased or
    /// refused per the [`NextLinkPolicy`]. A relative path that climbs out of the base path
    /// (`../`) is always refused.
    pub fn resolve(&self, path_or_url: &str) -> Result<Url, ConnectorError> {
        match Url::parse(path_or_url) {
            Ok(url) => self.admit(url),
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let joined = self
                    .config
                    .base_url
                    .join(path_or_url.trim_start_matches('/'))
                    .map_err(|e| malformed_url(path_or_url, e))?;
                if self.is_under_base(&joined) {
                    Ok(joined)
                } else {
                    Err(self.foreign(&joined))
                }
            }
            Err(e) => Err(malformed_url(path_or_url, e)),
        }
    }

    /// `url` moved onto the base URL's origin, keeping its path and query: a path already under
    /// the base path is kept as is, any other path is appended to the base path. E.g. with base
    /// `http://proxy/gh/`, `https://api.github.com/orgs/a?page=2` becomes
    /// `http://proxy/gh/orgs/a?page=2`.
    pub fn rebase(&self, url: &Url) -> Result<Url, ConnectorError> {
        let base = &self.config.base_url;
        let base_path = base.path();
        let path = url.path();
        let mut rebased = base.clone();
        if path.starts_with(base_path) || path == base_path.trim_end_matches('/') {
            rebased.set_path(path);
        } else {
            rebased.set_path(&format!("{}{path}", base_path.trim_end_matches('/')));
        }
        rebased.set_query(url.query());
        if self.is_under_base(&rebased) {
            Ok(rebased)
        } else {
            Err(self.foreign(url))
        }
    }

    /// GET a JSON document and decode it. `next` carries the checked `Link: rel="next"`.
    ///
    /// With a [`ValidatorCache`] that admits the path, the request is conditional: a 304 is
    /// answered from the cached body and `Link` (the response's status stays 304, so a caller
    /// can tell), and a 200 with an `ETag` is kept for next time.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
    ) -> Result<Response<T>, ConnectorError> {
        let url = self.resolve(path_or_url)?;
        let raw = match self.cache_for(&url) {
            Some(cache) => self.get_validated(cache, url).await?,
            None => {
                self.execute(Method::GET, url, None, self.json_headers(), false)
                    .await?
            }
        };
        self.decode(raw)
    }

    /// The validator cache, when there is one and it admits `url`'s path.
    fn cache_for(&self, url: &Url) -> Option<&ValidatorCache> {
        let cache = self.config.validator_cache.as_deref()?;
        let relative = url.path().strip_prefix(self.config.base_url.path())?;
        cache.admits(relative).then_some(cache)
    }

    /// A conditional GET through `cache`.
    async fn get_validated(
        &self,
        cache: &ValidatorCache,
        url: Url,
    ) -> Result<RawResponse, ConnectorError> {
        let mut headers = self.json_headers();
        // Only an entry whose ETag was actually sent can stand for a 304.
        let cached = cache.lookup(url.as_str()).filter(|c| {
            HeaderValue::from_str(&c.etag)
                .map(|etag| headers.insert(header::IF_NONE_MATCH, etag))
                .is_ok()
        });
        let raw = self
            .execute(Method::GET, url.clone(), None, headers, true)
            .await?;
        if raw.status != StatusCode::NOT_MODIFIED {
            self.keep_validator(cache, &raw);
            return Ok(raw);
        }
        let Some(cached) = cached else {
            // A 304 to a request that named no ETag says nothing about the contents: asking
            // again plainly, rather than reading it as an empty listing. A second 304 is then
            // an error (execute accepts only successes).
            tracing::warn!(%url, "304 Not Modified without a cached body; asking again without a validator");
            cache.forget(url.as_str());
            let raw = self
                .execute(Method::GET, url, None, self.json_headers(), false)
                .await?;
            self.keep_validator(cache, &raw);
            return Ok(raw);
        };
        cache.note_not_modified(url.as_str());
        tracing::debug!(%url, "304 Not Modified: reusing the cached body");
        let mut headers = raw.headers;
        headers.remove(header::LINK);
        if let Some(link) = cached
            .link
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            headers.insert(header::LINK, link);
        }
        Ok(RawResponse {
            status: raw.status,
            headers,
            url: raw.url,
            body: cached.body.clone(),
        })
    }

    /// Keeps a 200's `ETag`, `Link` and body for the next conditional request, or drops a stale
    /// entry when the answer carries no `ETag`.
    fn keep_validator(&self, cache: &ValidatorCache, raw: &RawResponse) {
        let etag = raw.headers.get(header::ETAG).and_then(|v| v.to_str().ok());
        match etag {
            Some(etag) if raw.status == StatusCode::OK => {
                let link = raw
                    .headers
                    .get_all(header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>();
                cache.remember(CachedResponse {
                    url: raw.url.to_string(),
                    etag: etag.to_string(),
                    link: (!link.is_empty()).then(|| link.join(", ")),
                    body: raw.body.clone(),
                });
            }
            _ => cache.forget(raw.url.as_str()),
        }
    }

    /// GET with `If-None-Match: etag` (when given): a 304 comes back as `NotModified`.
    pub async fn get_json_conditional<T: DeserializeOwned>(
        &self,
        path_or_url: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<T>, ConnectorError> {
        let url = self.resolve(path_or_url)?;
        let mut headers = self.json_headers();
        if let Some(etag) = etag {
            let value = HeaderValue::from_str(etag).map_err(|_| {
                ConnectorError::Config(format!("ETag {etag:?} is not a valid header value"))
            })?;
            headers.insert(header::IF_NONE_MATCH, value);
        }
        let raw = self.execute(Method::GET, url, None, headers, true).await?;
        if raw.status == StatusCode::NOT_MODIFIED {
            return Ok(Conditional::NotModified {
                headers: raw.headers,
                url: raw.url,
            });
        }
        self.decode(raw).map(Conditional::Modified)
    }

    /// Any method, undecoded (for remediation: POST, PATCH, DELETE). Only idempotent methods are
    /// retried after a 5xx or timeout, since a POST may have taken effect; a rate-limited
    /// request or a failed connection was not processed and is retried for any method.
    pub async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        body: Option<RequestBody>,
    ) -> Result<RawResponse, ConnectorError> {
        let url = self.resolve(path_or_url)?;
        self.execute(method, url, body.as_ref(), HeaderMap::new(), false)
            .await
    }

    fn json_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        // A connector-specific Accept (e.g. application/vnd.github+json) wins.
        if !self.config.default_headers.contains_key(header::ACCEPT) {
            headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        }
        headers
    }

    fn decode<T: DeserializeOwned>(&self, raw: RawResponse) -> Result<Response<T>, ConnectorError> {
        let body = serde_json::from_slice(&raw.body).map_err(|e| ConnectorError::Malformed {
            url: raw.url.to_string(),
            detail: describe_json_error(&e),
        })?;
        let next = link_next(&raw.headers, &raw.url)?
            .map(|next| self.admit(next))
            .transpose()?;
        Ok(Response {
            status: raw.status,
            body,
            headers: raw.headers,
            url: raw.url,
            next,
        })
    }

    /// An absolute URL is accepted under the base, else refused or rebased per policy.
    fn admit(&self, url: Url) -> Result<Url, ConnectorError> {
        if self.is_under_base(&url) {
            return Ok(url);
        }
        match self.config.next_link_policy {
            NextLinkPolicy::Refuse => Err(self.foreign(&url)),
            NextLinkPolicy::RebaseOntoBase => {
                let rebased = self.rebase(&url)?;
                tracing::debug!(from = %url, to = %rebased, "rebased a link onto the base URL");
                Ok(rebased)
            }
        }
    }

    fn foreign(&self, url: &Url) -> ConnectorError {
        ConnectorError::ForeignHost {
            url: url.to_string(),
            base: self.config.base_url.to_string(),
        }
    }

    /// The request loop: waits out an exhausted window, sends, classifies, retries within bounds.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<&RequestBody>,
        headers: HeaderMap,
        accept_not_modified: bool,
    ) -> Result<RawResponse, ConnectorError> {
        // Defence in depth: whatever path led here, the credential goes nowhere else.
        if !self.is_under_base(&url) {
            return Err(self.foreign(&url));
        }
        let mut call = CallState::default();
        loop {
            self.wait_for_window(&url, &mut call).await?;
            call.sent += 1;
            tracing::debug!(%method, %url, attempt = call.sent, "sending request");
            let received = match self.attempt(&method, &url, body, &headers).await {
                Ok(received) => received,
                Err(AttemptError::TooLarge) => {
                    return Err(ConnectorError::TooLarge {
                        url: url.to_string(),
                        limit_bytes: self.config.max_response_bytes,
                    });
                }
                Err(AttemptError::Transport(e)) => {
                    // A failed connect never reached the server: safe to retry whatever the method.
                    let retryable = e.is_connect() || method.is_idempotent();
                    if retryable && call.retries < self.config.max_retries {
                        tracing::warn!(%url, error = %e, "request failed; retrying");
                        self.back_off(&mut call, None).await;
                        continue;
                    }
                    return Err(transport_error(&url, e, call.sent));
                }
            };

            let now = self.clock.now();
            let info = RateLimitInfo::from_headers(&received.headers, now);
            self.note_window(&info, now);
            let status = received.status;
            if status.is_success() || (accept_not_modified && status == StatusCode::NOT_MODIFIED) {
                return Ok(RawResponse {
                    status,
                    headers: received.headers,
                    url,
                    body: received.body,
                });
            }
            if let Some(wait) =
                rate_limit::wait_for(status, &info, &received.body, call.rate_limited, now)
            {
                call.rate_limited += 1;
                self.wait_rate_limit(wait, &url, &mut call).await?;
                continue;
            }
            match status {
                StatusCode::UNAUTHORIZED => {
                    return Err(ConnectorError::Unauthorized {
                        url: url.to_string(),
                    });
                }
                StatusCode::FORBIDDEN => {
                    return Err(ConnectorError::Forbidden {
                        url: url.to_string(),
                        needs: needed_permission(&received.headers),
                    });
                }
                StatusCode::NOT_FOUND => {
                    return Err(ConnectorError::NotFound {
                        url: url.to_string(),
                    });
                }
                s if s.is_server_error()
                    && method.is_idempotent()
                    && call.retries < self.config.max_retries =>
                {
                    // A 503 may say how long to stay away; honour it if the wait budget allows.
                    match info.retry_after {
                        Some(asked)
                            if call.waited.saturating_add(asked)
                                > self.config.max_rate_limit_wait => {}
                        asked => {
                            tracing::warn!(%url, status = s.as_u16(), "server error; retrying");
                            self.back_off(&mut call, asked).await;
                            continue;
                        }
                    }
                }
                _ => {}
            }
            // Other 4xx, 3xx (redirects are not followed), and 5xx after the last retry.
            return Err(ConnectorError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                attempts: call.sent,
            });
        }
    }

    /// One request; the body is read here so that a timeout while reading it is retried too.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&RequestBody>,
        headers: &HeaderMap,
    ) -> Result<Received, AttemptError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .headers(headers.clone());
        if let Some((name, value)) = &self.auth_header {
            request = request.header(name, value.clone());
        }
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, body.content_type.clone())
                .body(body.bytes.clone());
        }
        let mut response = request.send().await.map_err(AttemptError::Transport)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = if status.is_success() {
            read_body(&mut response, self.config.max_response_bytes).await?
        } else {
            read_prefix(
                &mut response,
                ERROR_BODY_LIMIT.min(self.config.max_response_bytes),
            )
            .await
        };
        Ok(Received {
            status,
            headers,
            body,
        })
    }

    /// Sleeps the transient-failure backoff (or the server's longer `Retry-After`, charged to the
    /// rate-limit budget) and counts the retry.
    async fn back_off(&self, call: &mut CallState, retry_after: Option<Duration>) {
        let backoff = rate_limit::backoff(
            self.config.retry_base_delay,
            call.retries,
            rate_limit::random_jitter(),
        );
        let wait = match retry_after {
            Some(asked) if asked > backoff => {
                call.waited = call.waited.saturating_add(asked);
                asked
            }
            _ => backoff,
        };
        call.retries += 1;
        self.clock.sleep(wait).await;
    }

    /// Sleeps a rate-limit wait if it fits in what is left of the budget; otherwise fails at once
    /// rather than sleeping only to fail later.
    async fn wait_rate_limit(
        &self,
        wait: Duration,
        url: &Url,
        call: &mut CallState,
    ) -> Result<(), ConnectorError> {
        let total = call.waited.saturating_add(wait);
        if total > self.config.max_rate_limit_wait {
            return Err(ConnectorError::RateLimited {
                url: url.to_string(),
                wait_secs: ceil_secs(wait),
                bound_secs: ceil_secs(self.config.max_rate_limit_wait),
            });
        }
        tracing::info!(%url, wait_secs = ceil_secs(wait), "rate limited; waiting");
        self.clock.sleep(wait).await;
        call.waited = total;
        Ok(())
    }

    /// Holds the request until an exhausted window resets (GitHub's primary limit).
    async fn wait_for_window(&self, url: &Url, call: &mut CallState) -> Result<(), ConnectorError> {
        let until = *self.blocked();
        if let Some(wait) =
            until.and_then(|until| rate_limit::duration_until(until, self.clock.now()))
        {
            self.wait_rate_limit(wait, url, call).await?;
        }
        Ok(())
    }

    fn note_window(&self, info: &RateLimitInfo, now: DateTime<Utc>) {
        let mut blocked = self.blocked();
        if let Some(until) = info.exhausted_until(now) {
            *blocked = Some(until);
        } else if info.remaining.is_some_and(|r| r > 0) {
            *blocked = None;
        }
    }

    fn blocked(&self) -> MutexGuard<'_, Option<DateTime<Utc>>> {
        // The guarded value is a plain timestamp; a panic elsewhere cannot leave it inconsistent.
        self.blocked_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reads a success body, failing as soon as it is known to exceed `limit`: up front from
/// `Content-Length`, and while streaming for chunked bodies (or a lying length).
async fn read_body(response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, AttemptError> {
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(AttemptError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(AttemptError::Transport)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(AttemptError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most `limit` bytes of an error body; a body that cannot be read is just shorter,
/// since the status already says what happened.
async fn read_prefix(response: &mut reqwest::Response, limit: u64) -> Vec<u8> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

fn transport_error(url: &Url, error: reqwest::Error, attempts: u32) -> ConnectorError {
    if error.is_timeout() {
        return ConnectorError::Timeout {
            url: url.to_string(),
            attempts,
        };
    }
    // reqwest's top-level message is generic ("error sending request"); the causes say why.
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    detail.push_str(&format!(" (after {attempts} attempt(s))"));
    ConnectorError::Transport {
        url: url.to_string(),
        detail,
    }
}

/// What a 403 says is missing, when the platform says it (GitHub names the fine-grained
/// permission or the OAuth scopes the endpoint accepts).
fn needed_permission(headers: &HeaderMap) -> Option<String> {
    ["x-accepted-github-permissions", "x-accepted-oauth-scopes"]
        .into_iter()
        .filter_map(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

fn malformed_url(input: &str, error: url::ParseError) -> ConnectorError {
    ConnectorError::Malformed {
        url: input.to_string(),
        detail: format!("not a valid URL: {error}"),
    }
}

/// serde's message for a parse error, with quoted strings blanked out and the length bounded:
/// serde quotes the offending value ("invalid type: string \"...\""), and that value could be a
/// secret the source should not have sent.
fn describe_json_error(error: &serde_json::Error) -> String {
    let mut out = String::new();
    let mut in_quotes = false;
    for c in error.to_string().chars() {
        if c == '"' {
            if in_quotes {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            in_quotes = !in_quotes;
        } else if !in_quotes {
            out.push(c);
        }
    }
    if out.chars().count() > MAX_ERROR_DETAIL {
        out = out
            .chars()
            .take(MAX_ERROR_DETAIL)
            .chain(std::iter::once('…'))
            .collect();
    }
    out
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    fn client(base: &str, policy: NextLinkPolicy) -> HttpClient {
        let mut config = HttpClientConfig::new(Url::parse(base).unwrap());
        config.next_link_policy = policy;
        HttpClient::new(
            config,
            Some(Auth::bearer("s3cret-token")),
            Arc::new(FakeClock::default()),
        )
        .unwrap()
    }

    #[test]
    fn relative_paths_join_onto_the_base_path() {
        let c = client("https://ghe.example.com/api/v3", NextLinkPolicy::Refuse);
        assert_eq!(c.base_url().as_str(), "https://ghe.example.com/api/v3/");
        assert_eq!(
            c.resolve("orgs/acme").unwrap().as_str(),
            "https://ghe.example.com/api/v3/orgs/acme"
        );
        assert_eq!(
            c.resolve("/orgs/acme?per_page=100").unwrap().as_str(),
            "https://ghe.example.com/api/v3/orgs/acme?per_page=100"
        );
        assert_eq!(
            c.resolve("https://ghe.example.com/api/v3")
                .unwrap()
                .as_str(),
            "https://ghe.example.com/api/v3"
        );
    }

    #[test]
    fn urls_off_the_base_are_refused() {
        let c = client("https://ghe.example.com/api/v3/", NextLinkPolicy::Refuse);
        for bad in [
            "https://evil.example.com/api/v3/orgs",
            "http://ghe.example.com/api/v3/orgs",
            "https://ghe.example.com:8443/api/v3/orgs",
            "https://ghe.example.com/api/v30/orgs",
            "https://ghe.example.com/admin",
            "https://user@ghe.example.com/api/v3/orgs",
            "../../admin",
            "%2e%2e/%2e%2e/admin",
            "\\\\evil.example.com/api/v3/orgs",
        ] {
            assert!(
                matches!(c.resolve(bad), Err(ConnectorError::ForeignHost { .. })),
                "{bad} was accepted"
            );
        }
        // A protocol-relative reference stays a path under the base.
        assert_eq!(
            c.resolve("//evil.example.com/x").unwrap().as_str(),
            "https://ghe.example.com/api/v3/evil.example.com/x"
        );
    }

    #[test]
    fn rebase_keeps_path_and_query_on_the_base_origin() {
        let c = client("http://127.0.0.1:9/v1.0", NextLinkPolicy::RebaseOntoBase);
        let link = Url::parse("https://graph.microsoft.com/v1.0/users?$skiptoken=abc").unwrap();
        assert_eq!(
            c.rebase(&link).unwrap().as_str(),
            "http://127.0.0.1:9/v1.0/users?$skiptoken=abc"
        );
        let proxied = client("http://proxy.internal/gh/", NextLinkPolicy::RebaseOntoBase);
        let link = Url::parse("https://api.github.com/orgs/acme/repos?page=2").unwrap();
        assert_eq!(
            proxied.rebase(&link).unwrap().as_str(),
            "http://proxy.internal/gh/orgs/acme/repos?page=2"
        );
        assert_eq!(
            proxied.resolve(link.as_str()).unwrap().as_str(),
            "http://proxy.internal/gh/orgs/acme/repos?page=2"
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let clock: Arc<dyn Clock> = Arc::new(FakeClock::default());
        let config = |u: &str| HttpClientConfig::new(Url::parse(u).unwrap());
        assert!(HttpClient::new(config("ftp://example.com/"), None, clock.clone()).is_err());
        assert!(HttpClient::new(config("https://example.com/?x=1"), None, clock.clone()).is_err());
        let err = HttpClient::new(
            config("https://example.com/"),
            Some(Auth::bearer("bad\ntoken")),
            clock,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("bad"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_credential() {
        let c = client("https://api.github.com", NextLinkPolicy::Refuse);
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        let header = Auth::header(HeaderName::from_static("private-token"), "glpat-s3cret");
        assert_eq!(
            format!("{header:?}"),
            "Header { name: \"private-token\", value: [redacted] }"
        );
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        struct Key {
            #[allow(dead_code)]
            id: u64,
        }
        let err = serde_json::from_str::<Key>(r#"{"id":"AKIASECRETVALUE"}"#).unwrap_err();
        let detail = describe_json_error(&err);
        assert!(!detail.contains("AKIASECRETVALUE"), "{detail}");
        assert!(detail.contains("invalid type"), "{detail}");
    }
}
