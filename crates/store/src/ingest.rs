//! The write side used by the sync engine: an in-memory index of what is stored (so unchanged
//! records cost no write), batched upserts with history, and marking records gone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use roster_core::{Evaluation, Record, RecordId, Status};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement,
    TransactionTrait, Value,
};

use crate::entity::{record, record_history};
use crate::{Store, StoreError};

/// Rows per INSERT statement: 30 columns × 400 stays far below SQLite's and PostgreSQL's
/// bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 400;

/// What the store holds for one record, enough to decide "unchanged" without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub content_hash: i64,
    pub gone: bool,
    /// Index into [`RecordIndex::listings`].
    pub listing: u32,
}

/// Every stored record of one connector, by id. About 40 bytes a record, so a million fit in
/// well under the memory budget, and a re-sync of an unchanged estate reads the database once.
#[derive(Debug, Default)]
pub struct RecordIndex {
    pub entries: HashMap<i64, IndexEntry>,
    /// (resource type, scope) of each listing seen so far.
    pub listings: Vec<(String, String)>,
    listing_ids: HashMap<(String, String), u32>,
}

impl RecordIndex {
    pub fn listing_id(&mut self, resource_type: &str, scope: &str) -> u32 {
        if let Some(id) = self
            .listing_ids
            .get(&(resource_type.to_owned(), scope.to_owned()))
        {
            return *id;
        }
        let id = self.listings.len() as u32;
        self.listings
            .push((resource_type.to_owned(), scope.to_owned()));
        self.listing_ids
            .insert((resource_type.to_owned(), scope.to_owned()), id);
        id
    }

    /// Records of `listing` that are not gone and were not seen in this run.
    pub fn unseen_in(&self, listing: u32, seen: &std::collections::HashSet<i64>) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .entries
            .iter()
            .filter(|(id, e)| e.listing == listing && !e.gone && !seen.contains(id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Why a record is written in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    Changed,
    /// It was gone and is back.
    Returned,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Returned => "returned",
        }
    }
}

/// One record to write.
#[derive(Debug, Clone)]
pub struct RecordRow {
    pub id: RecordId,
    pub connector: String,
    pub record: Record,
    pub parent_id: Option<RecordId>,
    pub content_hash: i64,
    pub evaluation: Evaluation,
    pub change: Change,
}

/// The records table's columns in insert order. On conflict everything but `id` and
/// `first_seen_run` is replaced.
const RECORD_COLUMNS: [&str; 30] = [
    "id",
    "connector",
    "platform",
    "resource_type",
    "scope",
    "class",
    "kind",
    "external_id",
    "name",
    "parent_id",
    "status",
    "created_at",
    "last_used_at",
    "usage",
    "expires_at",
    "privilege",
    "privilege_detail",
    "owner",
    "owner_source",
    "raw",
    "content_hash",
    "tier",
    "finding_rules",
    "first_seen_run",
    "changed_run",
    "gone_run",
    "signals",
    "credential_fingerprint",
    "evaluated_until",
    "interactive_sign_in",
];

