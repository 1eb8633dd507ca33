//! Conditional requests on re-sync: the `ETag` and body of each GET listing page a connector
//! read, so that the next sync can send `If-None-Match` and, on `304 Not Modified`, reuse the
//! body instead of spending rate-limit quota (GitHub does not count 304s against its primary
//! limit).
//!
//! A connector opts in by giving its [`HttpClientConfig`](crate::HttpClientConfig) a
//! [`ValidatorCache`] built from the paths of its listings ([`PathPattern`]); the client then
//! consults it on every `get_json` whose URL matches one of them, and nothing else is ever kept
//! (no token exchange, no remediation read). The sync engine persists the cache between runs
//! through [`Connector::validator_cache`](crate::Connector::validator_cache): [`restore`]
//! before the listings, [`changes`] after (what to drop and what to write; an entry a 304
//! confirmed is not written again).
//!
//! Bounded: a body over `max_body_bytes` is not kept, and once `max_total_bytes` are held new
//! pages are simply fetched in full next time. Entries no request of a run used are dropped
//! when it is saved, so URLs of deleted repositories do not pile up.
//!
//! [`restore`]: ValidatorCache::restore
//! [`changes`]: ValidatorCache::changes

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One cached GET answer: what is sent back as `If-None-Match`, and what a 304 stands for.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// The absolute URL requested (query included: each page has its own validator).
    pub url: String,
    pub etag: String,
    /// The response's `Link` header, so that a 304 on page 1 still leads on to page 2.
    pub link: Option<String>,
    pub body: Vec<u8>,
}

impl fmt::Debug for CachedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is listing data; its size is all a log line needs.
        f.debug_struct("CachedResponse")
            .field("url", &self.url)
            .field("etag", &self.etag)
            .field("link", &self.link)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A path below the client's base URL, segment by segment; a `*` segment matches any one
/// segment. `orgs/*/hooks` matches `orgs/acme/hooks` (any query), not `orgs/acme/hooks/1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(Vec<Option<String>>);

impl PathPattern {
    pub fn new(pattern: &str) -> Self {
        Self(
            pattern
                .trim_matches('/')
                .split('/')
                .map(|s| (s != "*").then(|| s.to_string()))
                .collect(),
        )
    }

    /// Whether `path` (relative to the base URL, no query) has this shape.
    pub fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        segments.len() == self.0.len()
            && self
                .0
                .iter()
                .zip(segments)
                .all(|(want, got)| !got.is_empty() && want.as_deref().is_none_or(|w| w == got))
    }
}

/// The bounds of one cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorLimits {
    /// A larger body is fetched in full each time rather than kept.
    pub max_body_bytes: usize,
    /// All bodies together.
    pub max_total_bytes: usize,
}

impl Default for ValidatorLimits {
    /// 4 MiB per page, 64 MiB in all: a 100-item page of GitHub repositories is ~0.6 MiB.
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What the current run did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Restored from the last run and not asked for (yet).
    Unused,
    /// Confirmed by a 304: the stored copy is current.
    Validated,
    /// Fetched (200) in this run: to be written.
    Fresh,
}

struct Entry {
    response: Arc<CachedResponse>,
    state: Use,
}

#[derive(Default)]
struct Entries {
    by_url: HashMap<String, Entry>,
    total_bytes: usize,
    /// The URLs `restore` was given: what the store holds.
    saved: HashSet<String>,
}

/// What to change in the store after a run: drop `stale` (restored but no longer used or
/// kept), and write `fresh` (fetched in this run, replacing any stored copy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatorChanges {
    pub stale: Vec<String>,
    pub fresh: Vec<CachedResponse>,
}

impl Entries {
    fn remove(&mut self, url: &str) {
        if let Some(old) = self.by_url.remove(url) {
            self.total_bytes = self.total_bytes.saturating_sub(old.response.body.len());
        }
    }
}

/// The validators of one connector. Shared by its HTTP clients (`Arc`), safe across tasks.
pub struct ValidatorCache {
    patterns: Vec<PathPattern>,
    limits: ValidatorLimits,
    entries: Mutex<Entries>,
    not_modified: AtomicU64,
}

