//! Conditional requests on re-sync: the `ETag`, `Link` and body of each GET listing page a
//! connector read last time, keyed by connector name and URL, so that the next sync can send
//! `If-None-Match` and reuse the body on `304 Not Modified`. Only listing pages (never a token
//! exchange); the connector SDK's validator cache decides what is kept and bounds its size.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HttpValidators {
    Table,
    Connector,
    Url,
    Etag,
    Link,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HttpValidators::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(HttpValidators::Connector).text().not_null())
                    .col(ColumnDef::new(HttpValidators::Url).text().not_null())
                    .col(ColumnDef::new(HttpValidators::Etag).text().not_null())
                    .col(ColumnDef::new(HttpValidators::Link).text().null())
                    .col(ColumnDef::new(HttpValidators::Body).blob().not_null())
                    .primary_key(
                        Index::create()
                            .col(HttpValidators::Connector)
                            .col(HttpValidators::Url),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HttpValidators::Table).to_owned())
            .await
    }
}
