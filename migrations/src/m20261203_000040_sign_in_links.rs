//! One-time sign-in links (the bootstrap admin's, `roster admin sign-in-link`'s, the demo's) in
//! the database, so that a link issued by the CLI or by one replica signs in on any of them.
//! Keyed by the SHA-256 of the token; redeeming deletes the row, so a link works once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SignInLinks {
    Table,
    TokenHash,
    Who,
    Role,
    Source,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInLinks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(SignInLinks::TokenHash)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SignInLinks::Who).text().not_null())
                    .col(ColumnDef::new(SignInLinks::Role).text().not_null())
                    .col(ColumnDef::new(SignInLinks::Source).text().not_null())
                    .col(
                        ColumnDef::new(SignInLinks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SignInLinks::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SignInLinks::Table).to_owned())
            .await
    }
}
