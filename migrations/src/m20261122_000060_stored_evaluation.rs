//! Each record keeps its evaluation's end (`evaluated_until`, see `Evaluation::until`), so that
//! the stored tier and rules can be trusted until then: the end-of-sync summary and the tier
//! filter read them instead of evaluating every record again. Rows written before this migration
//! are marked as due, so the next sync evaluates them afresh. `evaluated_until` has no index:
//! each one cost about a tenth of the 100k ingest time, and the due rows are found by a scan
//! once per sync run (30 ms at 100k records).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Records {
    Table,
    EvaluatedUntil,
    Tier,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Records::Table)
                .add_column(
                    ColumnDef::new(Records::EvaluatedUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        let due = sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc::UNIX_EPOCH;
        m.exec_stmt(
            Query::update()
                .table(Records::Table)
                .value(Records::EvaluatedUntil, due)
                .to_owned(),
        )
        .await?;
        // Filters on the tier now go through the stored evaluation, whose condition (a match,
        // or due) no single-column index serves; the index only slowed every insert.
        m.drop_index(
            Index::drop()
                .name("idx_records_tier")
                .table(Records::Table)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Records::Table)
                .drop_column(Records::EvaluatedUntil)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_records_tier")
                .table(Records::Table)
                .col(Records::Tier)
                .to_owned(),
        )
        .await
    }
}
