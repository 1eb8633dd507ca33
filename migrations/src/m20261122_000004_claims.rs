//! Ownership claims: a person says "this identity is mine" (or names its owner). A claim is the
//! last resort of ownership resolution, after the policy's `[[owners]]` and the platform.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OwnershipClaims {
    Table,
    RecordId,
    Owner,
    ClaimedBy,
    ClaimedAt,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OwnershipClaims::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OwnershipClaims::RecordId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OwnershipClaims::Owner).text().not_null())
                    .col(ColumnDef::new(OwnershipClaims::ClaimedBy).text().not_null())
                    .col(
                        ColumnDef::new(OwnershipClaims::ClaimedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OwnershipClaims::Note).text().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OwnershipClaims::Table).to_owned())
            .await
    }
}
