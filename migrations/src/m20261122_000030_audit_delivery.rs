//! Where each audit sink (the SIEM webhook) has got to: the id of the last event it accepted, so
//! a restarted server resumes delivery after it instead of from the start or not at all.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditDeliveries {
    Table,
    Sink,
    LastEventId,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditDeliveries::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditDeliveries::Sink)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditDeliveries::LastEventId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditDeliveries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditDeliveries::Table).to_owned())
            .await
    }
}
