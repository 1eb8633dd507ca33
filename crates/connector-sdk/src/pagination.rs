//! Turning a response into "where the next page starts", for each pagination style our sources
//! use, and a [`PageGuard`] against servers that send a listing round in circles.
//!
//! Every helper answers `None` only when the source clearly said "last page": a listing that
//! stops early looks complete, and the sync engine would then sweep what it did not see.

use std::collections::HashSet;

use reqwest::header::{HeaderMap, LINK};
use serde::Deserialize;
use url::Url;

use crate::ConnectorError;

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
    if let Some(total) = header("x-total-pages").and_then(|v| v.parse::<u64>().ok()) {
        return (page < total).then_some(page + 1);
    }
    (got > 0 && got as u64 >= per_page).then_some(page + 1)
}

/// The next offset of an offset/limit listing: a short (or empty) page is the last.
pub fn offset_next(offset: u64, limit: u64, got: usize) -> Option<u64> {
    (got > 0 && got as u64 >= limit).then(|| offset + got as u64)
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
        ConnectorError::PaginationLoop {
            listing: self.listing.clone(),
            detail,
        }
    }
}

/// Tokens can be long opaque blobs; an error message needs only enough to recognise one.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
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
}
