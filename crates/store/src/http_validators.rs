//! The validators of conditional requests (`ETag`, `Link` and body per listing page URL), kept
//! per connector between sync runs. The connector SDK decides what goes in and bounds it; this
//! loads a connector's set before a run and applies what the run changed after it (a page a
//! 304 confirmed is not written again).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

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

    /// Drops `connector`'s validators for the `stale` URLs and writes the `fresh` ones
    /// (replacing a stored copy), in one transaction.
    pub async fn update_http_validators(
        &self,
        connector: &str,
        stale: &[String],
        fresh: Vec<HttpValidator>,
    ) -> Result<(), StoreError> {
        if stale.is_empty() && fresh.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        let replaced: Vec<&str> = stale
            .iter()
            .map(String::as_str)
            .chain(fresh.iter().map(|v| v.url.as_str()))
            .collect();
        for chunk in replaced.chunks(ROWS_PER_STATEMENT) {
            http_validator::Entity::delete_many()
                .filter(http_validator::Column::Connector.eq(connector))
                .filter(http_validator::Column::Url.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        let mut rows = fresh.into_iter().map(|v| http_validator::ActiveModel {
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
    async fn validators_are_updated_per_connector() {
        for t in crate::testing::test_stores().await.unwrap() {
            let store = t.store;
            let a = validator("https://h/a", b"[1]");
            let b = validator("https://h/b", b"[]");
            store
                .update_http_validators("gh", &[], vec![a.clone(), b.clone()])
                .await
                .unwrap();
            store
                .update_http_validators("other", &[], vec![validator("https://h/a", b"{}")])
                .await
                .unwrap();
            assert_eq!(
                store.http_validators("gh").await.unwrap(),
                vec![a, b],
                "{}",
                t.backend
            );
            // b is stale, a is refetched with a new body, c is new.
            let a2 = validator("https://h/a", b"[1,2]");
            let c = validator("https://h/c", b"[2]");
            store
                .update_http_validators("gh", &["https://h/b".into()], vec![a2.clone(), c.clone()])
                .await
                .unwrap();
            assert_eq!(
                store.http_validators("gh").await.unwrap(),
                vec![a2, c],
                "{}",
                t.backend
            );
            assert_eq!(
                store.http_validators("other").await.unwrap()[0].body,
                b"{}".to_vec(),
                "another connector's validator is untouched"
            );
        }
    }
}
