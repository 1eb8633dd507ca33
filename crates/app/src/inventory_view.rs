//! The inventory as people and pipelines see it: stored records evaluated against the policy at
//! a chosen moment, with the time-dependent filters (tier, stale, orphaned) applied after.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_core::{InventoryItem, RiskPolicy, Tier};
use roster_store::{EvaluationInputs, InventoryFilter, Store, StoreError};

use roster_core::{ORPHANED_RULES, STALE_RULES};

#[derive(Debug, Clone)]
pub struct InventoryQuery {
    pub filter: InventoryFilter,
    pub as_of: DateTime<Utc>,
    /// Tier as evaluated at `as_of`.
    pub tier: Option<Tier>,
    /// Unused beyond the policy's threshold, or never used after the grace period.
    pub stale: bool,
    /// No owner, or the owner has left.
    pub orphaned: bool,
    /// Carries a finding of this rule.
    pub rule: Option<String>,
    /// The stored evaluations may narrow the rows read (see
    /// [`roster_store::StoredEvaluationFilter`]): set where `as_of` is not in the past and the
    /// policy is the one they were made with.
    pub trust_stored: bool,
}

impl InventoryQuery {
    pub fn new(as_of: DateTime<Utc>) -> Self {
        Self {
            filter: InventoryFilter::default(),
            as_of,
            tier: None,
            stale: false,
            orphaned: false,
            rule: None,
            trust_stored: false,
        }
    }

    /// The store filter: the stored columns' filters, narrowed by the stored evaluations when
    /// they can be trusted. Rows they let through are still evaluated and checked by
    /// [`Self::keeps`].
    fn store_filter(&self, due: Option<Vec<i64>>) -> std::borrow::Cow<'_, InventoryFilter> {
        if !self.trust_stored || !self.filters_after_evaluation() {
            return std::borrow::Cow::Borrowed(&self.filter);
        }
        let group = |rules: &[&str]| rules.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
        let mut rules_any = Vec::new();
        if self.stale {
            rules_any.push(group(STALE_RULES));
        }
        if self.orphaned {
            rules_any.push(group(ORPHANED_RULES));
        }
        if let Some(r) = &self.rule {
            rules_any.push(vec![r.clone()]);
        }
        let mut f = self.filter.clone();
        f.evaluated = Some(roster_store::StoredEvaluationFilter {
            as_of: self.as_of,
            tier: self.tier,
            rules_any,
            due,
        });
        std::borrow::Cow::Owned(f)
    }

    /// Whether evaluation can drop rows the store returns (so a page must read ahead).
    fn filters_after_evaluation(&self) -> bool {
        self.tier.is_some() || self.stale || self.orphaned || self.rule.is_some()
    }

    fn keeps(&self, item: &InventoryItem) -> bool {
        let has = |rules: &[&str]| {
            item.findings
                .iter()
                .any(|f| rules.contains(&f.rule.as_str()))
        };
        self.tier.is_none_or(|t| item.tier == t)
            && (!self.stale || has(STALE_RULES))
            && (!self.orphaned || has(ORPHANED_RULES))
            && self.rule.as_deref().is_none_or(|r| has(&[r]))
    }
}

/// What evaluation knows beyond each record: read once per change of the store's
/// [`Store::generation`], not per page (at a million records the credential count alone is a
/// scan of the table).
pub struct ReaderContext {
    last_complete: HashMap<(String, String, String), i64>,
    inputs: EvaluationInputs,
}

impl ReaderContext {
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        Ok(Self {
            last_complete: store.last_complete_runs().await?,
            inputs: EvaluationInputs::load(store).await?,
        })
    }
}

/// The store generation a context was read at, and the context.
type Generation = ((i64, i64), Arc<ReaderContext>);

/// The [`ReaderContext`] of the store's current generation, shared by concurrent requests.
#[derive(Default)]
pub struct ContextCache {
    slot: tokio::sync::Mutex<Option<Generation>>,
}

impl ContextCache {
    pub async fn get(&self, store: &Store) -> Result<Arc<ReaderContext>, StoreError> {
        let generation = store.generation().await?;
        let mut slot = self.slot.lock().await;
        if let Some((g, ctx)) = slot.as_ref()
            && *g == generation
        {
            return Ok(ctx.clone());
        }
        let ctx = Arc::new(ReaderContext::load(store).await?);
        *slot = Some((generation, ctx.clone()));
        Ok(ctx)
    }
}

