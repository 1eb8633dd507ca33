use sea_orm::entity::prelude::*;

/// One run of `roster sync` (or a scheduled sync). `status` is `running`, `ok`, `partial`,
/// `failed`, or `aborted` (the process died; found by the next run).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub connectors: String,
    pub new_count: i64,
    pub changed_count: i64,
    pub unchanged_count: i64,
    pub gone_count: i64,
    pub failed_listings: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub report: Option<String>,
    /// sha256 of the policy file the run's stored evaluations were made with.
    pub policy_hash: Option<String>,
    /// The dashboard's summary of the evaluated inventory after this run (JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    /// The process running it (`host:pid:nonce`), for runs since the lease was added.
    #[sea_orm(column_type = "Text", nullable)]
    pub holder: Option<String>,
    /// When its process last said it is alive; see `SYNC_LEASE`.
    pub heartbeat_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
