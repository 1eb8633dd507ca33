//! The `synthetic` connector: a deterministic, realistic estate across the five platforms'
//! kinds, for the demo and the benchmarks. Every record is labelled `sample_data` in its raw
//! JSON, and every name says `sample`, so it is never mistaken for a real estate.
//!
//! Record `n` (0 ≤ n < count) depends only on (seed, n): growing or shrinking `count` adds or
//! removes records without changing the others, which is what the sync tests rely on.

mod estate;
mod remediation;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use roster_connector_sdk::{Connector, ConnectorError, Listing, Page, PageToken};
use serde::Deserialize;

pub use estate::{
    DEPARTED, LISTINGS, PEOPLE, SampleListing, Story, has_expiry, has_telemetry, sample_directory,
};

/// `[[connectors]] kind = "synthetic"` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Total records (identities plus credentials).
    pub count: u64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The moment the estate's ages are measured from. Fixed, so re-syncs see no change.
    #[serde(default = "default_anchor")]
    pub anchor: DateTime<Utc>,
    /// Records per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_seed() -> u64 {
    42
}

fn default_page_size() -> u32 {
    1000
}

/// 2026-11-01T00:00:00Z.
pub fn default_anchor() -> DateTime<Utc> {
    Utc.timestamp_opt(1_793_491_200, 0)
        .single()
        .unwrap_or_default()
}

pub struct SyntheticConnector {
    config: SyntheticConfig,
}

impl SyntheticConnector {
    pub fn new(config: SyntheticConfig) -> Result<Self, ConnectorError> {
        if config.page_size == 0 {
            return Err(ConnectorError::Config(
                "page_size must be at least 1".into(),
            ));
        }
        Ok(Self { config })
    }
}

#[async_trait]
impl Connector for SyntheticConnector {
    fn remediator(&self) -> Option<&dyn roster_connector_sdk::Remediator> {
        Some(self)
    }

    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        Ok(LISTINGS
            .iter()
            .map(|l| Listing::new(l.resource_type, l.scope))
            .collect())
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let Some(index) = LISTINGS
            .iter()
            .position(|l| l.resource_type == listing.resource_type && l.scope == listing.scope)
        else {
            return Err(ConnectorError::NotFound {
                url: listing.to_string(),
            });
        };
        let wheel = &*estate::WHEEL;
        let first_block = match page {
            None => wheel.first_block(index),
            // A token names one of this listing's blocks, small enough to count records in.
            Some(token) => token
                .0
                .parse::<u64>()
                .ok()
                .filter(|b| *b <= u64::MAX / (4 * estate::BLOCK_SIZE) && wheel.owner(*b).0 == index)
                .ok_or_else(|| ConnectorError::Malformed {
                    url: listing.to_string(),
                    detail: format!("bad page token `{}`", token.0),
                })?,
        };
        let blocks_per_page = u64::from(self.config.page_size.div_ceil(estate::BLOCK_SIZE as u32));
        let mut records = Vec::new();
        let mut block = first_block;
        for _ in 0..blocks_per_page {
            if block * estate::BLOCK_SIZE >= self.config.count {
                return Ok(Page {
                    records,
                    next: None,
                });
            }
            estate::block_records(&self.config, block, &mut records);
            block = wheel.next_block(index, block);
        }
        let next =
            (block * estate::BLOCK_SIZE < self.config.count).then(|| PageToken(block.to_string()));
        Ok(Page { records, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    async fn all(count: u64, seed: u64) -> Vec<roster_core::Record> {
        let c = SyntheticConnector::new(SyntheticConfig {
            count,
            seed,
            anchor: default_anchor(),
            page_size: 37,
        })
        .unwrap();
        let mut out = Vec::new();
        for l in c.plan().await.unwrap() {
            let mut token = None;
            loop {
                let page = c.list(&l, token.as_ref()).await.unwrap();
                for r in &page.records {
                    assert_eq!(r.key.resource_type, l.resource_type);
                    assert_eq!(r.key.scope, l.scope);
                }
                out.extend(page.records);
                match page.next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn yields_exactly_count_unique_records_deterministically() {
        for count in [0, 1, 5, 143, 1000] {
            let recs = all(count, 7).await;
            assert_eq!(recs.len() as u64, count);
            let keys: HashSet<_> = recs.iter().map(|r| r.key.clone()).collect();
            assert_eq!(keys.len() as u64, count);
        }
        assert_eq!(all(300, 7).await, all(300, 7).await);
        assert_ne!(all(300, 7).await, all(300, 8).await);
    }

    /// A page token is the listing's next block: one of another listing, or one too large to
    /// count records in, is refused rather than served under the wrong listing or overflowed.
    #[tokio::test]
    async fn page_tokens_of_other_listings_or_out_of_range_are_refused() {
        let c = SyntheticConnector::new(SyntheticConfig {
            count: 2000,
            seed: 1,
            anchor: default_anchor(),
            page_size: 4,
        })
        .unwrap();
        let listings = c.plan().await.unwrap();
        let first = c.list(&listings[0], None).await.unwrap();
        let next = first.next.unwrap();
        assert!(c.list(&listings[0], Some(&next)).await.is_ok());
        for bad in [next.0.clone(), u64::MAX.to_string(), "x".into()] {
            let err = c
                .list(&listings[1], Some(&PageToken(bad.clone())))
                .await
                .unwrap_err();
            assert!(
                matches!(err, ConnectorError::Malformed { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn shrinking_keeps_the_remaining_records_identical() {
        let big = all(1000, 1).await;
        let small = all(900, 1).await;
        let big_set: HashSet<String> = big
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        assert!(
            small
                .iter()
                .all(|r| big_set.contains(&serde_json::to_string(r).unwrap()))
        );
    }

    #[tokio::test]
    async fn estate_is_varied_and_parents_exist() {
        use roster_core::{Privilege, Usage};
        let recs = all(4000, 42).await;
        let keys: HashSet<_> = recs.iter().map(|r| r.key.clone()).collect();
        for r in &recs {
            if let Some(p) = &r.parent {
                assert!(keys.contains(p), "parent of {:?} missing", r.key);
            }
            assert_eq!(r.raw["sample_data"], true);
        }
        let platforms: HashSet<_> = recs.iter().map(|r| r.platform).collect();
        assert_eq!(platforms.len(), 5);
        let kinds: HashSet<_> = recs.iter().map(|r| r.kind).collect();
        assert!(kinds.len() >= 14, "{kinds:?}");
        for u in [Usage::Used, Usage::NeverUsed, Usage::NoTelemetry] {
            assert!(recs.iter().any(|r| r.usage == u));
        }
        assert!(recs.iter().any(|r| r.privilege == Privilege::Admin));
        assert!(recs.iter().any(|r| r.owner.is_none()));
        assert!(
            recs.iter().any(|r| r.expires_at.is_none())
                && recs.iter().any(|r| r.expires_at.is_some())
        );
    }
}
