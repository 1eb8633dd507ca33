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
