//! The trait a source of identities implements.

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::Record;

use crate::ConnectorError;
use crate::remediation::Remediator;
use crate::validator_cache::ValidatorCache;

/// One listing the sync engine runs: a resource type in a scope. Sweeping (marking unseen records
/// gone) happens per listing, and only when its listing completed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listing {
    pub resource_type: String,
    pub scope: String,
}

impl Listing {
    pub fn new(resource_type: impl Into<String>, scope: impl Into<String>) -> Self {
        Self {
            resource_type: resource_type.into(),
            scope: scope.into(),
        }
    }
}

impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}", self.resource_type, self.scope)
    }
}

/// Where the next page starts. Opaque to the engine: a URL, an offset, a marker, a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageToken(pub String);

/// One page of a listing.
impl PageToken {
    /// A connector's own cursor state as an opaque token (JSON inside; callers never read it).
    pub fn from_state<T: serde::Serialize>(state: &T) -> Self {
        // Serialising a cursor of plain strings and numbers cannot fail.
        PageToken(serde_json::to_string(state).unwrap_or_default())
    }

    /// The cursor state of `token`, or the default (first page) without one. A token this
    /// connector did not hand out is a `Malformed` error naming the listing.
    pub fn state<T: serde::de::DeserializeOwned + Default>(
        listing: &Listing,
        token: Option<&PageToken>,
    ) -> Result<T, ConnectorError> {
        match token {
            None => Ok(T::default()),
            Some(t) => serde_json::from_str(&t.0).map_err(|_| ConnectorError::Malformed {
                url: listing.to_string(),
                detail: "page token was not made by this connector".into(),
            }),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub records: Vec<Record>,
    /// `None` when this was the last page.
    pub next: Option<PageToken>,
}

/// A source of non-human identities. One value per configured connector.
///
/// The engine first asks for the [`plan`](Connector::plan) (which listings exist: e.g. every
/// resource type in every configured org), then pages through each listing with
/// [`list`](Connector::list). Every record a listing returns must carry that listing's resource
/// type and scope in its key, so that sweeping one listing never touches another's records.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The listings to run. An error here means nothing of this connector was seen.
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError>;

    /// One page of a listing; `page` is `None` for the first.
    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError>;

    /// The cache of `ETag`s and bodies this connector's HTTP client consults, for the sync
    /// engine to restore before a run and save after it. `None`: no conditional requests.
    fn validator_cache(&self) -> Option<Arc<ValidatorCache>> {
        None
    }

    /// This connector's remediation, for a caller that holds it as a `dyn Connector` (the app
    /// builds each connector once). `None`: it offers none.
    fn remediator(&self) -> Option<&dyn Remediator> {
        None
    }
}

/// Every page of one listing, collected. For tests and small tools; the sync engine streams
/// pages instead. A repeated page token or more than `max_pages` pages is a
/// [`ConnectorError::PaginationLoop`]; a record outside the listing is
/// [`ConnectorError::Malformed`], as the engine would reject it.
pub async fn list_all<C: Connector + ?Sized>(
    connector: &C,
    listing: &Listing,
    max_pages: u64,
) -> Result<Vec<Record>, ConnectorError> {
    let mut guard = crate::PageGuard::new(listing, max_pages);
    let mut out = Vec::new();
    let mut token: Option<PageToken> = None;
    loop {
        let page = connector.list(listing, token.as_ref()).await?;
        if let Some(r) = page
            .records
            .iter()
            .find(|r| r.key.resource_type != listing.resource_type || r.key.scope != listing.scope)
        {
            return Err(ConnectorError::Malformed {
                url: listing.to_string(),
                detail: format!(
                    "record `{}` belongs to {} in {}",
                    r.key.external_id, r.key.resource_type, r.key.scope
                ),
            });
        }
        out.extend(page.records);
        match page.next {
            Some(t) => {
                guard.advance(&t.0)?;
                token = Some(t);
            }
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod page_token_tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Cursor {
        next: Option<String>,
        done: u32,
    }

    #[test]
    fn cursor_state_round_trips_and_a_foreign_token_is_refused() {
        let l = Listing::new("x.thing", "scope");
        let c = Cursor {
            next: Some("p2".into()),
            done: 3,
        };
        let t = PageToken::from_state(&c);
        assert_eq!(PageToken::state::<Cursor>(&l, Some(&t)).unwrap(), c);
        assert_eq!(
            PageToken::state::<Cursor>(&l, None).unwrap(),
            Cursor::default()
        );
        let err = PageToken::state::<Cursor>(&l, Some(&PageToken("https://evil".into())));
        assert!(matches!(err, Err(ConnectorError::Malformed { .. })));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod remediator_tests {
    use super::*;

    struct Plain;

    #[async_trait]
    impl Connector for Plain {
        async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
            Ok(Vec::new())
        }

        async fn list(&self, _: &Listing, _: Option<&PageToken>) -> Result<Page, ConnectorError> {
            Ok(Page::default())
        }
    }

    #[test]
    fn a_connector_offers_no_remediator_unless_it_says_so() {
        assert!(Plain.remediator().is_none());
    }
}
