//! Roster's schema, one file per step. `roster migrate` and `roster serve` apply them.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_inventory;
mod m20261122_000001_signals;
mod m20261122_000002_audit;
mod m20261122_000003_people;
mod m20261122_000004_claims;
mod m20261122_000005_run_summary;
mod m20261122_000006_api_tokens;
mod m20261122_000010_http_validators;
mod m20261122_000020_credential_fingerprint;
mod m20261122_000030_audit_delivery;
mod m20261122_000040_campaigns;
mod m20261122_000050_inventory_page_indexes;
mod m20261122_000060_stored_evaluation;
mod m20261122_000070_evaluation_horizon;
mod m20261201_000010_interactive_sign_in;
mod m20261203_000010_sync_run_holder;
mod m20261203_000020_audit_append_only;
mod m20261203_000030_web_sessions;
mod m20261203_000040_sign_in_links;
mod m20261203_000050_sso_subjects;
mod m20261204_000010_decision_suggestion;
mod m20261204_000020_inbox_index;
mod m20261205_000010_inbox_order;
mod m20261205_000020_inbox_tallies;
mod m20261206_000050_exception_requests;
mod m20261207_000010_search_index;
mod m20261207_000020_oidc_logins;

/// What the inventory search reads (see the migration that builds the index).
pub mod search_index {
    pub use crate::m20261207_000010_search_index::{
        POSTGRES_SEARCH_TEXT, SQLITE_SEARCH_TABLE, sqlite_text,
    };
}

/// Runs each statement of a migration written as SQL, in order (triggers, functions, virtual
/// tables: what sea-query does not build).
pub(crate) async fn run<S: AsRef<str>>(
    manager: &SchemaManager<'_>,
    statements: &[S],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    for sql in statements {
        db.execute(Statement::from_string(backend, sql.as_ref().to_owned()))
            .await?;
    }
    Ok(())
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_inventory::Migration),
            Box::new(m20261122_000001_signals::Migration),
            Box::new(m20261122_000002_audit::Migration),
            Box::new(m20261122_000003_people::Migration),
            Box::new(m20261122_000004_claims::Migration),
            Box::new(m20261122_000005_run_summary::Migration),
            Box::new(m20261122_000006_api_tokens::Migration),
            Box::new(m20261122_000010_http_validators::Migration),
            Box::new(m20261122_000030_audit_delivery::Migration),
            Box::new(m20261122_000040_campaigns::Migration),
            Box::new(m20261122_000020_credential_fingerprint::Migration),
            Box::new(m20261122_000050_inventory_page_indexes::Migration),
            Box::new(m20261122_000060_stored_evaluation::Migration),
            Box::new(m20261122_000070_evaluation_horizon::Migration),
            Box::new(m20261201_000010_interactive_sign_in::Migration),
            Box::new(m20261203_000010_sync_run_holder::Migration),
            Box::new(m20261203_000020_audit_append_only::Migration),
            Box::new(m20261203_000030_web_sessions::Migration),
            Box::new(m20261203_000040_sign_in_links::Migration),
            Box::new(m20261203_000050_sso_subjects::Migration),
            Box::new(m20261204_000010_decision_suggestion::Migration),
            Box::new(m20261204_000020_inbox_index::Migration),
            Box::new(m20261205_000010_inbox_order::Migration),
            Box::new(m20261205_000020_inbox_tallies::Migration),
            Box::new(m20261206_000050_exception_requests::Migration),
            Box::new(m20261207_000010_search_index::Migration),
            Box::new(m20261207_000020_oidc_logins::Migration),
        ]
    }
}
