//! The `gcp` connector: the non-human identities and credentials of one or more GCP projects.
//!
//! | resource type | Google API (v1) | kind |
//! |---|---|---|
//! | `gcp.service_account` | IAM `GET projects/{p}/serviceAccounts` | service_account |
//! | `gcp.service_account_key` | IAM `GET projects/{p}/serviceAccounts/{email}/keys?keyTypes=USER_MANAGED` per account | service_account_key |
//! | `gcp.workload_identity_pool` | IAM `GET projects/{p}/locations/global/workloadIdentityPools` | role |
//! | `gcp.workload_identity_provider` | IAM `GET …/workloadIdentityPools/{pool}/providers` per pool | role |
//!
//! Every listing's scope is the project id. Accounts and keys also read the project's IAM
//! policy (Resource Manager `POST projects/{p}:getIamPolicy`) for their privilege, and the
//! Policy Analyzer activity API (`serviceAccountLastAuthentication`,
//! `serviceAccountKeyLastAuthentication`) for their last authentication; both are read once
//! per listing, on its first page.
//!
//! **Not seen is not gone.** A 403 or 404 on a project's listing fails that listing with
//! `Forbidden` naming the permission it needs; the sync engine reports it and sweeps nothing
//! there. An IAM policy or activity API that answers 403 leaves privilege `unknown` or usage
//! `no_telemetry` (with the reason in the record) instead of failing the inventory; any other
//! failure of either fails the listing.
//!
//! **Remediation** (`remediation.rs`, off unless `[connectors.remediation] enabled = true`):
//! disable a user-managed key, then delete it once it has been disabled for
//! `delete_after_days`.

mod api;
mod auth;
mod common;
mod config;
mod federation_condition;
mod last_authentication;
mod project_iam_policy;
mod remediation;
mod service_account;
mod service_account_key;
pub mod testing;
mod workload_identity_pool;
mod workload_identity_provider;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use roster_connector_sdk::walk::{Children, Fetched, Walk, walk};
use roster_connector_sdk::{
    Clock, Connector, ConnectorError, Fingerprint, Listing, Page, PageCursor, PageLimit, PageToken,
    Remediator, SystemClock,
};
use roster_core::Record;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub use auth::{
    CLOUD_PLATFORM_SCOPE, Credentials, ExternalAccount, ServiceAccountKey, read_credentials_file,
};
pub use config::{DEFAULT_MAX_PAGES, GcpConfig, RemediationConfig};

use api::{Api, Service};
use last_authentication::Telemetry;
use project_iam_policy::{Policy, PolicyView};

/// Every resource type, in the order the plan lists them per project.
const RESOURCE_TYPES: &[&str] = &[
    service_account::RESOURCE_TYPE,
    service_account_key::RESOURCE_TYPE,
    workload_identity_pool::RESOURCE_TYPE,
    workload_identity_provider::RESOURCE_TYPE,
];

/// Every resource type name the connector lists, per project.
pub fn resource_types() -> Vec<&'static str> {
    RESOURCE_TYPES.to_vec()
}

pub struct GcpConnector {
    projects: Vec<String>,
    page_size: u32,
    max_pages: u64,
    activity: bool,
    remediation: RemediationConfig,
    api: Api,
    /// The IAM policy and activity read on the first page of a listing, for its later pages;
    /// keyed by (resource type, project).
    views: Mutex<HashMap<(String, String), Arc<ProjectView>>>,
}

impl std::fmt::Debug for GcpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpConnector")
            .field("projects", &self.projects)
            .finish_non_exhaustive()
    }
}

/// What a project says about its accounts and keys beyond their listings.
struct ProjectView {
    policy: PolicyView,
    telemetry: Telemetry,
}

/// A service account (keys walk) or a pool (providers walk).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Parent {
    /// The account's email or the pool's id: the URL path segment.
    #[serde(rename = "n")]
    name: String,
    /// The parent record's external id.
    #[serde(rename = "i")]
    id: String,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

/// Google hides what a credential may not see behind 404 as well as 403 (and a project that
/// does not exist looks the same): both mean "not seen", with the permission needed.
fn forbidden(error: ConnectorError, needs: &str) -> ConnectorError {
    match error {
        ConnectorError::Forbidden { url, needs: None } | ConnectorError::NotFound { url } => {
            ConnectorError::Forbidden {
                url,
                needs: Some(needs.to_string()),
            }
        }
        other => other,
    }
}

