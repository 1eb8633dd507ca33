//! Exception requests: a proposed policy exception for one finding of one record, then its
//! decision. The request and each decision commit with their audit event in one transaction
//! (as [`Store::claim_ownership_audited`] does): if the event cannot be written, nothing is.
//! A request is decided once: the state moves from `proposed` only, guarded in the `UPDATE`
//! itself so two admins deciding at once cannot both succeed.

use chrono::{DateTime, NaiveDate, Utc};
use roster_core::ParseEnumError;
use roster_core::exception_request::ExceptionRequestState;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::audit::{NewAuditEvent, append_audit_in};
use crate::entity::exception_request;
use crate::{Store, StoreError};

/// One request, its state decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRequest {
    pub id: i64,
    pub record_id: i64,
    /// The record's platform, scope and external id when asked.
    pub platform: String,
    pub scope: String,
    pub external_id: String,
    pub record_name: String,
    pub rule: String,
    pub reason: String,
    /// The last day the exception would apply (UTC).
    pub expires_on: NaiveDate,
    /// Who answers for it: the person who asked.
    pub owner: String,
    /// The requester as the audit trail names them.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub state: ExceptionRequestState,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

impl TryFrom<exception_request::Model> for ExceptionRequest {
    type Error = StoreError;
    fn try_from(m: exception_request::Model) -> Result<Self, StoreError> {
        let state = m
            .state
            .parse()
            .map_err(|e: ParseEnumError| StoreError::Corrupt {
                id: format!("exception request {}", m.id),
                field: "state",
                detail: e.to_string(),
            })?;
        Ok(ExceptionRequest {
            id: m.id,
            record_id: m.record_id,
            platform: m.platform,
            scope: m.scope,
            external_id: m.external_id,
            record_name: m.record_name,
            rule: m.rule,
            reason: m.reason,
            expires_on: m.expires_on,
            owner: m.owner,
            requested_by: m.requested_by,
            requested_at: m.requested_at,
            state,
            decided_by: m.decided_by,
            decided_at: m.decided_at,
            decision_note: m.decision_note,
        })
    }
}

/// What a new request says.
#[derive(Debug, Clone)]
pub struct NewExceptionRequest<'a> {
    pub record_id: i64,
    pub platform: &'a str,
    pub scope: &'a str,
    pub external_id: &'a str,
    pub record_name: &'a str,
    pub rule: &'a str,
    pub reason: &'a str,
    pub expires_on: NaiveDate,
    pub owner: &'a str,
    pub requested_by: &'a str,
}

