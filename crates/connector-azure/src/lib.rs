//! The `azure` connector: the non-human identities and credentials of one Microsoft Entra ID
//! tenant, read through Microsoft Graph with the client-credentials grant.
//!
//! | resource type | Graph endpoint(s) | kind |
//! |---|---|---|
//! | `azure.application` | `GET /v1.0/applications`, `…/{id}/owners` | app_installation |
//! | `azure.service_principal` | `GET /v1.0/servicePrincipals`, `…/{id}/owners`, `…/{id}/appRoleAssignments`, `/roleManagement/directory/roleAssignments` | service_account |
//! | `azure.client_secret` | `passwordCredentials` of every application | client_secret |
//! | `azure.certificate` | `keyCredentials` of every application | certificate |
//! | `azure.federated_credential` | `GET /v1.0/applications/{id}/federatedIdentityCredentials` | role |
//! | `azure.service_principal_secret` | `passwordCredentials` of every service principal itself | client_secret |
//! | `azure.service_principal_certificate` | `keyCredentials` of every service principal itself | certificate |
//!
//! Every listing's scope is the tenant id. An application's records (and its credentials')
//! carry the permissions granted to its service principal in this tenant (app role
//! assignments resolved through the resource's `appRoles`), the owners Entra records for it,
//! and sign-in activity from the beta reports API where the tenant allows it
//! (`no_telemetry` where it does not).
//!
//! **Not seen is not gone.** A 403 fails its listing with `Forbidden` naming the Graph
//! permission it needs; the sync engine reports the listing as not seen and sweeps nothing.
//! A `@odata.nextLink` to a host other than `graph_url` or Microsoft Graph's own is refused.
//!
//! **Remediation** (`remediation.rs`, off unless `[connectors.remediation] enabled = true`):
//! remove a client secret from its application (`POST /applications/{id}/removePassword`),
//! after reading the live application; a dry run makes the read and lists the call.

mod app_permission;
mod application;
mod certificate;
mod client_credentials;
mod client_secret;
mod common;
mod config;
mod directory_role;
mod federated_credential;
mod graph;
mod remediation;
mod service_principal;
mod service_principal_credential;
mod sign_in_activity;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use roster_connector_sdk::{
    Clock, Connector, ConnectorError, Listing, Page, PageToken, Remediator, SystemClock,
};
use roster_core::{Record, RecordKey};
use serde_json::Value;
use tokio::sync::Mutex;

pub use client_credentials::{CLIENT_ASSERTION_TYPE, CertificateKey};
pub use config::{AzureConfig, Credentials, DEFAULT_GRAPH_URL, RemediationConfig};
pub use federated_credential::{FederationScope, federation_scope};

use app_permission::PermissionCache;
use common::{APPLICATION_SELECT, OWNER_SELECT, Owner};
use graph::{Graph, forbidden};
use sign_in_activity::SignInReports;

/// Every resource type, in plan order.
const RESOURCES: &[&str] = &[
    application::RESOURCE,
    service_principal::RESOURCE,
    client_secret::RESOURCE,
    certificate::RESOURCE,
    federated_credential::RESOURCE,
    service_principal_credential::SECRET,
    service_principal_credential::CERTIFICATE,
];

/// Every resource type name the connector lists.
pub fn resource_types() -> Vec<&'static str> {
    RESOURCES.to_vec()
}

/// Most pages of one Graph collection before it counts as a pagination loop.
const MAX_PAGES: u64 = 10_000;

/// What listing applications needs.
const APPLICATIONS_NEEDS: &str = "Application.Read.All (application permission)";

pub struct AzureConnector {
    tenant: String,
    page_size: u32,
    max_secret_lifetime_days: i64,
    include_microsoft_apps: bool,
    remediation: RemediationConfig,
    graph: Graph,
    permissions: PermissionCache,
    sign_ins: SignInReports,
    /// Owners of applications by object id, shared by the app and credential listings.
    app_owners: Mutex<HashMap<String, Vec<Owner>>>,
}