/// How many records a view holds: exactly, or more than a bound (counting further would read
/// every matching row on every page load: at 1M records, hundreds of milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exact(u64),
    MoreThan(u64),
}

/// The most records a view's total counts.
pub const COUNT_UP_TO: u64 = 10_000;
/// How far a search's total is counted ("of more than 1,000 records" past it).
pub const SEARCH_COUNT_UP_TO: u64 = 1_000;

/// Reads evaluated inventory pages.
pub struct InventoryReader<'a> {
    store: &'a Store,
    policy: &'a RiskPolicy,
    ctx: Arc<ReaderContext>,
}

/// Rows fetched per store query.
const FETCH: u64 = 2000;

impl<'a> InventoryReader<'a> {
    pub async fn new(store: &'a Store, policy: &'a RiskPolicy) -> Result<Self, StoreError> {
        Ok(Self::with_context(
            store,
            policy,
            Arc::new(ReaderContext::load(store).await?),
        ))
    }

    pub fn with_context(store: &'a Store, policy: &'a RiskPolicy, ctx: Arc<ReaderContext>) -> Self {
        Self { store, policy, ctx }
    }

    /// Evaluates one stored row: the claim applied, the directory and credential counts in
    /// context.
    pub fn evaluate(
        &self,
        row: roster_store::entity::record::Model,
        as_of: DateTime<Utc>,
    ) -> Result<InventoryItem, StoreError> {
        let mut record = row.to_record()?;
        self.ctx.inputs.apply_claim(row.id, &mut record);
        let evaluation = self
            .ctx
            .inputs
            .evaluate(self.policy, row.id, &record, as_of);
        let key = (
            row.connector.clone(),
            row.resource_type.clone(),
            row.scope.clone(),
        );
        Ok(row.to_item(
            &record,
            evaluation,
            self.ctx.last_complete.get(&key).copied(),
        ))
    }

    /// The records whose stored evaluation is due at the query's moment, where the query uses
    /// the stored evaluations and the store's list of those falling due covers that moment.
    async fn due(&self, q: &InventoryQuery) -> Result<Option<Vec<i64>>, StoreError> {
        if q.trust_stored
            && q.filters_after_evaluation()
            && q.as_of < self.store.covered_until().await?
        {
            Ok(Some(self.store.listed_due(q.as_of).await?))
        } else {
            Ok(None)
        }
    }

    /// How many items the query keeps, when that is known without evaluating every record:
    /// the query filters on stored columns only, or the stored evaluations hold at its moment
    /// and what fell due since is listed (then the listed ones are evaluated). At most
    /// [`COUNT_UP_TO`] rows are counted. `None` when it cannot be counted so (a moment in the
    /// past, another policy).
    pub async fn count(&self, q: &InventoryQuery) -> Result<Option<Total>, StoreError> {
        // A search counts by walking its matches: up to 1,000 of them (3 ms at a million
        // records), not 10,000 (30 ms, most of a search page's cost).
        let cap = if q.filter.search.is_some() {
            SEARCH_COUNT_UP_TO
        } else {
            COUNT_UP_TO
        };
        let bounded = |n: u64| {
            if n > cap {
                Total::MoreThan(cap)
            } else {
                Total::Exact(n)
            }
        };
        if !q.filters_after_evaluation() {
            let n = self.store.inventory_count_up_to(&q.filter, cap).await?;
            return Ok(Some(bounded(n)));
        }
        if !q.trust_stored {
            return Ok(None);
        }
        let Some(due) = self.due(q).await? else {
            return Ok(None);
        };
        let stored = q.store_filter(Some(Vec::new()));
        let mut n = self.store.inventory_count_up_to(&stored, cap).await?;
        if n > cap {
            return Ok(Some(Total::MoreThan(cap)));
        }
        if let Some(e) = &stored.evaluated {
            // A due record counts as it evaluates now, not as it was stored.
            for row in self.store.inventory_rows_among(&q.filter, &due).await? {
                let counted = e.stored_match(&row);
                let kept = q.keeps(&self.evaluate(row, q.as_of)?);
                n = (n + u64::from(kept)).saturating_sub(u64::from(counted));
            }
        }
        Ok(Some(bounded(n)))
    }

