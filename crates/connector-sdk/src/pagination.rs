//! Turning a response into "where the next page starts", for each pagination style our sources
//! use, and the guards against servers that send a listing round in circles: [`PageCursor`]
//! (kept in a page token between `list` calls) and [`PageGuard`] (one loop in memory).
//!
//! Every helper answers `None` only when the source clearly said "last page": a listing that
//! stops early looks complete, and the sync engine would then sweep what it did not see.

use std::collections::HashSet;

use reqwest::header::{HeaderMap, LINK};
use serde::{Deserialize, Serialize};
use url::Url;
use xxhash_rust::xxh3::Xxh3;

use crate::{ConnectorError, PageToken};

/// One link of an RFC 8288 `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target as written (possibly relative).
    pub target: String,
    /// The relation types, lower-cased (`rel="next last"` gives two).
    pub rels: Vec<String>,
    /// Every parameter, names lower-cased, quoted values unescaped.
    pub params: Vec<(String, String)>,
}

/// Parses one `Link` header value: `<url>; rel="next", <url>; rel=last; title="a, b"`.
/// Malformed elements are skipped; commas and semicolons inside quoted values are respected.
pub fn parse_link_header(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let Some(after_open) = rest.strip_prefix('<') else {
            rest = skip_element(rest);
            continue;
        };
        let Some(close) = after_open.find('>') else {
            break;
        };
        let target = after_open[..close].trim().to_string();
        rest = &after_open[close + 1..];
        let mut params = Vec::new();
        while let Some(after_semi) = rest.trim_start().strip_prefix(';') {
            let (param, after) = parse_param(after_semi);
            rest = after;
            if let Some(param) = param {
                params.push(param);
            }
        }
        // RFC 8288 §3.3: only the first `rel` counts.
        let rels = params
            .iter()
            .find(|(name, _)| name == "rel")
            .map(|(_, v)| v.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default();
        links.push(Link {
            target,
            rels,
            params,
        });
    }
    links
}

/// The `rel="next"` target of the response's `Link` header(s), resolved against `base` (the URL
/// of the response). It is not checked against the configured base URL here: the HTTP client
/// does that before anything is sent. A next link whose target does not resolve is `Malformed`
/// rather than "no next page".
pub fn link_next(headers: &HeaderMap, base: &Url) -> Result<Option<Url>, ConnectorError> {
    for value in headers.get_all(LINK) {
        let value = String::from_utf8_lossy(value.as_bytes());
        for link in parse_link_header(&value) {
            if link.rels.iter().any(|r| r == "next") {
                return base
                    .join(&link.target)
                    .map(Some)
                    .map_err(|e| ConnectorError::Malformed {
                        url: base.to_string(),
                        detail: format!("Link rel=next target does not resolve: {e}"),
                    });
            }
        }
    }
    Ok(None)
}

/// The next page number of a page-numbered listing (`?page=N&per_page=M`).
///
/// GitLab's `X-Next-Page` decides when present (empty means this was the last page). Without it
/// (GitLab omits it past 10,000 items), `X-Total-Pages` decides if present, and otherwise a short
/// page (`got < per_page`, including an empty one) is the last.
pub fn page_number_next(headers: &HeaderMap, page: u64, per_page: u64, got: usize) -> Option<u64> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    match header("x-next-page") {
        Some("") => return None,
        Some(v) => {
            if let Ok(next) = v.parse::<u64>() {
                return Some(next);
            }
        }
        None => {}
    }
    // The page number comes back from the server (`X-Next-Page`, then the URL): u64::MAX has
    // no page after it, and adding one to it would panic.
    if let Some(total) = header("x-total-pages").and_then(|v| v.parse::<u64>().ok()) {
        return if page < total {
            page.checked_add(1)
        } else {
            None
        };
    }
    if got > 0 && got as u64 >= per_page {
        page.checked_add(1)
    } else {
        None
    }
}

/// The next offset of an offset/limit listing: a short (or empty) page is the last.
pub fn offset_next(offset: u64, limit: u64, got: usize) -> Option<u64> {
    // An offset near u64::MAX has no next page rather than an overflow.
    if got > 0 && got as u64 >= limit {
        offset.checked_add(got as u64)
    } else {
        None
    }
}

