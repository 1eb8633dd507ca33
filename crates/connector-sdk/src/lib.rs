//! The connector SDK: the [`Connector`] trait every source implements (resource types × scopes,
//! listed page by page with opaque tokens, after baton-sdk), and the HTTP client connectors share
//! (configured base URL only, bounded retries and rate-limit waits, size limits, pagination), and
//! the walker of nested listings ([`walk`]).

pub mod clock;
pub mod connector;
pub mod error;
pub mod http_client;
pub mod item;
#[cfg(feature = "proptest")]
pub mod json_props;
pub mod pagination;
pub mod rate_limit;
pub mod remediation;
pub mod validator_cache;
pub mod walk;

pub use clock::{Clock, FakeClock, SystemClock};
pub use connector::{Connector, Listing, Page, PageToken, list_all};
pub use error::ConnectorError;
pub use http_client::{
    Auth, Conditional, HttpClient, HttpClientConfig, NextLinkPolicy, RawResponse, RequestBody,
    Response, Secret,
};
pub use item::decode_item;
pub use pagination::{Fingerprint, PageCursor, PageGuard, PageLimit};
pub use rate_limit::RateLimitInfo;
pub use remediation::{
    ENABLE_REMEDIATION, RemediationError, RemediationOutcome, RemediationRequest, Remediator,
    execution_off,
};
pub use validator_cache::{
    CachedResponse, PathPattern, ValidatorCache, ValidatorChanges, ValidatorLimits,
};
