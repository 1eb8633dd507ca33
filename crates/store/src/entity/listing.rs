use sea_orm::entity::prelude::*;

/// What Roster knows about one listing (connector × resource type × scope): when it last
/// completed (so its records' "last seen" is known) and how the last attempt ended (coverage).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connector: String,
    pub resource_type: String,
    pub scope: String,
    pub last_attempt_run: i64,
    pub last_attempt_at: DateTimeUtc,
    /// `complete` or `failed`.
    pub last_status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub last_complete_run: Option<i64>,
    pub last_complete_at: Option<DateTimeUtc>,
    pub records_seen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