    /// Every item the query keeps, in id order, handed to `visit` without collecting them.
    pub async fn scan(
        &self,
        q: &InventoryQuery,
        mut visit: impl FnMut(&InventoryItem),
    ) -> Result<u64, StoreError> {
        let mut after = None;
        let mut seen = 0;
        let filter = q.store_filter(self.due(q).await?);
        loop {
            let rows = self.store.inventory_page(&filter, after, FETCH).await?;
            let exhausted = (rows.len() as u64) < FETCH;
            for row in rows {
                after = Some(row.id);
                let item = self.evaluate(row, q.as_of)?;
                if q.keeps(&item) {
                    seen += 1;
                    visit(&item);
                }
            }
            if exhausted {
                return Ok(seen);
            }
        }
    }

    /// Up to `limit` items, most risky first: critical, then high, medium and low, each in id
    /// order (each tier a narrowed read of its own, so a page costs what a tier filter costs).
    /// `after` and the returned cursor are (tier, id).
    pub async fn page_by_risk(
        &self,
        q: &InventoryQuery,
        after: Option<(Tier, i64)>,
        limit: usize,
    ) -> Result<(Vec<InventoryItem>, Option<(Tier, i64)>), StoreError> {
        let mut out: Vec<InventoryItem> = Vec::with_capacity(limit.min(FETCH as usize));
        let start = after.map_or(Tier::Critical, |(t, _)| t);
        for tier in [Tier::Critical, Tier::High, Tier::Medium, Tier::Low] {
            if tier > start || q.tier.is_some_and(|t| t != tier) {
                continue;
            }
            let mut tq = q.clone();
            tq.tier = Some(tier);
            let from = after.filter(|(t, _)| *t == tier).map(|(_, id)| id);
            let (items, next) = self.page(&tq, from, limit - out.len()).await?;
            out.extend(items);
            if out.len() == limit {
                // The page is full: resume in this tier, or at the next one's start.
                return Ok((
                    out,
                    next.map(|id| (tier, id))
                        .or_else(|| next_tier(tier, q).map(|t| (t, i64::MIN))),
                ));
            }
        }
        Ok((out, None))
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
        // Without filters on the evaluated item every stored row is kept: read one page's worth
        // (plus one, to know whether there is more), not a whole batch.
        // When the stored evaluations narrow the read, the rows they let through are nearly all
        // kept too (only those whose evaluation fell due since can drop out).
        let fetch = if q.filters_after_evaluation() && !q.trust_stored {
            FETCH
        } else {
            limit as u64 + 1
        };
        let filter = q.store_filter(self.due(q).await?);
        loop {
            let rows = self.store.inventory_page(&filter, after, fetch).await?;
            let exhausted = (rows.len() as u64) < fetch;
            for row in rows {
                after = Some(row.id);
                let item = self.evaluate(row, q.as_of)?;
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

/// The tier after `tier` in risk order that the query can show.
fn next_tier(tier: Tier, q: &InventoryQuery) -> Option<Tier> {
    if q.tier.is_some() {
        return None;
    }
    match tier {
        Tier::Critical => Some(Tier::High),
        Tier::High => Some(Tier::Medium),
        Tier::Medium => Some(Tier::Low),
        Tier::Low => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_connector_sdk::FakeClock;
    use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector, default_anchor};

    /// Risk order pages through every record once, critical first, whatever the page size.
    #[tokio::test]
    async fn risk_order_pages_through_every_record_once() {
        let t = roster_store::testing::test_stores()
            .await
            .unwrap()
            .remove(0);
        let policy = RiskPolicy::default();
        let source = roster_sync::SyncSource {
            name: "sample".into(),
            connector: Box::new(
                SyntheticConnector::new(SyntheticConfig {
                    count: 800,
                    seed: 6,
                    anchor: default_anchor(),
                    page_size: 100,
                })
                .unwrap(),
            ),
        };
        let clock = Arc::new(FakeClock::new(default_anchor()));
        let report = roster_sync::SyncEngine::new(t.store.clone(), policy.clone(), clock)
            .run(&[source], &roster_sync::NoProgress)
            .await
            .unwrap();
        let reader = InventoryReader::new(&t.store, &policy).await.unwrap();
        let mut q = InventoryQuery::new(report.finished_at + chrono::Duration::minutes(1));
        q.trust_stored = true;
        let (all, _) = reader.page(&q, None, 10_000).await.unwrap();
        let mut expected: Vec<(Tier, RecordIdKey)> =
            all.iter().map(|i| (i.tier, RecordIdKey(i.id.0))).collect();
        expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = reader.page_by_risk(&q, cursor, 37).await.unwrap();
            assert!(page.len() <= 37);
            got.extend(page.iter().map(|i| (i.tier, RecordIdKey(i.id.0))));
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, expected);
        assert!(got.first().map(|g| g.0) > got.last().map(|g| g.0));
        // With a tier filter, that tier alone.
        q.tier = Some(Tier::High);
        let (high, _) = reader.page_by_risk(&q, None, 10_000).await.unwrap();
        assert!(!high.is_empty() && high.iter().all(|i| i.tier == Tier::High));
    }

    /// Ids in the order the inventory reads them.
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct RecordIdKey(i64);

    /// Narrowing the read with the stored evaluations changes nothing in what a filter finds:
    /// right after a sync (nothing due: the stored tier alone decides) and months later (every
    /// due row checked), on both backends.
    #[tokio::test]
    async fn stored_evaluations_narrow_the_read_without_changing_the_answer() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let clock = Arc::new(FakeClock::new(default_anchor()));
            let policy = RiskPolicy::default();
            let source = roster_sync::SyncSource {
                name: "sample".into(),
                connector: Box::new(
                    SyntheticConnector::new(SyntheticConfig {
                        count: 3000,
                        seed: 5,
                        anchor: default_anchor(),
                        page_size: 100,
                    })
                    .unwrap(),
                ),
            };
            let report = roster_sync::SyncEngine::new(t.store.clone(), policy.clone(), clock)
                .run(&[source], &roster_sync::NoProgress)
                .await
                .unwrap();
            let cover = t.store.covered_until().await.unwrap();
            assert!(
                cover > report.finished_at + chrono::Duration::hours(20),
                "{}: the list of what falls due covers the next day",
                t.backend
            );
            let reader = InventoryReader::new(&t.store, &policy).await.unwrap();
            // Within the cover, nothing due yet; within it with some due; beyond it.
            let soon = report.finished_at + chrono::Duration::seconds(1);
            let hours = cover - chrono::Duration::minutes(1);
            let later = report.finished_at + chrono::Duration::days(120);
            // The day crosses thresholds that change what the rules say, so the filters below
            // are wrong unless they read the due rows.
            let mut changed = std::collections::BTreeSet::new();
            for id in t.store.listed_due(hours).await.unwrap() {
                let row = t.store.record(id).await.unwrap();
                let item = reader.evaluate(row.clone(), hours).unwrap();
                let now: Vec<&str> = item.findings.iter().map(|f| f.rule.as_str()).collect();
                for rule in now.iter().filter(|r| !row.stored_rules().contains(r)) {
                    changed.insert((*rule).to_owned());
                }
            }
            assert!(
                !changed.is_empty(),
                "{}: some rule starts to apply within the day",
                t.backend
            );
            for as_of in [soon, hours, later] {
                let mut queries = Vec::new();
                for tier in [Tier::Critical, Tier::High, Tier::Medium, Tier::Low] {
                    let mut q = InventoryQuery::new(as_of);
                    q.tier = Some(tier);
                    queries.push(q);
                }
                let mut q = InventoryQuery::new(as_of);
                q.stale = true;
                queries.push(q);
                let mut q = InventoryQuery::new(as_of);
                q.orphaned = true;
                q.rule = Some("privilege.admin".into());
                queries.push(q);
                for rule in &changed {
                    let mut q = InventoryQuery::new(as_of);
                    q.rule = Some(rule.clone());
                    queries.push(q);
                }
                for mut q in queries {
                    let ids = |items: Vec<InventoryItem>| {
                        items.into_iter().map(|i| i.id).collect::<Vec<_>>()
                    };
                    let (all, _) = reader.page(&q, None, 1000).await.unwrap();
                    q.trust_stored = true;
                    let (narrowed, _) = reader.page(&q, None, 1000).await.unwrap();
                    let all = ids(all);
                    let narrowed = ids(narrowed);
                    assert!(
                        narrowed == all,
                        "{} {q:?}: {} records read narrowed, {} in full",
                        t.backend,
                        narrowed.len(),
                        all.len()
                    );
                    if q.tier == Some(Tier::High) {
                        assert!(
                            !all.is_empty(),
                            "{}: the estate has high records",
                            t.backend
                        );
                    }
                }
            }
        }
    }
}
