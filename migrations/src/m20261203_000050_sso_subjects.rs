//! Who each identity-provider account (`iss` + `sub`) is in Roster: the email it was first
//! seen with (when verified), or its subject. A verified email already bound to another account
//! is not handed to a newcomer (a recycled address must not inherit a leaver's identities).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SsoSubjects {
    Table,
    Issuer,
    Subject,
    Who,
    FirstSeenAt,
    LastSeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |c: SsoSubjects| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(SsoSubjects::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(SsoSubjects::Issuer).text().not_null())
                    .col(ColumnDef::new(SsoSubjects::Subject).text().not_null())
                    .col(ColumnDef::new(SsoSubjects::Who).text().not_null())
                    .col(at(SsoSubjects::FirstSeenAt))
                    .col(at(SsoSubjects::LastSeenAt))
                    .primary_key(
                        Index::create()
                            .col(SsoSubjects::Issuer)
                            .col(SsoSubjects::Subject),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sso_subjects_who")
                    .table(SsoSubjects::Table)
                    .col(SsoSubjects::Who)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SsoSubjects::Table).to_owned())
            .await
    }
}
