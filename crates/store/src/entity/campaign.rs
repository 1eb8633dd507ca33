use sea_orm::entity::prelude::*;

/// A launched campaign. `rules` is the JSON of `roster_core::campaign::CampaignRules`, fixed at
/// launch; `scope` the inventory query string it covers.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// The `[[campaigns]]` definition that launched it on schedule; none when launched by hand.
    pub definition: Option<String>,
    pub scope: String,
    #[sea_orm(column_type = "Text")]
    pub rules: String,
    pub status: String,
    pub launched_by: String,
    pub launched_at: DateTimeUtc,
    pub due_at: DateTimeUtc,
    pub item_count: i64,
    pub signed_off_by: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    /// The audit chain's head hash when the campaign closed: evidence that what followed
    /// cannot rewrite it.
    pub audit_hash_at_close: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
