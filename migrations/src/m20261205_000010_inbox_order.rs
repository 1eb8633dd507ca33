//! An inbox read in its order from one index: `campaign_items.tier_rank` (0 critical … 4 none)
//! and `campaign_items (reviewer, state, tier_rank, id, campaign_id, platform, kind)`. The
//! riskiest-first page walks the index from its start and stops at the page's end, instead of
//! sorting every one of the reviewer's entries by a tier expression per request (a 24k-item
//! inbox: BENCHMARKS.md). It replaces `campaign_items_inbox`, which led with the campaign, and
//! `campaign_items_reviewer (reviewer, state)`, its prefix.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CampaignItems {
    Table,
    Reviewer,
    State,
    TierRank,
    Id,
    CampaignId,
    Platform,
    Kind,
}

const NAME: &str = "campaign_items_inbox_order";
const REPLACED: [&str; 2] = ["campaign_items_inbox", "campaign_items_reviewer"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CampaignItems::Table)
                    .add_column(
                        ColumnDef::new(CampaignItems::TierRank)
                            .small_integer()
                            .not_null()
                            .default(4),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE campaign_items SET tier_rank = CASE tier WHEN 'critical' THEN 0 \
                 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END",
            )
            .await?;
        for name in REPLACED {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(CampaignItems::Table)
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(CampaignItems::Table)
                    .col(CampaignItems::Reviewer)
                    .col(CampaignItems::State)
                    .col(CampaignItems::TierRank)
                    .col(CampaignItems::Id)
                    .col(CampaignItems::CampaignId)
                    .col(CampaignItems::Platform)
                    .col(CampaignItems::Kind)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table(CampaignItems::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CampaignItems::Table)
                    .drop_column(CampaignItems::TierRank)
                    .to_owned(),
            )
            .await
    }
}
