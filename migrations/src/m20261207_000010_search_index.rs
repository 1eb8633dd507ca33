//! A substring index for the inventory's search box (name, external id, owner, scope), so that a
//! search at a million records reads its matches, not every row: a LIKE walk over the id index
//! took 1–2 s for a word that matches little or nothing.
//!
//! - SQLite: an FTS5 table with the trigram tokenizer over a view of `records` (external
//!   content: the index holds trigrams and rowids, not a second copy of the text), kept by triggers on
//!   `records`, so the sync writer's upserts, the owner-inheritance pass and every other write
//!   keep it in the same transaction. The update trigger fires only when one of the four
//!   columns changed (a re-sync that only stamps `last_seen` costs the index nothing).
//! - PostgreSQL: `pg_trgm`'s GIN index on the four columns joined (by a space, which a search word
//!   never holds, so no match spans two columns). A server without `pg_trgm` (it ships in
//!   PostgreSQL's contrib) gets no index: search stays correct, as a scan.

use sea_orm_migration::prelude::*;

use crate::run;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The text PostgreSQL's index holds and a search compares with `LIKE`: the query must write
/// this same expression for the planner to use the index.
pub const POSTGRES_SEARCH_TEXT: &str = "lower(name || ' ' || external_id || ' ' || \
     coalesce(owner, '') || ' ' || scope)";

/// SQLite's FTS5 table: `records_search MATCH 't : "word"'` finds the rowids of records holding
/// `word` (3 or more characters; shorter words cannot be read from trigrams) in any of the four
/// columns, in any case; `tier : "high"` those whose stored tier is `high`.
pub const SQLITE_SEARCH_TABLE: &str = "records_search";

/// A record's searchable text: the four columns joined by a space (a search word never holds
/// one, so no match spans two columns). One column costs the sync a third less than four.
pub fn sqlite_text(row: &str) -> String {
    format!(
        "{row}.name || ' ' || {row}.external_id || ' ' || coalesce({row}.owner, '') || ' ' || \
         {row}.scope"
    )
}

fn sqlite_up() -> Vec<String> {
    let add = format!(
        "INSERT INTO records_search (rowid, t, tier) VALUES (NEW.id, {}, NEW.tier);",
        sqlite_text("NEW")
    );
    let remove = format!(
        "INSERT INTO records_search (records_search, rowid, t, tier) \
         VALUES ('delete', OLD.id, {}, OLD.tier);",
        sqlite_text("OLD")
    );
    vec![
        // The index's content: FTS5 reads it to rebuild and to check itself, and stores only
        // trigrams and rowids. `columnsize=0`: no per-row size table (no ranking is done).
        // The stored tier is a column of its own, so that a search in risk order intersects
        // the words with a tier inside the index instead of reading rows to test their tier.
        // Records waiting to be indexed are left out, so that the index's own check and
        // rebuild agree with what it is meant to hold at every commit.
        "CREATE TABLE IF NOT EXISTS search_pending (id INTEGER PRIMARY KEY)".to_owned(),
        format!(
            "CREATE VIEW IF NOT EXISTS records_search_text AS \
             SELECT id, {} AS t, tier FROM records \
             WHERE id NOT IN (SELECT id FROM search_pending)",
            sqlite_text("records")
        ),
        "CREATE VIRTUAL TABLE IF NOT EXISTS records_search USING fts5(t, tier, \
         content='records_search_text', content_rowid='id', tokenize='trigram', columnsize=0)"
            .to_owned(),
        // Records stored before this migration.
        "INSERT INTO records_search (records_search) VALUES ('rebuild')".to_owned(),
        // New records wait in `search_pending` and are indexed in bulk when their sync run
        // ends (or by the server's next refresh after a crash): FTS5 costs about half as much
        // per row that way as row by row in each batch, and searches read the waiting rows
        // beside the index, so nothing is ever missing from a search.
        "CREATE TRIGGER IF NOT EXISTS records_search_insert AFTER INSERT ON records \
         BEGIN INSERT OR IGNORE INTO search_pending (id) VALUES (NEW.id); END"
            .to_owned(),
        // An indexed record's change is indexed at once; a waiting one is indexed as it
        // stands when its turn comes.
        format!(
            "CREATE TRIGGER IF NOT EXISTS records_search_update \
             AFTER UPDATE OF id, name, external_id, owner, scope, tier ON records \
             WHEN (OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name \
               OR OLD.external_id IS NOT NEW.external_id OR OLD.owner IS NOT NEW.owner \
               OR OLD.scope IS NOT NEW.scope OR OLD.tier IS NOT NEW.tier) \
               AND NOT EXISTS (SELECT 1 FROM search_pending WHERE id = OLD.id) \
             BEGIN {remove} {add} END"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS records_search_delete AFTER DELETE ON records \
             BEGIN \
               INSERT INTO records_search (records_search, rowid, t, tier) \
                 SELECT 'delete', OLD.id, {}, OLD.tier \
                 WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE id = OLD.id); \
               DELETE FROM search_pending WHERE id = OLD.id; \
             END",
            sqlite_text("OLD")
        ),
    ]
}

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS records_search_insert",
    "DROP TRIGGER IF EXISTS records_search_update",
    "DROP TRIGGER IF EXISTS records_search_delete",
    "DROP TABLE IF EXISTS records_search",
    "DROP VIEW IF EXISTS records_search_text",
    "DROP TABLE IF EXISTS search_pending",
];

fn postgres_up() -> Vec<String> {
    vec![
        "CREATE EXTENSION IF NOT EXISTS pg_trgm".to_owned(),
        format!(
            "CREATE INDEX IF NOT EXISTS records_search_trgm ON records \
             USING gin (({POSTGRES_SEARCH_TEXT}) gin_trgm_ops)"
        ),
    ]
}

const POSTGRES_DOWN: &[&str] = &["DROP INDEX IF EXISTS records_search_trgm"];

/// Whether this PostgreSQL server can create `pg_trgm` (or has it already).
async fn pg_trgm_available(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let db = manager.get_connection();
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_available_extensions WHERE name = 'pg_trgm'",
        ))
        .await?;
    Ok(row.is_some())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            if pg_trgm_available(manager).await? {
                run(manager, &postgres_up()).await?;
            }
            Ok(())
        } else {
            run(manager, &sqlite_up()).await
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run(manager, POSTGRES_DOWN).await
        } else {
            run(manager, SQLITE_DOWN).await
        }
    }
}