impl std::fmt::Debug for AzureConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureConnector")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl AzureConnector {
    /// The connector of a `[[connectors]] kind = "azure"` entry: credentials from the process
    /// environment or files, the system clock.
    pub fn new(config: AzureConfig) -> Result<Self, ConnectorError> {
        let credentials = config.credentials(|name| std::env::var(name).ok())?;
        Self::with_credentials(config, credentials, Arc::new(SystemClock))
    }

    /// The connector with credentials and a clock given (tests: a fake clock).
    pub fn with_credentials(
        config: AzureConfig,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        config.validate_common()?;
        let graph = Graph::new(
            config.graph_base()?,
            config.token_endpoint()?,
            config.client_id.trim().to_string(),
            config.token_scope(),
            credentials,
            clock,
        )?;
        Ok(Self {
            tenant: config.tenant_id.trim().to_string(),
            page_size: config.page_size,
            max_secret_lifetime_days: config.max_secret_lifetime_days,
            include_microsoft_apps: config.include_microsoft_apps,
            remediation: config.remediation,
            graph,
            permissions: PermissionCache::default(),
            sign_ins: SignInReports::default(),
            app_owners: Mutex::new(HashMap::new()),
        })
    }

    /// The key of an application's record, which its credentials name as their parent.
    pub(crate) fn application_key(&self, object_id: &str) -> RecordKey {
        RecordKey {
            resource_type: application::RESOURCE.to_string(),
            scope: self.tenant.clone(),
            external_id: object_id.to_string(),
        }
    }

    /// The key of a service principal's record, which its own credentials name as their parent.
    pub(crate) fn service_principal_key(&self, object_id: &str) -> RecordKey {
        RecordKey {
            resource_type: service_principal::RESOURCE.to_string(),
            scope: self.tenant.clone(),
            external_id: object_id.to_string(),
        }
    }

    /// The owners of the application `object_id` (remembered for this run).
    pub(crate) async fn owners_of_application(
        &self,
        object_id: &str,
    ) -> Result<Vec<Owner>, ConnectorError> {
        if let Some(o) = self.app_owners.lock().await.get(object_id) {
            return Ok(o.clone());
        }
        let owners: Vec<Owner> = self
            .graph
            .all(
                &format!("v1.0/applications/{object_id}/owners?$select={OWNER_SELECT}"),
                MAX_PAGES,
            )
            .await
            .map_err(|e| forbidden(e, APPLICATIONS_NEEDS))?;
        self.app_owners
            .lock()
            .await
            .insert(object_id.to_string(), owners.clone());
        Ok(owners)
    }

    /// The owners of this tenant's application with client id `app_id`, by Graph's alternate
    /// key (`applications(appId='…')`); `None` when the tenant has no such application (a
    /// service principal of another tenant's app, or one deleted meanwhile).
    pub(crate) async fn owners_of_application_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<Option<Vec<Owner>>, ConnectorError> {
        let key = format!("appId:{app_id}");
        if let Some(o) = self.app_owners.lock().await.get(&key) {
            return Ok(Some(o.clone()));
        }
        let app_id = app_id.replace('\'', "''");
        match self
            .graph
            .all(
                &format!("v1.0/applications(appId='{app_id}')/owners?$select={OWNER_SELECT}"),
                MAX_PAGES,
            )
            .await
        {
            Ok(owners) => {
                self.app_owners.lock().await.insert(key, owners.clone());
                Ok(Some(owners))
            }
            Err(ConnectorError::NotFound { .. }) => Ok(None),
            Err(e) => Err(forbidden(e, APPLICATIONS_NEEDS)),
        }
    }

    fn first_url(&self, resource_type: &str) -> String {
        if resource_type == service_principal::RESOURCE {
            format!(
                "v1.0/servicePrincipals?$select={}&$top={}",
                service_principal::SELECT,
                self.page_size
            )
        } else if Self::of_service_principals(resource_type) {
            format!(
                "v1.0/servicePrincipals?$select={}&$top={}",
                service_principal_credential::SELECT,
                self.page_size
            )
        } else {
            format!(
                "v1.0/applications?$select={APPLICATION_SELECT}&$top={}",
                self.page_size
            )
        }
    }

    /// Listings read from `servicePrincipals` (the others from `applications`).
    fn of_service_principals(resource_type: &str) -> bool {
        [
            service_principal::RESOURCE,
            service_principal_credential::SECRET,
            service_principal_credential::CERTIFICATE,
        ]
        .contains(&resource_type)
    }

    fn needs(resource_type: &str) -> &'static str {
        if Self::of_service_principals(resource_type) {
            service_principal::NEEDS
        } else {
            APPLICATIONS_NEEDS
        }
    }
}

