//! The write side used by the sync engine: an in-memory index of what is stored (so unchanged
//! records cost no write), batched upserts with history, and marking records gone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use roster_core::{Evaluation, Record, RecordId, RecordKey, Status};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement,
    Value,
};

use crate::entity::{record, record_history};
use crate::{Store, StoreError};

/// Rows per INSERT statement: 30 columns × 400 stays far below SQLite's and PostgreSQL's
/// bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 400;

/// What the store holds for one record, enough to decide "unchanged" without reading it.
/// 16 bytes: a million of them are the sync's largest allocation, so `gone` rides in the top
/// bit of the listing index (2^31 listings per connector is beyond any estate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub content_hash: i64,
    /// Index into [`RecordIndex::listings`], with `gone` in the top bit.
    listing_and_gone: u32,
    /// [`roster_core::external_id_check`] of the stored external id: with the listing, it
    /// tells a record listed again from a different one whose id collides, without keeping the
    /// key.
    pub external_id_check: u32,
}

const GONE_BIT: u32 = 1 << 31;
// The index of a million records is the sync's largest allocation: keep an entry at 16 bytes.
const _: () = assert!(std::mem::size_of::<IndexEntry>() == 16);

impl IndexEntry {
    pub fn new(content_hash: i64, listing: u32, gone: bool, external_id_check: u32) -> Self {
        Self {
            content_hash,
            listing_and_gone: (listing & !GONE_BIT) | if gone { GONE_BIT } else { 0 },
            external_id_check,
        }
    }

    /// Index into [`RecordIndex::listings`].
    pub fn listing(&self) -> u32 {
        self.listing_and_gone & !GONE_BIT
    }

    pub fn gone(&self) -> bool {
        self.listing_and_gone & GONE_BIT != 0
    }

    pub fn set_gone(&mut self) {
        self.listing_and_gone |= GONE_BIT;
    }
}

/// Every stored record of one connector, by id. About 37 bytes a record, so a million fit in
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

    /// Records of `listing` that are not gone and were not seen in this run (`seen`: the ids
    /// taken from the listing, each with its external id's check).
    pub fn unseen_in(&self, listing: u32, seen: &HashMap<i64, u32>) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .entries
            .iter()
            .filter(|(id, e)| e.listing() == listing && !e.gone() && !seen.contains_key(id))
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
/// `first_seen_run` is replaced, and only when the stored natural key is the incoming one.
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
    // Ids are hashes: a stored row of another natural key with the same id is a collision,
    // never overwritten. Rows this skips are missing from the statement's count of rows.
    sql.push_str(
        " WHERE records.connector = excluded.connector \
         AND records.resource_type = excluded.resource_type \
         AND records.scope = excluded.scope \
         AND records.external_id = excluded.external_id",
    );
    sql
}

/// A record that was not written because a stored record of a different natural key has its
/// id. Ids and names only: a natural key never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub id: RecordId,
    pub connector: String,
    pub key: RecordKey,
    /// How the sync had counted the skipped record.
    pub change: Change,
    pub stored_connector: String,
    pub stored_key: RecordKey,
}

/// The natural key of one row of an upsert, kept to name it if the row does not apply.
#[derive(Debug, Clone)]
struct WrittenKey {
    id: i64,
    connector: String,
    key: RecordKey,
    change: Change,
}

/// One upsert statement and what goes with it.
struct PreparedChunk {
    upsert: Statement,
    keys: Vec<WrittenKey>,
    /// The history of the chunk's changed and returned rows, built ahead like the upsert.
    history: Option<Statement>,
    /// The same history as data (record id, change, content hash), to rebuild it without the
    /// rows that collided (rare).
    history_rows: Vec<(i64, Change, i64)>,
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// A batch of records as the statements that write it (see [`Store::prepare_records`]).
pub struct PreparedRecords {
    chunks: Vec<PreparedChunk>,
    /// Each row's id and the moment its evaluation falls due.
    untils: Vec<(i64, Option<DateTime<Utc>>)>,
    /// The run and moment the batch was prepared for, to rebuild history (see `PreparedChunk`).
    run_id: i64,
    now: DateTime<Utc>,
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
    txn: crate::WriteTxn,
    rows: usize,
    /// Until when `evaluation_due` lists what falls due, read once for the transaction.
    cover: Option<DateTime<Utc>>,
}

impl RunWrites {
    /// Writes a batch; returns the records it skipped because their id collides with a stored
    /// record of a different natural key (those keep their row, history and evaluation).
    pub async fn records(&mut self, batch: PreparedRecords) -> Result<Vec<Collision>, StoreError> {
        self.rows += batch.len();
        let backend = self.txn.get_database_backend();
        let mut collisions = Vec::new();
        for chunk in batch.chunks {
            let applied = self.txn.execute(chunk.upsert).await?.rows_affected();
            // The common case costs no query: every row was inserted or updated.
            let found = if applied < chunk.keys.len() as u64 {
                stored_key_collisions(&self.txn, chunk.keys).await?
            } else {
                Vec::new()
            };
            if found.is_empty() {
                if let Some(history) = chunk.history {
                    self.txn.execute(history).await?;
                }
            } else {
                let skipped: std::collections::HashSet<i64> =
                    found.iter().map(|c| c.id.0).collect();
                let kept: Vec<_> = chunk
                    .history_rows
                    .iter()
                    .filter(|(id, _, _)| !skipped.contains(id))
                    .collect();
                if !kept.is_empty() {
                    let insert = record_history::Entity::insert_many(kept.into_iter().map(
                        |(id, change, content_hash)| record_history::ActiveModel {
                            record_id: Set(*id),
                            sync_run_id: Set(batch.run_id),
                            change: Set(change.as_str().to_owned()),
                            content_hash: Set(*content_hash),
                            at: Set(batch.now),
                            ..Default::default()
                        },
                    ));
                    self.txn
                        .execute(sea_orm::QueryTrait::build(&insert, backend))
                        .await?;
                }
                collisions.extend(found);
            }
        }
        let cover = match self.cover {
            Some(cover) => cover,
            None => *self
                .cover
                .insert(crate::evaluation::read_cover(&self.txn).await?),
        };
        if collisions.is_empty() {
            crate::evaluation::list_written(&self.txn, &batch.untils, cover).await?;
        } else {
            // A skipped row's evaluation is not the stored record's: it must not move when the
            // stored one falls due.
            let skipped: std::collections::HashSet<i64> =
                collisions.iter().map(|c| c.id.0).collect();
            let untils: Vec<_> = batch
                .untils
                .into_iter()
                .filter(|(id, _)| !skipped.contains(id))
                .collect();
            crate::evaluation::list_written(&self.txn, &untils, cover).await?;
        }
        Ok(collisions)
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
                .column(record::Column::ExternalId)
                .filter(record::Column::Connector.eq(connector))
                .filter(record::Column::ResourceType.eq(resource_type.as_str()))
                .filter(record::Column::Scope.eq(scope.as_str()))
                .into_tuple::<(i64, i64, Option<i64>, String)>()
                .stream(&self.db)
                .await?;
            while let Some((id, content_hash, gone_run, external_id)) = rows.try_next().await? {
                index.entries.insert(
                    id,
                    IndexEntry::new(
                        content_hash,
                        listing,
                        gone_run.is_some(),
                        roster_core::external_id_check(&external_id),
                    ),
                );
            }
        }
        Ok(index)
    }