/// The items of a list response (`{"accounts": [...], "nextPageToken": "…"}`) and its next
/// token. Google omits an empty array, so a missing member is an empty page.
fn items_of(
    body: Value,
    field: &str,
    url: &url::Url,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let malformed = |detail: String| ConnectorError::Malformed {
        url: url.to_string(),
        detail,
    };
    let Value::Object(mut m) = body else {
        return Err(malformed("expected a JSON object".into()));
    };
    let items = match m.remove(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(malformed(format!("`{field}` is not an array"))),
    };
    let next = match m.remove("nextPageToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s).filter(|s| !s.is_empty()),
        Some(_) => return Err(malformed("`nextPageToken` is not a string".into())),
    };
    Ok((items, next))
}

/// `path?pageSize=N[&pageToken=T]`.
fn page_url(path: &str, page_size: u32, token: Option<&str>) -> String {
    let mut url = format!("{path}?pageSize={page_size}");
    if let Some(t) = token {
        url.push_str("&pageToken=");
        url.extend(url::form_urlencoded::byte_serialize(t.as_bytes()));
    }
    url
}

impl GcpConnector {
    /// The connector of a `[[connectors]] kind = "gcp"` entry: credentials from the file or the
    /// process environment, the system clock.
    pub fn new(config: GcpConfig) -> Result<Self, ConnectorError> {
        let credentials = auth::credentials(&config, |name| std::env::var(name).ok())?;
        Self::with_credentials(config, credentials, Arc::new(SystemClock))
    }

    /// The connector with credentials and a clock given (tests: a fake clock).
    pub fn with_credentials(
        config: GcpConfig,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let api = Api::new(config.endpoints()?, credentials, clock)?;
        if config.projects.is_empty() || !config.projects.iter().all(|p| config::is_project_id(p)) {
            return Err(ConnectorError::Config(
                "`projects` must list GCP project ids".into(),
            ));
        }
        Ok(Self {
            projects: config.projects.clone(),
            page_size: config.page_size.clamp(1, 100),
            max_pages: config.max_pages.unwrap_or(DEFAULT_MAX_PAGES),
            activity: config.activity,
            remediation: config.remediation,
            api,
            views: Mutex::new(HashMap::new()),
        })
    }

    fn project(&self, scope: &str) -> Result<&str, ConnectorError> {
        self.projects
            .iter()
            .find(|p| *p == scope)
            .map(String::as_str)
            .ok_or_else(|| ConnectorError::NotFound {
                url: format!("project {scope} is not configured"),
            })
    }

