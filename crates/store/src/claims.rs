//! Ownership claims, the third source of ownership (after `[[owners]]` and the platform). The
//! caller audits each claim; this keeps the current one per record.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};

use crate::entity::ownership_claim;
use crate::{Store, StoreError};

pub use ownership_claim::Model as OwnershipClaim;

impl Store {
    /// Records `claimed_by`'s claim that `owner` owns `record_id`, replacing an earlier claim.
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
        .exec(&self.db)
        .await?;
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
