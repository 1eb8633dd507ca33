//! API tokens. The caller makes the secret and hands over only its hash; this keeps the rows,
//! finds a live token by hash, and marks use and revocation.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entity::api_token;
use crate::{Store, StoreError};

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
        .insert(&self.db)
        .await?)
    }

    /// Every token, revoked and expired ones included, newest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(api_token::Entity::find()
            .order_by_desc(api_token::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The live token with this hash (not revoked, not expired at `now`), marking its use.
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
        if let Some(t) = &found {
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
        let res = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }
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
        let now = Utc::now();
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
        assert!(store.api_tokens().await.unwrap()[0].last_used_at.is_some());
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
