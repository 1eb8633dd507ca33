//! Which stored evaluations fall due soon. `evaluation_due` lists every live record whose
//! `evaluated_until` is before `evaluation_horizon.covered_until` (about a day ahead of the last
//! refresh): at a million records a few thousand. Until that moment a reader finds the rows
//! whose stored evaluation is stale in this small table instead of scanning `records`, and can
//! filter on the stored tier through an index. A partial index serves the rare, most-asked tier,
//! `critical`, without slowing the inserts of the rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EvaluationHorizon {
    Table,
    Id,
    CoveredUntil,
}

#[derive(DeriveIden)]
enum EvaluationDue {
    Table,
    RecordId,
    DueAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EvaluationHorizon::Table)
                .col(
                    ColumnDef::new(EvaluationHorizon::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(EvaluationHorizon::CoveredUntil)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // Nothing is covered until the first refresh lists what falls due.
        let nothing = sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc::UNIX_EPOCH;
        let mut insert = Query::insert();
        insert
            .into_table(EvaluationHorizon::Table)
            .columns([EvaluationHorizon::Id, EvaluationHorizon::CoveredUntil])
            .values([1.into(), nothing.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        m.exec_stmt(insert).await?;
        m.create_table(
            Table::create()
                .table(EvaluationDue::Table)
                .col(
                    ColumnDef::new(EvaluationDue::RecordId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(EvaluationDue::DueAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // Same text on SQLite and PostgreSQL; sea-query has no partial-index builder.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_records_critical ON records (id) WHERE tier = 'critical'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX idx_records_critical")
            .await?;
        m.drop_table(Table::drop().table(EvaluationDue::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(EvaluationHorizon::Table).to_owned())
            .await
    }
}
