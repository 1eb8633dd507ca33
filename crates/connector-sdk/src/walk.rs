//! One walker for nested listings: list the parents (repositories, projects, service
//! accounts...), then page through each parent's children. After baton-sdk's page-state bag,
//! the whole position is one typed [`WalkState`] carried in the [`PageToken`] between `list`
//! calls: the parents' cursor, the parents of the current parent page not finished yet (the
//! first is the current one) and its children's cursor, each cursor with its loop guard inside.

use std::collections::VecDeque;

use async_trait::async_trait;
use roster_core::Record;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::pagination::{Fingerprint, PageCursor, PageLimit};
use crate::{ConnectorError, Listing, Page, PageToken};

/// One `list` call of a walk stops asking for more after this many requests, so a page (and a
/// failure) stays small.
pub const REQUESTS_PER_PAGE: usize = 10;

/// One page a [`Walk`] read: parents, or a parent's records.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub items: Vec<T>,
    /// Of the page's items as the source sent them ([`Fingerprint::of`]).
    pub fingerprint: Option<Fingerprint>,
    /// The URL that answered.
    pub url: Url,
    /// Where the next page starts (a URL or a token); `None` on the last page.
    pub next: Option<String>,
}

/// What a parent's child listing gave.
#[derive(Debug, Clone)]
pub enum Children {
    Page(Fetched<Record>),
    /// The parent was deleted during the sync, and its children with it: it is skipped.
    /// `requests`: the requests it took to find out.
    Gone {
        requests: usize,
    },
}

/// The two listings of a nested walk. `at` is where the page starts, as a previous page's
/// `next` gave it; `None` for the first page.
#[async_trait]
pub trait Walk: Send + Sync {
    /// What a child listing needs of its parent; kept in the page token.
    type Parent: Serialize + DeserializeOwned + Send + Sync;

    async fn parents(&self, at: Option<&str>) -> Result<Fetched<Self::Parent>, ConnectorError>;

    async fn children(
        &self,
        parent: &Self::Parent,
        at: Option<&str>,
    ) -> Result<Children, ConnectorError>;
}

/// Where a walk goes on; serialised as the opaque page token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: DeserializeOwned"))]
pub struct WalkState<P> {
    #[serde(rename = "p", default, skip_serializing_if = "is_default")]
    parents: PageCursor,
    /// The parents listing has no more pages.
    #[serde(rename = "d", default, skip_serializing_if = "is_false")]
    parents_done: bool,
    /// The parents of the current parent page not finished yet; the first is the one `child`
    /// continues.
    #[serde(
        rename = "q",
        default = "VecDeque::new",
        skip_serializing_if = "VecDeque::is_empty"
    )]
    queue: VecDeque<P>,
    #[serde(rename = "c", default, skip_serializing_if = "is_default")]
    child: PageCursor,
}

impl<P> Default for WalkState<P> {
    fn default() -> Self {
        Self {
            parents: PageCursor::default(),
            parents_done: false,
            queue: VecDeque::new(),
            child: PageCursor::default(),
        }
    }
}

impl<P> WalkState<P> {
    /// The current parent is finished (or gone): on to the next, from its first page.
    fn next_parent(&mut self) {
        self.queue.pop_front();
        self.child = PageCursor::default();
    }
}

