//! Roster's own non-human identities: its API tokens, listed by a built-in source (platform
//! `roster`) in every `roster sync`, so that they are inventoried and judged by the same rules
//! as any other credential (no expiry beyond policy, unused, no owner…).

use async_trait::async_trait;
use roster_connector_sdk::{Connector, ConnectorError, Listing, Page, PageToken};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, Status, Usage};
use roster_store::Store;

pub const RESOURCE_TYPE: &str = "roster.api_token";
/// The source's name in sync runs and record ids.
pub const SOURCE_NAME: &str = "roster";

pub struct ApiTokenSource {
    store: Store,
}

impl ApiTokenSource {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// What a token of this role may do, as the inventory rates privilege (the access policy says).
fn privilege(role: &str) -> Privilege {
    role.parse::<crate::access::Role>()
        .map_or(Privilege::Unknown, crate::access::Role::privilege)
}

#[async_trait]
impl Connector for ApiTokenSource {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        Ok(vec![Listing::new(RESOURCE_TYPE, "local")])
    }

    async fn list(
        &self,
        listing: &Listing,
        _page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let tokens = self
            .store
            .api_tokens()
            .await
            .map_err(|e| ConnectorError::Transport {
                url: "roster database".into(),
                detail: e.to_string(),
            })?;
        let records = tokens
            .into_iter()
            // A revoked token no longer exists as a credential; the sync marks it gone.
            .filter(|t| t.revoked_at.is_none())
            .map(|t| Record {
                key: RecordKey {
                    resource_type: listing.resource_type.clone(),
                    scope: listing.scope.clone(),
                    external_id: format!("api_token:{}", t.id),
                },
                platform: Platform::Roster,
                kind: Kind::ApiToken,
                name: t.name.clone(),
                parent: None,
                status: Status::Active,
                created_at: Some(t.created_at),
                last_used_at: t.last_used_at,
                // Roster sees every use of its own tokens.
                usage: if t.last_used_at.is_some() {
                    Usage::Used
                } else {
                    Usage::NeverUsed
                },
                expires_at: Some(t.expires_at),
                privilege: privilege(&t.role),
                privilege_detail: vec![format!("role:{}", t.role)],
                owner: Some(t.created_by.clone()),
                owner_source: Some("roster:created_by".into()),
                credential_fingerprint: None,
                signals: Vec::new(),
                interactive_sign_in: None,
                raw: serde_json::json!({
                    "id": t.id,
                    "name": t.name,
                    "prefix": t.prefix,
                    "role": t.role,
                    "created_by": t.created_by,
                    "created_at": t.created_at,
                    "expires_at": t.expires_at,
                }),
            })
            .collect();
        Ok(Page {
            records,
            next: None,
        })
    }
}
