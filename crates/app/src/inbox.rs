//! A reviewer's inbox: their items across open campaigns, filtered, ordered and paged, each
//! with what a decision needs on the row (the top finding in words, last use and where it came
//! from, privilege, owner and its source, what changed since the last review), and their own
//! progress.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use roster_core::campaign::ItemState;
use roster_core::{InventoryItem, Usage};
use roster_store::campaigns::{InboxOrder, InboxQuery};

use crate::Roster;
use crate::access::Principal;
use crate::campaigns::{
    Campaign, CampaignItem, INBOX_LIMIT, ItemCounts, changes_since, snapshot_of,
};
use crate::error::AppError;

/// Narrows an inbox, so one decision can cover a filtered selection.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct InboxFilter {
    pub platform: Option<String>,
    pub kind: Option<String>,
    pub tier: Option<String>,
    pub campaign: Option<i64>,
}

impl InboxFilter {
    pub fn is_set(&self) -> bool {
        [&self.platform, &self.kind, &self.tier]
            .iter()
            .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
            || self.campaign.is_some()
    }
}

/// How an inbox is sorted, as its URL says it (`sort=tier|due|platform|name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboxSort(pub InboxOrder);

impl InboxSort {
    pub const ALL: [(&'static str, &'static str); 4] = [
        ("tier", "riskiest first"),
        ("due", "soonest due"),
        ("platform", "platform"),
        ("name", "name"),
    ];

    pub fn as_str(self) -> &'static str {
        match self.0 {
            InboxOrder::Tier => "tier",
            InboxOrder::Due => "due",
            InboxOrder::Platform => "platform",
            InboxOrder::Name => "name",
        }
    }
}

impl FromStr for InboxSort {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        Ok(InboxSort(match s {
            "" | "tier" => InboxOrder::Tier,
            "due" => InboxOrder::Due,
            "platform" => InboxOrder::Platform,
            "name" => InboxOrder::Name,
            other => {
                return Err(AppError::Invalid(format!(
                    "sort `{other}`: one of tier, due, platform, name"
                )));
            }
        }))
    }
}

/// Items per inbox page unless asked otherwise; the most a page shows.
pub const INBOX_PAGE: u64 = 50;
pub const INBOX_PAGE_MAX: u64 = 200;

/// One inbox page to read.
#[derive(Debug, Clone)]
pub struct InboxRequest {
    pub filter: InboxFilter,
    /// Pending (the default), or decided: decisions may change until sign-off.
    pub state: ItemState,
    pub sort: InboxSort,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
    /// For "used 3 days ago".
    pub now: DateTime<Utc>,
}

/// An item in a reviewer's inbox, with what the row shows.
pub struct InboxEntry {
    pub item: CampaignItem,
    pub campaign: String,
    pub due_at: DateTime<Utc>,
    pub snapshot: InventoryItem,
    /// The most severe finding in words, with its rule; `None` when the item has none.
    pub top_finding: Option<(String, String)>,
    /// How many more findings the item has.
    pub more_findings: usize,
    pub last_use: String,
    pub owner: String,
    /// What changed since the same record's last review, and how it was decided then; `None`
    /// on its first review.
    pub since_last: Option<SinceLast>,
    /// The decision Roster suggests, with its reason and rule.
    pub suggestion: roster_core::suggestion::Suggestion,
    /// Whether the suggestion may be accepted in bulk (the item is at or below the policy's
    /// tier for that).
    pub bulk_acceptable: bool,
}

pub struct SinceLast {
    pub campaign: String,
    pub outcome: String,
    pub changes: Vec<String>,
}

/// One page of an inbox and the reviewer's progress.
pub struct InboxPage {
    pub entries: Vec<InboxEntry>,
    /// Items matching the filter in the page's state.
    pub total: u64,
    /// Where this page starts (0-based), for "51–100 of 123".
    pub offset: u64,
    pub per_page: u64,
    /// The reviewer's items in open campaigns by state, whatever the filter.
    pub mine: ItemCounts,
    /// The highest tier whose suggestions may be accepted in bulk.
    pub accept_up_to: roster_core::Tier,
}

impl InboxPage {
    pub fn first_shown(&self) -> u64 {
        if self.entries.is_empty() {
            0
        } else {
            self.offset + 1
        }
    }

    pub fn last_shown(&self) -> u64 {
        self.offset + self.entries.len() as u64
    }

    pub fn has_next(&self) -> bool {
        self.last_shown() < self.total
    }
}

fn days_ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (now - at).num_days() {
        d if d < 1 => "today".into(),
        1 => "yesterday".into(),
        d => format!("{d} days ago"),
    }
}

/// Last use in words, with where it came from.
pub fn last_use(s: &InventoryItem, now: DateTime<Utc>) -> String {
    let platform = s.platform.as_str();
    match (s.usage, s.last_used_at) {
        (Usage::Used, Some(at)) => format!(
            "used {} ({}), as {platform} reports",
            days_ago(at, now),
            at.format("%Y-%m-%d")
        ),
        (Usage::NeverUsed, _) => match s.created_at {
            Some(c) => format!(
                "never used since created {}, as {platform} reports",
                days_ago(c, now)
            ),
            None => format!("never used, as {platform} reports"),
        },
        _ => format!("unknown: {platform} does not report its use"),
    }
}

fn owner(s: &InventoryItem) -> String {
    match (&s.owner, &s.owner_source) {
        (Some(o), Some(src)) => format!("{o} (from {src})"),
        (Some(o), None) => o.clone(),
        (None, _) => "nobody".into(),
    }
}

