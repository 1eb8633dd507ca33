//! The people directory (imports from CSV and SCIM, later SSO logins), and the policy hash of
//! each sync run's stored evaluations.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    Source,
    Key,
    Email,
    DisplayName,
    Kind,
    Active,
    FirstSeenAt,
    LastSeenAt,
    LeftAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    PolicyHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(People::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(People::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(People::Source).text().not_null())
                    .col(ColumnDef::new(People::Key).text().not_null())
                    .col(ColumnDef::new(People::Email).text())
                    .col(ColumnDef::new(People::DisplayName).text())
                    .col(ColumnDef::new(People::Kind).text().not_null())
                    .col(ColumnDef::new(People::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(People::FirstSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(People::LastSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(People::LeftAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("people_source_key")
                    .table(People::Table)
                    .col(People::Source)
                    .col(People::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SyncRuns::Table)
                    .add_column(ColumnDef::new(SyncRuns::PolicyHash).text())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SyncRuns::Table)
                    .drop_column(SyncRuns::PolicyHash)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(People::Table).to_owned())
            .await
    }
}