    fn limit<'a>(&self, listing: &'a Listing) -> PageLimit<'a> {
        PageLimit::new(listing, self.max_pages)
    }

    /// The project's IAM policy; 403/404 leave it unreadable rather than failing the listing.
    async fn project_policy(&self, project: &str) -> Result<PolicyView, ConnectorError> {
        let path = format!("v1/projects/{project}:getIamPolicy");
        let body = json!({"options": {"requestedPolicyVersion": 3}});
        match self
            .api
            .post_json::<Policy>(Service::ResourceManager, &path, &body)
            .await
        {
            Ok((policy, _)) => Ok(PolicyView::from_policy(policy)),
            Err(ConnectorError::Forbidden { url, .. }) => {
                tracing::warn!(%url, project, "project IAM policy not readable; privilege is unknown");
                Ok(PolicyView::Unreadable(format!(
                    "HTTP 403 at {url} (needs resourcemanager.projects.getIamPolicy, e.g. roles/iam.securityReviewer)"
                )))
            }
            Err(ConnectorError::NotFound { url }) => {
                Ok(PolicyView::Unreadable(format!("HTTP 404 at {url}")))
            }
            Err(e) => Err(e),
        }
    }

    /// The listing's view of the project: read afresh on its first page, reused on later ones.
    async fn view(
        &self,
        listing: &Listing,
        project: &str,
        first_page: bool,
        activity_type: &str,
    ) -> Result<Arc<ProjectView>, ConnectorError> {
        let key = (listing.resource_type.clone(), project.to_string());
        if !first_page && let Some(v) = self.views.lock().await.get(&key) {
            return Ok(v.clone());
        }
        let policy = self.project_policy(project).await?;
        let telemetry = if self.activity {
            last_authentication::load(
                &self.api,
                project,
                activity_type,
                self.page_size,
                self.max_pages,
            )
            .await?
        } else {
            Telemetry::Off
        };
        let view = Arc::new(ProjectView { policy, telemetry });
        self.views.lock().await.insert(key, view.clone());
        Ok(view)
    }

    async fn list_service_accounts(
        &self,
        listing: &Listing,
        project: &str,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let mut cursor = PageToken::state::<PageCursor>(listing, page)?;
        let view = self
            .view(
                listing,
                project,
                page.is_none(),
                last_authentication::SERVICE_ACCOUNT_ACTIVITY,
            )
            .await?;
        let url = page_url(
            &format!("v1/projects/{project}/serviceAccounts"),
            self.page_size,
            cursor.at(),
        );
        let response = self
            .api
            .get::<Value>(Service::Iam, &url)
            .await
            .map_err(|e| forbidden(e, service_account::NEEDS))?;
        let (items, next) = items_of(response.body, "accounts", &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let accounts = service_account::AccountView {
            policy: &view.policy,
            telemetry: &view.telemetry,
        };
        let records = items
            .into_iter()
            .map(|item| service_account::map(project, item, &accounts))
            .collect::<Result<Vec<Record>, String>>()
            .map_err(|detail| ConnectorError::Malformed {
                url: response.url.to_string(),
                detail,
            })?;
        let next = cursor.next_token(
            self.limit(listing),
            response.url.as_str(),
            fingerprint,
            next,
        )?;
        Ok(Page { records, next })
    }

    async fn list_pools(
        &self,
        listing: &Listing,
        project: &str,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let mut cursor = PageToken::state::<PageCursor>(listing, page)?;
        let url = page_url(
            &format!("v1/projects/{project}/locations/global/workloadIdentityPools"),
            self.page_size,
            cursor.at(),
        );
        let response = self
            .api
            .get::<Value>(Service::Iam, &url)
            .await
            .map_err(|e| forbidden(e, workload_identity_pool::NEEDS))?;
        let (items, next) = items_of(response.body, "workloadIdentityPools", &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            let mapped = workload_identity_pool::map(project, item).map_err(|detail| {
                ConnectorError::Malformed {
                    url: response.url.to_string(),
                    detail,
                }
            })?;
            records.extend(mapped);
        }
        let next = cursor.next_token(
            self.limit(listing),
            response.url.as_str(),
            fingerprint,
            next,
        )?;
        Ok(Page { records, next })
    }

    /// One page of a per-parent listing: keys per account, or providers per pool.
    async fn list_per_parent(
        &self,
        listing: &Listing,
        project: &str,
        page: Option<&PageToken>,
        providers: bool,
    ) -> Result<Page, ConnectorError> {
        let view = if providers {
            None
        } else {
            Some(
                self.view(
                    listing,
                    project,
                    page.is_none(),
                    last_authentication::KEY_ACTIVITY,
                )
                .await?,
            )
        };
        let by_parent = ParentWalk {
            connector: self,
            listing,
            project,
            view,
        };
        walk(
            &by_parent,
            listing,
            page,
            self.max_pages,
            self.page_size as usize,
        )
        .await
    }
}

/// A per-parent listing: the project's accounts then each one's keys (`view` given), or its
/// pools then each one's providers.
struct ParentWalk<'a> {
    connector: &'a GcpConnector,
    listing: &'a Listing,
    project: &'a str,
    view: Option<Arc<ProjectView>>,
}