/// The next marker of an AWS-style listing (`IsTruncated` + `Marker`). A truncated listing
/// without a marker cannot be continued and is `Malformed` (never silently "done").
pub fn marker_next(
    is_truncated: bool,
    marker: Option<String>,
    url: &Url,
) -> Result<Option<String>, ConnectorError> {
    match (is_truncated, marker.filter(|m| !m.is_empty())) {
        (false, _) => Ok(None),
        (true, Some(marker)) => Ok(Some(marker)),
        (true, None) => Err(ConnectorError::Malformed {
            url: url.to_string(),
            detail: "IsTruncated is true but no Marker was given".to_string(),
        }),
    }
}

/// The next page token of a token-paged listing (GCP `nextPageToken`): absent or empty means done.
pub fn page_token_next(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.is_empty())
}

/// A Microsoft Graph collection page: `value` plus `@odata.nextLink`, which is an absolute URL to
/// be passed back to the HTTP client (which refuses or rebases it if it leaves the base URL).
#[derive(Debug, Clone, Deserialize)]
pub struct ODataPage<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// Guards one listing's page loop: a token or URL that comes back a second time, or more pages
/// than the bound, is a [`ConnectorError::PaginationLoop`] instead of an endless sync.
#[derive(Debug, Clone)]
pub struct PageGuard {
    listing: String,
    max_pages: u64,
    pages: u64,
    seen: HashSet<String>,
}

impl PageGuard {
    /// A guard for `listing` (named in errors) that allows at most `max_pages` pages, the first
    /// page included.
    pub fn new(listing: impl std::fmt::Display, max_pages: u64) -> Self {
        Self {
            listing: listing.to_string(),
            max_pages,
            pages: 1,
            seen: HashSet::new(),
        }
    }

    /// Call before fetching the page that `next` (a token or URL) designates.
    pub fn advance(&mut self, next: &str) -> Result<(), ConnectorError> {
        if !self.seen.insert(next.to_string()) {
            return Err(self.error(format!("page token {} was already visited", shorten(next))));
        }
        self.pages += 1;
        if self.pages > self.max_pages {
            return Err(self.error(format!("more than {} pages", self.max_pages)));
        }
        Ok(())
    }

    /// Pages allowed so far, the first included.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    fn error(&self, detail: String) -> ConnectorError {
        loop_error(&self.listing, detail)
    }
}

/// What a loop guard checks a listing against: the name its errors give, and the page bound
/// (the first page included).
#[derive(Clone, Copy)]
pub struct PageLimit<'a> {
    // Sync, so that a limit held across an await keeps the connector's future Send.
    listing: &'a (dyn std::fmt::Display + Sync),
    max_pages: u64,
}

impl<'a> PageLimit<'a> {
    pub fn new<L: std::fmt::Display + Sync>(listing: &'a L, max_pages: u64) -> Self {
        Self { listing, max_pages }
    }
}

/// A cheap fingerprint (xxh3) of a page's items, to tell a page that repeats the one before it:
/// a server that ignores the page parameter answers page 1 to every request, with a next link
/// that looks new each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of a page's items (hashed as JSON, nothing buffered); `None` for an empty
    /// page, which never counts as a repeat.
    pub fn of<T: Serialize>(items: &[T]) -> Option<Self> {
        if items.is_empty() {
            return None;
        }
        let mut hasher = HashWriter(Xxh3::new());
        // JSON values and plain structs always serialise; anything else goes unfingerprinted,
        // and the page bound still stops a loop.
        serde_json::to_writer(&mut hasher, items).ok()?;
        Some(Self(hasher.0.digest()))
    }
}

struct HashWriter(Xxh3);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where one paged endpoint goes on, with its loop guard inside: what a page token carries
/// between `list` calls, alone or as a level of a [`WalkState`](crate::walk::WalkState). A next
/// page that names the page just read, a page whose items repeat the previous page's, or more
/// pages than the bound is a [`ConnectorError::PaginationLoop`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCursor {
    /// The next page's URL or token; `None` for the first page.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Next pages followed so far.
    #[serde(rename = "k", default, skip_serializing_if = "is_zero")]
    followed: u64,
    /// The items of the page read last.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    last: Option<Fingerprint>,
}

