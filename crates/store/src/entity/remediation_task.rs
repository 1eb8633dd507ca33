use sea_orm::entity::prelude::*;

/// A decision that needs carrying out, made when its campaign closes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation_tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub item_id: i64,
    pub record_id: i64,
    /// The decision to carry out (`revoke`, `rotate`, `reduce_scope`, `set_expiry`).
    pub action: String,
    /// `pending`, `planned` (dry run passed), `done`, `failed`, or `ticket` (no connector
    /// remediation: exported for someone to do by hand).
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
