//! Stores for tests: an in-memory SQLite always, and a fresh PostgreSQL database when
//! `ROSTER_TEST_POSTGRES_URL` is set (each call creates its own database, so tests running in
//! parallel never share state).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, Statement};

use crate::{Store, StoreError};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A migrated store and the name of its backend, for assertion messages.
pub struct TestStore {
    pub backend: &'static str,
    pub store: Store,
    pub url: String,
}

/// One migrated store per available backend.
pub async fn test_stores() -> Result<Vec<TestStore>, StoreError> {
    let mut out = Vec::new();
    let store = Store::connect("sqlite::memory:").await?;
    store.migrate().await?;
    out.push(TestStore {
        backend: "sqlite",
        store,
        url: "sqlite::memory:".to_owned(),
    });
    if let Some(url) = fresh_postgres_database().await? {
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        out.push(TestStore {
            backend: "postgres",
            store,
            url,
        });
    }
    Ok(out)
}

/// Creates an empty database on the server named by `ROSTER_TEST_POSTGRES_URL` and returns its
/// URL; `None` when the variable is unset.
pub async fn fresh_postgres_database() -> Result<Option<String>, StoreError> {
    let Ok(admin_url) = std::env::var("ROSTER_TEST_POSTGRES_URL") else {
        return Ok(None);
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "roster_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let admin = Database::connect(admin_url.as_str())
        .await
        .map_err(|e| StoreError::Connect {
            url: crate::redact_url(&admin_url),
            detail: e.to_string(),
        })?;
    admin
        .execute(Statement::from_string(
            admin.get_database_backend(),
            format!("CREATE DATABASE {name}"),
        ))
        .await?;
    let _ = admin.close().await;
    let mut url = url::Url::parse(&admin_url).map_err(|e| StoreError::Connect {
        url: crate::redact_url(&admin_url),
        detail: e.to_string(),
    })?;
    url.set_path(&format!("/{name}"));
    Ok(Some(url.to_string()))
}

/// Drops the triggers that keep `audit_events` append-only, as someone with the table owner's
/// rights could, so that a test can tamper with the trail and watch verification catch it.
pub async fn drop_audit_guards(store: &Store) -> Result<(), StoreError> {
    let db = store.connection();
    let backend = db.get_database_backend();
    let statements: &[&str] = match backend {
        sea_orm::DbBackend::Postgres => &[
            "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
            "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
        ],
        _ => &[
            "DROP TRIGGER IF EXISTS audit_events_no_update",
            "DROP TRIGGER IF EXISTS audit_events_no_delete",
        ],
    };
    for sql in statements {
        db.execute(Statement::from_string(backend, (*sql).to_owned()))
            .await?;
    }
    Ok(())
}
