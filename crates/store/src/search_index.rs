//! The inventory's search index (see the migration `search_index`): whether it agrees with the
//! records, and rebuilding it when it does not. Triggers keep it in the same transaction as
//! every write, so a disagreement means something wrote around them (a hand edit, a restore
//! from another tool); `roster doctor` reports it and `--repair` rebuilds.

use roster_migrations::search_index::SQLITE_SEARCH_TABLE;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Store, StoreError};

impl Store {
    /// Whether the search index holds exactly what the records do. SQLite's FTS5 checks its
    /// index against the records table (`integrity-check` with rank 1); PostgreSQL's index is
    /// part of the table, kept by the server itself, and always agrees.
    pub async fn search_index_agrees(&self) -> Result<bool, StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            return Ok(true);
        }
        let check = format!(
            "INSERT INTO {SQLITE_SEARCH_TABLE} ({SQLITE_SEARCH_TABLE}, rank) \
             VALUES ('integrity-check', 1)"
        );
        match self
            .db
            .execute(Statement::from_string(DbBackend::Sqlite, check))
            .await
        {
            Ok(_) => Ok(true),
            // FTS5 answers a disagreement with SQLITE_CORRUPT_VTAB ("database disk image is
            // malformed"); anything else is a real error.
            Err(e) if e.to_string().contains("malformed") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Rebuilds the search index from the records (SQLite; a no-op on PostgreSQL).
    pub async fn rebuild_search_index(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            return Ok(());
        }
        let rebuild =
            format!("INSERT INTO {SQLITE_SEARCH_TABLE} ({SQLITE_SEARCH_TABLE}) VALUES ('rebuild')");
        let txn = self.begin_write().await?;
        txn.execute(Statement::from_string(DbBackend::Sqlite, rebuild))
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// How many waiting records one transaction indexes: the sync's writer and the web's decisions
/// wait behind it, so it is kept to a second or two.
const INDEX_CHUNK: i64 = 50_000;

impl Store {
    /// Indexes the records waiting in `search_pending` (written since the last time: a sync run
    /// indexes what it wrote when it ends, and the server's refresh what a crashed run left),
    /// in bulk, a chunk per transaction. Returns how many. A no-op on PostgreSQL, whose index
    /// is kept by the server itself.
    pub async fn index_pending_search(&self) -> Result<u64, StoreError> {
        use roster_migrations::search_index::sqlite_text;
        if self.db.get_database_backend() == DbBackend::Postgres {
            return Ok(0);
        }
        let mut indexed = 0;
        loop {
            let txn = self.begin_write().await?;
            let last = txn
                .query_one(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT MAX(id) AS last FROM \
                     (SELECT id FROM search_pending ORDER BY id LIMIT ?)",
                    [INDEX_CHUNK.into()],
                ))
                .await?
                .and_then(|r| r.try_get::<Option<i64>>("", "last").ok().flatten());
            let Some(last) = last else {
                txn.commit().await?;
                return Ok(indexed);
            };
            let done = txn
                .execute(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!(
                        "INSERT INTO {SQLITE_SEARCH_TABLE} (rowid, t, tier) \
                         SELECT records.id, {}, records.tier FROM search_pending \
                         CROSS JOIN records ON records.id = search_pending.id \
                         WHERE search_pending.id <= ?",
                        sqlite_text("records")
                    ),
                    [last.into()],
                ))
                .await?
                .rows_affected();
            txn.execute(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "DELETE FROM search_pending WHERE id <= ?",
                [last.into()],
            ))
            .await?;
            txn.commit().await?;
            indexed += done;
        }
    }
}

/// How many records a run must add or change before its end refreshes PostgreSQL's statistics.
const ANALYZE_AFTER: u64 = 10_000;

impl Store {
    /// After a run that wrote `written` records, refreshes PostgreSQL's statistics of `records`
    /// when that is many (at least 10,000), and returns whether it did. Until autovacuum gets to
    /// it, the planner knows nothing of what a large first sync wrote: at a million records it
    /// read a search for a word every record holds through the `pg_trgm` index as a bitmap of
    /// every match, 0.24–0.86 s a page, instead of walking by id (7–12 ms after `ANALYZE`,
    /// which took 0.6 s). SQLite's search reads are ordered by hand and need no statistics.
    pub async fn analyze_after_bulk_write(&self, written: u64) -> Result<bool, StoreError> {
        if self.db.get_database_backend() != DbBackend::Postgres || written < ANALYZE_AFTER {
            return Ok(false);
        }
        self.db
            .execute(Statement::from_string(
                DbBackend::Postgres,
                "ANALYZE records".to_owned(),
            ))
            .await?;
        Ok(true)
    }
}
