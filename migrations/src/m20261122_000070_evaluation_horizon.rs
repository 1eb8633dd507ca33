//! `evaluation_horizon` holds one moment: the earliest `evaluated_until` of any live record
//! (`NULL`: none ahead). Before it no stored evaluation is due, so readers can filter on the
//! stored tier alone, through an index. A partial index serves the rare, most-asked tier,
//! `critical`, without slowing inserts of the rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EvaluationHorizon {
    Table,
    Id,
    NextDue,
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
                    ColumnDef::new(EvaluationHorizon::NextDue)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        // Everything is due until the first refresh says otherwise.
        let due = sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc::UNIX_EPOCH;
        let mut insert = Query::insert();
        insert
            .into_table(EvaluationHorizon::Table)
            .columns([EvaluationHorizon::Id, EvaluationHorizon::NextDue])
            .values([1.into(), due.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        m.exec_stmt(insert).await?;
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
        m.drop_table(Table::drop().table(EvaluationHorizon::Table).to_owned())
            .await
    }
}
