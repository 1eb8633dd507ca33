//! Roster's store: sea-orm over SQLite (the embedded default) or PostgreSQL, through the same
//! code. Callers use the methods of [`Store`]; entities stay inside this crate's API surface.

pub mod api_tokens;
pub mod audit;
pub mod backup;
pub mod campaigns;
pub mod claims;
pub mod convert;
pub mod entity;
pub mod error;
pub mod evaluation;
pub mod exception_requests;
pub mod http_validators;
pub mod ingest;
pub mod inventory;
pub mod monitoring;
pub mod owner_inheritance;
pub mod people;
pub mod retention;
pub mod search_index;
pub mod sync_runs;
pub mod testing;
pub mod web_sessions;

use std::time::Duration;

use roster_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbBackend, TransactionTrait,
};

pub use error::StoreError;
pub use evaluation::{EvaluationCheck, EvaluationInputs, StoredEvaluationFilter, WrongEvaluation};
pub use http_validators::HttpValidator;
pub use ingest::{
    Change, Collision, IndexEntry, PreparedRecords, RecordIndex, RecordRow, RunWrites,
};
pub use inventory::InventoryFilter;
pub use sync_runs::{ListingOutcome, RunCounts, RunStatus};

/// The advisory lock key that serialises migrations across servers (PostgreSQL).
pub const MIGRATION_LOCK: i64 = 0x0005_260a_0d18;

/// A handle on the database. Cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// The URL of an SQLite file database (never one with a password), for [`Store::writer`].
    sqlite_file: Option<std::sync::Arc<str>>,
    /// The audit chain's HMAC key, from the configuration (see [`audit`]).
    audit_key: Option<audit::AuditKey>,
    /// SQLite: this process's writers, one at a time and first come first served (see
    /// [`WriteTxn`]). Shared with [`Store::writer`]'s store.
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// How long a writer waits for this process's other writers before it gives up, as SQLite's
/// busy timeout does for other processes'.
const WRITE_GATE_WAIT: Duration = Duration::from_secs(30);

/// A transaction that writes ([`Store::begin_write`]). On SQLite it holds this process's
/// write gate until it ends: writers queue in order here instead of in SQLite's busy handler,
/// whose sleeps grow to 100 ms a try (eight writers at once gave a decision a p99 of 648 ms
/// against a median of 5 ms, BENCHMARKS.md).
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), sea_orm::DbErr> {
        self.txn.commit().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_one(stmt).await
    }

    async fn query_all(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_all(stmt).await
    }
}

/// SQLite page cache of each pooled connection (KiB). Each connection keeps its own, and the pool
/// hands out its connections in turn, so a large cache here is paid up to eight times over.
const POOL_CACHE_KIB: u32 = 8 * 1024;
/// SQLite page cache of the sync's single writer connection (KiB): it keeps the records table's
/// index pages in memory during a bulk load instead of re-reading them from the file.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

