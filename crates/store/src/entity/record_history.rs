use sea_orm::entity::prelude::*;

/// A change to a record seen by a sync run after its first: `changed`, `gone` or `returned`.
/// (Its arrival is the record's own `first_seen_run`.)
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub record_id: i64,
    pub sync_run_id: i64,
    pub change: String,
    pub content_hash: i64,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
