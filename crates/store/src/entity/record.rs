use sea_orm::entity::prelude::*;

/// One identity or credential. Enum-valued columns hold the core enums' string forms; JSON
/// columns hold serialised text so that SQLite and PostgreSQL store the same thing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub connector: String,
    pub platform: String,
    pub resource_type: String,
    pub scope: String,
    pub class: String,
    pub kind: String,
    pub external_id: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub status: String,
    pub created_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub usage: String,
    pub expires_at: Option<DateTimeUtc>,
    pub privilege: String,
    #[sea_orm(column_type = "Text")]
    pub privilege_detail: String,
    pub owner: Option<String>,
    pub owner_source: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub raw: String,
    pub content_hash: i64,
    pub tier: String,
    /// Rule ids of the findings at the last evaluation, comma-separated, for filters and
    /// counts. Messages are made at read time, against the policy and moment the reader
    /// chooses.
    #[sea_orm(column_type = "Text")]
    pub finding_rules: String,
    pub first_seen_run: i64,
    pub changed_run: i64,
    pub gone_run: Option<i64>,
    /// Platform rules' signals, JSON.
    #[sea_orm(column_type = "Text")]
    pub signals: String,
    /// Canonical public key or certificate thumbprint (see
    /// `roster_core::credential_fingerprint`).
    #[sea_orm(column_type = "Text", nullable)]
    pub credential_fingerprint: Option<String>,
    /// `roster_core::InteractiveSignIn` as JSON, where a person can sign in as the identity.
    #[sea_orm(column_type = "Text", nullable)]
    pub interactive_sign_in: Option<String>,
    /// Until when `tier` and `finding_rules` hold (see `crate::evaluation`); `None`: no time
    /// threshold ahead.
    pub evaluated_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