impl Store {
    /// Connects to `sqlite://…` or `postgres://…`. SQLite runs in WAL mode with `synchronous =
    /// NORMAL`: a crash loses at most the last transactions, never consistency, and readers do
    /// not block the sync.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, 8, POOL_CACHE_KIB, "file").await
    }

    /// A store for one long stream of writes (the sync's writer task). For an SQLite file: its
    /// own single connection with a large page cache, so that the bulk load is fast without every
    /// pooled connection growing a cache of that size. Otherwise this store.
    pub async fn writer(&self) -> Result<Store, StoreError> {
        match &self.sqlite_file {
            // Its statement journals (each upsert in a transaction keeps one) stay in memory
            // instead of spilling to a temporary file; it sorts nothing large.
            Some(url) => Ok(Self::connect_with(url, 1, WRITER_CACHE_KIB, "memory")
                .await?
                .with_audit_key(self.audit_key.clone())
                .with_write_gate(self.write_gate.clone())),
            None => Ok(self.clone()),
        }
    }

    async fn connect_with(
        url: &str,
        sqlite_connections: u32,
        cache_kib: u32,
        temp_store: &'static str,
    ) -> Result<Self, StoreError> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        let mut sqlite_file = None;
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Each in-memory connection is its own database: keep exactly one.
                opts.max_connections(1).min_connections(1);
            } else {
                opts.max_connections(sqlite_connections);
                sqlite_file = Some(std::sync::Arc::from(url));
            }
            let cache_size = format!("-{cache_kib}");
            opts.map_sqlx_sqlite_opts(move |o| {
                // 8 KiB pages for a new file (an existing one keeps its own): fewer page splits
                // in the bulk load, 2.3 → 2.1 s of a 100k first sync (BENCHMARKS.md).
                o.page_size(8192)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    .pragma("cache_size", cache_size.clone())
                    // Sorts larger than the page cache (the end-of-sync summary's GROUP BY
                    // over every record) spill to a temporary file, not into the process:
                    // in memory they took the 1M-record sync past 300 MB.
                    .pragma("temp_store", temp_store)
                    // Checkpoint every 10,000 pages (80 MiB) of WAL, not 1,000: fewer fsyncs.
                    .pragma("wal_autocheckpoint", "10000")
            });
        } else if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        } else {
            opts.max_connections(10);
            check_postgres_reachable(url).await?;
        }
        let db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Connect {
                url: redact_url(url),
                detail: e.to_string(),
            })?;
        Ok(Self {
            db,
            sqlite_file,
            audit_key: None,
            write_gate: std::sync::Arc::default(),
        })
    }

    fn with_write_gate(mut self, gate: std::sync::Arc<tokio::sync::Mutex<()>>) -> Self {
        self.write_gate = gate;
        self
    }

    /// This store, keying the audit chain's new links with `key` and verifying keyed ones.
    pub fn with_audit_key(mut self, key: Option<audit::AuditKey>) -> Self {
        self.audit_key = key;
        self
    }

    /// Whether new audit links are keyed.
    pub fn audit_keyed(&self) -> bool {
        self.audit_key.is_some()
    }

    /// Applies pending migrations. On PostgreSQL one server at a time: replicas started
    /// together on an empty database wait for the first one's migrations, then find nothing
    /// left to apply (a transaction-scoped advisory lock, held on its own connection while the
    /// migrator works on others).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let guard = if self.is_postgres() {
            let txn = self.db.begin().await?;
            txn.execute(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"),
            ))
            .await?;
            Some(txn)
        } else {
            None
        };
        let done = Migrator::up(&self.db, None).await.map_err(StoreError::from);
        if let Some(txn) = guard {
            txn.commit().await?;
        }
        done
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

    /// Begins a transaction that writes: every one in the store starts here.
    pub(crate) async fn begin_write(&self) -> Result<WriteTxn, StoreError> {
        let gate = if self.is_postgres() {
            None
        } else {
            let gate = tokio::time::timeout(WRITE_GATE_WAIT, self.write_gate.clone().lock_owned())
                .await
                .map_err(|_| {
                    StoreError::Busy(format!(
                        "waited {} s for this process's other writers",
                        WRITE_GATE_WAIT.as_secs()
                    ))
                })?;
            Some(gate)
        };
        Ok(WriteTxn {
            txn: begin_write(&self.db).await?,
            _gate: gate,
        })
    }
}

/// Begins a transaction that writes. On SQLite it takes the write lock first, with a write that
/// changes nothing (sea-orm cannot issue `BEGIN IMMEDIATE`): a deferred transaction that reads
/// first pins a snapshot, and if another connection commits meanwhile (a server's start-up
/// refresh beside its sign-in link, a CLI beside the server) its first write fails at once with
/// SQLITE_BUSY_SNAPSHOT instead of waiting out the busy timeout.
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
) -> Result<DatabaseTransaction, StoreError> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            "UPDATE audit_events SET id = id WHERE 0",
        ))
        .await?;
    }
    Ok(txn)
}

/// How long the first connection to PostgreSQL may take before it is reported.
const POSTGRES_FIRST_CONNECT: Duration = Duration::from_secs(5);

/// One direct connection first, so that a refused port, a bad password or a missing database
/// is reported at once with the driver's own words, not after the pool's 30-second wait as
/// "pool timed out".
async fn check_postgres_reachable(url: &str) -> Result<(), StoreError> {
    use sea_orm::sqlx::Connection;
    let failed = |detail: String| StoreError::Connect {
        url: redact_url(url),
        detail,
    };
    match tokio::time::timeout(
        POSTGRES_FIRST_CONNECT,
        sea_orm::sqlx::postgres::PgConnection::connect(url),
    )
    .await
    {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "no answer within {} seconds",
            POSTGRES_FIRST_CONNECT.as_secs()
        ))),
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

/// `sql` written with `?` placeholders, as `backend` takes it (`$1`, `$2`, … on PostgreSQL).
/// For the store's own statements, whose text holds no other `?`.
pub(crate) fn statement(
    backend: DbBackend,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> sea_orm::Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => sql.to_owned(),
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}
