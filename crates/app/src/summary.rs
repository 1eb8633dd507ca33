//! The dashboard's numbers: one pass over the evaluated inventory, made when a sync run ends and
//! stored with the run, so that the dashboard is one small read and its trend plot has a point
//! per run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use roster_core::{
    InventoryItem, NEVER_USED_RULE, NO_USAGE_DATA_RULE, ORPHANED_RULES, RecordClass, STALE_RULES,
    Tier,
};
use serde::{Deserialize, Serialize};

use crate::inventory_view::{InventoryQuery, InventoryReader};

/// Upper bounds (days, exclusive) of the credential-age buckets; the last is open.
pub const AGE_BUCKETS: &[(i64, &str)] = &[
    (30, "< 30 d"),
    (90, "30–90 d"),
    (180, "90–180 d"),
    (365, "180 d–1 y"),
    (730, "1–2 y"),
    (i64::MAX, "> 2 y"),
];

/// Upper bounds (days, exclusive) of the last-used buckets. After them: never used
/// ([`NEVER_USED_RULE`]), no usage data ([`NO_USAGE_DATA_RULE`]), and no last use yet (neither
/// rule applies: within the grace period after creation, or not live), in that order, so the
/// chart's bars add up to the total and each linked bar is its rule's list.
pub const LAST_USED_BUCKETS: &[(i64, &str)] = &[
    (7, "< 7 d"),
    (30, "7–30 d"),
    (90, "30–90 d"),
    (180, "90–180 d"),
    (i64::MAX, "> 180 d"),
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventorySummary {
    pub as_of: Option<DateTime<Utc>>,
    pub identities: u64,
    pub credentials: u64,
    /// Live records per tier, `critical` first.
    pub tiers: [u64; 4],
    /// Per platform, live records per tier (`critical` first).
    pub by_platform: BTreeMap<String, [u64; 4]>,
    pub stale: u64,
    pub never_used: u64,
    pub no_usage_data: u64,
    pub orphaned: u64,
    pub expiring_soon: u64,
    pub admin: u64,
    /// Credentials by age since creation, per [`AGE_BUCKETS`], then "unknown".
    pub credential_age: Vec<u64>,
    /// Live records by time since last use, per [`LAST_USED_BUCKETS`], then "never used", "no
    /// usage data" and "no last use yet".
    pub last_used: Vec<u64>,
}

/// Index of a tier in the `critical`-first arrays.
pub fn tier_index(t: Tier) -> usize {
    match t {
        Tier::Critical => 0,
        Tier::High => 1,
        Tier::Medium => 2,
        Tier::Low => 3,
    }
}

fn bucket(days: i64, bounds: &[(i64, &str)]) -> usize {
    bounds
        .iter()
        .position(|(upper, _)| days < *upper)
        .unwrap_or(bounds.len().saturating_sub(1))
}

impl InventorySummary {
    pub fn new(as_of: DateTime<Utc>) -> Self {
        Self {
            as_of: Some(as_of),
            credential_age: vec![0; AGE_BUCKETS.len() + 1],
            last_used: vec![0; LAST_USED_BUCKETS.len() + 3],
            ..Default::default()
        }
    }

    pub fn add(&mut self, item: &InventoryItem, as_of: DateTime<Utc>) {
        let has = |rule: &str| item.findings.iter().any(|f| f.rule == rule);
        let t = tier_index(item.tier);
        self.tiers[t] += 1;
        self.by_platform
            .entry(item.platform.as_str().to_owned())
            .or_default()[t] += 1;
        match item.class {
            RecordClass::Credential => {
                self.credentials += 1;
                let i = match item.created_at {
                    Some(c) => bucket((as_of - c).num_days().max(0), AGE_BUCKETS),
                    None => AGE_BUCKETS.len(),
                };
                self.credential_age[i] += 1;
            }
            _ => self.identities += 1,
        }
        if STALE_RULES.iter().any(|r| has(r)) {
            self.stale += 1;
        }
        if has(NEVER_USED_RULE) {
            self.never_used += 1;
        }
        if has(NO_USAGE_DATA_RULE) {
            self.no_usage_data += 1;
        }
        if ORPHANED_RULES.iter().any(|r| has(r)) {
            self.orphaned += 1;
        }
        if has("lifetime.expiring_soon") {
            self.expiring_soon += 1;
        }
        if has("privilege.admin") {
            self.admin += 1;
        }
        let i = if has(NEVER_USED_RULE) {
            LAST_USED_BUCKETS.len()
        } else if has(NO_USAGE_DATA_RULE) {
            LAST_USED_BUCKETS.len() + 1
        } else {
            match item.last_used_at {
                Some(at) => bucket((as_of - at).num_days().max(0), LAST_USED_BUCKETS),
                None => LAST_USED_BUCKETS.len() + 2,
            }
        };
        self.last_used[i] += 1;
    }

    pub fn total(&self) -> u64 {
        self.tiers.iter().sum()
    }
}

/// A dashboard number with the inventory view (a query string) that lists exactly what it
/// counts: one definition for the tile, the chart and the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryTile {
    pub label: &'static str,
    pub value: u64,
    pub query: String,
}