/// The principal's pending items under `filter`, riskiest first, the first `limit`.
fn pending_query(p: &Principal, filter: &InboxFilter, limit: u64) -> InboxQuery {
    InboxQuery {
        reviewer: p.who.clone(),
        state: Some(ItemState::Pending),
        platform: filter.platform.clone(),
        kind: filter.kind.clone(),
        tier: filter.tier.clone(),
        campaign: filter.campaign,
        order: InboxOrder::Tier,
        offset: 0,
        limit,
        known_total: true,
    }
}

impl Roster {
    /// One page of the principal's items across open campaigns.
    pub async fn inbox(&self, p: &Principal, req: &InboxRequest) -> Result<InboxPage, AppError> {
        p.require_review()?;
        let per_page = req.per_page.clamp(1, INBOX_PAGE_MAX);
        let offset = req.page.max(1).saturating_sub(1).saturating_mul(per_page);
        let mine = self.store.inbox_counts(&p.who).await?;
        // Unfiltered, the total is the reviewer's own count for the state.
        let known = (!req.filter.is_set()).then_some(match req.state {
            ItemState::Pending => mine.pending,
            ItemState::Decided => mine.decided,
            ItemState::Unreviewed => mine.unreviewed,
        });
        let (items, counted) = self
            .store
            .inbox(&InboxQuery {
                reviewer: p.who.clone(),
                state: Some(req.state),
                platform: req.filter.platform.clone(),
                kind: req.filter.kind.clone(),
                tier: req.filter.tier.clone(),
                campaign: req.filter.campaign,
                order: req.sort.0,
                offset,
                limit: per_page,
                known_total: known.is_some(),
            })
            .await?;
        let total = known.unwrap_or(counted);
        // The same records' previous items, in one read for the page.
        let previous: Vec<i64> = items.iter().filter_map(|i| i.previous_item_id).collect();
        let mut previous: HashMap<i64, CampaignItem> = self
            .store
            .campaign_items_by_id(&previous)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let mut campaigns: HashMap<i64, Campaign> = HashMap::new();
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let prev = item.previous_item_id.and_then(|id| previous.remove(&id));
            entries.push(self.entry(&mut campaigns, item, prev, req.now).await?);
        }
        Ok(InboxPage {
            entries,
            total,
            offset,
            per_page,
            mine,
            accept_up_to: self.policy.accept_suggestions_up_to,
        })
    }

    async fn campaign_cached<'a>(
        &self,
        campaigns: &'a mut HashMap<i64, Campaign>,
        id: i64,
    ) -> Result<&'a Campaign, AppError> {
        if let std::collections::hash_map::Entry::Vacant(e) = campaigns.entry(id) {
            e.insert(self.store.campaign(id).await?);
        }
        campaigns
            .get(&id)
            .ok_or_else(|| AppError::Internal(format!("campaign {id}")))
    }

    async fn entry(
        &self,
        campaigns: &mut HashMap<i64, Campaign>,
        item: CampaignItem,
        prev: Option<CampaignItem>,
        now: DateTime<Utc>,
    ) -> Result<InboxEntry, AppError> {
        let snapshot = snapshot_of(&item)?;
        let mut previously = None;
        let since_last = match prev {
            Some(prev) => {
                let name = self
                    .campaign_cached(campaigns, prev.campaign_id)
                    .await?
                    .name
                    .clone();
                previously = prev.decision.map(|d| (d, name.clone()));
                Some(SinceLast {
                    campaign: name,
                    outcome: prev.outcome().to_owned(),
                    changes: changes_since(&snapshot_of(&prev)?, &snapshot),
                })
            }
            None => None,
        };
        let suggestion = self.suggestion(
            &snapshot,
            previously.as_ref().map(|(d, n)| (*d, n.as_str())),
            now,
        );
        let bulk_acceptable = suggestion.decision.is_some()
            && roster_core::suggestion::bulk_acceptable(
                snapshot.tier,
                self.policy.accept_suggestions_up_to,
            );
        let c = self.campaign_cached(campaigns, item.campaign_id).await?;
        let mut findings: Vec<_> = snapshot
            .findings
            .iter()
            .filter(|f| f.exception.is_none())
            .collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Ok(InboxEntry {
            campaign: c.name.clone(),
            due_at: c.due_at,
            top_finding: findings
                .first()
                .map(|f| (f.message.clone(), f.rule.clone())),
            more_findings: findings.len().saturating_sub(1),
            last_use: last_use(&snapshot, now),
            owner: owner(&snapshot),
            since_last,
            suggestion,
            bulk_acceptable,
            snapshot,
            item,
        })
    }

    /// Every pending item the filtered inbox holds, riskiest first (at most [`INBOX_LIMIT`]):
    /// what "all matching" in a bulk decision covers, read again when it is submitted.
    pub async fn inbox_items(
        &self,
        p: &Principal,
        filter: &InboxFilter,
    ) -> Result<Vec<CampaignItem>, AppError> {
        p.require_review()?;
        let (items, _) = self
            .store
            .inbox(&pending_query(p, filter, INBOX_LIMIT))
            .await?;
        Ok(items)
    }

    /// The principal's next pending item, riskiest first ("save & next").
    pub async fn next_pending(&self, p: &Principal) -> Result<Option<i64>, AppError> {
        p.require_review()?;
        let (items, _) = self
            .store
            .inbox(&pending_query(p, &InboxFilter::default(), 1))
            .await?;
        Ok(items.first().map(|i| i.id))
    }
}
