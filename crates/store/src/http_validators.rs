//! The validators of conditional requests (`ETag`, `Link` and body per listing page URL), kept
//! per connector between sync runs. The connector SDK decides what goes in and bounds it; this
//! only loads a connector's set and replaces it after a run.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use crate::entity::http_validator;
use crate::{Store, StoreError};

/// One kept response of a connector.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpValidator {
    pub url: String,
    pub etag: String,
    pub link: Option<String>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpValidator")
            .field("url", &self.url)
            .field("etag", &self.etag)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Rows per INSERT: 5 columns each, far below the bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 200;

impl Store {
    /// What `connector` kept after its last run, in URL order.
    pub async fn http_validators(&self, connector: &str) -> Result<Vec<HttpValidator>, StoreError> {
        Ok(http_validator::Entity::find()
            .filter(http_validator::Column::Connector.eq(connector))
            .order_by_asc(http_validator::Column::Url)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| HttpValidator {
                url: m.url,
                etag: m.etag,
                link: m.link,
                body: m.body,
            })
            .collect())
    }

    /// Replaces `connector`'s validators with `validators`, in one transaction.
    pub async fn replace_http_validators(
        &self,
        connector: &str,
        validators: Vec<HttpValidator>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        http_validator::Entity::delete_many()
            .filter(http_validator::Column::Connector.eq(connector))
            .exec(&txn)
            .await?;
        let mut rows = validators.into_iter().map(|v| http_validator::ActiveModel {
            connector: Set(connector.to_owned()),
            url: Set(v.url),
            etag: Set(v.etag),
            link: Set(v.link),
            body: Set(v.body),
        });
        loop {
            let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
            if chunk.is_empty() {
                break;
            }
            http_validator::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn validator(url: &str, body: &[u8]) -> HttpValidator {
        HttpValidator {
            url: url.into(),
            etag: format!("\"{url}\""),
            link: Some(format!("<{url}?page=2>; rel=\"next\"")),
            body: body.to_vec(),
        }
    }

    #[tokio::test]
    async fn validators_are_replaced_per_connector() {
        for t in crate::testing::test_stores().await.unwrap() {
            let store = t.store;
            let a = vec![
                validator("https://h/a", b"[1]"),
                validator("https://h/b", b"[]"),
            ];
            store
                .replace_http_validators("gh", a.clone())
                .await
                .unwrap();
            store
                .replace_http_validators("other", vec![validator("https://h/a", b"{}")])
                .await
                .unwrap();
            assert_eq!(
                store.http_validators("gh").await.unwrap(),
                a,
                "{}",
                t.backend
            );
            let b = vec![validator("https://h/c", b"[2]")];
            store
                .replace_http_validators("gh", b.clone())
                .await
                .unwrap();
            assert_eq!(
                store.http_validators("gh").await.unwrap(),
                b,
                "{}",
                t.backend
            );
            assert_eq!(store.http_validators("other").await.unwrap().len(), 1);
        }
    }
}