/// Whether `token` is a Graph URL this connector could have handed out (under `graph_url`).
fn token_url(
    c: &AzureConnector,
    listing: &Listing,
    token: &PageToken,
) -> Result<String, ConnectorError> {
    let url = url::Url::parse(&token.0).map_err(|_| ConnectorError::Malformed {
        url: listing.to_string(),
        detail: "page token was not made by this connector".into(),
    })?;
    if !url.as_str().starts_with(c.graph.base_url().as_str()) {
        return Err(ConnectorError::Malformed {
            url: listing.to_string(),
            detail: "page token was not made by this connector".into(),
        });
    }
    Ok(token.0.clone())
}

#[async_trait]
impl Connector for AzureConnector {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        Ok(RESOURCES
            .iter()
            .map(|r| Listing::new(*r, &self.tenant))
            .collect())
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let resource = RESOURCES
            .iter()
            .find(|r| **r == listing.resource_type)
            .copied();
        let Some(resource) = resource.filter(|_| listing.scope == self.tenant) else {
            return Err(ConnectorError::NotFound {
                url: listing.to_string(),
            });
        };
        let url = match page {
            Some(t) => token_url(self, listing, t)?,
            None => self.first_url(resource),
        };
        let (items, next, at) = self
            .graph
            .page::<Value>(&url)
            .await
            .map_err(|e| forbidden(e, Self::needs(resource)))?;
        let records: Vec<Record> = match resource {
            application::RESOURCE => application::records(self, items, &at).await?,
            service_principal::RESOURCE => service_principal::records(self, items, &at).await?,
            client_secret::RESOURCE => client_secret::records(self, items, &at).await?,
            certificate::RESOURCE => certificate::records(self, items, &at).await?,
            service_principal_credential::SECRET | service_principal_credential::CERTIFICATE => {
                service_principal_credential::records(self, resource, items, &at).await?
            }
            _ => federated_credential::records(self, items, &at).await?,
        };
        Ok(Page {
            records,
            next: next.map(PageToken),
        })
    }

    fn remediator(&self) -> Option<&dyn Remediator> {
        Some(self)
    }
}

/// A body item that does not parse as what Graph documents.
pub(crate) fn malformed(url: &url::Url, detail: String) -> ConnectorError {
    ConnectorError::Malformed {
        url: url.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    /// Every rule id this crate signals is in core's catalogue, so the risk engine turns it into
    /// a finding instead of dropping it.
    #[test]
    fn signalled_rules_are_in_the_platform_catalogue() {
        let sources = [
            include_str!("application.rs"),
            include_str!("client_secret.rs"),
            include_str!("federated_credential.rs"),
        ];
        let mut ids = Vec::new();
        for src in sources {
            for part in src.split("Signal::new(").skip(1) {
                let id = part.trim_start().trim_start_matches('"');
                let id = &id[..id.find('"').unwrap_or(0)];
                ids.push(id.to_string());
            }
        }
        assert_eq!(ids.len(), 3, "{ids:?}");
        for id in ids {
            assert!(
                roster_core::platform_rule(&id).is_some(),
                "{id} is not in roster_core::PLATFORM_RULES"
            );
        }
    }
}
