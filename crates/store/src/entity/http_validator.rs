use sea_orm::entity::prelude::*;

/// One listing page's validator: its `ETag`, `Link` and body, for a conditional GET next sync.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "http_validators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub connector: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub url: String,
    pub etag: String,
    pub link: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
