//! Retention: record history and sync runs' detail older than the configured ages are deleted,
//! a batch at a time. The audit trail is never pruned (its triggers refuse it anyway), so its
//! head hash is unchanged by anything here.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::{record_history, sync_run};
use crate::{Store, StoreError};

/// Rows deleted per statement: one short write transaction each, so a sync or a decision
/// waits at most one batch.
const BATCH: u64 = 10_000;

impl Store {
    /// Deletes record history (changed, gone, returned) from before `before`; returns how many
    /// rows. The records themselves, and their first-seen and last-change runs, stay.
    pub async fn prune_record_history(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            // History is appended in time order, so the oldest rows come first by id and a
            // batch's SELECT stops after its rows.
            let batch = Query::select()
                .column(record_history::Column::Id)
                .from(record_history::Entity)
                .and_where(record_history::Column::At.lt(before))
                .limit(BATCH)
                .to_owned();
            let n = record_history::Entity::delete_many()
                .filter(record_history::Column::Id.in_subquery(batch))
                .exec(&self.db)
                .await?
                .rows_affected;
            deleted += n;
            if n < BATCH {
                return Ok(deleted);
            }
        }
    }

    /// Clears the per-listing report of sync runs that finished before `before`; the runs,
    /// their counts and their summaries (the dashboard's trend) stay, and so does the newest
    /// finished run's report. Returns how many runs were cleared.
    pub async fn prune_sync_run_detail(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let newest = sync_run::Entity::find()
            .select_only()
            .column_as(sync_run::Column::Id.max(), "id")
            .filter(sync_run::Column::FinishedAt.is_not_null())
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten()
            .unwrap_or(i64::MIN);
        Ok(sync_run::Entity::update_many()
            .col_expr(
                sync_run::Column::Report,
                Expr::value(Option::<String>::None),
            )
            .filter(sync_run::Column::FinishedAt.lt(before))
            .filter(sync_run::Column::Report.is_not_null())
            .filter(sync_run::Column::Id.lt(newest))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
