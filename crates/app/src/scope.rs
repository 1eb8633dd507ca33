//! A view of the inventory: the filters a URL, an API call, a campaign scope or the CLI name,
//! parsed and checked once into a typed [`Scope`]. Every face reads the inventory through it, so
//! a filter means the same on every page, export and launch.

use chrono::{DateTime, Utc};
use roster_core::{Kind, Platform, RecordId, Tier};
use serde::Deserialize;

use crate::error::AppError;
use crate::inventory_view::InventoryQuery;

/// The filters as a query string carries them, before they are checked. An unknown key
/// (`teir=high`) is refused, never ignored: ignoring it would widen the view to everything.
/// (As OpenAPI query parameters, each is documented with the type it is checked against.)
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScopeParams {
    /// One record, by the id Roster prints (16 hex digits).
    #[param(value_type = Option<RecordId>)]
    pub id: Option<String>,
    #[param(value_type = Option<Platform>)]
    pub platform: Option<String>,
    /// The platform's scope (organisation, account, project, tenant), exactly.
    pub scope: Option<String>,
    #[param(value_type = Option<Kind>)]
    pub kind: Option<String>,
    /// The tier as evaluated now.
    #[param(value_type = Option<Tier>)]
    pub tier: Option<String>,
    /// The owner's start, in any case (`alice` finds `Alice@acme.example`).
    pub owner: Option<String>,
    /// Words, each found (in any case) in the name, external id, owner or scope; a search of only
    /// one- or two-letter words is refused.
    pub q: Option<String>,
    /// `1`: unused beyond the policy's threshold, or never used.
    #[param(pattern = "^(1|0|true|false|yes|no|on|off)?$")]
    pub stale: Option<String>,
    /// `1`: no owner, or the owner has left.
    #[param(pattern = "^(1|0|true|false|yes|no|on|off)?$")]
    pub orphaned: Option<String>,
    /// Carries a finding of this rule id (e.g. `usage.stale`).
    pub rule: Option<String>,
    /// `risk`: critical first, then high, medium, low (each in id order); `id` (the default for
    /// the API): id order.
    #[param(pattern = "^(risk|id|)$")]
    pub sort: Option<String>,
    /// The page cursor: the `next` of the page before.
    pub after: Option<String>,
    /// Rows per page, 1 to 1000 (the API's default is 500).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// A page's way back: the cursors of the pages before it, oldest first and comma
    /// separated, the first page's empty (the web inventory's "previous" link).
    pub back: Option<String>,
    /// Where this page starts in the whole view (0-based), for "101–200 of 1,234".
    #[param(value_type = Option<u64>)]
    pub start: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Record id order: the order records were first seen.
    #[default]
    Id,
    /// Critical first, then high, medium and low, each in id order.
    Risk,
}

/// Where a page starts: after this record (in the scope's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Id(i64),
    Risk(Tier, i64),
}

impl Cursor {
    /// As pages write it in their next link.
    pub fn encode(self) -> String {
        match self {
            Cursor::Id(id) => RecordId(id).to_string(),
            Cursor::Risk(t, id) => format!("{}.{}", t.as_str(), RecordId(id)),
        }
    }
}

/// A checked view of the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// One record: "review this identity now".
    pub id: Option<RecordId>,
    pub platform: Option<Platform>,
    /// The platform's scope: an account, organisation, group, project or tenant.
    pub scope: Option<String>,
    pub kind: Option<Kind>,
    pub tier: Option<Tier>,
    /// The start of the owner, in any case (`alice` finds `Alice@acme.example`).
    pub owner: Option<String>,
    /// `owner` is exact: what a person owns (their own view), not a search.
    pub owner_exact: bool,
    /// Words, each in the name, the external id, the owner or the scope (any case).
    pub search: Option<String>,
    pub stale: bool,
    pub orphaned: bool,
    pub rule: Option<String>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    /// Rows per page asked for, 1 to [`MAX_LIMIT`].
    pub limit: Option<usize>,
    /// The cursors of the pages before this one, oldest first (`None`: the first page), at
    /// most [`MAX_BACK`]: a page links back without reading backwards.
    pub back: Vec<Option<Cursor>>,
    /// Where this page starts in the whole view (0-based).
    pub start: u64,
}