impl PageCursor {
    /// Where the page to read starts: `None` for the first page.
    pub fn at(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// Pages read before the one at the cursor.
    pub fn pages_read(&self) -> u64 {
        self.followed
    }

    /// Takes in the page just read: `current` is the URL that answered, `items` its
    /// fingerprint, `next` where the next page starts. `Ok(true)`: there is a next page, now
    /// [`at`](Self::at); `Ok(false)`: that was the last.
    pub fn follow(
        &mut self,
        limit: PageLimit<'_>,
        current: &str,
        items: Option<Fingerprint>,
        next: Option<String>,
    ) -> Result<bool, ConnectorError> {
        let Some(next) = next else {
            self.next = None;
            return Ok(false);
        };
        self.followed += 1;
        // Compared with the URL and with the token this page was asked for, so that both a
        // next link and a next page token that points back here are caught.
        if next == current || self.next.as_deref() == Some(next.as_str()) {
            return Err(loop_error(
                limit.listing,
                format!("{} names itself as the next page", shorten(&next)),
            ));
        }
        if items.is_some() && items == self.last {
            return Err(loop_error(
                limit.listing,
                format!(
                    "the page at {} repeated the previous page (is the page parameter ignored?)",
                    shorten(current)
                ),
            ));
        }
        if self.followed >= limit.max_pages {
            return Err(loop_error(
                limit.listing,
                format!(
                    "more than {} pages at {}",
                    limit.max_pages,
                    shorten(current)
                ),
            ));
        }
        self.next = Some(next);
        self.last = items;
        Ok(true)
    }

    /// [`follow`](Self::follow), answering the page token that resumes here (`None`: the last
    /// page was read).
    pub fn next_token(
        &mut self,
        limit: PageLimit<'_>,
        current: &str,
        items: Option<Fingerprint>,
        next: Option<String>,
    ) -> Result<Option<PageToken>, ConnectorError> {
        Ok(self
            .follow(limit, current, items, next)?
            .then(|| PageToken::from_state(self)))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn loop_error(listing: &dyn std::fmt::Display, detail: String) -> ConnectorError {
    ConnectorError::PaginationLoop {
        listing: listing.to_string(),
        detail,
    }
}

/// Tokens can be long opaque blobs; an error message needs only enough to recognise one (and
/// all of a usual URL).
fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// Skips a malformed link-value up to the next top-level comma.
fn skip_element(s: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => return &s[i + 1..],
            _ => {}
        }
    }
    ""
}

/// Parses `name[=value]` after a `;`; returns the parameter and the unparsed rest.
fn parse_param(s: &str) -> (Option<(String, String)>, &str) {
    let s = s.trim_start();
    let name_end = s
        .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace())
        .unwrap_or(s.len());
    let name = s[..name_end].to_ascii_lowercase();
    let mut rest = s[name_end..].trim_start();
    let mut value = String::new();
    if let Some(after_eq) = rest.strip_prefix('=') {
        let after_eq = after_eq.trim_start();
        if let Some(quoted) = after_eq.strip_prefix('"') {
            let mut escaped = false;
            let mut end = quoted.len();
            for (i, c) in quoted.char_indices() {
                if escaped {
                    value.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = i + 1;
                    break;
                } else {
                    value.push(c);
                }
            }
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = after_eq
                .find(|c: char| c == ';' || c == ',' || c.is_whitespace())
                .unwrap_or(after_eq.len());
            value = after_eq[..end].to_string();
            rest = &after_eq[end..];
        }
    }
    let param = (!name.is_empty()).then_some((name, value));
    (param, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn base() -> Url {
        Url::parse("https://api.example.com/v1/items?page=1").unwrap()
    }

    #[test]
    fn parses_github_link_header() {
        let v = r#"<https://api.github.com/orgs/acme/repos?page=2>; rel="next", <https://api.github.com/orgs/acme/repos?page=5>; rel="last""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].target,
            "https://api.github.com/orgs/acme/repos?page=2"
        );
        assert_eq!(links[0].rels, vec!["next"]);
        assert_eq!(links[1].rels, vec!["last"]);
    }

