//! Exception requests: an owner (or an admin) proposes that a finding on one record be accepted
//! until a date, for a reason; an admin approves or rejects it. An approved request changes no
//! evaluation by itself: exceptions are policy as code, so approval hands out the
//! `[[exceptions]]` block to add to the policy file. The record's platform, scope and external
//! id are kept as they were when asked, so the block names exactly that record.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ExceptionRequests {
    Table,
    Id,
    RecordId,
    Platform,
    Scope,
    ExternalId,
    RecordName,
    Rule,
    Reason,
    ExpiresOn,
    Owner,
    RequestedBy,
    RequestedAt,
    State,
    DecidedBy,
    DecidedAt,
    DecisionNote,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text = |c: ExceptionRequests| ColumnDef::new(c).text().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(ExceptionRequests::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ExceptionRequests::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ExceptionRequests::RecordId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(ExceptionRequests::Platform))
                    .col(text(ExceptionRequests::Scope))
                    .col(text(ExceptionRequests::ExternalId))
                    .col(text(ExceptionRequests::RecordName))
                    .col(text(ExceptionRequests::Rule))
                    .col(text(ExceptionRequests::Reason))
                    .col(
                        ColumnDef::new(ExceptionRequests::ExpiresOn)
                            .date()
                            .not_null(),
                    )
                    .col(text(ExceptionRequests::Owner))
                    .col(text(ExceptionRequests::RequestedBy))
                    .col(
                        ColumnDef::new(ExceptionRequests::RequestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(text(ExceptionRequests::State))
                    .col(ColumnDef::new(ExceptionRequests::DecidedBy).text())
                    .col(ColumnDef::new(ExceptionRequests::DecidedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(ExceptionRequests::DecisionNote).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_exception_requests_record")
                    .table(ExceptionRequests::Table)
                    .col(ExceptionRequests::RecordId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_exception_requests_state")
                    .table(ExceptionRequests::Table)
                    .col(ExceptionRequests::State)
                    .col(ExceptionRequests::Id)
                    .to_owned(),
            )
            .await?;
        // One open request per finding of a record. Same text on SQLite and PostgreSQL;
        // sea-query has no partial-index builder.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_exception_requests_open \
                 ON exception_requests (record_id, rule) WHERE state = 'proposed'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ExceptionRequests::Table).to_owned())
            .await
    }
}