/// The most earlier pages a page remembers (then "first page" is the way back).
pub const MAX_BACK: usize = 50;

/// The most rows one page carries.
pub const MAX_LIMIT: usize = 1000;

/// The longest search text: names and external ids are shorter, and a pattern of tens of
/// thousands of characters is refused by SQLite.
pub const MAX_SEARCH: usize = 256;

/// What a search from a page or the API must be: at most [`MAX_SEARCH`] characters, with at
/// least one word of 3 or more. Shorter words cannot be read from the search index's trigrams;
/// alone they are a scan of every record (about 6 s at a million, per request), beside a longer
/// word they are looked for within what it finds.
pub fn check_search(q: &str) -> Result<(), AppError> {
    if q.chars().count() > MAX_SEARCH {
        return Err(AppError::Invalid(format!(
            "a search is at most {MAX_SEARCH} characters"
        )));
    }
    let words: Vec<&str> = q.split_whitespace().collect();
    if !words.is_empty() && words.iter().all(|w| w.chars().count() < 3) {
        return Err(AppError::Invalid(format!(
            "search for a word of at least 3 characters (`{q}` alone would read every record); \
             shorter words are found beside a longer one, e.g. `{} sample`",
            words[0]
        )));
    }
    Ok(())
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A yes/no filter: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` (absent or empty: no);
/// anything else is refused rather than read as no.
fn flag(name: &str, v: &Option<String>) -> Result<bool, AppError> {
    match nonempty(v) {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(AppError::Invalid(format!(
            "{name}={other}: expected 1 or 0"
        ))),
    }
}

fn parse_id(v: &str) -> Result<i64, AppError> {
    v.parse::<RecordId>()
        .map(|id| id.0)
        .map_err(|e| AppError::Invalid(e.to_string()))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Scope {
    /// Checks every filter: an unknown platform, kind, tier, rule or sort, or a bad cursor, is
    /// refused with its name.
    pub fn parse(p: &ScopeParams) -> Result<Scope, AppError> {
        let bad = |e: roster_core::ParseEnumError| AppError::Invalid(e.to_string());
        let sort = match nonempty(&p.sort) {
            None | Some("id") => Sort::Id,
            Some("risk") => Sort::Risk,
            Some(other) => {
                return Err(AppError::Invalid(format!(
                    "unknown sort `{other}` (id or risk)"
                )));
            }
        };
        let rule = match nonempty(&p.rule) {
            Some(rule) if !roster_core::policy::is_known_rule(rule) => {
                return Err(AppError::Invalid(format!("unknown rule `{rule}`")));
            }
            r => r.map(str::to_owned),
        };
        let cursor = |a: &str| -> Result<Option<Cursor>, AppError> {
            match (a.trim(), sort) {
                ("", _) => Ok(None),
                (a, Sort::Id) => Ok(Some(Cursor::Id(parse_id(a)?))),
                (a, Sort::Risk) => {
                    let bad = || AppError::Invalid(format!("bad cursor `{a}` for sort=risk"));
                    let (tier, id) = a.split_once('.').ok_or_else(bad)?;
                    let tier = tier.parse::<Tier>().map_err(|_| bad())?;
                    Ok(Some(Cursor::Risk(tier, parse_id(id)?)))
                }
            }
        };
        let after = cursor(p.after.as_deref().unwrap_or_default())?;
        let back = match p.back.as_deref() {
            None => Vec::new(),
            Some(b) => {
                let back = b.split(',').map(cursor).collect::<Result<Vec<_>, _>>()?;
                if back.len() > MAX_BACK {
                    return Err(AppError::Invalid(format!(
                        "back: at most {MAX_BACK} earlier pages"
                    )));
                }
                back
            }
        };
        let start = match nonempty(&p.start) {
            None => 0,
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| AppError::Invalid(format!("start={s}: expected a row number")))?,
        };
        let search = nonempty(&p.q).map(str::to_owned);
        if let Some(q) = &search {
            check_search(q)?;
        }
        Ok(Scope {
            id: nonempty(&p.id).map(parse_id).transpose()?.map(RecordId),
            platform: nonempty(&p.platform)
                .map(str::parse::<Platform>)
                .transpose()
                .map_err(bad)?,
            scope: nonempty(&p.scope).map(str::to_owned),
            kind: nonempty(&p.kind)
                .map(str::parse::<Kind>)
                .transpose()
                .map_err(bad)?,
            tier: nonempty(&p.tier)
                .map(str::parse::<Tier>)
                .transpose()
                .map_err(bad)?,
            owner: nonempty(&p.owner).map(str::to_owned),
            owner_exact: false,
            search,
            stale: flag("stale", &p.stale)?,
            orphaned: flag("orphaned", &p.orphaned)?,
            rule,
            sort,
            after,
            back,
            start,
            limit: match nonempty(&p.limit) {
                None => None,
                Some(l) => match l.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
                    _ => {
                        return Err(AppError::Invalid(format!(
                            "limit={l}: expected 1 to {MAX_LIMIT}"
                        )));
                    }
                },
            },
        })
    }

    /// A query string such as a campaign's scope (`platform=aws&tier=high`, a leading `?`
    /// allowed).
    pub fn from_query_string(s: &str) -> Result<Scope, AppError> {
        let params: ScopeParams = serde_urlencoded::from_str(s.trim_start_matches('?'))
            .map_err(|e| AppError::Invalid(format!("scope `{s}`: {e}")))?;
        Scope::parse(&params)
    }

    /// The read of this view evaluated at `as_of` (without the principal's restriction: see
    /// [`crate::Roster::inventory_page`]).
    pub fn query_at(&self, as_of: DateTime<Utc>) -> InventoryQuery {
        let mut q = InventoryQuery::new(as_of);
        q.filter.id = self.id.map(|id| id.0);
        q.filter.platform = self.platform;
        q.filter.kind = self.kind;
        q.filter.scope = self.scope.clone();
        q.filter.owner = self.owner.clone();
        q.filter.owner_prefix = !self.owner_exact;
        q.filter.search = self.search.clone();
        q.tier = self.tier;
        q.stale = self.stale;
        q.orphaned = self.orphaned;
        q.rule = self.rule.clone();
        q
    }

    /// This view's query string, without the cursor: what a link or a campaign stores.
    pub fn query_string(&self) -> String {
        let flag = |b: bool| b.then(|| "1".to_owned());
        let mut parts = Vec::new();
        for (k, v) in [
            ("id", self.id.map(|id| id.to_string())),
            ("platform", self.platform.map(|p| p.as_str().to_owned())),
            ("scope", self.scope.clone()),
            ("kind", self.kind.map(|k| k.as_str().to_owned())),
            ("tier", self.tier.map(|t| t.as_str().to_owned())),
            ("owner", self.owner.clone()),
            ("q", self.search.clone()),
            ("stale", flag(self.stale)),
            ("orphaned", flag(self.orphaned)),
            ("rule", self.rule.clone()),
            ("sort", (self.sort == Sort::Risk).then(|| "risk".to_owned())),
            ("limit", self.limit.map(|l| l.to_string())),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", url_encode(&v)));
            }
        }
        parts.join("&")
    }

    /// This view's page starting after `after` (`None`: its first), `start` rows in, with
    /// `back` its way back. The sort is always written, so a face whose default differs
    /// reads the link as it was made.
    pub fn page_link(&self, after: Option<Cursor>, back: &[Option<Cursor>], start: u64) -> String {
        let mut out = self.query_string();
        let mut push = |k: &str, v: String| {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(&url_encode(&v));
        };
        if self.sort == Sort::Id {
            push("sort", "id".into());
        }
        if let Some(a) = after {
            push("after", a.encode());
        }
        if !back.is_empty() {
            let from = back.len().saturating_sub(MAX_BACK);
            let back: Vec<String> = back[from..]
                .iter()
                .map(|c| c.map(Cursor::encode).unwrap_or_default())
                .collect();
            push("back", back.join(","));
        }
        if start > 0 {
            push("start", start.to_string());
        }
        out
    }

    /// The page after this one, which starts at `next` and `shown` rows further on.
    pub fn next_link(&self, next: Cursor, shown: u64) -> String {
        let mut back = self.back.clone();
        back.push(self.after);
        self.page_link(Some(next), &back, self.start + shown)
    }

    /// The page before this one, when it is remembered; `per_page` is its length.
    pub fn previous_link(&self, per_page: u64) -> Option<String> {
        let (prev, back) = self.back.split_last()?;
        Some(self.page_link(*prev, back, self.start.saturating_sub(per_page)))
    }

    /// This view's first page.
    pub fn first_link(&self) -> String {
        self.page_link(None, &[], 0)
    }

    /// This view's query string starting after `cursor`.
    pub fn with_after(&self, cursor: &str) -> String {
        let base = self.query_string();
        let cursor = format!("after={}", url_encode(cursor));
        if base.is_empty() {
            cursor
        } else {
            format!("{base}&{cursor}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_round_trips_through_its_query_string() {
        let s = Scope::from_query_string(
            "?platform=aws&kind=access_key&tier=high&owner=a%40b&q=ci%20bot&stale=yes&sort=risk",
        )
        .unwrap();
        assert_eq!(s.platform, Some(Platform::Aws));
        assert_eq!(s.search.as_deref(), Some("ci bot"));
        assert!(s.stale && !s.orphaned);
        assert_eq!(Scope::from_query_string(&s.query_string()).unwrap(), s);
        assert_eq!(Scope::from_query_string("").unwrap(), Scope::default());
    }

    #[test]
    fn a_search_needs_a_word_of_three_characters() {
        assert!(Scope::from_query_string("?q=ci").is_err());
        assert!(Scope::from_query_string("?q=ci+db").is_err());
        assert!(Scope::from_query_string("?q=ci+bot").is_ok());
        assert!(Scope::from_query_string("?q=bot").is_ok());
        assert!(
            Scope::from_query_string("?q=+").is_ok(),
            "no words: no search"
        );
        let refused = check_search("zq").unwrap_err().to_string();
        assert!(refused.contains("at least 3 characters"), "{refused}");
    }

    #[test]
    fn bad_filters_are_named() {
        let long = format!("q={}", "x".repeat(MAX_SEARCH + 1));
        for (q, want) in [
            ("platform=mainframe", "mainframe"),
            ("rule=no.such", "unknown rule `no.such`"),
            ("sort=name", "unknown sort `name`"),
            ("teir=high", "unknown field `teir`"),
            ("colour=red", "unknown field `colour`"),
            ("as_of=garbage", "unknown field `as_of`"),
            ("stale=maybe", "stale=maybe: expected 1 or 0"),
            ("orphaned=2", "orphaned=2: expected 1 or 0"),
            ("limit=0", "limit=0: expected 1 to 1000"),
            ("limit=1001", "limit=1001: expected 1 to 1000"),
            ("limit=ten", "limit=ten: expected 1 to 1000"),
            ("sort=risk&after=7", "bad cursor `7` for sort=risk"),
            (long.as_str(), "at most 256 characters"),
        ] {
            let err = Scope::from_query_string(q).unwrap_err().to_string();
            assert!(err.contains(want), "{q}: {err}");
        }
    }

    #[test]
    fn cursors_encode_as_pages_read_them() {
        let c = Cursor::Risk(Tier::High, 42);
        let s = Scope::from_query_string(&format!("sort=risk&after={}", c.encode())).unwrap();
        assert_eq!(s.after, Some(c));
    }
}
