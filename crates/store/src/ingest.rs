//! The write side used by the sync engine: an in-memory index of what is stored (so unchanged
//! records cost no write), batched upserts with history, and marking records gone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use roster_core::{Evaluation, Record, RecordId, Status};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait};

use crate::entity::{record, record_history};
use crate::{Store, StoreError};

/// Rows per INSERT statement: 26 columns × 400 stays far below SQLite's and PostgreSQL's
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

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

impl RecordRow {
    fn active_model(&self, run_id: i64) -> record::ActiveModel {
        let r = &self.record;
        record::ActiveModel {
            id: Set(self.id.0),
            connector: Set(self.connector.clone()),
            platform: Set(r.platform.as_str().to_owned()),
            resource_type: Set(r.key.resource_type.clone()),
            scope: Set(r.key.scope.clone()),
            class: Set(r.class().as_str().to_owned()),
            kind: Set(r.kind.as_str().to_owned()),
            external_id: Set(r.key.external_id.clone()),
            name: Set(r.name.clone()),
            parent_id: Set(self.parent_id.map(|p| p.0)),
            status: Set(r.status.as_str().to_owned()),
            created_at: Set(r.created_at),
            last_used_at: Set(r.last_used_at),
            usage: Set(r.usage.as_str().to_owned()),
            expires_at: Set(r.expires_at),
            privilege: Set(r.privilege.as_str().to_owned()),
            privilege_detail: Set(json_text(&r.privilege_detail)),
            owner: Set(r.owner.clone()),
            owner_source: Set(r.owner_source.clone()),
            raw: Set(json_text(&r.raw)),
            content_hash: Set(self.content_hash),
            tier: Set(self.evaluation.tier.as_str().to_owned()),
            findings: Set(json_text(&self.evaluation.findings)),
            first_seen_run: Set(run_id),
            changed_run: Set(run_id),
            gone_run: Set(None),
        }
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
        if rows.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            // On conflict everything is replaced except first_seen_run.
            let on_conflict = OnConflict::column(record::Column::Id)
                .update_columns([
                    record::Column::Connector,
                    record::Column::Platform,
                    record::Column::ResourceType,
                    record::Column::Scope,
                    record::Column::Class,
                    record::Column::Kind,
                    record::Column::ExternalId,
                    record::Column::Name,
                    record::Column::ParentId,
                    record::Column::Status,
                    record::Column::CreatedAt,
                    record::Column::LastUsedAt,
                    record::Column::Usage,
                    record::Column::ExpiresAt,
                    record::Column::Privilege,
                    record::Column::PrivilegeDetail,
                    record::Column::Owner,
                    record::Column::OwnerSource,
                    record::Column::Raw,
                    record::Column::ContentHash,
                    record::Column::Tier,
                    record::Column::Findings,
                    record::Column::ChangedRun,
                    record::Column::GoneRun,
                ])
                .to_owned();
            record::Entity::insert_many(chunk.iter().map(|r| r.active_model(run_id)))
                .on_conflict(on_conflict)
                .exec_without_returning(&txn)
                .await?;
            record_history::Entity::insert_many(chunk.iter().map(|r| {
                record_history::ActiveModel {
                    record_id: Set(r.id.0),
                    sync_run_id: Set(run_id),
                    change: Set(r.change.as_str().to_owned()),
                    content_hash: Set(r.content_hash),
                    at: Set(now),
                    ..Default::default()
                }
            }))
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
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
        let txn = self.db.begin().await?;
        for chunk in ids.chunks(ROWS_PER_STATEMENT * 10) {
            record::Entity::update_many()
                .col_expr(record::Column::Status, Expr::value(Status::Gone.as_str()))
                .col_expr(record::Column::GoneRun, Expr::value(run_id))
                .filter(record::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
            record_history::Entity::insert_many(chunk.iter().map(|id| {
                record_history::ActiveModel {
                    record_id: Set(*id),
                    sync_run_id: Set(run_id),
                    change: Set("gone".to_owned()),
                    // A gone record keeps its last content; the hash marks the event, not content.
                    content_hash: Set(0),
                    at: Set(now),
                    ..Default::default()
                }
            }))
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
