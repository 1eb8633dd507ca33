//! Roster's store: sea-orm over SQLite (the embedded default) or PostgreSQL, through the same
//! code. Callers use the methods of [`Store`]; entities stay inside this crate's API surface.

pub mod api_tokens;
pub mod audit;
pub mod campaigns;
pub mod claims;
pub mod convert;
pub mod entity;
pub mod error;
pub mod http_validators;
pub mod ingest;
pub mod inventory;
pub mod people;
pub mod sync_runs;
pub mod testing;

use std::time::Duration;

use roster_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbBackend,
};

pub use error::StoreError;
pub use http_validators::HttpValidator;
pub use ingest::{Change, IndexEntry, RecordIndex, RecordRow};
pub use inventory::InventoryFilter;
pub use sync_runs::{ListingOutcome, RunCounts, RunStatus};

/// A handle on the database. Cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `sqlite://…` or `postgres://…`. SQLite runs in WAL mode with `synchronous =
    /// NORMAL`: a crash loses at most the last transactions, never consistency, and readers do
    /// not block the sync.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Each in-memory connection is its own database: keep exactly one.
                opts.max_connections(1).min_connections(1);
            } else {
                opts.max_connections(8);
            }
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    // A 64 MiB page cache per connection keeps the inventory's index pages in
                    // memory during a sync instead of re-reading them from the file.
                    .pragma("cache_size", "-65536")
                    .pragma("temp_store", "memory")
                    // Checkpoint every ~40 MiB of WAL rather than 4 MiB: fewer fsyncs mid-sync.
                    .pragma("wal_autocheckpoint", "10000")
            });
        } else if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        } else {
            opts.max_connections(10);
        }
        let db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Connect {
                url: redact_url(url),
                detail: e.to_string(),
            })?;
        Ok(Self { db })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(StoreError::from)
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == DbBackend::Postgres
    }

    /// For tests and maintenance commands that need raw SQL.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
