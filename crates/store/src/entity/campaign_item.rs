use sea_orm::entity::prelude::*;

/// One identity or credential under review, snapshotted at launch (`snapshot` is the evaluated
/// inventory item's JSON) so later syncs do not change what was reviewed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub record_id: i64,
    pub platform: String,
    pub kind: String,
    pub name: String,
    pub tier: String,
    /// `tier` as the inbox orders it: 0 critical, 1 high, 2 medium, 3 low, 4 none.
    pub tier_rank: i16,
    pub reviewer: String,
    pub reviewer_basis: String,
    #[sea_orm(column_type = "Text")]
    pub snapshot: String,
    /// The same record's item in the campaign before this one.
    pub previous_item_id: Option<i64>,
    /// `pending`, `decided` or `unreviewed` (closed with no decision).
    pub state: String,
    /// The latest concluding decision.
    pub decision: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
