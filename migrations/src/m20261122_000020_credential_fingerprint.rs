//! A credential's fingerprint (canonical public key or certificate thumbprint), so that the
//! same material used in several places can be found (rule `credential.reused_across_scopes`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Records {
    Table,
    CredentialFingerprint,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Records::Table)
                    .add_column(ColumnDef::new(Records::CredentialFingerprint).text().null())
                    .to_owned(),
            )
            .await?;
        // Partial: most records carry no fingerprint, and the reuse query asks only for those
        // that do. SQLite and PostgreSQL accept the same statement.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_records_credential_fingerprint ON records \
                 (credential_fingerprint) WHERE credential_fingerprint IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_records_credential_fingerprint")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Records::Table)
                    .drop_column(Records::CredentialFingerprint)
                    .to_owned(),
            )
            .await
    }
}
