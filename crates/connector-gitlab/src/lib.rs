//! The `gitlab` connector: the non-human identities and credentials of GitLab groups (gitlab.com
//! or self-managed), or of a whole self-managed instance through the admin API.
//!
//! | resource type | GitLab endpoint | scopes | kind |
//! |---|---|---|---|
//! | `gitlab.project_access_token` | `GET /projects/:id/access_tokens` per project | group, instance | project_token |
//! | `gitlab.group_access_token` | `GET /groups/:id/access_tokens` | group | group_token |
//! | `gitlab.service_account` | `GET /groups/:id/service_accounts`, `GET /service_accounts` | group, instance | service_account |
//! | `gitlab.personal_access_token` | per service account: `GET /groups/:id/service_accounts/:uid/personal_access_tokens`, `GET /personal_access_tokens?user_id=` | group, instance | personal_access_token |
//! | `gitlab.project_deploy_token` | `GET /projects/:id/deploy_tokens` per project | group, instance | deploy_token |
//! | `gitlab.group_deploy_token` | `GET /groups/:id/deploy_tokens` | group | deploy_token |
//! | `gitlab.deploy_key` | `GET /projects/:id/deploy_keys` per project | group | deploy_key |
//! | `gitlab.instance_deploy_key` | `GET /deploy_keys` (with `projects_with_write_access`) | instance | deploy_key |
//! | `gitlab.pipeline_trigger` | `GET /projects/:id/triggers` per project | group, instance | trigger_token |
//! | `gitlab.group_runner` | `GET /groups/:id/runners` + `GET /runners/:id` | group | runner |
//! | `gitlab.runner` | `GET /runners/all` + `GET /runners/:id` | instance | runner |
//! | `gitlab.project_variable` | `GET /projects/:id/variables` per project | group, instance | ci_secret |
//! | `gitlab.group_variable` | `GET /groups/:id/variables` | group | ci_secret |
//! | `gitlab.instance_variable` | `GET /admin/ci/variables` | instance | ci_secret |
//!
//! A listing's scope is the group's full path, or `(instance)`. Per-project listings walk the
//! group's projects (`GET /groups/:id/projects?include_subgroups=true`, offset paging) or, instance
//! wide, every project (`GET /projects?pagination=keyset&order_by=id`, keyset paging); their
//! records carry the project id in their external id (`7/42`).
//!
//! **Secrets.** GitLab answers CI/CD variables with their `value` and trigger tokens with their
//! `token`: both are removed from every item the moment it is decoded, before it is mapped,
//! stored or logged (see [`common::SECRET_FIELDS`]).
//!
//! **Not seen is not gone.** A 403 (or the 404 GitLab uses for what a token may not see) fails
//! the listing with `Forbidden` naming the role it needs; the sync engine then reports it as not
//! seen and sweeps nothing there.
//!
//! **Remediation** (`remediation.rs`, off unless `[connectors.remediation] enabled = true`):
//! revoke a project, group or personal access token or a deploy token; delete a deploy key or a
//! pipeline trigger. Each reads the live object first; a dry run lists the call a real run makes.

mod access_token;
mod api;
mod ci_variable;
mod common;
mod config;
mod deploy_key;
mod deploy_token;
mod personal_access_token;
mod pipeline_trigger;
mod remediation;
mod runner;
mod service_account;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use roster_connector_sdk::walk::{Children, Fetched, Walk, walk};
use roster_connector_sdk::{
    Clock, Connector, ConnectorError, Fingerprint, Listing, Page, PageCursor, PageLimit, PageToken,
    Remediator, SystemClock,
};
use roster_core::Record;
use roster_core::record::drop_secret_fields;
use serde_json::Value;

pub use common::INSTANCE_SCOPE;
pub use config::{DEFAULT_URL, GitlabConfig, RemediationConfig};

use api::{Api, forbidden, next_page};
use common::{Ctx, Parent, Parents, ResourceType, SECRET_FIELDS, Scope, Source, Where};

/// Every resource type, in the order the plan lists them per scope.
const RESOURCES: &[&ResourceType] = &[
    &service_account::RESOURCE,
    &personal_access_token::RESOURCE,
    &access_token::GROUP,
    &access_token::PROJECT,
    &deploy_token::GROUP,
    &deploy_token::PROJECT,
    &deploy_key::PROJECT,
    &deploy_key::INSTANCE,
    &pipeline_trigger::RESOURCE,
    &runner::GROUP,
    &runner::INSTANCE,
    &ci_variable::GROUP,
    &ci_variable::PROJECT,
    &ci_variable::INSTANCE,
];