#[async_trait]
impl Walk for ParentWalk<'_> {
    type Parent = Parent;

    async fn parents(&self, at: Option<&str>) -> Result<Fetched<Parent>, ConnectorError> {
        let project = self.project;
        let providers = self.view.is_none();
        let (path, field, needs) = if providers {
            (
                format!("v1/projects/{project}/locations/global/workloadIdentityPools"),
                "workloadIdentityPools",
                workload_identity_pool::NEEDS,
            )
        } else {
            (
                format!("v1/projects/{project}/serviceAccounts"),
                "accounts",
                service_account::NEEDS,
            )
        };
        let url = page_url(&path, self.connector.page_size, at);
        let response = self
            .connector
            .api
            .get::<Value>(Service::Iam, &url)
            .await
            .map_err(|e| forbidden(e, needs))?;
        let (items, next) = items_of(response.body, field, &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let malformed = |detail: String| ConnectorError::Malformed {
            url: response.url.to_string(),
            detail,
        };
        let mut parents = Vec::with_capacity(items.len());
        for item in items {
            let parent = if providers {
                let pool: workload_identity_pool::WorkloadIdentityPool =
                    common::decode(&item).map_err(malformed)?;
                if pool.state.as_deref() == Some("DELETED") {
                    continue;
                }
                let id = pool.id().map_err(malformed)?.to_string();
                Parent {
                    name: id.clone(),
                    id,
                    owner: None,
                }
            } else {
                let sa: service_account::ServiceAccount =
                    common::decode::<service_account::ServiceAccount>(&item)
                        .and_then(service_account::ServiceAccount::checked)
                        .map_err(malformed)?;
                Parent {
                    id: sa.external_id().to_string(),
                    owner: common::owner_in_description(sa.description.as_deref()),
                    name: sa.email,
                }
            };
            parents.push(parent);
        }
        Ok(Fetched {
            items: parents,
            fingerprint,
            url: response.url,
            next,
        })
    }

    async fn children(
        &self,
        parent: &Parent,
        at: Option<&str>,
    ) -> Result<Children, ConnectorError> {
        let project = self.project;
        let (url, needs, field) = match self.view {
            None => (
                page_url(
                    &format!(
                        "v1/projects/{project}/locations/global/workloadIdentityPools/{}/providers",
                        parent.name
                    ),
                    self.connector.page_size,
                    at,
                ),
                workload_identity_provider::NEEDS,
                "workloadIdentityPoolProviders",
            ),
            Some(_) => (
                format!(
                    "v1/projects/{project}/serviceAccounts/{}/keys?keyTypes=USER_MANAGED",
                    parent.name
                ),
                service_account_key::NEEDS,
                "keys",
            ),
        };
        let response = match self.connector.api.get::<Value>(Service::Iam, &url).await {
            Ok(r) => r,
            Err(ConnectorError::NotFound { .. }) => {
                // Deleted between the parents page and now: its children are gone too.
                tracing::warn!(parent = %parent.name, listing = %self.listing, "deleted during the sync; skipped");
                return Ok(Children::Gone { requests: 1 });
            }
            Err(e) => return Err(forbidden(e, needs)),
        };
        let (items, next) = items_of(response.body, field, &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let malformed = |detail: String| ConnectorError::Malformed {
            url: response.url.to_string(),
            detail,
        };
        let mut records = Vec::new();
        match &self.view {
            None => {
                for item in items {
                    records.extend(
                        workload_identity_provider::map(project, &parent.name, item)
                            .map_err(malformed)?,
                    );
                }
            }
            Some(view) => {
                let privileges = view.policy.for_service_account(&parent.name, project);
                let account = service_account_key::Account {
                    email: &parent.name,
                    external_id: &parent.id,
                    owner: parent.owner.as_deref(),
                    privileges: &privileges,
                };
                for item in items {
                    records.extend(
                        service_account_key::map(project, item, &account, &view.telemetry)
                            .map_err(malformed)?,
                    );
                }
            }
        }
        Ok(Children::Page(Fetched {
            items: records,
            fingerprint,
            url: response.url,
            // Key listings are not paged; provider listings are.
            next: next.filter(|_| self.view.is_none()),
        }))
    }
}

#[async_trait]
impl Connector for GcpConnector {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        Ok(self
            .projects
            .iter()
            .flat_map(|p| RESOURCE_TYPES.iter().map(move |r| Listing::new(*r, p)))
            .collect())
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let project = self.project(&listing.scope)?;
        match listing.resource_type.as_str() {
            service_account::RESOURCE_TYPE => {
                self.list_service_accounts(listing, project, page).await
            }
            service_account_key::RESOURCE_TYPE => {
                self.list_per_parent(listing, project, page, false).await
            }
            workload_identity_pool::RESOURCE_TYPE => self.list_pools(listing, project, page).await,
            workload_identity_provider::RESOURCE_TYPE => {
                self.list_per_parent(listing, project, page, true).await
            }
            _ => Err(ConnectorError::NotFound {
                url: listing.to_string(),
            }),
        }
    }

    fn remediator(&self) -> Option<&dyn Remediator> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page token is opaque data in the query: even one shaped like a URL to another host
    /// cannot move the request off the configured base URL.
    #[test]
    fn page_tokens_stay_in_the_query() {
        let url = page_url(
            "v1/projects/acme-prod/serviceAccounts",
            100,
            Some("https://evil.example.com/steal?x=1&y=2#f"),
        );
        assert_eq!(
            url,
            "v1/projects/acme-prod/serviceAccounts?pageSize=100&pageToken=https%3A%2F%2Fevil.example.com%2Fsteal%3Fx%3D1%26y%3D2%23f"
        );
        let base = url::Url::parse("http://127.0.0.1:9/").unwrap();
        assert_eq!(base.join(&url).unwrap().host_str(), Some("127.0.0.1"));
    }

    #[test]
    fn list_bodies_without_their_array_are_empty_pages() {
        let u = url::Url::parse("http://127.0.0.1:9/x").unwrap();
        let (items, next) = items_of(json!({}), "accounts", &u).unwrap();
        assert!(items.is_empty() && next.is_none());
        let (_, next) =
            items_of(json!({"accounts": [], "nextPageToken": ""}), "accounts", &u).unwrap();
        assert!(next.is_none(), "an empty token means the last page");
    }

    /// Every rule id this crate signals is in core's catalogue, so the risk engine turns it into
    /// a finding instead of dropping it.
    #[test]
    fn signalled_rules_are_in_the_platform_catalogue() {
        for id in [
            crate::service_account::BASIC_ROLE_RULE,
            crate::workload_identity_provider::NO_CONDITION_RULE,
            crate::workload_identity_provider::WIDE_CONDITION_RULE,
        ] {
            assert!(
                roster_core::platform_rule(id).is_some(),
                "{id} is not in roster_core::PLATFORM_RULES"
            );
        }
    }
}