    #[test]
    fn parses_multiple_rels_quoted_params_and_odd_spacing() {
        let v =
            r#"<a?x=1,2>;title="one; two, three";REL="Next Last" , <b>;rel=prev;anchor="\"q\"""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "a?x=1,2");
        assert_eq!(links[0].rels, vec!["next", "last"]);
        assert_eq!(
            links[0].params[0],
            ("title".to_string(), "one; two, three".to_string())
        );
        assert_eq!(links[1].rels, vec!["prev"]);
        assert_eq!(
            links[1].params[1],
            ("anchor".to_string(), "\"q\"".to_string())
        );
    }

    #[test]
    fn skips_garbage_elements() {
        let links = parse_link_header(r#"garbage; rel="next", <ok>; rel="next""#);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target, "ok");
    }

    #[test]
    fn link_next_across_several_headers_resolves_relative_targets() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(r#"</v1/items?page=1>; rel="first""#),
        );
        h.append(
            LINK,
            HeaderValue::from_static(r#"<items?page=2>; rel="next""#),
        );
        assert_eq!(
            link_next(&h, &base()).unwrap().unwrap().as_str(),
            "https://api.example.com/v1/items?page=2"
        );
        assert_eq!(link_next(&HeaderMap::new(), &base()).unwrap(), None);
        let mut bad = HeaderMap::new();
        bad.insert(
            LINK,
            HeaderValue::from_static(r#"<http://[::1>; rel="next""#),
        );
        assert!(matches!(
            link_next(&bad, &base()),
            Err(ConnectorError::Malformed { .. })
        ));
    }

    #[test]
    fn page_numbers_follow_gitlab_headers_or_short_pages() {
        let mut h = HeaderMap::new();
        h.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(page_number_next(&h, 2, 100, 100), Some(3));
        h.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(page_number_next(&h, 2, 100, 100), None);
        let mut total = HeaderMap::new();
        total.insert("x-total-pages", HeaderValue::from_static("2"));
        assert_eq!(page_number_next(&total, 1, 100, 100), Some(2));
        assert_eq!(page_number_next(&total, 2, 100, 100), None);
        let none = HeaderMap::new();
        assert_eq!(page_number_next(&none, 1, 100, 100), Some(2));
        assert_eq!(page_number_next(&none, 2, 100, 99), None);
        assert_eq!(page_number_next(&none, 2, 100, 0), None);
        // A page number the server sent as u64::MAX is the last (it used to overflow).
        assert_eq!(page_number_next(&none, u64::MAX, 100, 100), None);
        assert_eq!(
            page_number_next(&none, u64::MAX - 1, 100, 100),
            Some(u64::MAX)
        );
        assert_eq!(offset_next(u64::MAX - 5, 100, 100), None);
        assert_eq!(offset_next(100, 100, 100), Some(200));
    }

    #[test]
    fn offsets_markers_and_tokens() {
        assert_eq!(offset_next(0, 50, 50), Some(50));
        assert_eq!(offset_next(50, 50, 12), None);
        assert_eq!(offset_next(50, 50, 0), None);
        assert_eq!(
            marker_next(true, Some("m2".into()), &base()).unwrap(),
            Some("m2".to_string())
        );
        assert_eq!(
            marker_next(false, Some("m2".into()), &base()).unwrap(),
            None
        );
        assert!(matches!(
            marker_next(true, Some(String::new()), &base()),
            Err(ConnectorError::Malformed { .. })
        ));
        assert_eq!(page_token_next(Some("t".into())), Some("t".to_string()));
        assert_eq!(page_token_next(Some(String::new())), None);
        assert_eq!(page_token_next(None), None);
    }

    #[test]
    fn odata_page_reads_next_link() {
        let page: ODataPage<serde_json::Value> = serde_json::from_str(
            r#"{"value":[{"id":"1"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=x"}"#,
        )
        .unwrap();
        assert_eq!(page.value.len(), 1);
        assert_eq!(
            page.next_link.as_deref(),
            Some("https://graph.microsoft.com/v1.0/users?$skiptoken=x")
        );
        let last: ODataPage<serde_json::Value> = serde_json::from_str(r#"{"value":[]}"#).unwrap();
        assert_eq!(last.next_link, None);
    }

    #[test]
    fn page_guard_detects_repeats_and_bounds_pages() {
        let mut guard = PageGuard::new("users in acme", 3);
        guard.advance("a").unwrap();
        let err = guard.advance("a").unwrap_err();
        assert!(
            matches!(&err, ConnectorError::PaginationLoop { listing, .. } if listing == "users in acme")
        );
        let mut guard = PageGuard::new("users in acme", 3);
        guard.advance("a").unwrap();
        guard.advance("b").unwrap();
        assert_eq!(guard.pages(), 3);
        assert!(matches!(
            guard.advance("c"),
            Err(ConnectorError::PaginationLoop { .. })
        ));
    }

    fn limit_test() -> PageLimit<'static> {
        static LISTING: &str = "items in acme";
        PageLimit::new(&LISTING, 5)
    }

    fn page(n: u64) -> Option<Fingerprint> {
        Fingerprint::of(&[serde_json::json!({"id": n})])
    }

    #[test]
    fn fingerprints_tell_pages_apart_and_empty_pages_have_none() {
        assert_eq!(page(1), page(1));
        assert_ne!(page(1), page(2));
        assert_eq!(Fingerprint::of::<serde_json::Value>(&[]), None);
    }

    #[test]
    fn page_cursor_follows_and_round_trips_through_a_token() {
        let mut c = PageCursor::default();
        assert_eq!(c.at(), None);
        assert!(
            c.follow(limit_test(), "u1", page(1), Some("u2".into()))
                .unwrap()
        );
        assert_eq!((c.at(), c.pages_read()), (Some("u2"), 1));
        let token = c
            .next_token(limit_test(), "u2", page(2), Some("u3".into()))
            .unwrap()
            .unwrap();
        let listing = crate::Listing::new("items", "acme");
        let back: PageCursor = PageToken::state(&listing, Some(&token)).unwrap();
        assert_eq!(back.at(), Some("u3"));
        assert_eq!(back.pages_read(), 2);
        // The last page: no token, and nothing is checked.
        let mut last = back.clone();
        assert_eq!(
            last.next_token(limit_test(), "u3", page(2), None).unwrap(),
            None
        );
        // A first-page cursor is the empty object.
        assert_eq!(PageToken::from_state(&PageCursor::default()).0, "{}");
    }

    fn loop_detail(r: Result<bool, ConnectorError>) -> String {
        match r {
            Err(ConnectorError::PaginationLoop { listing, detail }) => {
                assert_eq!(listing, "items in acme");
                detail
            }
            other => panic!("expected a loop, got {other:?}"),
        }
    }

    #[test]
    fn page_cursor_stops_self_links_repeated_tokens_repeated_pages_and_too_many_pages() {
        let mut c = PageCursor::default();
        let d = loop_detail(c.follow(limit_test(), "u1", page(1), Some("u1".into())));
        assert!(d.contains("names itself"), "{d}");
        // A token (not a URL) that comes back as its own next page.
        let mut c = PageCursor::default();
        c.follow(limit_test(), "u?t=", page(1), Some("t1".into()))
            .unwrap();
        let d = loop_detail(c.follow(limit_test(), "u?t=t1", page(2), Some("t1".into())));
        assert!(d.contains("names itself"), "{d}");
        // Page 2 with page 1's items, behind a next link that looks new.
        let mut c = PageCursor::default();
        c.follow(limit_test(), "p1", page(1), Some("p2".into()))
            .unwrap();
        let d = loop_detail(c.follow(limit_test(), "p2", page(1), Some("p3".into())));
        assert!(d.contains("repeated the previous page"), "{d}");
        // Empty pages are not repeats; the bound counts the first page.
        let mut c = PageCursor::default();
        for n in 1..5 {
            c.follow(
                limit_test(),
                &format!("p{n}"),
                None,
                Some(format!("p{}", n + 1)),
            )
            .unwrap();
        }
        let d = loop_detail(c.follow(limit_test(), "p5", None, Some("p6".into())));
        assert!(d.contains("more than 5 pages"), "{d}");
    }
}