/// `event`'s detail with the request's id added (the id exists only once the row does).
fn with_request_id(mut event: NewAuditEvent, id: i64) -> NewAuditEvent {
    if let Some(detail) = event.detail.as_object_mut() {
        detail.insert("request".into(), id.into());
    }
    event
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

impl Store {
    /// Records a proposed exception and its audit event (`event`, its detail given the
    /// request's id as `request`) in one transaction. The record must exist; a second open
    /// request for the same finding of the same record is a conflict.
    pub async fn request_exception_audited(
        &self,
        new: NewExceptionRequest<'_>,
        event: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<ExceptionRequest, StoreError> {
        self.record(new.record_id).await?;
        let txn = self.begin_write().await?;
        let open = exception_request::Entity::find()
            .filter(exception_request::Column::RecordId.eq(new.record_id))
            .filter(exception_request::Column::Rule.eq(new.rule))
            .filter(exception_request::Column::State.eq(ExceptionRequestState::Proposed.as_str()))
            .one(&*txn)
            .await?;
        if let Some(open) = open {
            return Err(StoreError::Conflict(format!(
                "an exception for `{}` on this record is already proposed (request #{})",
                new.rule, open.id
            )));
        }
        let saved = exception_request::ActiveModel {
            record_id: Set(new.record_id),
            platform: Set(new.platform.to_owned()),
            scope: Set(new.scope.to_owned()),
            external_id: Set(new.external_id.to_owned()),
            record_name: Set(new.record_name.to_owned()),
            rule: Set(new.rule.to_owned()),
            reason: Set(new.reason.to_owned()),
            expires_on: Set(new.expires_on),
            owner: Set(new.owner.to_owned()),
            requested_by: Set(new.requested_by.to_owned()),
            requested_at: Set(now),
            state: Set(ExceptionRequestState::Proposed.as_str().to_owned()),
            decided_by: Set(None),
            decided_at: Set(None),
            decision_note: Set(None),
            ..Default::default()
        }
        .insert(&*txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "an exception for `{}` on this record is already proposed",
                    new.rule
                ))
            } else {
                e.into()
            }
        })?;
        append_audit_in(
            &txn,
            self.audit_key.as_ref(),
            with_request_id(event, saved.id),
            now,
        )
        .await?;
        txn.commit().await?;
        saved.try_into()
    }

    /// Moves a proposed request to `to` (approved or rejected) with its audit event, in one
    /// transaction. A request no longer proposed (decided before, or meanwhile) is a conflict
    /// and nothing is written.
    pub async fn decide_exception_request_audited(
        &self,
        id: i64,
        to: ExceptionRequestState,
        decided_by: &str,
        note: Option<&str>,
        event: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<ExceptionRequest, StoreError> {
        let txn = self.begin_write().await?;
        let current: ExceptionRequest = exception_request::Entity::find_by_id(id)
            .one(&*txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("exception request {id}")))?
            .try_into()?;
        let moved = exception_request::Entity::update_many()
            .col_expr(exception_request::Column::State, Expr::value(to.as_str()))
            .col_expr(
                exception_request::Column::DecidedBy,
                Expr::value(decided_by.to_owned()),
            )
            .col_expr(exception_request::Column::DecidedAt, Expr::value(now))
            .col_expr(
                exception_request::Column::DecisionNote,
                Expr::value(note.map(str::to_owned)),
            )
            .filter(exception_request::Column::Id.eq(id))
            .filter(exception_request::Column::State.eq(ExceptionRequestState::Proposed.as_str()))
            .exec(&*txn)
            .await?
            .rows_affected;
        if moved != 1 || to == ExceptionRequestState::Proposed {
            return Err(StoreError::Conflict(format!(
                "exception request {id} is already {}; a request is decided once",
                current.state
            )));
        }
        append_audit_in(
            &txn,
            self.audit_key.as_ref(),
            with_request_id(event, id),
            now,
        )
        .await?;
        let saved = exception_request::Entity::find_by_id(id)
            .one(&*txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("exception request {id}")))?;
        txn.commit().await?;
        saved.try_into()
    }

    /// One request.
    pub async fn exception_request(&self, id: i64) -> Result<ExceptionRequest, StoreError> {
        exception_request::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("exception request {id}")))?
            .try_into()
    }

    /// The latest requests, newest first, in `state` or in any; at most `limit`.
    pub async fn exception_requests(
        &self,
        state: Option<ExceptionRequestState>,
        limit: u64,
    ) -> Result<Vec<ExceptionRequest>, StoreError> {
        let mut q = exception_request::Entity::find();
        if let Some(s) = state {
            q = q.filter(exception_request::Column::State.eq(s.as_str()));
        }
        q.order_by_desc(exception_request::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Every request on one record, newest first.
    pub async fn exception_requests_for(
        &self,
        record_id: i64,
    ) -> Result<Vec<ExceptionRequest>, StoreError> {
        exception_request::Entity::find()
            .filter(exception_request::Column::RecordId.eq(record_id))
            .order_by_desc(exception_request::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// How many requests are in `state`.
    pub async fn count_exception_requests(
        &self,
        state: ExceptionRequestState,
    ) -> Result<u64, StoreError> {
        Ok(exception_request::Entity::find()
            .filter(exception_request::Column::State.eq(state.as_str()))
            .count(&self.db)
            .await?)
    }
}
