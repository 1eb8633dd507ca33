use sea_orm::entity::prelude::*;

/// A signed-in browser session, keyed by the SHA-256 of its cookie's value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "web_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    /// Who signed in (an IdP subject or email, `bootstrap`, a demo person).
    pub who: String,
    pub role: String,
    /// How they signed in: `person`, `system` or `demo`.
    pub source: String,
    /// The session's CSRF token, embedded in its pages' forms.
    pub csrf: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
