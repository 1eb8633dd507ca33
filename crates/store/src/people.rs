//! The people directory: imports replace one source's view (an entry missing from a new import
//! of its source has left), and the risk rules read it as a [`Directory`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use roster_core::directory::Directory;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::audit::{NewAuditEvent, append_audit_in};
use crate::entity::{person, sync_run};
use crate::{Store, StoreError};

/// One entry of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub key: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `person` or `team`.
    pub kind: String,
    pub active: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Went inactive or vanished from the source in this import.
    pub departed: u64,
    /// The source's active entries before this import.
    pub active_before: u64,
}

/// The directory source of people seen signing in through single sign-on.
const SSO: &str = "sso";

impl Store {
    /// Replaces `source`'s entries with `entries`, in one transaction.
    pub async fn import_directory(
        &self,
        source: &str,
        entries: &[DirectoryEntry],
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, StoreError> {
        let txn = self.begin_write().await?;
        let summary = import_in(&txn, source, entries, now).await?;
        txn.commit().await?;
        Ok(summary)
    }

    /// [`Self::import_directory`] with the audit event `event` makes of its summary, in the same
    /// transaction: if the event cannot be written, nothing is imported. `check` sees the
    /// summary before the commit; its refusal ([`StoreError::Conflict`]) rolls the import back.
    pub async fn import_directory_audited(
        &self,
        source: &str,
        entries: &[DirectoryEntry],
        now: DateTime<Utc>,
        check: impl FnOnce(&ImportSummary) -> Result<(), String>,
        event: impl FnOnce(&ImportSummary) -> NewAuditEvent,
    ) -> Result<ImportSummary, StoreError> {
        let txn = self.begin_write().await?;
        let summary = import_in(&txn, source, entries, now).await?;
        check(&summary).map_err(StoreError::Conflict)?;
        append_audit_in(&txn, self.audit_key.as_ref(), event(&summary), now).await?;
        txn.commit().await?;
        Ok(summary)
    }

    /// Records one person seen signing in through single sign-on (source `sso`): added if new,
    /// else their email and name refreshed and marked present. Other `sso` entries are untouched.
    pub async fn record_sso_login(
        &self,
        key: &str,
        email: Option<&str>,
        display_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = key.trim().to_lowercase();
        if key.is_empty() {
            return Ok(());
        }
        let existing = person::Entity::find()
            .filter(person::Column::Source.eq(SSO))
            .filter(person::Column::Key.eq(key.as_str()))
            .one(&self.db)
            .await?;
        // Whom the change concerns: with an empty directory nothing was said of any owner, so
        // the first person makes every owned record's owner known or unknown.
        let names: Vec<String> = std::iter::once(key.clone())
            .chain(email.map(str::to_owned))
            .collect();
        let directory_was_empty =
            existing.is_none() && person::Entity::find().one(&self.db).await?.is_none();
        match existing {
            None => {
                person::ActiveModel {
                    source: Set(SSO.to_owned()),
                    key: Set(key),
                    email: Set(email.map(str::to_owned)),
                    display_name: Set(display_name.map(str::to_owned)),
                    kind: Set("person".to_owned()),
                    active: Set(true),
                    first_seen_at: Set(now),
                    last_seen_at: Set(now),
                    left_at: Set(None),
                    ..Default::default()
                }
                .insert(&self.db)
                .await?;
                if directory_was_empty {
                    Self::mark_owned_evaluations_due(&self.db).await?;
                } else {
                    Self::mark_owned_by_due(&self.db, &names).await?;
                }
            }
            Some(p) => {
                if !p.active {
                    Self::mark_owned_by_due(&self.db, &names).await?;
                }
                let mut m: person::ActiveModel = p.into();
                m.email = Set(email.map(str::to_owned));
                m.display_name = Set(display_name.map(str::to_owned));
                m.active = Set(true);
                m.last_seen_at = Set(now);
                m.left_at = Set(None);
                m.update(&self.db).await?;
            }
        }
        Ok(())
    }

    /// Every source's entries, as the risk rules read them.
    /// The directory as the owner rules read it. The imported sources (HR CSV, SCIM) are
    /// authoritative; single sign-on only adds people none of them knows, so a sign-in never
    /// keeps a leaver present.
    pub async fn directory(&self) -> Result<Directory, StoreError> {
        let mut d = Directory::default();
        let people = person::Entity::find().all(&self.db).await?;
        fn keys(p: &person::Model) -> Vec<&str> {
            std::iter::once(p.key.as_str())
                .chain(p.email.as_deref())
                .collect()
        }
        for p in people.iter().filter(|p| p.source != SSO) {
            d.insert(keys(p), p.active);
        }
        for p in people.iter().filter(|p| p.source == SSO) {
            d.insert_if_unknown(keys(p), p.active);
        }
        Ok(d)
    }

    /// Records the policy file's hash on a sync run (its stored evaluations were made with it).
    pub async fn set_run_policy_hash(&self, run_id: i64, hash: &str) -> Result<(), StoreError> {
        sync_run::Entity::update_many()
            .col_expr(
                sync_run::Column::PolicyHash,
                sea_orm::sea_query::Expr::value(hash),
            )
            .filter(sync_run::Column::Id.eq(run_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

async fn import_in(
    txn: &DatabaseTransaction,
    source: &str,
    entries: &[DirectoryEntry],
    now: DateTime<Utc>,
) -> Result<ImportSummary, StoreError> {
    let existing = person::Entity::find()
        .filter(person::Column::Source.eq(source))
        .all(txn)
        .await?;
    // Who is present or gone changes the owner rules of every owned record.
    Store::mark_owned_evaluations_due(txn).await?;
    // By key: a linear scan per entry made a re-import quadratic (40k people: 7 s).
    let by_key: std::collections::HashMap<&str, &person::Model> =
        existing.iter().map(|p| (p.key.as_str(), p)).collect();
    let mut summary = ImportSummary {
        active_before: existing.iter().filter(|p| p.active).count() as u64,
        ..ImportSummary::default()
    };
    let mut seen = HashSet::new();
    for e in entries {
        let key = e.key.trim().to_lowercase();
        if key.is_empty() || !seen.insert(key.clone()) {
            continue;
        }
        match by_key.get(key.as_str()).copied() {
            None => {
                person::ActiveModel {
                    source: Set(source.to_owned()),
                    key: Set(key),
                    email: Set(e.email.clone()),
                    display_name: Set(e.display_name.clone()),
                    kind: Set(e.kind.clone()),
                    active: Set(e.active),
                    first_seen_at: Set(now),
                    last_seen_at: Set(now),
                    left_at: Set((!e.active).then_some(now)),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                summary.added += 1;
            }
            Some(p) => {
                let same = p.email == e.email
                    && p.display_name == e.display_name
                    && p.kind == e.kind
                    && p.active == e.active;
                if p.active && !e.active {
                    summary.departed += 1;
                } else if same {
                    summary.unchanged += 1;
                } else {
                    summary.updated += 1;
                }
                let left_at = match (p.active, e.active) {
                    (true, false) => Some(now),
                    (_, true) => None,
                    (false, false) => p.left_at,
                };
                let mut m: person::ActiveModel = p.clone().into();
                m.email = Set(e.email.clone());
                m.display_name = Set(e.display_name.clone());
                m.kind = Set(e.kind.clone());
                m.active = Set(e.active);
                m.last_seen_at = Set(now);
                m.left_at = Set(left_at);
                m.update(txn).await?;
            }
        }
    }
    for p in existing
        .iter()
        .filter(|p| p.active && !seen.contains(&p.key))
    {
        let mut m: person::ActiveModel = p.clone().into();
        m.active = Set(false);
        m.left_at = Set(Some(now));
        m.update(txn).await?;
        summary.departed += 1;
    }
    Ok(summary)
}
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use roster_core::directory::OwnerStatus;

    fn person(key: &str, active: bool) -> DirectoryEntry {
        DirectoryEntry {
            key: key.into(),
            email: Some(format!("{key}@acme.example")),
            display_name: None,
            kind: "person".into(),
            active,
        }
    }

    #[tokio::test]
    async fn an_import_replaces_its_source_and_vanished_people_have_left() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
            let first = [
                person("alice", true),
                person("bob", true),
                person("carol", false),
            ];
            let sum = s.import_directory("csv:hr", &first, now).await.unwrap();
            assert_eq!((sum.added, sum.departed), (3, 0), "{}", t.backend);
            let d = s.directory().await.unwrap();
            assert_eq!(d.status("bob@acme.example"), Some(OwnerStatus::Present));
            assert_eq!(d.status("carol"), Some(OwnerStatus::Departed));
            // bob is gone from the next import; alice is unchanged.
            let sum = s
                .import_directory("csv:hr", &[person("alice", true)], now)
                .await
                .unwrap();
            assert_eq!((sum.unchanged, sum.departed), (1, 1), "{}", t.backend);
            let d = s.directory().await.unwrap();
            assert_eq!(d.status("bob"), Some(OwnerStatus::Departed));
            assert_eq!(d.status("alice"), Some(OwnerStatus::Present));
            // Another source's entry keeps bob present.
            s.import_directory("scim:okta", &[person("bob", true)], now)
                .await
                .unwrap();
            assert_eq!(
                s.directory().await.unwrap().status("bob"),
                Some(OwnerStatus::Present)
            );
        }
    }

    /// A leaver who once signed in through SSO is departed when the HR import drops them;
    /// someone only SSO knows is present.
    #[tokio::test]
    async fn single_sign_on_never_keeps_a_leaver_present() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
            s.import_directory("csv:hr", &[person("alice", true), person("bob", true)], now)
                .await
                .unwrap();
            s.record_sso_login("alice@acme.example", Some("alice@acme.example"), None, now)
                .await
                .unwrap();
            s.record_sso_login("frank@acme.example", Some("frank@acme.example"), None, now)
                .await
                .unwrap();
            s.import_directory("csv:hr", &[person("bob", true)], now)
                .await
                .unwrap();
            let d = s.directory().await.unwrap();
            assert_eq!(
                d.status("alice@acme.example"),
                Some(OwnerStatus::Departed),
                "{}",
                t.backend
            );
            assert_eq!(d.status("frank@acme.example"), Some(OwnerStatus::Present));
            assert_eq!(d.status("bob"), Some(OwnerStatus::Present));
        }
    }

    #[tokio::test]
    async fn a_single_sign_on_records_one_person() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
            s.record_sso_login("Dana@acme.example", Some("dana@acme.example"), None, now)
                .await
                .unwrap();
            s.record_sso_login("eve@acme.example", None, Some("Eve"), now)
                .await
                .unwrap();
            s.record_sso_login(
                "dana@acme.example",
                Some("dana@acme.example"),
                Some("Dana"),
                now,
            )
            .await
            .unwrap();
            let d = s.directory().await.unwrap();
            assert_eq!(
                d.status("dana@acme.example"),
                Some(OwnerStatus::Present),
                "{}",
                t.backend
            );
            assert_eq!(d.status("eve@acme.example"), Some(OwnerStatus::Present));
            let n = person::Entity::find().all(&s.db).await.unwrap().len();
            assert_eq!(n, 2, "upserted, not duplicated ({})", t.backend);
        }
    }
}
