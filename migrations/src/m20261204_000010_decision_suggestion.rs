//! Which suggestion rule a decision accepted (`campaign_decisions.suggestion_rule`): the evidence
//! says that a reviewer took Roster's suggestion, and which rule made it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CampaignDecisions {
    Table,
    SuggestionRule,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CampaignDecisions::Table)
                    .add_column(
                        ColumnDef::new(CampaignDecisions::SuggestionRule)
                            .text()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CampaignDecisions::Table)
                    .drop_column(CampaignDecisions::SuggestionRule)
                    .to_owned(),
            )
            .await
    }
}