/// Issue 18: no response body can panic the decoders. Any JSON, item-shaped objects of any
/// field types, and the fixture estate's bodies with one node replaced or removed, through
/// `items_of`, every mapper, the IAM policy view and the federation condition reader: records,
/// or an error naming the URL or the item and what was wrong.
#[cfg(test)]
mod never_panics {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;
    use roster_connector_sdk::json_props;
    use serde_json::json;

    const FIELDS: &[&str] = &[
        "name",
        "email",
        "uniqueId",
        "projectId",
        "displayName",
        "description",
        "disabled",
        "oauth2ClientId",
        "keyType",
        "keyOrigin",
        "keyAlgorithm",
        "validAfterTime",
        "validBeforeTime",
        "privateKeyData",
        "publicKeyData",
        "state",
        "oidc",
        "aws",
        "saml",
        "issuerUri",
        "allowedAudiences",
        "attributeMapping",
        "attributeCondition",
        "bindings",
        "role",
        "members",
        "condition",
        "expression",
        "title",
        "etag",
        "version",
        "accounts",
        "keys",
        "workloadIdentityPools",
        "workloadIdentityPoolProviders",
        "nextPageToken",
        "activities",
        "activity",
        "fullResourceName",
        "lastAuthenticatedTime",
        "serviceAccount",
        "google.subject",
        "attribute.repository",
        "assertion.sub",
        "expireTime",
    ];

    /// Any JSON value, over the fields the mappers read ([`json_props::json_value`]).
    fn json_value() -> impl Strategy<Value = Value> + Clone {
        json_props::json_value(FIELDS)
    }

    fn item() -> impl Strategy<Value = Value> + Clone {
        json_props::item(FIELDS)
    }

    fn mutated(bodies: Vec<Value>) -> impl Strategy<Value = Value> {
        json_props::mutated(bodies, FIELDS)
    }