impl fmt::Debug for ValidatorCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorCache")
            .field("patterns", &self.patterns.len())
            .field("limits", &self.limits)
            .field("entries", &self.lock().by_url.len())
            .finish()
    }
}

impl ValidatorCache {
    /// An empty cache that keeps only GET answers whose path matches one of `patterns`.
    pub fn new(patterns: Vec<PathPattern>, limits: ValidatorLimits) -> Self {
        Self {
            patterns,
            limits,
            entries: Mutex::new(Entries::default()),
            not_modified: AtomicU64::new(0),
        }
    }

    /// Whether answers for `path` (relative to the base URL, no query) may be kept.
    pub fn admits(&self, path: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }

    /// Replaces the contents with what the last run saved, and starts counting afresh.
    /// Entries over the bounds (the limits may have been lowered since) are left out.
    pub fn restore(&self, saved: Vec<CachedResponse>) {
        let mut entries = self.lock();
        *entries = Entries::default();
        entries.saved = saved.iter().map(|r| r.url.clone()).collect();
        for response in saved {
            let size = response.body.len();
            if size > self.limits.max_body_bytes
                || entries.total_bytes.saturating_add(size) > self.limits.max_total_bytes
            {
                continue;
            }
            entries.remove(&response.url);
            entries.total_bytes += size;
            entries.by_url.insert(
                response.url.clone(),
                Entry {
                    response: Arc::new(response),
                    state: Use::Unused,
                },
            );
        }
        self.not_modified.store(0, Ordering::Relaxed);
    }

    /// What to send as `If-None-Match` for `url`, with the body a 304 would stand for.
    pub fn lookup(&self, url: &str) -> Option<Arc<CachedResponse>> {
        self.lock().by_url.get(url).map(|e| e.response.clone())
    }

