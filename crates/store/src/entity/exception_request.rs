use sea_orm::entity::prelude::*;

/// A proposed policy exception for one finding of one record, and its decision.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exception_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub record_id: i64,
    /// The record's platform, scope and external id when asked: what the exception names.
    pub platform: String,
    pub scope: String,
    pub external_id: String,
    pub record_name: String,
    pub rule: String,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    /// The last day the exception would apply (UTC).
    pub expires_on: Date,
    /// Who answers for the exception: the person who asked.
    pub owner: String,
    /// The requester as the audit trail names them.
    pub requested_by: String,
    pub requested_at: DateTimeUtc,
    /// `proposed`, `approved` or `rejected` (`roster_core::exception_request::ExceptionRequestState`).
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub decision_note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
