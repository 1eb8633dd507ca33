//! Sync runs and listing state: what each run saw, and per listing when it last completed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use crate::entity::{job_lease, listing, sync_run};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Every listing completed.
    Ok,
    /// Some listings failed; nothing was swept there.
    Partial,
    /// Nothing could be read.
    Failed,
    /// The process died during the run; found and closed by a later run.
    Aborted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Aborted => "aborted",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub gone: u64,
    pub failed_listings: u64,
    /// Records skipped because their id collides with that of a different natural key (listed
    /// earlier in the run, or stored): never merged, never written. Kept in the run's report
    /// JSON only.
    #[serde(default)]
    pub collisions: u64,
}

impl RunCounts {
    pub fn add(&mut self, other: &RunCounts) {
        self.new += other.new;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.gone += other.gone;
        self.failed_listings += other.failed_listings;
        self.collisions += other.collisions;
    }
}

/// How one listing ended in one run.
#[derive(Debug, Clone)]
pub struct ListingOutcome {
    pub connector: String,
    pub resource_type: String,
    pub scope: String,
    pub complete: bool,
    pub error: Option<String>,
    pub seen: u64,
}

impl Store {
    /// Opens a run held by `holder` (see [`SYNC_LEASE`]). Take its connectors' leases and
    /// close dead runs ([`Store::abort_sync_runs`]) first.
    pub async fn begin_sync_run(
        &self,
        now: DateTime<Utc>,
        connectors: &[String],
        holder: &str,
    ) -> Result<i64, StoreError> {
        let run = sync_run::ActiveModel {
            started_at: Set(now),
            status: Set(RunStatus::Running.as_str().to_owned()),
            connectors: Set(serde_json::to_string(connectors).unwrap_or_default()),
            holder: Set(Some(holder.to_owned())),
            heartbeat_at: Set(Some(now)),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(run.id)
    }

    /// Says run `id`'s process is alive at `now`.
    pub async fn sync_run_heartbeat(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        sync_run::Entity::update_many()
            .col_expr(sync_run::Column::HeartbeatAt, Expr::value(now))
            .filter(sync_run::Column::Id.eq(id))
            .filter(sync_run::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Whether a sync run is under way (or was left `running` by a process that died and no
    /// one has closed yet).
    pub async fn sync_running(&self) -> Result<bool, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(sync_run::Entity::find()
            .filter(sync_run::Column::Status.eq(RunStatus::Running.as_str()))
            .count(&self.db)
            .await?
            > 0)
    }

    /// The runs marked `running`: under way, or left so by a process that died.
    pub async fn running_sync_runs(&self) -> Result<Vec<sync_run::Model>, StoreError> {
        Ok(sync_run::Entity::find()
            .filter(sync_run::Column::Status.eq(RunStatus::Running.as_str()))
            .order_by_asc(sync_run::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Closes runs `ids` (still `running`, their processes dead) as `aborted`, and in the same
    /// transaction marks every live evaluation due: a dead run wrote records evaluated in the
    /// context from before it and never re-evaluated what its writes changed of that context,
    /// so the next refresh (a sync's end, the server's start or its five-minute job) redoes
    /// them all. Their batches that committed stay (each is whole); nothing was swept for them.
    pub async fn abort_sync_runs(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write().await?;
        let res = sync_run::Entity::update_many()
            .col_expr(
                sync_run::Column::Status,
                Expr::value(RunStatus::Aborted.as_str()),
            )
            .col_expr(sync_run::Column::FinishedAt, Expr::value(now))
            .filter(sync_run::Column::Id.is_in(ids.iter().copied()))
            .filter(sync_run::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected > 0 {
            crate::evaluation::mark_all_due(&txn).await?;
        }
        txn.commit().await?;
        Ok(res.rows_affected)
    }

    /// Takes over `job`'s lease from `from` (a holder known to be dead), until `until`.
    pub async fn take_over_lease(
        &self,
        job: &str,
        from: &str,
        to: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = job_lease::Entity::update_many()
            .col_expr(job_lease::Column::Holder, Expr::value(to))
            .col_expr(job_lease::Column::Until, Expr::value(until))
            .filter(job_lease::Column::Job.eq(job))
            .filter(job_lease::Column::Holder.eq(from))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Gives up `job`'s lease if `holder` has it.
    pub async fn release_lease(&self, job: &str, holder: &str) -> Result<(), StoreError> {
        job_lease::Entity::delete_many()
            .filter(job_lease::Column::Job.eq(job))
            .filter(job_lease::Column::Holder.eq(holder))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Gives up every lease `holder` has but those named in `keep`; returns how many.
    pub async fn release_leases_of(
        &self,
        holder: &str,
        keep: &[String],
    ) -> Result<u64, StoreError> {
        let res = job_lease::Entity::delete_many()
            .filter(job_lease::Column::Holder.eq(holder))
            .filter(job_lease::Column::Job.is_not_in(keep.iter().cloned()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }

    pub async fn finish_sync_run(
        &self,
        id: i64,
        now: DateTime<Utc>,
        status: RunStatus,
        counts: RunCounts,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sync_run::ActiveModel {
            id: Set(id),
            finished_at: Set(Some(now)),
            status: Set(status.as_str().to_owned()),
            new_count: Set(as_i64(counts.new)),
            changed_count: Set(as_i64(counts.changed)),
            unchanged_count: Set(as_i64(counts.unchanged)),
            gone_count: Set(as_i64(counts.gone)),
            failed_listings: Set(as_i64(counts.failed_listings)),
            report: Set(Some(report.to_string())),
            ..Default::default()
        }
        .update(&self.db)
        .await?;
        Ok(())
    }

    pub async fn sync_run(&self, id: i64) -> Result<sync_run::Model, StoreError> {
        sync_run::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("sync run {id}")))
    }

    /// When the newest run that read something (`ok` or `partial`) finished.
    pub async fn last_completed_sync_run(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sync_run::Entity::find()
            .filter(
                sync_run::Column::Status
                    .is_in([RunStatus::Ok.as_str(), RunStatus::Partial.as_str()]),
            )
            .order_by_desc(sync_run::Column::Id)
            .one(&self.db)
            .await?
            .and_then(|r| r.finished_at))
    }

    pub async fn recent_sync_runs(&self, limit: u64) -> Result<Vec<sync_run::Model>, StoreError> {
        Ok(sync_run::Entity::find()
            .order_by_desc(sync_run::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Records how a listing ended. A complete listing moves its "last complete" mark, which is
    /// what its records' `last_seen_run` is read from.
    pub async fn record_listing(
        &self,
        run_id: i64,
        now: DateTime<Utc>,
        outcome: &ListingOutcome,
    ) -> Result<(), StoreError> {
        record_listing_in(&self.db, run_id, now, outcome).await
    }

    pub async fn listings(&self) -> Result<Vec<listing::Model>, StoreError> {
        Ok(listing::Entity::find()
            .order_by_asc(listing::Column::Connector)
            .order_by_asc(listing::Column::ResourceType)
            .order_by_asc(listing::Column::Scope)
            .all(&self.db)
            .await?)
    }

    /// (connector, resource type, scope) → the last run in which that listing completed.
    pub async fn last_complete_runs(
        &self,
    ) -> Result<HashMap<(String, String, String), i64>, StoreError> {
        Ok(self
            .listings()
            .await?
            .into_iter()
            .filter_map(|l| {
                l.last_complete_run
                    .map(|run| ((l.connector, l.resource_type, l.scope), run))
            })
            .collect())
    }
}

impl Store {
    /// Stores the dashboard's summary of the inventory as `run_id` left it.
    pub async fn set_run_summary(
        &self,
        run_id: i64,
        summary: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sync_run::Entity::update_many()
            .col_expr(sync_run::Column::Summary, Expr::value(summary.to_string()))
            .filter(sync_run::Column::Id.eq(run_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The latest `limit` runs that carry a summary, newest first: (run, summary JSON).
    pub async fn run_summaries(
        &self,
        limit: u64,
    ) -> Result<Vec<(sync_run::Model, serde_json::Value)>, StoreError> {
        let runs = sync_run::Entity::find()
            .filter(sync_run::Column::Summary.is_not_null())
            .order_by_desc(sync_run::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(runs
            .into_iter()
            .filter_map(|r| {
                let v = serde_json::from_str(r.summary.as_deref()?).ok()?;
                Some((r, v))
            })
            .collect())
    }

    /// A cheap marker that moves whenever anything the evaluated inventory depends on besides
    /// the clock may have changed: every sync, claim and directory import writes an audit event
    /// or a sync run. Caches of derived data are keyed on it.
    pub async fn generation(&self) -> Result<(i64, i64), StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let row = self
            .db
            .query_one(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM sync_runs) AS runs, \
                 (SELECT COALESCE(MAX(id), 0) FROM audit_events) AS events",
            ))
            .await?;
        Ok(match row {
            Some(r) => (r.try_get("", "runs")?, r.try_get("", "events")?),
            None => (0, 0),
        })
    }
}

/// [`Store::record_listing`] on `db`, which may be a transaction of the run's other writes.
pub(crate) async fn record_listing_in<C: ConnectionTrait>(
    db: &C,
    run_id: i64,
    now: DateTime<Utc>,
    outcome: &ListingOutcome,
) -> Result<(), StoreError> {
    let existing = listing::Entity::find()
        .filter(listing::Column::Connector.eq(outcome.connector.as_str()))
        .filter(listing::Column::ResourceType.eq(outcome.resource_type.as_str()))
        .filter(listing::Column::Scope.eq(outcome.scope.as_str()))
        .one(db)
        .await?;
    let status = if outcome.complete {
        "complete"
    } else {
        "failed"
    };
    let seen = i64::try_from(outcome.seen).unwrap_or(i64::MAX);
    match existing {
        Some(row) => {
            let mut m: listing::ActiveModel = row.into();
            m.last_attempt_run = Set(run_id);
            m.last_attempt_at = Set(now);
            m.last_status = Set(status.to_owned());
            m.last_error = Set(outcome.error.clone());
            if outcome.complete {
                m.last_complete_run = Set(Some(run_id));
                m.last_complete_at = Set(Some(now));
                m.records_seen = Set(seen);
            }
            m.update(db).await?;
        }
        None => {
            listing::ActiveModel {
                connector: Set(outcome.connector.clone()),
                resource_type: Set(outcome.resource_type.clone()),
                scope: Set(outcome.scope.clone()),
                last_attempt_run: Set(run_id),
                last_attempt_at: Set(now),
                last_status: Set(status.to_owned()),
                last_error: Set(outcome.error.clone()),
                last_complete_run: Set(outcome.complete.then_some(run_id)),
                last_complete_at: Set(outcome.complete.then_some(now)),
                records_seen: Set(if outcome.complete { seen } else { 0 }),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}