    /// Every body the GCP test estate serves (tests/schema.rs checks them against Google's
    /// discovery schemas).
    fn real_bodies() -> Vec<Value> {
        [
            include_str!("../fixtures/accounts.page1.json"),
            include_str!("../fixtures/accounts.page2.json"),
            include_str!("../fixtures/activity.accounts.json"),
            include_str!("../fixtures/activity.keys.json"),
            include_str!("../fixtures/dev.accounts.json"),
            include_str!("../fixtures/dev.iam_policy.json"),
            include_str!("../fixtures/empty.json"),
            include_str!("../fixtures/iam_policy.json"),
            include_str!("../fixtures/key.get.json"),
            include_str!("../fixtures/keys.ci-deployer.json"),
            include_str!("../fixtures/keys.reporting.json"),
            include_str!("../fixtures/pools.json"),
            include_str!("../fixtures/providers.ci-pool.page1.json"),
            include_str!("../fixtures/providers.ci-pool.page2.json"),
            include_str!("../fixtures/providers.gitlab-pool.json"),
        ]
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
    }

    /// Every list field of `body`, every mapper on every item, and the body as an IAM policy:
    /// records or a named error.
    fn decodes_or_names(body: &Value) -> Result<(), TestCaseError> {
        let url = url::Url::parse("https://iam.googleapis.test/v1/projects/acme-prod/things")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let policy = match common::decode::<Policy>(body) {
            Ok(p) => PolicyView::from_policy(p),
            Err(e) => {
                prop_assert!(!e.trim().is_empty());
                PolicyView::Unreadable(e)
            }
        };
        let privileges =
            policy.for_service_account("ci@acme-prod.iam.gserviceaccount.com", "acme-prod");
        let seen_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let telemetries = [
            Telemetry::Off,
            Telemetry::Read(HashMap::from([(
                "ci@acme-prod.iam.gserviceaccount.com".to_string(),
                seen_at,
            )])),
        ];
        for field in [
            "accounts",
            "workloadIdentityPools",
            "workloadIdentityPoolProviders",
            "keys",
        ] {
            let items = match items_of(body.clone(), field, &url) {
                Ok((items, _next)) => items,
                Err(ConnectorError::Malformed { url: at, detail }) => {
                    prop_assert_eq!(&at, url.as_str());
                    prop_assert!(!detail.trim().is_empty());
                    continue;
                }
                Err(other) => {
                    prop_assert!(false, "not a Malformed error: {other}");
                    continue;
                }
            };
            for item in items {
                let named = |r: Result<(), String>| match r {
                    Ok(()) => Ok(()),
                    Err(e) if !e.trim().is_empty() => Ok(()),
                    Err(_) => Err(TestCaseError::fail("an empty error")),
                };
                for telemetry in &telemetries {
                    let view = service_account::AccountView {
                        policy: &policy,
                        telemetry,
                    };
                    named(service_account::map("acme-prod", item.clone(), &view).map(drop))?;
                    let account = service_account_key::Account {
                        email: "ci@acme-prod.iam.gserviceaccount.com",
                        external_id: "1234",
                        owner: None,
                        privileges: &privileges,
                    };
                    named(
                        service_account_key::map("acme-prod", item.clone(), &account, telemetry)
                            .map(drop),
                    )?;
                }
                named(workload_identity_pool::map("acme-prod", item.clone()).map(drop))?;
                named(
                    common::decode::<workload_identity_pool::WorkloadIdentityPool>(&item)
                        .and_then(|p| p.id().map(drop)),
                )?;
                named(workload_identity_provider::map("acme-prod", "ci-pool", item).map(drop))?;
            }
        }
        Ok(())
    }

    /// A CEL-like condition: the reader's own tokens, joined any way.
    fn condition() -> impl Strategy<Value = String> {
        let token = prop::sample::select(
            &[
                "assertion.repository",
                "assertion.repository_owner",
                "assertion.sub",
                "attribute.repository",
                "attribute.owner",
                "assertion.project_path",
                "assertion.namespace_path",
                "==",
                "!=",
                "&&",
                "||",
                " in ",
                ".startsWith(",
                ".matches(",
                "(",
                ")",
                "[",
                "]",
                ",",
                "'acme/web'",
                "\"acme\"",
                "'",
                "\"",
                "\\",
                "'a\\'b'",
                "true",
                "!",
                " ",
                "é",
                "🙂",
            ][..],
        );
        prop_oneof![
            prop::collection::vec(token, 0..16).prop_map(|t| t.concat()),
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Bytes as the HTTP client decodes them (serde_json), then the decoders.
        #[test]
        fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                decodes_or_names(&body)?;
            }
        }

