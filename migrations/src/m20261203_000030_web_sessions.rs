//! Web sessions in the database, so that they survive a restart and every replica knows them.
//! Keyed by the SHA-256 of the cookie's value: the table never holds a usable session token.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    IdHash,
    Who,
    Role,
    Source,
    Csrf,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |c: WebSessions| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(WebSessions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(WebSessions::IdHash)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebSessions::Who).text().not_null())
                    .col(ColumnDef::new(WebSessions::Role).text().not_null())
                    .col(ColumnDef::new(WebSessions::Source).text().not_null())
                    .col(ColumnDef::new(WebSessions::Csrf).text().not_null())
                    .col(at(WebSessions::CreatedAt))
                    .col(at(WebSessions::LastSeenAt))
                    .col(at(WebSessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("web_sessions_who")
                    .table(WebSessions::Table)
                    .col(WebSessions::Who)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebSessions::Table).to_owned())
            .await
    }
}
