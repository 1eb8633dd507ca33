//! A consistent copy of an SQLite store, taken while it is in use (`VACUUM INTO` reads one
//! snapshot: a sync committing meanwhile is either wholly in the copy or not at all).

use std::path::Path;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Store, StoreError};

impl Store {
    /// Writes a consistent copy of this SQLite database to `to`, which must not exist. For
    /// PostgreSQL, [`StoreError::Conflict`] says to use `pg_dump`.
    pub async fn backup_into(&self, to: &Path) -> Result<(), StoreError> {
        if self.backend() != DbBackend::Sqlite {
            return Err(StoreError::Conflict(
                "Roster backs up SQLite itself; for PostgreSQL use `pg_dump --format=custom` \
                 (docs/operations.md, Backups)"
                    .into(),
            ));
        }
        if to.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists; a backup never overwrites a file",
                to.display()
            )));
        }
        self.db
            .execute(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [to.display().to_string().into()],
            ))
            .await?;
        Ok(())
    }
}
