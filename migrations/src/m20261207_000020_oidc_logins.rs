//! OpenID Connect sign-ins under way (state, nonce, PKCE verifier between `/login` and
//! `/auth/callback`) in the database, so that the callback may reach another replica than the
//! one that sent the browser to the provider. Keyed by the SHA-256 of the pre-login cookie;
//! the callback deletes the row, so each works once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OidcLogins {
    Table,
    KeyHash,
    State,
    Nonce,
    PkceVerifier,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OidcLogins::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OidcLogins::KeyHash)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OidcLogins::State).text().not_null())
                    .col(ColumnDef::new(OidcLogins::Nonce).text().not_null())
                    .col(ColumnDef::new(OidcLogins::PkceVerifier).text().not_null())
                    .col(
                        ColumnDef::new(OidcLogins::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OidcLogins::Table).to_owned())
            .await
    }
}