/// The resource types listed for a group.
pub fn group_resource_types() -> Vec<&'static str> {
    types_in(false)
}

/// The resource types listed instance-wide.
pub fn instance_resource_types() -> Vec<&'static str> {
    types_in(true)
}

fn types_in(instance: bool) -> Vec<&'static str> {
    RESOURCES
        .iter()
        .filter(|r| listed(r, instance))
        .map(|r| r.name)
        .collect()
}

fn listed(r: &ResourceType, instance: bool) -> bool {
    matches!(
        (r.listed_in, instance),
        (Where::Both, _) | (Where::Groups, false) | (Where::Instance, true)
    )
}

pub struct GitlabConnector {
    groups: Vec<String>,
    instance: bool,
    page_size: u32,
    max_pages: u64,
    max_token_lifetime_days: i64,
    remediation: RemediationConfig,
    api: Api,
}

impl std::fmt::Debug for GitlabConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabConnector")
            .field("groups", &self.groups)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl GitlabConnector {
    /// The connector of a `[[connectors]] kind = "gitlab"` entry: the token from the process
    /// environment (`token_env`) or `token_file`, the system clock.
    pub fn new(config: GitlabConfig) -> Result<Self, ConnectorError> {
        let token = config.token(|name| std::env::var(name).ok())?;
        Self::with_token(config, token, Arc::new(SystemClock))
    }

    /// The connector with the token and a clock given (tests: a fake clock).
    pub fn with_token(
        config: GitlabConfig,
        token: roster_connector_sdk::Secret,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        config.validate()?;
        let api = Api::new(config.api_base()?, token, clock)?;
        Ok(Self {
            groups: config.all_groups(),
            instance: config.instance,
            page_size: config.page_size,
            max_pages: config.max_pages.unwrap_or(config::DEFAULT_MAX_PAGES),
            max_token_lifetime_days: config.max_token_lifetime_days,
            remediation: config.remediation,
            api,
        })
    }

    /// The scope a listing's scope string names, if configured.
    fn scope<'a>(&'a self, scope: &str) -> Option<Scope<'a>> {
        if scope == INSTANCE_SCOPE {
            return self.instance.then_some(Scope::Instance);
        }
        self.groups
            .iter()
            .find(|g| g.eq_ignore_ascii_case(scope))
            .map(|g| Scope::Group(g.as_str()))
    }

    fn resource<'a>(
        &'a self,
        listing: &Listing,
    ) -> Result<(&'static ResourceType, Scope<'a>), ConnectorError> {
        let scope = self.scope(&listing.scope);
        let resource = RESOURCES
            .iter()
            .find(|r| r.name == listing.resource_type)
            .copied();
        match (resource, scope) {
            (Some(r), Some(s)) if listed(r, s == Scope::Instance) => Ok((r, s)),
            _ => Err(ConnectorError::NotFound {
                url: listing.to_string(),
            }),
        }
    }

    /// `path` with `per_page` (and the walk's ordering) added.
    fn paged(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}per_page={}", self.page_size)
    }

    /// The first page of a walk's parent listing.
    fn parents_url(&self, parents: Parents, scope: &Scope<'_>) -> String {
        match (parents, scope.group_segment()) {
            (Parents::Projects, Some(g)) => self.paged(&format!(
                "groups/{g}/projects?include_subgroups=true&order_by=id&sort=asc&simple=true"
            )),
            // Keyset paging: GitLab offers it on `/projects` ordered by id, and it stays fast
            // and consistent past the 10,000 rows where offset paging thins out.
            (Parents::Projects, None) => self.paged(
                "projects?pagination=keyset&order_by=id&sort=asc&simple=true&statistics=false",
            ),
            (Parents::ServiceAccounts, _) => self.paged(&service_account::list_path(scope)),
        }
    }

    /// Decodes a list body into its items, secret fields already removed.
    fn items(body: Value, url: &url::Url) -> Result<Vec<Value>, ConnectorError> {
        match body {
            Value::Array(mut items) => {
                for item in &mut items {
                    drop_secret_fields(item, SECRET_FIELDS);
                }
                Ok(items)
            }
            _ => Err(ConnectorError::Malformed {
                url: url.to_string(),
                detail: "expected a JSON array".into(),
            }),
        }
    }

    /// The records of one page of items: each completed by its detail read when the resource
    /// has one (an item gone by then is skipped), then mapped.
    async fn map_page(
        &self,
        resource: &'static ResourceType,
        ctx: &Ctx<'_>,
        items: Vec<Value>,
        url: &url::Url,
    ) -> Result<Vec<Record>, ConnectorError> {
        let mut records = Vec::with_capacity(items.len());
        for mut item in items {
            if let Some(path) = resource.detail.and_then(|d| d(&item)) {
                match self.api.get::<Value>(&path).await {
                    Ok(response) => {
                        let mut detail = response.body;
                        drop_secret_fields(&mut detail, SECRET_FIELDS);
                        if let (Value::Object(base), Value::Object(more)) = (&mut item, detail) {
                            base.extend(more);
                        }
                    }
                    Err(ConnectorError::NotFound { .. }) => {
                        tracing::warn!(%path, "item gone during the sync; skipped");
                        continue;
                    }
                    Err(e) => return Err(forbidden(e, resource.needs)),
                }
            }
            let record = (resource.map)(ctx, item).map_err(|detail| ConnectorError::Malformed {
                url: url.to_string(),
                detail,
            })?;
            records.extend(record);
        }
        Ok(records)
    }

    fn ctx<'a>(
        &self,
        listing: &'a Listing,
        resource: &'static ResourceType,
        parent: Option<&'a Parent>,
    ) -> Ctx<'a> {
        Ctx {
            scope: &listing.scope,
            resource_type: resource.name,
            parent,
            max_token_lifetime_days: self.max_token_lifetime_days,
        }
    }

    /// One page of a scope-level listing.
    async fn list_scope(
        &self,
        listing: &Listing,
        resource: &'static ResourceType,
        scope: Scope<'_>,
        path: fn(&Scope<'_>) -> String,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let mut cursor = PageToken::state::<PageCursor>(listing, page)?;
        let url = cursor
            .at()
            .map_or_else(|| self.paged(&path(&scope)), str::to_owned);
        let mut response = self
            .api
            .get::<Value>(&url)
            .await
            .map_err(|e| forbidden(e, resource.needs))?;
        let items = Self::items(std::mem::take(&mut response.body), &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let next = next_page(&response, self.page_size, items.len())?;
        let ctx = self.ctx(listing, resource, None);
        let records = self.map_page(resource, &ctx, items, &response.url).await?;
        let next = cursor.next_token(
            PageLimit::new(listing, self.max_pages),
            response.url.as_str(),
            fingerprint,
            next.map(String::from),
        )?;
        Ok(Page { records, next })
    }

    /// One page of a walk, continued where the page token left it.
    async fn list_walk(
        &self,
        listing: &Listing,
        resource: &'static ResourceType,
        scope: Scope<'_>,
        parents: Parents,
        path: fn(&Scope<'_>, u64) -> String,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let by_parent = ParentWalk {
            connector: self,
            listing,
            resource,
            scope,
            parents,
            path,
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

/// A walk: the scope's projects or service accounts, then each one's endpoint.
struct ParentWalk<'a> {
    connector: &'a GitlabConnector,
    listing: &'a Listing,
    resource: &'static ResourceType,
    scope: Scope<'a>,
    parents: Parents,
    path: fn(&Scope<'_>, u64) -> String,
}

#[async_trait]
impl Walk for ParentWalk<'_> {
    type Parent = Parent;

    async fn parents(&self, at: Option<&str>) -> Result<Fetched<Parent>, ConnectorError> {
        let c = self.connector;
        let url = at.map_or_else(|| c.parents_url(self.parents, &self.scope), str::to_owned);
        let (needs, name_field) = match self.parents {
            Parents::Projects => (
                "read access to the group's projects (token scope read_api)",
                "path_with_namespace",
            ),
            Parents::ServiceAccounts => (self.resource.needs, "username"),
        };
        let mut response = c
            .api
            .get::<Value>(&url)
            .await
            .map_err(|e| forbidden(e, needs))?;
        let items = GitlabConnector::items(std::mem::take(&mut response.body), &response.url)?;
        let mut parents = Vec::with_capacity(items.len());
        for item in &items {
            let id = item.get("id").and_then(Value::as_u64);
            let name = item.get(name_field).and_then(Value::as_str);
            match (id, name) {
                (Some(id), Some(name)) => parents.push(Parent {
                    id,
                    name: name.to_string(),
                }),
                _ => {
                    return Err(ConnectorError::Malformed {
                        url: response.url.to_string(),
                        detail: format!("an item lacks a numeric `id` or `{name_field}`"),
                    });
                }
            }
        }
        let next = next_page(&response, c.page_size, items.len())?;
        Ok(Fetched {
            fingerprint: Fingerprint::of(&items),
            items: parents,
            url: response.url,
            next: next.map(String::from),
        })
    }

    async fn children(
        &self,
        parent: &Parent,
        at: Option<&str>,
    ) -> Result<Children, ConnectorError> {
        let c = self.connector;
        let url = at.map_or_else(
            || c.paged(&(self.path)(&self.scope, parent.id)),
            str::to_owned,
        );
        let mut response = c
            .api
            .get::<Value>(&url)
            .await
            .map_err(|e| forbidden(e, self.resource.needs))?;
        let items = GitlabConnector::items(std::mem::take(&mut response.body), &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let next = next_page(&response, c.page_size, items.len())?;
        let ctx = c.ctx(self.listing, self.resource, Some(parent));
        Ok(Children::Page(Fetched {
            items: c
                .map_page(self.resource, &ctx, items, &response.url)
                .await?,
            fingerprint,
            url: response.url,
            next: next.map(String::from),
        }))
    }
}

#[async_trait]
impl Connector for GitlabConnector {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        let mut plan = Vec::new();
        for g in &self.groups {
            plan.extend(
                group_resource_types()
                    .into_iter()
                    .map(|t| Listing::new(t, g.as_str())),
            );
        }
        if self.instance {
            plan.extend(
                instance_resource_types()
                    .into_iter()
                    .map(|t| Listing::new(t, INSTANCE_SCOPE)),
            );
        }
        Ok(plan)
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let (resource, scope) = self.resource(listing)?;
        match resource.source {
            Source::Scope(path) => self.list_scope(listing, resource, scope, path, page).await,
            Source::Walk(parents, path) => {
                self.list_walk(listing, resource, scope, parents, path, page)
                    .await
            }
        }
    }

    fn remediator(&self) -> Option<&dyn Remediator> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    /// Every rule id this crate signals is in core's catalogue, so the risk engine turns it into
    /// a finding instead of dropping it.
    #[test]
    fn signalled_rules_are_in_the_platform_catalogue() {
        let sources = [
            include_str!("access_token.rs"),
            include_str!("common.rs"),
            include_str!("deploy_key.rs"),
            include_str!("pipeline_trigger.rs"),
            include_str!("ci_variable.rs"),
        ];
        let mut ids = Vec::new();
        for src in sources {
            for part in src.split("Signal::new(").skip(1) {
                let id = part.trim_start().trim_start_matches('"');
                let id = &id[..id.find('"').unwrap_or(0)];
                ids.push(id.to_string());
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 7, "{ids:?}");
        for id in ids {
            assert!(
                roster_core::platform_rule(&id).is_some(),
                "{id} is not in roster_core::PLATFORM_RULES"
            );
        }
    }
}

/// Issue 18: no response can panic the decoders. Any JSON, item-shaped objects of any field
/// types, and the fixture estate's bodies with one node replaced or removed, through `items`,
/// the detail merge and every resource type's mapper: records, or an error naming the URL and
/// what was wrong. The paging headers, any values: a next page or none, never a panic.
#[cfg(test)]
mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use roster_connector_sdk::json_props;
    use serde_json::json;

    const FIELDS: &[&str] = &[
        "id",
        "name",
        "username",
        "description",
        "key",
        "title",
        "token",
        "value",
        "active",
        "revoked",
        "expired",
        "expires_at",
        "created_at",
        "updated_at",
        "last_used_at",
        "last_used",
        "scopes",
        "access_level",
        "user_id",
        "owner",
        "can_push",
        "fingerprint",
        "fingerprint_sha256",
        "projects_with_write_access",
        "projects_with_readonly_access",
        "deploy_keys_projects",
        "can_push",
        "project_id",
        "path_with_namespace",
        "runner_type",
        "paused",
        "is_shared",
        "locked",
        "run_untagged",
        "projects",
        "groups",
        "tag_list",
        "contacted_at",
        "status",
        "online",
        "variable_type",
        "protected",
        "masked",
        "raw",
        "environment_scope",
        "hidden",
        "ip_address",
        "web_url",
        "state",
        "bot",
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

    /// Every body of the fixture estate (tests/schema.rs checks them against GitLab's schemas).
    fn real_bodies() -> Vec<Value> {
        let estate: Value =
            serde_json::from_str(include_str!("../fixtures/estate.json")).unwrap_or(Value::Null);
        estate["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("body").cloned())
            .filter(|b| !b.is_null())
            .collect()
    }

    /// Every resource type decodes `body` (in a group, a project and the instance) or names
    /// what was wrong; `detail` is what a runner's detail read answered.
    fn decodes_or_names(body: &Value, detail: &Value) -> Result<(), TestCaseError> {
        let url = url::Url::parse("https://gitlab.test/api/v4/groups/acme/things?per_page=100")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parent = Parent {
            id: 7,
            name: "acme/web".into(),
        };
        for resource in RESOURCES {
            for (scope, parent) in [
                ("acme", None),
                ("acme", Some(&parent)),
                (INSTANCE_SCOPE, None),
            ] {
                let ctx = Ctx {
                    scope,
                    resource_type: resource.name,
                    parent,
                    max_token_lifetime_days: 365,
                };
                let mapped = GitlabConnector::items(body.clone(), &url).and_then(|items| {
                    let mut records = Vec::new();
                    for mut item in items {
                        if resource.detail.and_then(|d| d(&item)).is_some() {
                            let mut more = detail.clone();
                            drop_secret_fields(&mut more, SECRET_FIELDS);
                            if let (Value::Object(base), Value::Object(more)) = (&mut item, more) {
                                base.extend(more);
                            }
                        }
                        let record = (resource.map)(&ctx, item).map_err(|detail| {
                            ConnectorError::Malformed {
                                url: url.to_string(),
                                detail,
                            }
                        })?;
                        records.extend(record);
                    }
                    Ok(records)
                });
                match mapped {
                    Ok(_) => {}
                    Err(ConnectorError::Malformed { url: at, detail }) => {
                        prop_assert_eq!(&at, url.as_str());
                        prop_assert!(!detail.trim().is_empty(), "{}", resource.name);
                    }
                    Err(other) => {
                        prop_assert!(false, "{}: not a Malformed error: {other}", resource.name);
                    }
                }
            }
        }
        Ok(())
    }

    fn header_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..5).prop_map(|n| n.to_string()),
            Just(u64::MAX.to_string()),
            Just("18446744073709551616".to_owned()),
            Just("-1".to_owned()),
            "[ -~]{0,8}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Bytes as the HTTP client decodes them (serde_json), then the decoders.
        #[test]
        fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                decodes_or_names(&body, &Value::Null)?;
            }
        }

        #[test]
        fn any_json(body in json_value(), detail in json_value()) {
            decodes_or_names(&body, &detail)?;
        }

        #[test]
        fn item_shaped_objects(items in prop::collection::vec(item(), 0..4), detail in item()) {
            decodes_or_names(&Value::Array(items), &detail)?;
        }

        #[test]
        fn real_bodies_mutated(body in mutated(real_bodies()), detail in mutated(real_bodies())) {
            decodes_or_names(&body, &detail)?;
        }

        /// Whatever GitLab's paging headers and the page asked for say, the next page is
        /// worked out without a panic.
        #[test]
        fn paging_headers_any_values(
            next in prop::option::of(header_value()),
            total in prop::option::of(header_value()),
            page in prop_oneof![header_value(), Just("1".to_owned())],
            keyset in any::<bool>(),
            per_page in prop_oneof![Just(100u32), any::<u32>()],
            got in prop_oneof![Just(100usize), 0usize..200],
        ) {
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in [("x-next-page", next), ("x-total-pages", total)] {
                if let Some(v) = value.and_then(|v| reqwest::header::HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, v);
                }
            }
            let mut url = url::Url::parse("https://gitlab.test/api/v4/projects?per_page=100")
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            url.query_pairs_mut().append_pair("page", &page);
            if keyset {
                url.query_pairs_mut().append_pair("pagination", "keyset");
            }
            let response = roster_connector_sdk::Response {
                status: reqwest::StatusCode::OK,
                body: (),
                headers,
                url,
                next: None,
            };
            prop_assert!(next_page(&response, per_page, got).is_ok());
        }
    }

    /// The fixture's bodies decode into records, so their mutations start from what the
    /// mappers accept.
    #[test]
    fn real_bodies_decode() {
        let bodies = real_bodies();
        assert!(bodies.len() > 20, "{}", bodies.len());
        for body in bodies {
            decodes_or_names(&body, &json!({})).unwrap();
        }
    }

    /// Found by the paging property: `X-Next-Page: 18446744073709551615` and then a full page
    /// without paging headers overflowed the page number (a panic in a debug build).
    #[test]
    fn the_last_page_number_is_the_last() {
        let url = url::Url::parse(&format!(
            "https://gitlab.test/api/v4/projects?per_page=100&page={}",
            u64::MAX
        ))
        .unwrap();
        let response = roster_connector_sdk::Response {
            status: reqwest::StatusCode::OK,
            body: (),
            headers: reqwest::header::HeaderMap::new(),
            url,
            next: None,
        };
        assert_eq!(next_page(&response, 100, 100).unwrap(), None);
        // The clean twin: a page number with room after it has a next page.
        let mut twin = response;
        twin.url.set_query(Some("per_page=100&page=2"));
        assert!(next_page(&twin, 100, 100).unwrap().is_some());
    }
}
