//! What can go wrong while talking to a source. Every variant says enough for the run report.

/// An error from a connector. The sync engine records it against the listing (or the whole
/// connector, from `plan`) and sweeps nothing there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The configuration of the connector is wrong (missing field, unreadable key file...).
    #[error("configuration: {0}")]
    Config(String),
    /// 401: credentials missing, wrong or expired.
    #[error("unauthorized (HTTP 401) at {url}: credentials are missing, invalid or expired")]
    Unauthorized { url: String },
    /// 403 that is not a rate limit: the credentials may not read this.
    #[error("forbidden (HTTP 403) at {url}{}", needs.as_ref().map(|n| format!(": needs {n}")).unwrap_or_default())]
    Forbidden { url: String, needs: Option<String> },
    /// 404 on something the plan said exists.
    #[error("not found (HTTP 404) at {url}")]
    NotFound { url: String },
    /// Rate limited and the wait would exceed the configured total bound.
    #[error(
        "rate limited at {url}; waiting {wait_secs}s more would exceed the bound of {bound_secs}s"
    )]
    RateLimited {
        url: String,
        wait_secs: u64,
        bound_secs: u64,
    },
    /// Any other HTTP status after retries.
    #[error("HTTP {status} at {url} after {attempts} attempt(s)")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    /// The request timed out (after retries).
    #[error("timed out at {url} after {attempts} attempt(s)")]
    Timeout { url: String, attempts: u32 },
    /// Connection-level failure (after retries).
    #[error("transport error at {url}: {detail}")]
    Transport { url: String, detail: String },
    /// The body was larger than the configured limit.
    #[error("response from {url} exceeds the limit of {limit_bytes} bytes")]
    TooLarge { url: String, limit_bytes: u64 },
    /// The body did not parse as what the API documents.
    #[error("malformed response from {url}: {detail}")]
    Malformed { url: String, detail: String },
    /// A next-page link or redirect pointed off the configured base URL; the token stays home.
    #[error("refused to follow {url}: it is not under the configured base URL {base}")]
    ForeignHost { url: String, base: String },
    /// A page token came back that was already visited, or the page count hit its bound.
    #[error("pagination loop in {listing}: {detail}")]
    PaginationLoop { listing: String, detail: String },
}
