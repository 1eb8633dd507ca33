use sea_orm::entity::prelude::*;

/// A person or team of the people directory, per source (`csv:<name>`, `scim:<name>`, `sso`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source: String,
    /// Lower-cased login, user name or team name.
    pub key: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `person` or `team`.
    pub kind: String,
    pub active: bool,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// When the entry went inactive or vanished from its source's import.
    pub left_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