impl InventorySummary {
    /// The live records per tier, riskiest first.
    pub fn tier_tiles(&self) -> Vec<SummaryTile> {
        [Tier::Critical, Tier::High, Tier::Medium, Tier::Low]
            .into_iter()
            .map(|t| SummaryTile {
                label: t.as_str(),
                value: self.tiers[tier_index(t)],
                query: format!("tier={}", t.as_str()),
            })
            .collect()
    }

    /// What needs attention.
    pub fn attention_tiles(&self) -> Vec<SummaryTile> {
        let rule = |label, value, rule: &str| SummaryTile {
            label,
            value,
            query: format!("rule={rule}"),
        };
        vec![
            SummaryTile {
                label: "Stale",
                value: self.stale,
                query: "stale=1".into(),
            },
            rule("Never used", self.never_used, NEVER_USED_RULE),
            SummaryTile {
                label: "Orphaned",
                value: self.orphaned,
                query: "orphaned=1".into(),
            },
            rule(
                "Expiring soon",
                self.expiring_soon,
                "lifetime.expiring_soon",
            ),
            rule("Admin privilege", self.admin, "privilege.admin"),
            rule("No usage data", self.no_usage_data, NO_USAGE_DATA_RULE),
        ]
    }
}

/// The bucket bounds in days, as the store counts them.
fn bounds(buckets: &[(i64, &str)]) -> Vec<i64> {
    buckets.iter().map(|(days, _)| *days).collect()
}

impl InventorySummary {
    /// The summary from the store's grouped counts of stored evaluations.
    fn from_groups(
        groups: &[roster_store::evaluation::EvaluatedGroup],
        as_of: DateTime<Utc>,
    ) -> Result<Self, roster_store::StoreError> {
        let mut s = Self::new(as_of);
        for g in groups {
            let corrupt = |field: &'static str, detail: String| roster_store::StoreError::Corrupt {
                id: "summary".into(),
                field,
                detail,
            };
            let tier: Tier = g
                .tier
                .parse()
                .map_err(|e: roster_core::ParseEnumError| corrupt("tier", e.to_string()))?;
            let class: RecordClass = g
                .class
                .parse()
                .map_err(|e: roster_core::ParseEnumError| corrupt("class", e.to_string()))?;
            let t = tier_index(tier);
            s.tiers[t] += g.records;
            s.by_platform.entry(g.platform.clone()).or_default()[t] += g.records;
            match class {
                RecordClass::Credential => {
                    s.credentials += g.records;
                    if let Some(n) = s.credential_age.get_mut(g.age_bucket) {
                        *n += g.records;
                    }
                }
                _ => s.identities += g.records,
            }
            if let Some(n) = s.last_used.get_mut(g.last_used_bucket) {
                *n += g.records;
            }
            if g.last_used_bucket == LAST_USED_BUCKETS.len() + 1 {
                s.no_usage_data += g.records;
            }
            s.stale += g.stale;
            s.never_used += g.never_used;
            s.orphaned += g.orphaned;
            s.expiring_soon += g.expiring_soon;
            s.admin += g.admin;
        }
        Ok(s)
    }
}

/// Summarises the live inventory from the stored evaluations: a grouped count, no record read
/// into Roster. Sound right after a sync run, which leaves no evaluation due at its end.
pub async fn summarize_stored(
    store: &roster_store::Store,
    as_of: DateTime<Utc>,
) -> Result<InventorySummary, roster_store::StoreError> {
    let groups = store
        .evaluated_totals(as_of, &bounds(AGE_BUCKETS), &bounds(LAST_USED_BUCKETS))
        .await?;
    InventorySummary::from_groups(&groups, as_of)
}