/// `INSERT … VALUES (…),… ON CONFLICT (id) DO UPDATE …` for `rows` rows. Built by hand rather
/// than through sea-query's AST: this is the sync's hot path, and both SQLite and PostgreSQL
/// take the same statement apart from placeholders. Only column names are interpolated.
fn upsert_sql(backend: DbBackend, rows: usize) -> String {
    let cols = RECORD_COLUMNS.join(", ");
    let mut sql = String::with_capacity(200 + rows * RECORD_COLUMNS.len() * 5);
    sql.push_str("INSERT INTO records (");
    sql.push_str(&cols);
    sql.push_str(") VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..RECORD_COLUMNS.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (id) DO UPDATE SET ");
    let updates: Vec<String> = RECORD_COLUMNS
        .iter()
        .filter(|c| !matches!(**c, "id" | "first_seen_run"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    sql.push_str(&updates.join(", "));
    sql
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// A batch of records as the statements that write it (see [`Store::prepare_records`]).
pub struct PreparedRecords {
    statements: Vec<Statement>,
    /// Each row's id and the moment its evaluation falls due.
    untils: Vec<(i64, Option<DateTime<Utc>>)>,
}

impl PreparedRecords {
    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.untils.len()
    }

    pub fn is_empty(&self) -> bool {
        self.untils.is_empty()
    }
}

/// An open transaction of a sync run's writes (see [`Store::begin_run_writes`]). Dropped
/// without [`RunWrites::commit`], it rolls back: a crash leaves whole batches or none.
pub struct RunWrites {
    txn: sea_orm::DatabaseTransaction,
    rows: usize,
    /// Until when `evaluation_due` lists what falls due, read once for the transaction.
    cover: Option<DateTime<Utc>>,
}

impl RunWrites {
    pub async fn records(&mut self, batch: PreparedRecords) -> Result<(), StoreError> {
        self.rows += batch.len();
        for statement in batch.statements {
            self.txn.execute(statement).await?;
        }
        let cover = match self.cover {
            Some(cover) => cover,
            None => *self
                .cover
                .insert(crate::evaluation::read_cover(&self.txn).await?),
        };
        crate::evaluation::list_written(&self.txn, &batch.untils, cover).await
    }

    /// Marks records gone, with history (see [`Store::mark_gone`]).
    pub async fn gone(
        &mut self,
        run_id: i64,
        now: DateTime<Utc>,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        self.rows += ids.len();
        mark_gone_in(&self.txn, run_id, now, ids).await
    }

    /// Records how a listing ended (see [`Store::record_listing`]).
    pub async fn listing(
        &mut self,
        run_id: i64,
        now: DateTime<Utc>,
        outcome: &crate::ListingOutcome,
    ) -> Result<(), StoreError> {
        crate::sync_runs::record_listing_in(&self.txn, run_id, now, outcome).await
    }

    /// Records written or marked in this transaction so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await?;
        Ok(())
    }
}

impl RecordRow {
    /// This row's values in [`RECORD_COLUMNS`] order; its strings are moved, not copied.
    fn into_values(self, run_id: i64, out: &mut Vec<Value>) {
        let class = self.record.class();
        let rules = crate::evaluation::stored_rules(&self.evaluation);
        let r = self.record;
        out.extend([
            Value::from(self.id.0),
            Value::from(self.connector),
            Value::from(r.platform.as_str()),
            Value::from(r.key.resource_type),
            Value::from(r.key.scope),
            Value::from(class.as_str()),
            Value::from(r.kind.as_str()),
            Value::from(r.key.external_id),
            Value::from(r.name),
            Value::from(self.parent_id.map(|p| p.0)),
            Value::from(r.status.as_str()),
            Value::from(r.created_at),
            Value::from(r.last_used_at),
            Value::from(r.usage.as_str()),
            Value::from(r.expires_at),
            Value::from(r.privilege.as_str()),
            Value::from(json_text(&r.privilege_detail)),
            Value::from(r.owner),
            Value::from(r.owner_source),
            Value::from(json_text(&r.raw)),
            Value::from(self.content_hash),
            Value::from(self.evaluation.tier.as_str()),
            Value::from(rules),
            Value::from(run_id),
            Value::from(run_id),
            Value::from(None::<i64>),
            Value::from(json_text(&r.signals)),
            Value::from(r.credential_fingerprint),
            Value::from(self.evaluation.until),
            Value::from(r.interactive_sign_in.as_ref().map(json_text)),
        ]);
    }
}

impl Store {
    /// Loads the index of every stored record of `connector`, one listing at a time.
    pub async fn load_index(&self, connector: &str) -> Result<RecordIndex, StoreError> {
        let mut index = RecordIndex::default();
        let listings: Vec<(String, String)> = record::Entity::find()
            .select_only()
            .column(record::Column::ResourceType)
            .column(record::Column::Scope)
            .filter(record::Column::Connector.eq(connector))
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await?;
        for (resource_type, scope) in listings {
            let listing = index.listing_id(&resource_type, &scope);
            let mut rows = record::Entity::find()
                .select_only()
                .column(record::Column::Id)
                .column(record::Column::ContentHash)
                .column(record::Column::GoneRun)
                .filter(record::Column::Connector.eq(connector))
                .filter(record::Column::ResourceType.eq(resource_type.as_str()))
                .filter(record::Column::Scope.eq(scope.as_str()))
                .into_tuple::<(i64, i64, Option<i64>)>()
                .stream(&self.db)
                .await?;
            while let Some((id, content_hash, gone_run)) = rows.try_next().await? {
                index.entries.insert(
                    id,
                    IndexEntry {
                        content_hash,
                        gone: gone_run.is_some(),
                        listing,
                    },
                );
            }
        }
        Ok(index)
    }

    /// Writes new and changed records and their history in one transaction: a crash leaves
    /// either the whole batch or none of it.
    pub async fn write_records(
        &self,
        run_id: i64,
        now: DateTime<Utc>,
        rows: &[RecordRow],
    ) -> Result<(), StoreError> {
        self.write_prepared(self.prepare_records(run_id, now, rows.to_vec()))
            .await
    }

    /// Turns `rows` into the statements that write them, without touching the database: the
    /// sync builds the next batch this way while the writer commits the previous one, so the
    /// database connection is not kept waiting on statement building (BENCHMARKS.md).
    pub fn prepare_records(
        &self,
        run_id: i64,
        now: DateTime<Utc>,
        mut rows: Vec<RecordRow>,
    ) -> PreparedRecords {
        let backend = self.backend();
        // Ids are hashes: in id order, one batch walks each B-tree once instead of jumping.
        rows.sort_unstable_by_key(|r| r.id.0);
        let untils = rows.iter().map(|r| (r.id.0, r.evaluation.until)).collect();
        let mut statements = Vec::with_capacity(rows.len().div_ceil(ROWS_PER_STATEMENT) * 2);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<RecordRow> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
            // A record's arrival is its `first_seen_run`; history holds what happened after.
            let history: Vec<record_history::ActiveModel> = chunk
                .iter()
                .filter(|r| r.change != Change::New)
                .map(|r| record_history::ActiveModel {
                    record_id: Set(r.id.0),
                    sync_run_id: Set(run_id),
                    change: Set(r.change.as_str().to_owned()),
                    content_hash: Set(r.content_hash),
                    at: Set(now),
                    ..Default::default()
                })
                .collect();
            let sql = upsert_sql(backend, chunk.len());
            let mut values = Vec::with_capacity(chunk.len() * RECORD_COLUMNS.len());
            for row in chunk {
                row.into_values(run_id, &mut values);
            }
            statements.push(Statement::from_sql_and_values(backend, sql, values));
            if !history.is_empty() {
                statements.push(sea_orm::QueryTrait::build(
                    &record_history::Entity::insert_many(history),
                    backend,
                ));
            }
        }
        PreparedRecords { statements, untils }
    }

    /// Executes a [`PreparedRecords`] batch in one transaction, with the listing of what falls
    /// due soon.
    pub async fn write_prepared(&self, batch: PreparedRecords) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writes = self.begin_run_writes().await?;
        writes.records(batch).await?;
        writes.commit().await
    }

    /// Opens a transaction for a sync run's writes (batches of records, sweeps, listing
    /// outcomes, in the order given): a bulk load that commits less often writes each index
    /// page to the WAL fewer times.
    pub async fn begin_run_writes(&self) -> Result<RunWrites, StoreError> {
        Ok(RunWrites {
            txn: self.db.begin().await?,
            rows: 0,
            cover: None,
        })
    }

    /// Marks records gone (their listing completed without them), with history, in one
    /// transaction.
    pub async fn mark_gone(
        &self,
        run_id: i64,
        now: DateTime<Utc>,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut writes = self.begin_run_writes().await?;
        writes.gone(run_id, now, ids).await?;
        writes.commit().await
    }
}

/// Marks `ids` gone in run `run_id`, with history.
async fn mark_gone_in<C: ConnectionTrait>(
    db: &C,
    run_id: i64,
    now: DateTime<Utc>,
    ids: &[i64],
) -> Result<(), StoreError> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT * 10) {
        record::Entity::update_many()
            .col_expr(record::Column::Status, Expr::value(Status::Gone.as_str()))
            .col_expr(record::Column::GoneRun, Expr::value(run_id))
            .filter(record::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
        record_history::Entity::insert_many(chunk.iter().map(|id| record_history::ActiveModel {
            record_id: Set(*id),
            sync_run_id: Set(run_id),
            change: Set("gone".to_owned()),
            // A gone record keeps its last content; the hash marks the event, not content.
            content_hash: Set(0),
            at: Set(now),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}
