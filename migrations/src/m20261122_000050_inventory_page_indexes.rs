//! Inventory pages filtered by platform and/or kind are read in id order with a LIMIT: with the
//! id after the filter columns in the index, SQLite walks the index in order and stops at the
//! page size instead of collecting and sorting every match (570 ms → see BENCHMARKS.md at 1M).
//! The single-column indexes they replace are dropped, so inserts pay for no more indexes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Records {
    Table,
    Platform,
    Kind,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for old in ["idx_records_platform", "idx_records_kind"] {
            m.drop_index(Index::drop().name(old).table(Records::Table).to_owned())
                .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_records_platform_kind_id")
                .table(Records::Table)
                .col(Records::Platform)
                .col(Records::Kind)
                .col(Records::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_records_kind_id")
                .table(Records::Table)
                .col(Records::Kind)
                .col(Records::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for new in ["idx_records_platform_kind_id", "idx_records_kind_id"] {
            m.drop_index(Index::drop().name(new).table(Records::Table).to_owned())
                .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_records_platform")
                .table(Records::Table)
                .col(Records::Platform)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_records_kind")
                .table(Records::Table)
                .col(Records::Kind)
                .to_owned(),
        )
        .await
    }
}
