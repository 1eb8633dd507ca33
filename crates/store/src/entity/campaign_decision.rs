use sea_orm::entity::prelude::*;

/// Every decision ever made on an item, append-only; the item row holds the latest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_decisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub item_id: i64,
    pub decision: String,
    #[sea_orm(column_type = "Text")]
    pub justification: String,
    pub expires_on: Option<Date>,
    pub handed_to: Option<String>,
    pub actor: String,
    pub at: DateTimeUtc,
    /// JSON array of `roster_core::campaign::DecisionWarning`.
    #[sea_orm(column_type = "Text")]
    pub warnings: String,
    /// The suggestion rule this decision accepted, if it was one.
    pub suggestion_rule: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
