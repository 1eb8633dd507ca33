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

/// The `claimed_by` prefix of a claim a credential holds through its identity's claim.
pub const INHERITED_CLAIM: &str = "inherited:";

/// Gives the live credentials without an owner (of their own, or inherited) the claim of their
/// identity, as `inherited:<who claimed the identity>`; an inherited claim follows a new claim
/// on the identity, and a credential's own claim is never replaced. `parent` limits it to one
/// identity's credentials. Returns the credentials whose claim was written.
pub(crate) async fn inherit_claims(
    db: &impl ConnectionTrait,
    parent: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    // An i64, formatted: nothing a person typed reaches the statement.
    let one = parent.map_or_else(String::new, |id| format!(" AND c.parent_id = {id}"));
    let sql = format!(
        "INSERT INTO ownership_claims (record_id, owner, claimed_by, claimed_at, note) \
         SELECT c.id, p.owner, '{INHERITED_CLAIM}' || p.claimed_by, p.claimed_at, \
                'claimed through its identity' \
         FROM records AS c JOIN ownership_claims AS p ON p.record_id = c.parent_id \
         WHERE c.class = 'credential' AND c.owner IS NULL AND c.gone_run IS NULL \
         AND p.claimed_by NOT LIKE '{INHERITED_CLAIM}%'{one} \
         ON CONFLICT (record_id) DO UPDATE SET owner = excluded.owner, \
             claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at, \
             note = excluded.note \
         WHERE ownership_claims.claimed_by LIKE '{INHERITED_CLAIM}%' \
         AND (ownership_claims.owner <> excluded.owner \
              OR ownership_claims.claimed_by <> excluded.claimed_by) \
         RETURNING record_id"
    );
    let backend = db.get_database_backend();
    let mut ids = Vec::new();
    for row in db
        .query_all(sea_orm::Statement::from_string(backend, sql))
        .await?
    {
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    Ok(ids)
}

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
        let txn = self.begin_write().await?;
        write_claim(&txn, record_id, owner, claimed_by, note, now).await?;
        txn.commit().await?;
        Ok(())
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
    // An identity's claim reaches its credentials that have no owner.
    let inherited = inherit_claims(db, Some(record_id)).await?;
    // The claimed owner changes what the rules say of the record and those credentials.
    crate::evaluation::mark_due_listed(
        db,
        sea_orm::Condition::all().add(
            crate::entity::record::Column::Id
                .is_in(std::iter::once(record_id).chain(inherited.iter().copied())),
        ),
    )
    .await?;
    Ok(())
}
