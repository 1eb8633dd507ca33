//! The inventory: records (identities and credentials), their change history, sync runs and the
//! state of each listing (connector × resource type × scope).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Records {
    Table,
    Id,
    Connector,
    Platform,
    ResourceType,
    Scope,
    Class,
    Kind,
    ExternalId,
    Name,
    ParentId,
    Status,
    CreatedAt,
    LastUsedAt,
    Usage,
    ExpiresAt,
    Privilege,
    PrivilegeDetail,
    Owner,
    OwnerSource,
    Raw,
    ContentHash,
    Tier,
    FindingRules,
    FirstSeenRun,
    ChangedRun,
    GoneRun,
}

#[derive(DeriveIden)]
enum RecordHistory {
    Table,
    Id,
    RecordId,
    SyncRunId,
    Change,
    ContentHash,
    At,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    StartedAt,
    FinishedAt,
    Status,
    Connectors,
    NewCount,
    ChangedCount,
    UnchangedCount,
    GoneCount,
    FailedListings,
    Report,
}

#[derive(DeriveIden)]
enum Listings {
    Table,
    Id,
    Connector,
    ResourceType,
    Scope,
    LastAttemptRun,
    LastAttemptAt,
    LastStatus,
    LastError,
    LastCompleteRun,
    LastCompleteAt,
    RecordsSeen,
}

/// The inventory filters (platform, kind, tier, owner), the sweep and re-sync index (listing)
/// and the credential → identity join. Each index costs every insert: status (nearly all
/// `active`) and last-used (read as an aggregate) have none.
const RECORD_INDEXES: &[(&str, &[Records])] = &[
    ("idx_records_platform", &[Records::Platform]),
    ("idx_records_kind", &[Records::Kind]),
    ("idx_records_tier", &[Records::Tier]),
    ("idx_records_owner", &[Records::Owner]),
    (
        "idx_records_listing",
        // Covering: a re-sync loads each listing's (id, hash, gone) from the index alone.
        &[
            Records::Connector,
            Records::ResourceType,
            Records::Scope,
            Records::Id,
            Records::ContentHash,
            Records::GoneRun,
        ],
    ),
    ("idx_records_parent", &[Records::ParentId]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Records::Table)
                .col(
                    ColumnDef::new(Records::Id)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Records::Connector).string().not_null())
                .col(ColumnDef::new(Records::Platform).string().not_null())
                .col(ColumnDef::new(Records::ResourceType).string().not_null())
                .col(ColumnDef::new(Records::Scope).string().not_null())
                .col(ColumnDef::new(Records::Class).string().not_null())
                .col(ColumnDef::new(Records::Kind).string().not_null())
                .col(ColumnDef::new(Records::ExternalId).string().not_null())
                .col(ColumnDef::new(Records::Name).string().not_null())
                .col(ColumnDef::new(Records::ParentId).big_integer().null())
                .col(ColumnDef::new(Records::Status).string().not_null())
                .col(
                    ColumnDef::new(Records::CreatedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Records::LastUsedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Records::Usage).string().not_null())
                .col(
                    ColumnDef::new(Records::ExpiresAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Records::Privilege).string().not_null())
                .col(ColumnDef::new(Records::PrivilegeDetail).text().not_null())
                .col(ColumnDef::new(Records::Owner).string().null())
                .col(ColumnDef::new(Records::OwnerSource).string().null())
                .col(ColumnDef::new(Records::Raw).text().not_null())
                .col(
                    ColumnDef::new(Records::ContentHash)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Records::Tier).string().not_null())
                .col(ColumnDef::new(Records::FindingRules).text().not_null())
                .col(
                    ColumnDef::new(Records::FirstSeenRun)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Records::ChangedRun).big_integer().not_null())
                .col(ColumnDef::new(Records::GoneRun).big_integer().null())
                .to_owned(),
        )
        .await?;
        for (name, cols) in RECORD_INDEXES {
            let mut idx = Index::create();
            idx.name(*name).table(Records::Table);
            for c in *cols {
                idx.col(*c);
            }
            m.create_index(idx.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(RecordHistory::Table)
                .col(
                    ColumnDef::new(RecordHistory::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RecordHistory::RecordId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RecordHistory::SyncRunId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(RecordHistory::Change).string().not_null())
                .col(
                    ColumnDef::new(RecordHistory::ContentHash)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RecordHistory::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_record_history_record")
                .table(RecordHistory::Table)
                .col(RecordHistory::RecordId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SyncRuns::Table)
                .col(
                    ColumnDef::new(SyncRuns::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SyncRuns::StartedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SyncRuns::FinishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(SyncRuns::Status).string().not_null())
                .col(ColumnDef::new(SyncRuns::Connectors).text().not_null())
                .col(
                    ColumnDef::new(SyncRuns::NewCount)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::ChangedCount)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::UnchangedCount)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::GoneCount)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::FailedListings)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(SyncRuns::Report).text().null())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Listings::Table)
                .col(
                    ColumnDef::new(Listings::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Listings::Connector).string().not_null())
                .col(ColumnDef::new(Listings::ResourceType).string().not_null())
                .col(ColumnDef::new(Listings::Scope).string().not_null())
                .col(
                    ColumnDef::new(Listings::LastAttemptRun)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Listings::LastAttemptAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Listings::LastStatus).string().not_null())
                .col(ColumnDef::new(Listings::LastError).text().null())
                .col(
                    ColumnDef::new(Listings::LastCompleteRun)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(Listings::LastCompleteAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Listings::RecordsSeen)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_listings_key")
                .table(Listings::Table)
                .col(Listings::Connector)
                .col(Listings::ResourceType)
                .col(Listings::Scope)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Listings::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SyncRuns::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RecordHistory::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Records::Table).to_owned())
            .await
    }
}