    /// `url` was answered 304: its entry stays for the next run, and the saving is counted.
    pub fn note_not_modified(&self, url: &str) {
        if let Some(entry) = self.lock().by_url.get_mut(url) {
            // A page fetched earlier in this same run stays fresh (still to be written).
            if entry.state == Use::Unused {
                entry.state = Use::Validated;
            }
        }
        self.not_modified.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps a fresh 200 answer (replacing the old one), unless it breaks a bound: then the old
    /// entry goes too, since it no longer describes the resource.
    pub fn remember(&self, response: CachedResponse) {
        let mut entries = self.lock();
        entries.remove(&response.url);
        let size = response.body.len();
        if size > self.limits.max_body_bytes
            || entries.total_bytes.saturating_add(size) > self.limits.max_total_bytes
        {
            tracing::debug!(url = %response.url, size, "response not kept for conditional requests: over the cache bounds");
            return;
        }
        entries.total_bytes += size;
        entries.by_url.insert(
            response.url.clone(),
            Entry {
                response: Arc::new(response),
                state: Use::Fresh,
            },
        );
    }

    /// Drops what is kept for `url` (it answered without an `ETag`).
    pub fn forget(&self, url: &str) {
        self.lock().remove(url);
    }

    /// Requests answered 304 since the last `restore`.
    pub fn not_modified(&self) -> u64 {
        self.not_modified.load(Ordering::Relaxed)
    }

    /// The entries some request used (304) or refreshed (200) since the last `restore`: what
    /// the next run should start from.
    pub fn entries_in_use(&self) -> Vec<CachedResponse> {
        let mut out: Vec<CachedResponse> = self
            .lock()
            .by_url
            .values()
            .filter(|e| e.state != Use::Unused)
            .map(|e| CachedResponse::clone(&e.response))
            .collect();
        out.sort_by(|a, b| a.url.cmp(&b.url));
        out
    }

    /// How the store's copy (what `restore` was given) becomes [`entries_in_use`]: only what
    /// this run fetched is written, and entries a 304 confirmed are left alone.
    ///
    /// [`entries_in_use`]: ValidatorCache::entries_in_use
    pub fn changes(&self) -> ValidatorChanges {
        let entries = self.lock();
        let mut stale: Vec<String> = entries
            .saved
            .iter()
            .filter(|url| {
                entries
                    .by_url
                    .get(*url)
                    .is_none_or(|e| e.state == Use::Unused)
            })
            .cloned()
            .collect();
        stale.sort();
        let mut fresh: Vec<CachedResponse> = entries
            .by_url
            .values()
            .filter(|e| e.state == Use::Fresh)
            .map(|e| CachedResponse::clone(&e.response))
            .collect();
        fresh.sort_by(|a, b| a.url.cmp(&b.url));
        ValidatorChanges { stale, fresh }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Plain maps and a counter: a panic elsewhere cannot leave them half-updated in a way
        // that matters (at worst an entry is missing and the page is fetched in full).
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn response(url: &str, body: &str) -> CachedResponse {
        CachedResponse {
            url: url.into(),
            etag: format!("\"{}\"", body.len()),
            link: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn patterns_match_whole_segments() {
        let p = PathPattern::new("repos/*/*/keys");
        assert!(p.matches("repos/acme/web/keys"));
        assert!(p.matches("/repos/acme/web/keys/"));
        assert!(!p.matches("repos/acme/web/keys/12"));
        assert!(!p.matches("repos/acme/keys"));
        assert!(!p.matches("repos/acme//keys"));
        assert!(!p.matches("app/installations/1/access_tokens"));
    }

    #[test]
    fn bounds_keep_the_cache_small() {
        let cache = ValidatorCache::new(
            vec![PathPattern::new("a")],
            ValidatorLimits {
                max_body_bytes: 10,
                max_total_bytes: 15,
            },
        );
        cache.remember(response("u1", "0123456789"));
        cache.remember(response("u2", "01234567890")); // over the per-body bound
        cache.remember(response("u3", "012345")); // over the total
        assert!(cache.lookup("u1").is_some());
        assert!(cache.lookup("u2").is_none());
        assert!(cache.lookup("u3").is_none());
        // A replacement that no longer fits removes the stale entry as well.
        cache.remember(response("u1", "01234567890"));
        assert!(cache.lookup("u1").is_none());
        cache.remember(response("u3", "012345"));
        assert!(cache.lookup("u3").is_some());
    }

    #[test]
    fn only_entries_used_in_a_run_are_saved() {
        let cache = ValidatorCache::new(Vec::new(), ValidatorLimits::default());
        cache.restore(vec![response("old", "x"), response("kept", "y")]);
        assert_eq!(cache.not_modified(), 0);
        cache.note_not_modified("kept");
        cache.remember(response("new", "z"));
        let urls: Vec<String> = cache.entries_in_use().into_iter().map(|r| r.url).collect();
        assert_eq!(urls, vec!["kept", "new"]);
        assert_eq!(cache.not_modified(), 1);
        cache.restore(Vec::new());
        assert_eq!(cache.not_modified(), 0);
        assert!(cache.lookup("kept").is_none());
    }

    #[test]
    fn changes_write_only_what_was_fetched_and_drop_what_was_not_used() {
        let cache = ValidatorCache::new(Vec::new(), ValidatorLimits::default());
        cache.restore(vec![
            response("confirmed", "a"),
            response("refetched", "b"),
            response("unused", "c"),
        ]);
        cache.note_not_modified("confirmed");
        cache.remember(response("refetched", "bb"));
        cache.remember(response("new", "d"));
        let changes = cache.changes();
        assert_eq!(changes.stale, vec!["unused"]);
        let fresh: Vec<(&str, &[u8])> = changes
            .fresh
            .iter()
            .map(|r| (r.url.as_str(), r.body.as_slice()))
            .collect();
        assert_eq!(fresh, vec![("new", &b"d"[..]), ("refetched", &b"bb"[..])]);
        // Fetched, then asked again in the same run (a repeated repository walk): still fresh.
        cache.note_not_modified("new");
        assert_eq!(cache.changes().fresh.len(), 2);
    }
}
