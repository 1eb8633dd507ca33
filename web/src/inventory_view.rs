//! The inventory as people and pipelines see it: stored records evaluated against the policy at
//! a chosen moment, with the time-dependent filters (tier, stale, orphaned) applied after.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roster_core::{InventoryItem, RiskPolicy, Tier};
use roster_store::{InventoryFilter, Store, StoreError};

#[derive(Debug, Clone)]
pub struct InventoryQuery {
    pub filter: InventoryFilter,
    pub as_of: DateTime<Utc>,
    /// Tier as evaluated at `as_of`.
    pub tier: Option<Tier>,
    /// Unused beyond the policy's threshold, or never used after the grace period.
    pub stale: bool,
    /// No owner.
    pub orphaned: bool,
}

impl InventoryQuery {
    pub fn new(as_of: DateTime<Utc>) -> Self {
        Self {
            filter: InventoryFilter::default(),
            as_of,
            tier: None,
            stale: false,
            orphaned: false,
        }
    }

    fn keeps(&self, item: &InventoryItem) -> bool {
        let has = |rules: &[&str]| {
            item.findings
                .iter()
                .any(|f| rules.contains(&f.rule.as_str()))
        };
        self.tier.is_none_or(|t| item.tier == t)
            && (!self.stale || has(&["usage.stale", "usage.never_used"]))
            && (!self.orphaned || has(&["owner.missing", "owner.departed"]))
    }
}

/// Reads evaluated inventory pages.
pub struct InventoryReader<'a> {
    store: &'a Store,
    policy: &'a RiskPolicy,
    last_complete: HashMap<(String, String, String), i64>,
    /// The people directory owners are checked against (empty without an import).
    directory: roster_core::directory::Directory,
    /// Ownership claims, applied to records neither the policy nor the platform gives an owner.
    claims: HashMap<i64, roster_store::claims::OwnershipClaim>,
    /// Active credentials per parent, where two or more.
    active_credentials: HashMap<i64, u32>,
}

/// Rows fetched per store query.
const FETCH: u64 = 2000;

impl<'a> InventoryReader<'a> {
    pub async fn new(store: &'a Store, policy: &'a RiskPolicy) -> Result<Self, StoreError> {
        Ok(Self {
            store,
            policy,
            last_complete: store.last_complete_runs().await?,
            directory: store.directory().await?,
            claims: store.ownership_claims().await?,
            active_credentials: store.parents_with_active_credentials().await?,
        })
    }

    /// Up to `limit` items after `after` (an id cursor), and the cursor for the next page
    /// (`None` at the end).
    pub async fn page(
        &self,
        q: &InventoryQuery,
        mut after: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<InventoryItem>, Option<i64>), StoreError> {
        let mut out = Vec::with_capacity(limit.min(FETCH as usize));
        loop {
            let rows = self.store.inventory_page(&q.filter, after, FETCH).await?;
            let exhausted = (rows.len() as u64) < FETCH;
            for row in rows {
                after = Some(row.id);
                let mut record = row.to_record()?;
                // Resolution order: policy [[owners]] and the platform (both applied at sync),
                // then a claim.
                if record.owner.is_none()
                    && let Some(c) = self.claims.get(&row.id)
                {
                    record.owner = Some(c.owner.clone());
                    record.owner_source = Some(format!("claim:{}", c.claimed_by));
                }
                let ctx = roster_core::Context {
                    directory: &self.directory,
                    active_credentials: self.active_credentials.get(&row.id).copied().unwrap_or(0),
                };
                let evaluation = self.policy.evaluate_with(&record, q.as_of, &ctx);
                let key = (
                    row.connector.clone(),
                    row.resource_type.clone(),
                    row.scope.clone(),
                );
                let item = row.to_item(&record, evaluation, self.last_complete.get(&key).copied());
                if q.keeps(&item) {
                    out.push(item);
                    if out.len() == limit {
                        return Ok((out, after));
                    }
                }
            }
            if exhausted {
                return Ok((out, None));
            }
        }
    }
}
