//! Ownership claims, the third source of ownership (after `[[owners]]` and the platform). Each
//! claim is audited: [`Store::claim_ownership_audited`] writes the claim and its event in one
//! transaction. This keeps the current claim per record.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Set};

use crate::audit::{NewAuditEvent, append_audit_in};
use crate::entity::ownership_claim;
use crate::{Store, StoreError};

pub use ownership_claim::Model as OwnershipClaim;

impl Store {
    /// Records `claimed_by`'s claim that `owner` owns `record_id`, replacing an earlier claim.
    /// Unaudited: callers that change state for a person use [`Self::claim_ownership_audited`].
    pub async fn claim_ownership(
        &self,
        record_id: i64,
        owner: &str,
        claimed_by: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The record must exist: a claim on nothing is a typo.
        self.record(record_id).await?;
        write_claim(&self.db, record_id, owner, claimed_by, note, now).await
    }

    /// The claim and its audit event in one transaction: if the event cannot be written, the
    /// claim is not made.
    pub async fn claim_ownership_audited(
        &self,
        record_id: i64,
        owner: &str,
        claimed_by: &str,
        note: &str,
        event: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.record(record_id).await?;
        let txn = self.begin_write().await?;
        write_claim(&txn, record_id, owner, claimed_by, note, now).await?;
        append_audit_in(&txn, self.audit_key.as_ref(), event, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every current claim by record id.
    pub async fn ownership_claims(&self) -> Result<HashMap<i64, OwnershipClaim>, StoreError> {
        Ok(ownership_claim::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.record_id, c))
            .collect())
    }
}

async fn write_claim(
    db: &impl ConnectionTrait,
    record_id: i64,
    owner: &str,
    claimed_by: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    ownership_claim::Entity::insert(ownership_claim::ActiveModel {
        record_id: Set(record_id),
        owner: Set(owner.to_owned()),
        claimed_by: Set(claimed_by.to_owned()),
        claimed_at: Set(now),
        note: Set(note.to_owned()),
    })
    .on_conflict(
        OnConflict::column(ownership_claim::Column::RecordId)
            .update_columns([
                ownership_claim::Column::Owner,
                ownership_claim::Column::ClaimedBy,
                ownership_claim::Column::ClaimedAt,
                ownership_claim::Column::Note,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    // The claimed owner changes what the rules say of the record.
    crate::evaluation::mark_due_listed(
        db,
        sea_orm::Condition::all().add(crate::entity::record::Column::Id.eq(record_id)),
    )
    .await?;
    Ok(())
}