    /// Writes new and changed records and their history in one transaction: a crash leaves
    /// either the whole batch or none of it. Returns the records skipped as id collisions (see
    /// [`RunWrites::records`]).
    pub async fn write_records(
        &self,
        run_id: i64,
        now: DateTime<Utc>,
        rows: &[RecordRow],
    ) -> Result<Vec<Collision>, StoreError> {
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
        let mut chunks = Vec::with_capacity(rows.len().div_ceil(ROWS_PER_STATEMENT));
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<RecordRow> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
            // A record's arrival is its `first_seen_run`; history holds what happened after.
            let history_rows: Vec<(i64, Change, i64)> = chunk
                .iter()
                .filter(|r| r.change != Change::New)
                .map(|r| (r.id.0, r.change, r.content_hash))
                .collect();
            let history = (!history_rows.is_empty()).then(|| {
                sea_orm::QueryTrait::build(
                    &record_history::Entity::insert_many(history_rows.iter().map(
                        |(id, change, content_hash)| record_history::ActiveModel {
                            record_id: Set(*id),
                            sync_run_id: Set(run_id),
                            change: Set(change.as_str().to_owned()),
                            content_hash: Set(*content_hash),
                            at: Set(now),
                            ..Default::default()
                        },
                    )),
                    backend,
                )
            });
            let keys = chunk
                .iter()
                .map(|r| WrittenKey {
                    id: r.id.0,
                    connector: r.connector.clone(),
                    key: r.record.key.clone(),
                    change: r.change,
                })
                .collect();
            let sql = upsert_sql(backend, chunk.len());
            let mut values = Vec::with_capacity(chunk.len() * RECORD_COLUMNS.len());
            for row in chunk {
                row.into_values(run_id, &mut values);
            }
            chunks.push(PreparedChunk {
                upsert: Statement::from_sql_and_values(backend, sql, values),
                keys,
                history,
                history_rows,
            });
        }
        PreparedRecords {
            chunks,
            untils,
            run_id,
            now,
        }
    }

    /// Executes a [`PreparedRecords`] batch in one transaction, with the listing of what falls
    /// due soon.
    pub async fn write_prepared(
        &self,
        batch: PreparedRecords,
    ) -> Result<Vec<Collision>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut writes = self.begin_run_writes().await?;
        let collisions = writes.records(batch).await?;
        writes.commit().await?;
        Ok(collisions)
    }

    /// Opens a transaction for a sync run's writes (batches of records, sweeps, listing
    /// outcomes, in the order given): a bulk load that commits less often writes each index
    /// page to the WAL fewer times.
    pub async fn begin_run_writes(&self) -> Result<RunWrites, StoreError> {
        Ok(RunWrites {
            txn: self.begin_write().await?,
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

/// Of `keys`, those whose id is stored under a different natural key: an upsert skipped them.
/// One query for the chunk, run only when its upsert applied fewer rows than it had.
async fn stored_key_collisions<C: ConnectionTrait>(
    db: &C,
    keys: Vec<WrittenKey>,
) -> Result<Vec<Collision>, StoreError> {
    let stored: HashMap<i64, (String, RecordKey)> = record::Entity::find()
        .select_only()
        .column(record::Column::Id)
        .column(record::Column::Connector)
        .column(record::Column::ResourceType)
        .column(record::Column::Scope)
        .column(record::Column::ExternalId)
        .filter(record::Column::Id.is_in(keys.iter().map(|k| k.id)))
        .into_tuple::<(i64, String, String, String, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, connector, resource_type, scope, external_id)| {
            let key = RecordKey {
                resource_type,
                scope,
                external_id,
            };
            (id, (connector, key))
        })
        .collect();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (stored_connector, stored_key) = stored.get(&k.id)?;
            (*stored_connector != k.connector || *stored_key != k.key).then(|| Collision {
                id: RecordId(k.id),
                connector: k.connector,
                key: k.key,
                change: k.change,
                stored_connector: stored_connector.clone(),
                stored_key: stored_key.clone(),
            })
        })
        .collect())
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