/// One page of the nested listing `listing`: resumes the walk `token` left off (`None`: from
/// the start) and goes on for up to `max_records` records or [`REQUESTS_PER_PAGE`] requests.
/// At either level, a page whose items repeat the previous page's, a next page that names the
/// page itself, or more than `max_pages` pages (counted again for each parent's children) is a
/// [`ConnectorError::PaginationLoop`].
pub async fn walk<W: Walk>(
    walk: &W,
    listing: &Listing,
    token: Option<&PageToken>,
    max_pages: u64,
    max_records: usize,
) -> Result<Page, ConnectorError> {
    let limit = PageLimit::new(listing, max_pages);
    let mut state = PageToken::state::<WalkState<W::Parent>>(listing, token)?;
    let mut records = Vec::new();
    let mut requests = 0;
    loop {
        if requests >= REQUESTS_PER_PAGE || records.len() >= max_records {
            return Ok(Page {
                records,
                next: Some(PageToken::from_state(&state)),
            });
        }
        let Some(parent) = state.queue.front() else {
            if state.parents_done {
                return Ok(Page {
                    records,
                    next: None,
                });
            }
            requests += 1;
            let page = walk.parents(state.parents.at()).await?;
            state.queue = page.items.into();
            state.parents_done =
                !state
                    .parents
                    .follow(limit, page.url.as_str(), page.fingerprint, page.next)?;
            continue;
        };
        match walk.children(parent, state.child.at()).await? {
            Children::Page(page) => {
                requests += 1;
                records.extend(page.items);
                if !state
                    .child
                    .follow(limit, page.url.as_str(), page.fingerprint, page.next)?
                {
                    state.next_parent();
                }
            }
            Children::Gone { requests: spent } => {
                requests += spent;
                state.next_parent();
            }
        }
    }
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use roster_core::{Kind, Platform, RecordKey};
    use serde_json::json;

    use super::*;

    /// Parents `0..parents` in pages of `per_page`; parent `i` has `i` children, in pages of 2.
    /// Parent `gone` was deleted; parent `stuck`'s child listing ignores the page asked for.
    struct Fake {
        parents: usize,
        per_page: usize,
        gone: Option<usize>,
        stuck: Option<usize>,
        log: Mutex<Vec<String>>,
    }

    fn fake(parents: usize, per_page: usize) -> Fake {
        Fake {
            parents,
            per_page,
            gone: None,
            stuck: None,
            log: Mutex::new(Vec::new()),
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(&format!("http://x/{s}")).unwrap()
    }

    fn record(parent: usize, child: usize) -> Record {
        Record::unknown(
            RecordKey {
                resource_type: "fake.child".into(),
                scope: "acme".into(),
                external_id: format!("{parent}/{child}"),
            },
            Platform::Github,
            Kind::DeployKey,
            "child".into(),
            json!({}),
        )
    }

    #[async_trait]
    impl Walk for Fake {
        type Parent = usize;

        async fn parents(&self, at: Option<&str>) -> Result<Fetched<usize>, ConnectorError> {
            let from: usize = at.map_or(0, |a| a.parse().unwrap());
            self.log.lock().unwrap().push(format!("parents@{from}"));
            let items: Vec<usize> = (from..self.parents.min(from + self.per_page)).collect();
            let next = from + self.per_page;
            Ok(Fetched {
                fingerprint: Fingerprint::of(&items),
                items,
                url: url(&format!("parents?from={from}")),
                next: (next < self.parents).then(|| next.to_string()),
            })
        }

        async fn children(
            &self,
            parent: &usize,
            at: Option<&str>,
        ) -> Result<Children, ConnectorError> {
            let from: usize = at.map_or(0, |a| a.parse().unwrap());
            self.log.lock().unwrap().push(format!("{parent}@{from}"));
            if self.gone == Some(*parent) {
                return Ok(Children::Gone { requests: 2 });
            }
            // A stuck listing answers the first page whatever was asked, and names a next one.
            let stuck = self.stuck == Some(*parent);
            let from = if stuck { 0 } else { from };
            let ids: Vec<usize> = (from..*parent.min(&(from + 2))).collect();
            let next = if stuck {
                at.map_or(2, |a| a.parse::<usize>().unwrap() + 2)
            } else {
                from + 2
            };
            Ok(Children::Page(Fetched {
                fingerprint: Fingerprint::of(&ids),
                items: ids.iter().map(|c| record(*parent, *c)).collect(),
                url: url(&format!("{parent}/children?from={from}")),
                next: (next < *parent || stuck).then(|| next.to_string()),
            }))
        }
    }

    fn listing() -> Listing {
        Listing::new("fake.child", "acme")
    }

    /// Every page, as (external ids, requests so far).
    async fn drain(w: &Fake, max_records: usize) -> Result<Vec<Vec<String>>, ConnectorError> {
        let mut pages = Vec::new();
        let mut token = None;
        loop {
            let page = walk(w, &listing(), token.as_ref(), 100, max_records).await?;
            pages.push(
                page.records
                    .iter()
                    .map(|r| r.key.external_id.clone())
                    .collect(),
            );
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(pages),
            }
        }
    }

    #[tokio::test]
    async fn walks_every_parent_page_and_child_page_in_order_across_list_calls() {
        let mut w = fake(5, 2);
        w.gone = Some(3);
        let pages = drain(&w, 3).await.unwrap();
        let ids: Vec<String> = pages.concat();
        assert_eq!(ids, ["1/0", "2/0", "2/1", "4/0", "4/1", "4/2", "4/3"]);
        // Pages break at 3 records (or 10 requests), never inside a child page.
        assert_eq!(pages[0], ["1/0", "2/0", "2/1"]);
        assert_eq!(
            *w.log.lock().unwrap(),
            [
                "parents@0",
                "0@0",
                "1@0",
                "parents@2",
                "2@0",
                "3@0",
                "parents@4",
                "4@0",
                "4@2"
            ]
            .map(String::from)
        );
    }

    #[tokio::test]
    async fn a_list_call_stops_after_ten_requests() {
        let w = fake(30, 100);
        let page = walk(&w, &listing(), None, 100, 1000).await.unwrap();
        assert_eq!(w.log.lock().unwrap().len(), REQUESTS_PER_PAGE);
        assert!(page.next.is_some());
    }

    #[tokio::test]
    async fn a_child_listing_that_ignores_the_page_stops_at_its_second_request() {
        let mut w = fake(4, 10);
        w.stuck = Some(3);
        let err = drain(&w, 1000).await.unwrap_err();
        assert!(
            matches!(&err, ConnectorError::PaginationLoop { listing, detail }
                if listing == "fake.child in acme" && detail.contains("repeated")),
            "{err}"
        );
        let log = w.log.lock().unwrap();
        assert_eq!(
            log.iter().filter(|l| l.starts_with("3@")).count(),
            2,
            "{log:?}"
        );
    }
}
