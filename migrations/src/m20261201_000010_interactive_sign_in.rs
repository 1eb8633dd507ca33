//! How a person can sign in as an identity and when one last did (`Record::interactive_sign_in`,
//! JSON), for the rule `usage.human_sign_in` (NHI10). Nullable: most records have none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Records {
    Table,
    InteractiveSignIn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Records::Table)
                    .add_column(ColumnDef::new(Records::InteractiveSignIn).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Records::Table)
                    .drop_column(Records::InteractiveSignIn)
                    .to_owned(),
            )
            .await
    }
}
