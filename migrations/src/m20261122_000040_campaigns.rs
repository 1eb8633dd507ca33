//! Access-certification campaigns: the campaign, its items snapshotted at launch, every
//! decision (append-only), remediation tasks made at close, reminders sent, and leases that let
//! one of several servers run each scheduled job.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    Name,
    Definition,
    Scope,
    Rules,
    Status,
    LaunchedBy,
    LaunchedAt,
    DueAt,
    ItemCount,
    SignedOffBy,
    ClosedAt,
    AuditHashAtClose,
}

#[derive(DeriveIden)]
enum CampaignItems {
    Table,
    Id,
    CampaignId,
    RecordId,
    Platform,
    Kind,
    Name,
    Tier,
    Reviewer,
    ReviewerBasis,
    Snapshot,
    PreviousItemId,
    State,
    Decision,
    DecidedAt,
}

#[derive(DeriveIden)]
enum CampaignDecisions {
    Table,
    Id,
    CampaignId,
    ItemId,
    Decision,
    Justification,
    ExpiresOn,
    HandedTo,
    Actor,
    At,
    Warnings,
}

#[derive(DeriveIden)]
enum RemediationTasks {
    Table,
    Id,
    CampaignId,
    ItemId,
    RecordId,
    Action,
    Status,
    Detail,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RemindersSent {
    Table,
    CampaignId,
    Reviewer,
    ReminderKey,
    SentAt,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Job,
    Holder,
    Until,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Campaigns::Table)
                    .if_not_exists()
                    .col(id(Campaigns::Id))
                    .col(ColumnDef::new(Campaigns::Name).text().not_null())
                    .col(ColumnDef::new(Campaigns::Definition).text())
                    .col(ColumnDef::new(Campaigns::Scope).text().not_null())
                    .col(ColumnDef::new(Campaigns::Rules).text().not_null())
                    .col(ColumnDef::new(Campaigns::Status).text().not_null())
                    .col(ColumnDef::new(Campaigns::LaunchedBy).text().not_null())
                    .col(
                        ColumnDef::new(Campaigns::LaunchedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Campaigns::DueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Campaigns::ItemCount)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Campaigns::SignedOffBy).text())
                    .col(ColumnDef::new(Campaigns::ClosedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Campaigns::AuditHashAtClose).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CampaignItems::Table)
                    .if_not_exists()
                    .col(id(CampaignItems::Id))
                    .col(
                        ColumnDef::new(CampaignItems::CampaignId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CampaignItems::RecordId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CampaignItems::Platform).text().not_null())
                    .col(ColumnDef::new(CampaignItems::Kind).text().not_null())
                    .col(ColumnDef::new(CampaignItems::Name).text().not_null())
                    .col(ColumnDef::new(CampaignItems::Tier).text().not_null())
                    .col(ColumnDef::new(CampaignItems::Reviewer).text().not_null())
                    .col(
                        ColumnDef::new(CampaignItems::ReviewerBasis)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CampaignItems::Snapshot).text().not_null())
                    .col(ColumnDef::new(CampaignItems::PreviousItemId).big_integer())
                    .col(ColumnDef::new(CampaignItems::State).text().not_null())
                    .col(ColumnDef::new(CampaignItems::Decision).text())
                    .col(ColumnDef::new(CampaignItems::DecidedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(CampaignItems::Table, CampaignItems::CampaignId)
                            .to(Campaigns::Table, Campaigns::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "campaign_items_campaign",
                vec![CampaignItems::CampaignId, CampaignItems::Id],
            ),
            (
                "campaign_items_reviewer",
                vec![CampaignItems::Reviewer, CampaignItems::State],
            ),
            (
                "campaign_items_record",
                vec![CampaignItems::RecordId, CampaignItems::Id],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(CampaignItems::Table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(CampaignDecisions::Table)
                    .if_not_exists()
                    .col(id(CampaignDecisions::Id))
                    .col(
                        ColumnDef::new(CampaignDecisions::CampaignId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CampaignDecisions::ItemId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CampaignDecisions::Decision)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CampaignDecisions::Justification)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CampaignDecisions::ExpiresOn).date())
                    .col(ColumnDef::new(CampaignDecisions::HandedTo).text())
                    .col(ColumnDef::new(CampaignDecisions::Actor).text().not_null())
                    .col(
                        ColumnDef::new(CampaignDecisions::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CampaignDecisions::Warnings)
                            .text()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CampaignDecisions::Table, CampaignDecisions::ItemId)
                            .to(CampaignItems::Table, CampaignItems::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("campaign_decisions_item")
                    .table(CampaignDecisions::Table)
                    .col(CampaignDecisions::ItemId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RemediationTasks::Table)
                    .if_not_exists()
                    .col(id(RemediationTasks::Id))
                    .col(
                        ColumnDef::new(RemediationTasks::CampaignId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RemediationTasks::ItemId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RemediationTasks::RecordId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RemediationTasks::Action).text().not_null())
                    .col(ColumnDef::new(RemediationTasks::Status).text().not_null())
                    .col(ColumnDef::new(RemediationTasks::Detail).text().not_null())
                    .col(
                        ColumnDef::new(RemediationTasks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("remediation_tasks_campaign")
                    .table(RemediationTasks::Table)
                    .col(RemediationTasks::CampaignId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RemindersSent::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RemindersSent::CampaignId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RemindersSent::Reviewer).text().not_null())
                    .col(ColumnDef::new(RemindersSent::ReminderKey).text().not_null())
                    .col(
                        ColumnDef::new(RemindersSent::SentAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // Each reminder once, however many servers run the job.
                    .primary_key(
                        Index::create()
                            .col(RemindersSent::CampaignId)
                            .col(RemindersSent::Reviewer)
                            .col(RemindersSent::ReminderKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(JobLeases::Job)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(JobLeases::Holder).text().not_null())
                    .col(
                        ColumnDef::new(JobLeases::Until)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            JobLeases::Table.into_iden(),
            RemindersSent::Table.into_iden(),
            RemediationTasks::Table.into_iden(),
            CampaignDecisions::Table.into_iden(),
            CampaignItems::Table.into_iden(),
            Campaigns::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