        #[test]
        fn any_json(body in json_value()) {
            decodes_or_names(&body)?;
        }

        #[test]
        fn item_shaped_objects(items in prop::collection::vec(item(), 0..4), field in prop::sample::select(&[
            "accounts", "workloadIdentityPools", "workloadIdentityPoolProviders", "keys", "bindings",
        ][..])) {
            decodes_or_names(&json!({field: items}))?;
        }

        #[test]
        fn real_bodies_mutated(body in mutated(real_bodies())) {
            decodes_or_names(&body)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// A provider's attribute condition, any text: the reader says what it admits.
        #[test]
        fn any_attribute_condition(cond in condition(), gitlab in any::<bool>()) {
            let ci = if gitlab { federation_condition::Ci::GitLab } else { federation_condition::Ci::GitHub };
            let mapping = BTreeMap::from([
                ("google.subject".to_string(), "assertion.sub".to_string()),
                ("attribute.repository".to_string(), "assertion.repository".to_string()),
                ("attribute.owner".to_string(), "assertion.repository_owner".to_string()),
            ]);
            let admits = federation_condition::admits(ci, &cond, &mapping);
            let _ = admits.to_string();
        }
    }

    /// A credentials file shaped as Google's, each field any JSON or a plausible value.
    fn credentials_file() -> impl Strategy<Value = Value> {
        let text = |plausible: &'static [&'static str]| {
            prop_oneof![
                3 => prop::sample::select(plausible).prop_map(|s| Value::String(s.into())),
                1 => json_value(),
            ]
        };
        let source = prop::collection::btree_map(
            prop::sample::select(&["file", "url", "environment_id", "executable", "format"][..]),
            prop_oneof![
                text(&["/nonexistent/token", "https://sts.test/token", "aws1"]),
                Just(json!({"type": "json", "subject_token_field_name": "token"})),
                Just(json!({"type": "json"})),
                Just(json!({"type": "xml"})),
                Just(json!({"type": "text"})),
            ],
            0..4,
        )
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
        (
            text(&["service_account", "external_account", "authorized_user"]),
            prop::option::of(text(&["ci@acme-prod.iam.gserviceaccount.com"])),
            prop::option::of(text(&["-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"])),
            prop::option::of(text(&["//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"])),
            prop::option::of(text(&["urn:ietf:params:oauth:token-type:jwt"])),
            prop::option::of(text(&["https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@x:generateAccessToken", "not a url"])),
            prop::option::of(source),
        )
            .prop_map(|(kind, email, key, audience, token_type, impersonation, source)| {
                let mut m = serde_json::Map::new();
                m.insert("type".into(), kind);
                for (k, v) in [
                    ("client_email", email),
                    ("private_key", key),
                    ("audience", audience),
                    ("subject_token_type", token_type),
                    ("service_account_impersonation_url", impersonation),
                    ("credential_source", source),
                ] {
                    if let Some(v) = v {
                        m.insert(k.into(), v);
                    }
                }
                Value::Object(m)
            })
    }

    proptest! {
        // Each case writes a file.
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// A credentials file, any content: credentials, or an error naming the file.
        #[test]
        fn any_credentials_file(content in prop_oneof![
            3 => credentials_file().prop_map(|v| v.to_string().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ]) {
            let file = tempfile::NamedTempFile::new().map_err(|e| TestCaseError::fail(e.to_string()))?;
            std::fs::write(file.path(), &content).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Err(e) = read_credentials_file(file.path()) {
                let e = e.to_string();
                prop_assert!(e.contains(&file.path().display().to_string()), "{e}");
            }
        }
    }

    /// The fixtures decode, so their mutations start from what the mappers accept.
    #[test]
    fn real_bodies_decode() {
        let bodies = real_bodies();
        assert_eq!(bodies.len(), FIXTURES);
        for body in bodies {
            decodes_or_names(&body).unwrap();
        }
    }

    const FIXTURES: usize = 15;
}
