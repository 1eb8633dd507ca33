//! Ownership that flows: a credential with no owner of its own (none from its platform or the
//! policy) answers to its identity's owner. The inherited owner is stored on the credential's
//! row, with the source `inherited:<the identity's source>`, so every read (the owner filter,
//! an owner's own view, the orphaned list, the rules) sees it as it sees any owner; a credential
//! whose identity has no owner is left without one, and the rules call it orphaned.
//!
//! Only what sync writes changes an identity's owner, so a sync run ends with [`Store::inherit_owners`];
//! a credential's own owner (any source but `inherited:`) is never replaced.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, Statement};

use crate::{Store, StoreError};

/// The source prefix of an inherited owner.
pub const INHERITED: &str = "inherited:";

impl Store {
    /// Brings every live credential's inherited owner up to date with its identity's: set
    /// where the identity has an owner, changed where that owner changed, removed where the
    /// identity has none or is gone. Returns the credentials changed (their evaluations are
    /// then redone), and gives credentials left without one their identity's ownership claim. Set-based
    /// statements in one transaction.
    pub async fn inherit_owners(&self) -> Result<HashSet<i64>, StoreError> {
        let backend = self.db.get_database_backend();
        // The parent's source, as the credential's: `inherited:platform`, `inherited:aws_tag:owner`.
        let source = "'inherited:' || COALESCE(p.owner_source, 'platform')";
        let own = "(records.owner IS NULL OR records.owner_source LIKE 'inherited:%')";
        let set = format!(
            "UPDATE records SET owner = p.owner, owner_source = {source} \
             FROM records AS p \
             WHERE p.id = records.parent_id AND records.class = 'credential' \
             AND records.gone_run IS NULL AND {own} \
             AND p.owner IS NOT NULL AND p.gone_run IS NULL \
             AND (records.owner IS NULL OR records.owner <> p.owner \
                  OR records.owner_source <> {source}) \
             RETURNING records.id"
        );
        let clear = "UPDATE records SET owner = NULL, owner_source = NULL \
             WHERE class = 'credential' AND owner_source LIKE 'inherited:%' \
             AND NOT EXISTS (SELECT 1 FROM records AS p WHERE p.id = records.parent_id \
                             AND p.owner IS NOT NULL AND p.gone_run IS NULL) \
             RETURNING id";
        let txn = self.begin_write().await?;
        let mut changed = HashSet::new();
        for sql in [set.as_str(), clear] {
            for row in txn
                .query_all(Statement::from_string(backend, sql.to_owned()))
                .await?
            {
                changed.insert(row.try_get_by_index::<i64>(0)?);
            }
        }
        // Credentials still without an owner take their identity's claim (one that arrived
        // after the claim, or whose inherited owner just went).
        changed.extend(crate::claims::inherit_claims(&txn, None).await?);
        txn.commit().await?;
        Ok(changed)
    }
}
