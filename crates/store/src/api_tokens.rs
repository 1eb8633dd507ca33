//! API tokens. The caller makes the secret and hands over only its hash; this keeps the rows,
//! finds a live token by hash, and marks use and revocation.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::audit::{NewAuditEvent, append_audit_in};
use crate::entity::api_token;
use crate::{Store, StoreError};

/// How often a token's use is written down (`last_used_at`).
const USE_MARK_EVERY: chrono::Duration = chrono::Duration::minutes(1);

pub use api_token::Model as ApiToken;

/// A token to be stored: never the secret, only its hash.
pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub hash: &'a str,
    pub role: &'a str,
    pub created_by: &'a str,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn create_api_token(
        &self,
        t: NewApiToken<'_>,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, StoreError> {
        insert_token(&self.db, t, now).await
    }

    /// Creates a token and appends the event `event` makes of it, in one transaction: if the
    /// event cannot be written, there is no token.
    pub async fn create_api_token_audited(
        &self,
        t: NewApiToken<'_>,
        now: DateTime<Utc>,
        event: impl FnOnce(&ApiToken) -> NewAuditEvent,
    ) -> Result<ApiToken, StoreError> {
        let txn = self.begin_write().await?;
        let token = insert_token(&txn, t, now).await?;
        append_audit_in(&txn, self.audit_key.as_ref(), event(&token), now).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Every token, revoked and expired ones included, newest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(api_token::Entity::find()
            .order_by_desc(api_token::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The live token with this hash (not revoked, not expired at `now`), marking its use at
    /// most once a minute: a scraper reading `/metrics` every few seconds is not a write every
    /// few seconds (on SQLite each would queue behind a sync's writes).
    pub async fn use_api_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiToken>, StoreError> {
        let found = api_token::Entity::find()
            .filter(api_token::Column::Hash.eq(hash))
            .filter(api_token::Column::RevokedAt.is_null())
            .filter(api_token::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        if let Some(t) = found
            .as_ref()
            .filter(|t| t.last_used_at.is_none_or(|at| now - at >= USE_MARK_EVERY))
        {
            api_token::Entity::update_many()
                .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
                .filter(api_token::Column::Id.eq(t.id))
                .exec(&self.db)
                .await?;
        }
        Ok(found)
    }

    /// Revokes a token; false if there was no such live token.
    pub async fn revoke_api_token(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        revoke_token(&self.db, id, now).await
    }

    /// Revokes a token and appends `event`, in one transaction; false (and no event) if there
    /// was no such live token.
    pub async fn revoke_api_token_audited(
        &self,
        id: i64,
        event: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        if !revoke_token(&txn, id, now).await? {
            return Ok(false);
        }
        append_audit_in(&txn, self.audit_key.as_ref(), event, now).await?;
        txn.commit().await?;
        Ok(true)
    }
}

async fn insert_token(
    db: &impl ConnectionTrait,
    t: NewApiToken<'_>,
    now: DateTime<Utc>,
) -> Result<ApiToken, StoreError> {
    Ok(api_token::ActiveModel {
        name: Set(t.name.to_owned()),
        prefix: Set(t.prefix.to_owned()),
        hash: Set(t.hash.to_owned()),
        role: Set(t.role.to_owned()),
        created_by: Set(t.created_by.to_owned()),
        created_at: Set(now),
        expires_at: Set(t.expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

async fn revoke_token(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[tokio::test]
    async fn tokens_are_found_by_hash_until_revoked_or_expired() {
        for ts in crate::testing::test_stores().await.unwrap() {
            check(&ts.store).await;
        }
    }

    async fn check(store: &Store) {
        // Whole seconds: PostgreSQL keeps microseconds, and the test compares what it reads back.
        let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let t = store
            .create_api_token(
                NewApiToken {
                    name: "ci",
                    prefix: "roster_ab",
                    hash: "h1",
                    role: "auditor",
                    created_by: "a@x",
                    expires_at: now + Duration::days(30),
                },
                now,
            )
            .await
            .unwrap();
        assert!(store.use_api_token("nope", now).await.unwrap().is_none());
        let found = store.use_api_token("h1", now).await.unwrap().unwrap();
        assert_eq!(found.id, t.id);
        assert_eq!(store.api_tokens().await.unwrap()[0].last_used_at, Some(now));
        // Marked again only a minute on.
        let soon = now + Duration::seconds(10);
        store.use_api_token("h1", soon).await.unwrap().unwrap();
        assert_eq!(store.api_tokens().await.unwrap()[0].last_used_at, Some(now));
        let later = now + Duration::seconds(61);
        store.use_api_token("h1", later).await.unwrap().unwrap();
        assert_eq!(
            store.api_tokens().await.unwrap()[0].last_used_at,
            Some(later)
        );
        assert!(
            store
                .use_api_token("h1", now + Duration::days(31))
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert!(store.revoke_api_token(t.id, now).await.unwrap());
        assert!(!store.revoke_api_token(t.id, now).await.unwrap(), "once");
        assert!(
            store.use_api_token("h1", now).await.unwrap().is_none(),
            "revoked"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod audited_tests {
    use super::*;
    use crate::people::DirectoryEntry;
    use chrono::Duration;
    use sea_orm::{ConnectionTrait, Statement};

    fn event(action: &str) -> NewAuditEvent {
        NewAuditEvent {
            actor: "sso:admin@x".into(),
            action: action.into(),
            target: None,
            detail: serde_json::json!({}),
        }
    }

    /// With the audit table gone, the audited changes fail and leave nothing behind; with it,
    /// each change and its event land together.
    #[tokio::test]
    async fn a_change_whose_event_cannot_be_written_does_not_happen() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc::now();
            let new = |hash: &'static str| NewApiToken {
                name: "ci",
                prefix: "roster_ab",
                hash,
                role: "auditor",
                created_by: "a@x",
                expires_at: now + Duration::days(30),
            };
            let kept = s
                .create_api_token_audited(new("h0"), now, |_| event("api_token.create"))
                .await
                .unwrap();
            assert_eq!(s.verify_audit().await.unwrap().0, 1, "{}", t.backend);

            s.connection()
                .execute(Statement::from_string(
                    s.backend(),
                    "DROP TABLE audit_events",
                ))
                .await
                .unwrap();
            assert!(
                s.create_api_token_audited(new("h1"), now, |_| event("api_token.create"))
                    .await
                    .is_err()
            );
            assert_eq!(s.api_tokens().await.unwrap().len(), 1, "{}", t.backend);
            assert!(
                s.revoke_api_token_audited(kept.id, event("api_token.revoke"), now)
                    .await
                    .is_err()
            );
            assert!(
                s.api_tokens().await.unwrap()[0].revoked_at.is_none(),
                "not revoked ({})",
                t.backend
            );
            let people = [DirectoryEntry {
                key: "ana@x".into(),
                email: None,
                display_name: None,
                kind: "person".into(),
                active: true,
            }];
            assert!(
                s.import_directory_audited(
                    "csv",
                    &people,
                    now,
                    |_| Ok(()),
                    |_| event("people.import")
                )
                .await
                .is_err()
            );
            assert!(
                s.directory().await.unwrap().status("ana@x").is_none(),
                "not imported ({})",
                t.backend
            );
        }
    }
}