/// Summarises the whole live inventory as evaluated at `as_of`, record by record.
pub async fn summarize(
    reader: &InventoryReader<'_>,
    as_of: DateTime<Utc>,
) -> Result<InventorySummary, roster_store::StoreError> {
    let mut summary = InventorySummary::new(as_of);
    reader
        .scan(&InventoryQuery::new(as_of), |item| summary.add(item, as_of))
        .await?;
    Ok(summary)
}

/// Summarises the inventory as run `run_id` left it (at its end, `as_of`) and stores that with
/// the run.
pub async fn record_run_summary(
    store: &roster_store::Store,
    run_id: i64,
    as_of: DateTime<Utc>,
) -> Result<InventorySummary, roster_store::StoreError> {
    let summary = summarize_stored(store, as_of).await?;
    let json = serde_json::to_value(&summary).map_err(|e| roster_store::StoreError::Corrupt {
        id: format!("run:{run_id}"),
        field: "summary",
        detail: e.to_string(),
    })?;
    store.set_run_summary(run_id, &json).await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grouped count of stored evaluations says what evaluating every record says, on
    /// both backends, at the end of a first sync and of a re-sync months later.
    #[tokio::test]
    async fn the_stored_summary_is_the_evaluated_one() {
        use roster_connector_sdk::FakeClock;
        use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector, default_anchor};
        use std::sync::Arc;
        for t in roster_store::testing::test_stores().await.unwrap() {
            let clock = Arc::new(FakeClock::new(default_anchor()));
            let policy = roster_core::RiskPolicy::default();
            for _ in 0..2 {
                let source = roster_sync::SyncSource {
                    name: "sample".into(),
                    connector: Box::new(
                        SyntheticConnector::new(SyntheticConfig {
                            count: 800,
                            seed: 3,
                            anchor: default_anchor(),
                            page_size: 100,
                        })
                        .unwrap(),
                    ),
                };
                let report =
                    roster_sync::SyncEngine::new(t.store.clone(), policy.clone(), clock.clone())
                        .run(&[source], &roster_sync::NoProgress)
                        .await
                        .unwrap();
                let at = report.finished_at;
                let stored = summarize_stored(&t.store, at).await.unwrap();
                let reader = InventoryReader::new(&t.store, &policy).await.unwrap();
                let evaluated = summarize(&reader, at).await.unwrap();
                assert_eq!(stored, evaluated, "{} at {at}", t.backend);
                assert!(stored.stale > 0 && stored.credentials > 0, "{stored:?}");
                // Each tile's number is the length of the list it opens, as the inventory
                // counts it and as it lists it.
                let roster = crate::Roster::new(
                    t.store.clone(),
                    crate::config::Config::from_toml_str("").unwrap(),
                    crate::policy::LoadedPolicy {
                        policy: policy.clone(),
                        hash: String::new(),
                    },
                );
                let admin = crate::access::Principal::cli("test");
                let tiles = [stored.tier_tiles(), stored.attention_tiles()].concat();
                for tile in &tiles {
                    let scope = crate::scope::Scope::from_query_string(&tile.query).unwrap();
                    let q = scope.query_at(at);
                    let mut listed = 0;
                    reader.scan(&q, |_| listed += 1).await.unwrap();
                    let what = format!("{} `{}` on {} at {at}", tile.label, tile.query, t.backend);
                    assert_eq!(tile.value, listed, "{what}: listed");
                    let counted = roster.inventory_total(&admin, &scope, at).await.unwrap();
                    assert_eq!(
                        Some(crate::inventory_view::Total::Exact(tile.value)),
                        counted,
                        "{what}: counted"
                    );
                }
                assert!(
                    tiles.iter().filter(|t| t.value > 0).count() >= 6,
                    "the fixture exercises most tiles: {tiles:?}"
                );
                // The last-used chart's bars add up to every live record.
                assert_eq!(stored.last_used.iter().sum::<u64>(), stored.total());
                clock.advance(std::time::Duration::from_secs(200 * 86_400));
            }
        }
    }

    #[test]
    fn buckets_are_half_open() {
        assert_eq!(bucket(0, AGE_BUCKETS), 0);
        assert_eq!(bucket(29, AGE_BUCKETS), 0);
        assert_eq!(bucket(30, AGE_BUCKETS), 1);
        assert_eq!(bucket(5000, AGE_BUCKETS), AGE_BUCKETS.len() - 1);
        assert_eq!(bucket(7, LAST_USED_BUCKETS), 1);
    }
}
