//! What `/metrics` reads from the database at scrape time. Every query here reads a small table
//! (sync runs, listings, the inbox tallies, campaigns) or an index range (audit events after the
//! SIEM cursor), never the records: a scrape costs the same at 1M records as at 100.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::{audit_event, listing, sync_run};
use crate::{Store, StoreError};

/// Sync runs of one set of connectors (as stored, a JSON array) ending in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunTally {
    /// The run's connectors, in the order the run named them.
    pub connectors: Vec<String>,
    /// `running`, `ok`, `partial`, `failed` or `aborted`.
    pub status: String,
    pub runs: u64,
    /// When the newest of them finished (none while running).
    pub last_finished_at: Option<DateTime<Utc>>,
}

/// A connector's listings by how their last attempt ended (`complete` or `failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingTally {
    pub connector: String,
    pub last_status: String,
    pub listings: u64,
}

/// Pending items of open campaigns at one tier rank (0 critical … 4 none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingReviews {
    pub tier_rank: i16,
    pub pending: u64,
    /// Of those, in campaigns past their due date.
    pub overdue: u64,
}

/// How far an audit sink is behind the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryLag {
    /// Events after the sink's cursor.
    pub pending: u64,
    /// When the oldest of them was written.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// This process's database pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle or in use).
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Every sync run grouped by its connectors and status (the table has a row per run: a few
    /// thousand after years of six-hourly syncs).
    pub async fn sync_run_tallies(&self) -> Result<Vec<SyncRunTally>, StoreError> {
        let groups: Vec<(String, String, i64, i64)> = sync_run::Entity::find()
            .select_only()
            .column(sync_run::Column::Connectors)
            .column(sync_run::Column::Status)
            .column_as(sync_run::Column::Id.count(), "runs")
            .column_as(sync_run::Column::Id.max(), "last_id")
            .group_by(sync_run::Column::Connectors)
            .group_by(sync_run::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        // The newest run's end per group, read by id: MAX over a timestamp column would come
        // back as text on SQLite.
        let finished: std::collections::HashMap<i64, Option<DateTime<Utc>>> =
            sync_run::Entity::find()
                .select_only()
                .column(sync_run::Column::Id)
                .column(sync_run::Column::FinishedAt)
                .filter(sync_run::Column::Id.is_in(groups.iter().map(|g| g.3)))
                .into_tuple::<(i64, Option<DateTime<Utc>>)>()
                .all(&self.db)
                .await?
                .into_iter()
                .collect();
        Ok(groups
            .into_iter()
            .map(|(connectors, status, runs, last_id)| SyncRunTally {
                // A run's connectors are written as a JSON array of names (`begin_sync_run`).
                connectors: serde_json::from_str(&connectors).unwrap_or_else(|_| vec![connectors]),
                status,
                runs: count(runs),
                last_finished_at: finished.get(&last_id).copied().flatten(),
            })
            .collect())
    }

    /// The newest stored dashboard summary (JSON), and nothing else of its run: a run's report
    /// can be large.
    pub async fn latest_run_summary(&self) -> Result<Option<serde_json::Value>, StoreError> {
        use sea_orm::QueryOrder;
        let text: Option<String> = sync_run::Entity::find()
            .select_only()
            .column(sync_run::Column::Summary)
            .filter(sync_run::Column::Summary.is_not_null())
            .order_by_desc(sync_run::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Listings per connector and last status (a row per connector × resource type × scope).
    pub async fn listing_tallies(&self) -> Result<Vec<ListingTally>, StoreError> {
        let rows: Vec<(String, String, i64)> = listing::Entity::find()
            .select_only()
            .column(listing::Column::Connector)
            .column(listing::Column::LastStatus)
            .column_as(listing::Column::Id.count(), "n")
            .group_by(listing::Column::Connector)
            .group_by(listing::Column::LastStatus)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(connector, last_status, n)| ListingTally {
                connector,
                last_status,
                listings: count(n),
            })
            .collect())
    }

    /// Pending items of open campaigns per tier, and those overdue at `now`, from the inbox
    /// tallies the database keeps (a row per reviewer × campaign × state × tier), not the items.
    pub async fn pending_reviews(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingReviews>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT CAST(t.tier_rank AS BIGINT) AS tier_rank, \
                   CAST(SUM(t.n) AS BIGINT) AS pending, \
                   CAST(SUM(CASE WHEN c.due_at < ? THEN t.n ELSE 0 END) AS BIGINT) AS overdue \
                   FROM inbox_tallies t JOIN campaigns c ON c.id = t.campaign_id \
                   WHERE c.status = ? AND t.state = ? GROUP BY t.tier_rank";
        let rows = self
            .db
            .query_all(crate::statement(
                backend,
                sql,
                vec![now.into(), "open".into(), "pending".into()],
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let rank: i64 = row.try_get("", "tier_rank")?;
            out.push(PendingReviews {
                tier_rank: i16::try_from(rank).unwrap_or(4),
                pending: count(row.try_get("", "pending")?),
                overdue: count(row.try_get("", "overdue")?),
            });
        }
        Ok(out)
    }

    /// Campaigns open now.
    pub async fn open_campaign_count(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(crate::entity::campaign::Entity::find()
            .filter(crate::entity::campaign::Column::Status.eq("open"))
            .count(&self.db)
            .await?)
    }

    /// How far `sink` is behind: the events after its cursor (an index range on the audit
    /// trail's id, as long as the backlog) and when the oldest of them was written.
    pub async fn audit_delivery_lag(&self, sink: &str) -> Result<DeliveryLag, StoreError> {
        use sea_orm::{PaginatorTrait, QueryOrder};
        let after = self.audit_delivery_cursor(sink).await?;
        let pending = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(after))
            .count(&self.db)
            .await?;
        if pending == 0 {
            return Ok(DeliveryLag::default());
        }
        let oldest: Option<DateTime<Utc>> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::At)
            .filter(audit_event::Column::Id.gt(after))
            .order_by_asc(audit_event::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(DeliveryLag {
            pending,
            oldest_pending_at: oldest,
        })
    }

    /// The connection pool of this store (the sync's own writer connection, on SQLite, is
    /// not in it).
    pub fn pool_stats(&self) -> PoolStats {
        let (open, idle, max) = if self.is_postgres() {
            let pool = self.db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        } else {
            let pool = self.db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        };
        PoolStats {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sync_runs::{RunCounts, RunStatus};
    use chrono::TimeZone;

    /// The tallies count what was written, on both backends.
    #[tokio::test]
    async fn tallies_count_runs_listings_and_the_siem_backlog() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
            let both = ["gh".to_owned(), "aws".to_owned()];
            for (i, status) in [RunStatus::Ok, RunStatus::Ok, RunStatus::Partial]
                .into_iter()
                .enumerate()
            {
                let id = s.begin_sync_run(at, &both, "test").await.unwrap();
                let end = at + chrono::Duration::minutes(i as i64);
                s.finish_sync_run(
                    id,
                    end,
                    status,
                    RunCounts::default(),
                    &serde_json::json!({}),
                )
                .await
                .unwrap();
            }
            s.begin_sync_run(at, &["gh".to_owned()], "test")
                .await
                .unwrap();
            let mut tallies = s.sync_run_tallies().await.unwrap();
            tallies.sort_by(|a, b| (&a.status, a.runs).cmp(&(&b.status, b.runs)));
            assert_eq!(
                tallies,
                vec![
                    SyncRunTally {
                        connectors: both.to_vec(),
                        status: "ok".into(),
                        runs: 2,
                        last_finished_at: Some(at + chrono::Duration::minutes(1)),
                    },
                    SyncRunTally {
                        connectors: both.to_vec(),
                        status: "partial".into(),
                        runs: 1,
                        last_finished_at: Some(at + chrono::Duration::minutes(2)),
                    },
                    SyncRunTally {
                        connectors: vec!["gh".into()],
                        status: "running".into(),
                        runs: 1,
                        last_finished_at: None,
                    },
                ],
                "{}",
                t.backend
            );

            for (scope, complete) in [("a", true), ("b", false), ("c", false)] {
                s.record_listing(
                    1,
                    at,
                    &crate::ListingOutcome {
                        connector: "gh".into(),
                        resource_type: "deploy_key".into(),
                        scope: scope.into(),
                        complete,
                        error: (!complete).then(|| "403".to_owned()),
                        seen: 1,
                    },
                )
                .await
                .unwrap();
            }
            let mut listings = s.listing_tallies().await.unwrap();
            listings.sort_by(|a, b| a.last_status.cmp(&b.last_status));
            assert_eq!(
                listings
                    .iter()
                    .map(|l| (l.connector.as_str(), l.last_status.as_str(), l.listings))
                    .collect::<Vec<_>>(),
                vec![("gh", "complete", 1), ("gh", "failed", 2)]
            );

            assert_eq!(
                s.audit_delivery_lag("siem-webhook").await.unwrap(),
                DeliveryLag::default()
            );
            let mut first = None;
            for i in 0..3 {
                let ev = s
                    .append_audit(
                        crate::audit::NewAuditEvent {
                            actor: "test".into(),
                            action: "test.event".into(),
                            target: None,
                            detail: serde_json::json!({ "i": i }),
                        },
                        at + chrono::Duration::seconds(i),
                    )
                    .await
                    .unwrap();
                first.get_or_insert(ev.id);
            }
            let first = first.unwrap();
            s.set_audit_delivery_cursor("siem-webhook", first, at)
                .await
                .unwrap();
            assert_eq!(
                s.audit_delivery_lag("siem-webhook").await.unwrap(),
                DeliveryLag {
                    pending: 2,
                    oldest_pending_at: Some(at + chrono::Duration::seconds(1)),
                }
            );
            let pool = s.pool_stats();
            assert!(pool.max >= 1 && pool.idle <= pool.open, "{pool:?}");
            assert!(s.pending_reviews(at).await.unwrap().is_empty());
            assert_eq!(s.open_campaign_count().await.unwrap(), 0);
        }
    }
}
