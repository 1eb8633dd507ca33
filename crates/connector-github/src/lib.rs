//! The `github` connector: the non-human identities and credentials of one or more GitHub
//! organisations (github.com, GitHub Enterprise Cloud, or GitHub Enterprise Server through
//! `api_url`).
//!
//! | resource type | GitHub endpoint | kind |
//! |---|---|---|
//! | `github.app_installation` | `GET /orgs/{org}/installations` | app_installation |
//! | `github.fine_grained_pat` | `GET /orgs/{org}/personal-access-tokens` (App only) | personal_access_token |
//! | `github.credential_authorization` | `GET /orgs/{org}/credential-authorizations` (SAML SSO) | personal_access_token |
//! | `github.deploy_key` | `GET /repos/{o}/{r}/keys` per repository | deploy_key |
//! | `github.org_actions_secret` | `GET /orgs/{org}/actions/secrets` | ci_secret |
//! | `github.repo_actions_secret` | `GET /repos/{o}/{r}/actions/secrets` per repository | ci_secret |
//! | `github.org_runner` | `GET /orgs/{org}/actions/runners` | runner |
//! | `github.repo_runner` | `GET /repos/{o}/{r}/actions/runners` per repository | runner |
//! | `github.runner_group` | `GET /orgs/{org}/actions/runner-groups`, and `…/{id}/runners` per group | runner |
//! | `github.webhook` | `GET /orgs/{org}/hooks` | webhook |
//! | `github.oidc_sub_template` | `GET /orgs/{org}/actions/oidc/customization/sub` | role |
//! | `github.repo_oidc_sub_template` | `GET /repos/{o}/{r}/actions/oidc/customization/sub` per repository (custom ones) | role |
//!
//! Every listing's scope is the org login; repository-level records carry the repository in
//! their external id (`acme/web/12`).
//!
//! **Not seen is not gone.** An endpoint that answers 403 — or 404, which is how GitHub hides
//! what a credential may not read — fails its listing with `Forbidden` naming the permission it
//! needs; the sync engine then reports the listing as not seen and sweeps nothing there.
//!
//! **Per-repository listings** walk `GET /orgs/{org}/repos` and ask each repository in turn. A
//! repository that answers 404 is looked up once more (`GET /repos/{o}/{r}`): if it is gone too
//! it was deleted (or transferred) during the sync and is skipped — its records then disappear
//! as they should, since the repository is gone. If the repository still exists, the 404 meant
//! "you may not read this" and the listing fails as `Forbidden`, so nothing is swept.
//!
//! **Conditional requests** (`conditional_requests`, on by default): every listing page is
//! asked for with the `If-None-Match` of the last run's answer, and a `304 Not Modified` —
//! which GitHub does not count against the primary rate limit — is served from the kept body
//! and `Link`, so the records are those of a full fetch. Only the listing paths are kept
//! ([`listing_patterns`]): never the token exchange, a single item's read or remediation.
//!
//! **Remediation** (`remediation.rs`, off unless `[connectors.remediation] enabled = true`):
//! delete a deploy key, revoke a fine-grained PAT grant, remove a SAML credential authorization,
//! remove a self-hosted runner, deactivate a webhook; each reads the live object first, and a
//! dry run lists the call a real run would make.

mod actions_secret;
mod api;
mod app_auth;
mod app_installation;
mod common;
mod config;
mod credential_authorization;
mod deploy_key;
mod fine_grained_pat;
mod oidc_sub_template;
mod remediation;
mod runner;
mod runner_group;
pub mod testing;
mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use roster_connector_sdk::pagination::page_number_next;
use roster_connector_sdk::walk::{Children, Fetched, Walk, walk};
use roster_connector_sdk::{
    Clock, Connector, ConnectorError, Fingerprint, Listing, Page, PageCursor, PageLimit, PageToken,
    PathPattern, Remediator, Response, SystemClock, ValidatorCache, ValidatorLimits,
};
use roster_core::Record;
use serde::Deserialize;
use serde_json::Value;

pub use api::{ACCEPT_VALUE, API_VERSION, ResponseObserver};
pub use app_auth::AppKey;
pub use config::{AppCredentials, Credentials, DEFAULT_API_URL, GithubConfig, RemediationConfig};

use api::{Api, forbidden};
use common::{Ctx, Items, Repo, ResourceType, Source};

/// Every resource type, in the order the plan lists them per org.
const RESOURCES: &[&ResourceType] = &[
    &app_installation::RESOURCE,
    &fine_grained_pat::RESOURCE,
    &credential_authorization::RESOURCE,
    &deploy_key::RESOURCE,
    &actions_secret::ORG,
    &actions_secret::REPO,
    &runner::ORG,
    &runner::REPO,
    &runner_group::RESOURCE,
    &webhook::RESOURCE,
    &oidc_sub_template::ORG,
    &oidc_sub_template::REPO,
];

/// Every resource type name the connector lists, per org.
pub fn resource_types() -> Vec<&'static str> {
    RESOURCES.iter().map(|r| r.name).collect()
}

/// The repository walk of the per-repository listings.
fn repos_path(org: &str) -> String {
    format!("orgs/{org}/repos")
}

/// The paths whose GET answers may be kept for conditional requests: every listing's endpoint,
/// the repository walk and the runners of a runner group. Never the token exchange, a single
/// item's read (remediation) or a repository lookup. Built from the same path functions the
/// listings use, with `*` for the org and repository segments.
pub(crate) fn listing_patterns() -> Vec<PathPattern> {
    let mut out = vec![
        PathPattern::new(&repos_path("*")),
        PathPattern::new(&runner_group::runners_path("*", "*")),
    ];
    for r in RESOURCES {
        out.push(PathPattern::new(&match r.source {
            Source::Org(path) => path("*"),
            Source::PerRepo(path) => path("*/*"),
            Source::RunnerGroups => runner_group::path("*"),
        }));
    }
    out
}

pub struct GithubConnector {
    orgs: Vec<String>,
    page_size: u32,
    max_pages: u64,
    remediation: RemediationConfig,
    api: Api,
    validator_cache: Option<Arc<ValidatorCache>>,
}

impl std::fmt::Debug for GithubConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConnector")
            .field("orgs", &self.orgs)
            .finish_non_exhaustive()
    }
}

impl GithubConnector {
    /// The connector of a `[[connectors]] kind = "github"` entry: credentials from the process
    /// environment (`token_env`) or the key file, the system clock.
    pub fn new(config: GithubConfig) -> Result<Self, ConnectorError> {
        let credentials = config.credentials(|name| std::env::var(name).ok())?;
        Self::with_credentials(config, credentials, Arc::new(SystemClock))
    }

    /// The connector with credentials and a clock given (tests: a fake clock).
    pub fn with_credentials(
        config: GithubConfig,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        config.validate_common()?;
        let validator_cache = config.conditional_requests.then(|| {
            let total = usize::try_from(config.conditional_cache_mib)
                .unwrap_or(usize::MAX)
                .saturating_mul(1024 * 1024);
            let limits = ValidatorLimits {
                max_body_bytes: ValidatorLimits::default().max_body_bytes.min(total),
                max_total_bytes: total,
            };
            Arc::new(ValidatorCache::new(listing_patterns(), limits))
        });
        let api = Api::new(
            config.api_base()?,
            credentials,
            clock,
            validator_cache.clone(),
        )?;
        Ok(Self {
            orgs: config.all_orgs(),
            page_size: config.page_size,
            max_pages: config.max_pages.unwrap_or(config::DEFAULT_MAX_PAGES),
            remediation: config.remediation,
            api,
            validator_cache,
        })
    }

    /// Calls `observer` with the URL and headers of every successful response.
    pub fn with_response_observer(mut self, observer: ResponseObserver) -> Self {
        self.api.set_observer(observer);
        self
    }

    fn resource(&self, listing: &Listing) -> Result<(&'static ResourceType, &str), ConnectorError> {
        let resource = RESOURCES
            .iter()
            .find(|r| r.name == listing.resource_type)
            .copied();
        let org = self
            .orgs
            .iter()
            .find(|o| **o == listing.scope)
            .map(String::as_str);
        match (resource, org) {
            (Some(r), Some(o)) => Ok((r, o)),
            _ => Err(ConnectorError::NotFound {
                url: listing.to_string(),
            }),
        }
    }

    fn first_url(&self, path: String, items: Items) -> String {
        match items {
            Items::Whole => path,
            _ => format!("{path}?per_page={}", self.page_size),
        }
    }

    fn limit<'a>(&self, listing: &'a Listing) -> PageLimit<'a> {
        PageLimit::new(listing, self.max_pages)
    }

    /// The page of an org-level endpoint at `url`: its records, the fingerprint of its items,
    /// and the response (its body taken) for the next page.
    async fn org_page(
        &self,
        resource: &'static ResourceType,
        org: &str,
        url: &str,
    ) -> Result<(Vec<Record>, Option<Fingerprint>, Response<Value>), ConnectorError> {
        let mut response = self
            .api
            .get::<Value>(url)
            .await
            .map_err(|e| forbidden(e, resource.needs))?;
        let ctx = Ctx {
            org,
            resource_type: resource.name,
            repo: None,
        };
        let items = page_items(resource, std::mem::take(&mut response.body), &response.url)?;
        let fingerprint = Fingerprint::of(&items);
        let records = map_items(resource, &ctx, items, &response.url)?;
        Ok((records, fingerprint, response))
    }

    /// One page of an org-level listing: the endpoint's page at the cursor's URL.
    async fn list_org(
        &self,
        listing: &Listing,
        resource: &'static ResourceType,
        org: &str,
        path: fn(&str) -> String,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let mut cursor = PageToken::state::<PageCursor>(listing, page)?;
        let url = cursor
            .at()
            .map_or_else(|| self.first_url(path(org), resource.items), str::to_owned);
        let (mut records, fingerprint, response) = self.org_page(resource, org, &url).await?;
        if resource.name == runner::ORG.name && records.iter().any(|r| r.parent.is_none()) {
            // Older GitHub versions do not say which group a runner is in; the groups do.
            // Not knowing only leaves the link out: the runners themselves were read.
            match self.runner_group_of(org).await {
                Ok(group_of) => runner_group::link_runners(&mut records, org, &group_of),
                Err(e) => {
                    tracing::warn!(%listing, error = %e, "runner groups unreadable; runners not linked to them");
                }
            }
        }
        let next = cursor.next_token(
            self.limit(listing),
            response.url.as_str(),
            fingerprint,
            response.next.map(String::from),
        )?;
        Ok(Page { records, next })
    }

    /// One page of a per-repository listing: the repo walk, continued where the page token
    /// left it.
    async fn list_per_repo(
        &self,
        listing: &Listing,
        resource: &'static ResourceType,
        org: &str,
        path: fn(&str) -> String,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let repos = RepoWalk {
            connector: self,
            listing,
            resource,
            org,
            path,
        };
        walk(
            &repos,
            listing,
            page,
            self.max_pages,
            self.page_size as usize,
        )
        .await
    }

    /// One page of runner groups, each with its runners. GitHub documents no `Link` on this
    /// endpoint: without one, a full page means the next page number is asked for.
    async fn list_runner_groups(
        &self,
        listing: &Listing,
        resource: &'static ResourceType,
        org: &str,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let mut cursor = PageToken::state::<PageCursor>(listing, page)?;
        let page_number = cursor.pages_read() + 1;
        let url = cursor.at().map_or_else(
            || self.first_url(runner_group::path(org), resource.items),
            str::to_owned,
        );
        let (mut records, fingerprint, response) = self.org_page(resource, org, &url).await?;
        for record in &mut records {
            let runners = self
                .group_runners(listing, resource, org, &record.key.external_id)
                .await?;
            runner_group::attach_runners(record, runners);
        }
        let next = response.next.or_else(|| {
            page_number_next(
                &response.headers,
                page_number,
                u64::from(self.page_size),
                records.len(),
            )
            .map(|n| {
                let mut next = response.url.clone();
                next.query_pairs_mut()
                    .clear()
                    .append_pair("per_page", &self.page_size.to_string())
                    .append_pair("page", &n.to_string());
                next
            })
        });
        let next = cursor.next_token(
            self.limit(listing),
            response.url.as_str(),
            fingerprint,
            next.map(String::from),
        )?;
        Ok(Page { records, next })
    }

    /// Runner id → the id of the group it is in, through the runner-group listing itself.
    async fn runner_group_of(
        &self,
        org: &str,
    ) -> Result<std::collections::HashMap<u64, u64>, ConnectorError> {
        let listing = Listing::new(runner_group::RESOURCE.name, org);
        let mut group_of = std::collections::HashMap::new();
        let mut token = None;
        loop {
            let page = self
                .list_runner_groups(&listing, &runner_group::RESOURCE, org, token.as_ref())
                .await?;
            for group in &page.records {
                let Ok(group_id) = group.key.external_id.parse::<u64>() else {
                    continue;
                };
                for runner in runner_group::runner_ids(group) {
                    group_of.entry(runner).or_insert(group_id);
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(group_of),
            }
        }
    }

    /// Every runner of one runner group, following `Link`.
    async fn group_runners(
        &self,
        listing: &Listing,
        resource: &'static ResourceType,
        org: &str,
        group_id: &str,
    ) -> Result<Vec<Value>, ConnectorError> {
        let first = format!(
            "{}?per_page={}",
            runner_group::runners_path(org, group_id),
            self.page_size
        );
        let mut cursor = PageCursor::default();
        let mut runners = Vec::new();
        loop {
            let url = cursor.at().unwrap_or(&first).to_owned();
            let response = self
                .api
                .get::<Value>(&url)
                .await
                .map_err(|e| forbidden(e, resource.needs))?;
            let items = match response.body {
                Value::Object(mut m) => match m.remove("runners") {
                    Some(Value::Array(items)) => items,
                    _ => {
                        return Err(ConnectorError::Malformed {
                            url: response.url.to_string(),
                            detail: "expected an object with a `runners` array".into(),
                        });
                    }
                },
                _ => {
                    return Err(ConnectorError::Malformed {
                        url: response.url.to_string(),
                        detail: "expected a JSON object".into(),
                    });
                }
            };
            let fingerprint = Fingerprint::of(&items);
            runners.extend(items);
            if !cursor.follow(
                self.limit(listing),
                response.url.as_str(),
                fingerprint,
                response.next.map(String::from),
            )? {
                return Ok(runners);
            }
        }
    }
}

#[derive(Deserialize)]
struct RepoItem {
    full_name: String,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default)]
    visibility: Option<String>,
}

impl RepoItem {
    fn is_public(&self) -> bool {
        match self.visibility.as_deref() {
            Some(v) => v == "public",
            None => self.private == Some(false),
        }
    }
}

/// The repo walk of a per-repository listing: the org's repositories, then each one's endpoint.
struct RepoWalk<'a> {
    connector: &'a GithubConnector,
    listing: &'a Listing,
    resource: &'static ResourceType,
    org: &'a str,
    path: fn(&str) -> String,
}

#[async_trait]
impl Walk for RepoWalk<'_> {
    type Parent = Repo;

    async fn parents(&self, at: Option<&str>) -> Result<Fetched<Repo>, ConnectorError> {
        let c = self.connector;
        let url = at.map_or_else(
            || format!("{}?per_page={}", repos_path(self.org), c.page_size),
            str::to_owned,
        );
        let response = c.api.get::<Vec<RepoItem>>(&url).await.map_err(|e| {
            forbidden(
                e,
                "metadata:read on the org's repositories (classic token: repo)",
            )
        })?;
        let repos: Vec<Repo> = response
            .body
            .into_iter()
            .map(|r| Repo {
                public: r.is_public(),
                full_name: r.full_name,
            })
            .collect();
        Ok(Fetched {
            fingerprint: Fingerprint::of(&repos),
            items: repos,
            url: response.url,
            next: response.next.map(String::from),
        })
    }

    /// A repository that answers 404 is looked up: gone means deleted during the sync (skipped);
    /// still there means the 404 hid what these credentials may not read.
    async fn children(&self, repo: &Repo, at: Option<&str>) -> Result<Children, ConnectorError> {
        let c = self.connector;
        let resource = self.resource;
        let url = at.map_or_else(
            || c.first_url((self.path)(&repo.full_name), resource.items),
            str::to_owned,
        );
        match c.api.get::<Value>(&url).await {
            Ok(response) => {
                let ctx = Ctx {
                    org: self.org,
                    resource_type: resource.name,
                    repo: Some(repo),
                };
                let items = page_items(resource, response.body, &response.url)?;
                let fingerprint = Fingerprint::of(&items);
                Ok(Children::Page(Fetched {
                    items: map_items(resource, &ctx, items, &response.url)?,
                    fingerprint,
                    url: response.url,
                    next: response.next.map(String::from),
                }))
            }
            Err(ConnectorError::NotFound { url: missing }) => {
                match c
                    .api
                    .get::<Value>(&format!("repos/{}", repo.full_name))
                    .await
                {
                    Err(ConnectorError::NotFound { .. }) => {
                        tracing::warn!(
                            repository = %repo.full_name,
                            listing = %self.listing,
                            "repository gone during the sync; skipped"
                        );
                        Ok(Children::Gone { requests: 2 })
                    }
                    Ok(_) => Err(ConnectorError::Forbidden {
                        url: missing,
                        needs: Some(resource.needs.to_string()),
                    }),
                    Err(e) => Err(forbidden(e, resource.needs)),
                }
            }
            Err(e) => Err(forbidden(e, resource.needs)),
        }
    }
}

/// The items of one response body.
fn page_items(
    resource: &ResourceType,
    body: Value,
    url: &url::Url,
) -> Result<Vec<Value>, ConnectorError> {
    let malformed = |detail: String| ConnectorError::Malformed {
        url: url.to_string(),
        detail,
    };
    Ok(match (resource.items, body) {
        (Items::Array, Value::Array(items)) => items,
        (Items::Field(field), Value::Object(mut m)) => match m.remove(field) {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(malformed(format!(
                    "expected an object with a `{field}` array"
                )));
            }
        },
        (Items::Whole, body @ Value::Object(_)) => vec![body],
        (Items::Array, _) => return Err(malformed("expected a JSON array".into())),
        _ => return Err(malformed("expected a JSON object".into())),
    })
}

/// The records of one page's items.
fn map_items(
    resource: &ResourceType,
    ctx: &Ctx<'_>,
    items: Vec<Value>,
    url: &url::Url,
) -> Result<Vec<Record>, ConnectorError> {
    let malformed = |detail: String| ConnectorError::Malformed {
        url: url.to_string(),
        detail,
    };
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        if let Some(r) = (resource.map)(ctx, item).map_err(malformed)? {
            records.push(r);
        }
    }
    Ok(records)
}

#[async_trait]
impl Connector for GithubConnector {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        Ok(self
            .orgs
            .iter()
            .flat_map(|org| RESOURCES.iter().map(move |r| Listing::new(r.name, org)))
            .collect())
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let (resource, org) = self.resource(listing)?;
        match resource.source {
            Source::Org(path) => self.list_org(listing, resource, org, path, page).await,
            Source::PerRepo(path) => self.list_per_repo(listing, resource, org, path, page).await,
            Source::RunnerGroups => self.list_runner_groups(listing, resource, org, page).await,
        }
    }

    fn validator_cache(&self) -> Option<Arc<ValidatorCache>> {
        self.validator_cache.clone()
    }

    fn remediator(&self) -> Option<&dyn Remediator> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    /// Only listing pages are kept for conditional requests: never the token exchange, a
    /// repository lookup or a single item that remediation reads.
    #[test]
    fn only_listing_paths_are_cached() {
        let patterns = super::listing_patterns();
        let admitted = |p: &str| patterns.iter().any(|x| x.matches(p));
        for listed in [
            "orgs/acme/hooks",
            "orgs/acme/repos",
            "orgs/acme/installations",
            "repos/acme/web/keys",
            "repos/acme/web/actions/oidc/customization/sub",
            "orgs/acme/actions/runner-groups",
            "orgs/acme/actions/runner-groups/2/runners",
        ] {
            assert!(admitted(listed), "{listed}");
        }
        for never in [
            "app/installations/1/access_tokens",
            "repos/acme/web",
            "repos/acme/web/keys/12",
            "orgs/acme/hooks/1",
            "orgs/acme/actions/runners/23",
            "orgs/acme/personal-access-tokens/25381",
        ] {
            assert!(!admitted(never), "{never}");
        }
    }

    /// Every rule id this crate signals is in core's catalogue, so the risk engine turns it into
    /// a finding instead of dropping it.
    #[test]
    fn signalled_rules_are_in_the_platform_catalogue() {
        let sources = [
            include_str!("app_installation.rs"),
            include_str!("deploy_key.rs"),
            include_str!("webhook.rs"),
            include_str!("runner.rs"),
            include_str!("runner_group.rs"),
        ];
        let mut ids = Vec::new();
        for src in sources {
            for part in src.split("Signal::new(").skip(1) {
                let id = part.trim_start().trim_start_matches('"');
                let id = &id[..id.find('"').unwrap_or(0)];
                ids.push(id.to_string());
            }
        }
        assert_eq!(ids.len(), 6, "{ids:?}");
        for id in ids {
            assert!(
                roster_core::platform_rule(&id).is_some(),
                "{id} is not in roster_core::PLATFORM_RULES"
            );
        }
    }
}

/// Issue 18: no response body can panic the decoders. Any JSON, item-shaped objects of any
/// field types, and real bodies with one node replaced or removed, through `page_items` and
/// `map_items` for every resource type: records, or an error naming the URL and what was wrong.
#[cfg(test)]
mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use roster_connector_sdk::json_props;
    use serde_json::json;

    const FIELDS: &[&str] = &[
        "id",
        "name",
        "title",
        "key",
        "read_only",
        "created_at",
        "updated_at",
        "last_used",
        "added_by",
        "enabled",
        "verified",
        "app_slug",
        "app_id",
        "account",
        "login",
        "type",
        "permissions",
        "repository_selection",
        "events",
        "suspended_at",
        "active",
        "config",
        "url",
        "content_type",
        "insecure_ssl",
        "secret",
        "visibility",
        "os",
        "status",
        "busy",
        "labels",
        "runner_group_id",
        "default",
        "allows_public_repositories",
        "restricted_to_workflows",
        "selected_workflows",
        "use_default",
        "include_claim_keys",
        "owner",
        "token_id",
        "token_name",
        "token_expired",
        "token_expires_at",
        "token_last_used_at",
        "access_granted_at",
        "credential_id",
        "credential_type",
        "credential_authorized_at",
        "credential_accessed_at",
        "authorized_credential_expires_at",
        "scopes",
        "token_last_eight",
        "fingerprint",
        "secrets",
        "runners",
        "runner_groups",
        "installations",
        "total_count",
        "admin",
        "write",
        "read",
        "administration",
        "contents",
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

    /// Bodies shaped as GitHub sends them, one per kind of listing.
    fn real_bodies() -> Vec<Value> {
        let date = "2024-01-31T10:00:00Z";
        vec![
            json!([{"id": 12, "key": "ssh-ed25519 AAAA", "title": "ci", "read_only": false,
                "created_at": date, "last_used": date, "added_by": "octocat", "enabled": true}]),
            json!({"total_count": 1, "installations": [{"id": 1, "app_slug": "ci-bot",
                "app_id": 9, "account": {"login": "acme"}, "repository_selection": "all",
                "permissions": {"administration": "write", "contents": "read"},
                "created_at": date, "updated_at": date, "suspended_at": null}]}),
            json!({"total_count": 1, "secrets": [{"name": "DEPLOY_TOKEN",
                "created_at": date, "updated_at": date, "visibility": "all"}]}),
            json!({"total_count": 1, "runners": [{"id": 23, "name": "r1", "os": "linux",
                "status": "online", "busy": false, "runner_group_id": 2,
                "labels": [{"id": 1, "name": "self-hosted", "type": "read-only"}]}]}),
            json!({"total_count": 1, "runner_groups": [{"id": 2, "name": "Default",
                "visibility": "all", "default": true, "allows_public_repositories": true,
                "restricted_to_workflows": false, "selected_workflows": []}]}),
            json!([{"id": 1, "name": "web", "active": true, "events": ["push"],
                "config": {"url": "https://hooks.example/x?token=s", "content_type": "json",
                "insecure_ssl": "1", "secret": "********"}, "created_at": date, "updated_at": date}]),
            json!({"use_default": false, "include_claim_keys": ["repo", "context"]}),
            json!([{"id": 25381, "owner": {"login": "octocat", "id": 1, "type": "User"},
                "repository_selection": "all", "permissions": {"organization": {"members": "read"},
                "repository": {"administration": "write"}}, "access_granted_at": date,
                "token_id": 98, "token_name": "deploy", "token_expired": false,
                "token_expires_at": date, "token_last_used_at": null}]),
            json!([{"login": "octocat", "credential_id": 161, "credential_type": "personal access token",
                "token_last_eight": "12345678", "credential_authorized_at": date,
                "credential_accessed_at": date, "authorized_credential_expires_at": null,
                "scopes": ["repo", "admin:org"], "fingerprint": "jklmnop12345678"}]),
        ]
    }

    /// Every resource type decodes `body` (as an org listing, and as a repository's) or names
    /// what was wrong.
    fn decodes_or_names(body: &Value) -> Result<(), TestCaseError> {
        let url = url::Url::parse("https://api.github.test/orgs/acme/things?per_page=100")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let repo = Repo {
            full_name: "acme/web".into(),
            public: true,
        };
        for resource in RESOURCES {
            for repo in [None, Some(&repo)] {
                let ctx = Ctx {
                    org: "acme",
                    resource_type: resource.name,
                    repo,
                };
                let decoded = page_items(resource, body.clone(), &url)
                    .and_then(|items| map_items(resource, &ctx, items, &url));
                match decoded {
                    Ok(mut records) => {
                        // What the runner listing does with a page of groups and runners.
                        for r in &mut records {
                            if resource.name == runner_group::RESOURCE.name {
                                let runners = body.as_array().cloned().unwrap_or_default();
                                runner_group::attach_runners(r, runners);
                                let _ = runner_group::runner_ids(r).count();
                            }
                        }
                        let groups = std::collections::HashMap::from([(23, 2)]);
                        runner_group::link_runners(&mut records, "acme", &groups);
                    }
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
        fn item_shaped_objects(items in prop::collection::vec(item(), 0..4), wrap in prop::sample::select(&[
            "", "installations", "secrets", "runners", "runner_groups",
        ][..])) {
            let body = match wrap {
                "" => Value::Array(items),
                field => json!({"total_count": items.len(), field: items}),
            };
            decodes_or_names(&body)?;
            if let Some(one) = body.as_array().and_then(|a| a.first()) {
                decodes_or_names(one)?;
            }
        }

        #[test]
        fn real_bodies_mutated(body in mutated(real_bodies())) {
            decodes_or_names(&body)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// An App's private key file, any text (PEM-shaped or not): a key or a named error.
        #[test]
        fn any_app_key_pem(
            label in prop::sample::select(&["RSA PRIVATE KEY", "PRIVATE KEY", "CERTIFICATE", ""][..]),
            body in prop_oneof!["[A-Za-z0-9+/=\n]{0,120}", any::<String>()],
            raw in any::<bool>(),
        ) {
            let pem = if raw { body } else { format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n") };
            if let Err(e) = AppKey::from_pem(&pem) {
                prop_assert!(!e.trim().is_empty());
            }
        }
    }

    /// The real bodies themselves decode into records for the listing they belong to, so
    /// their mutations start from what the mappers accept.
    #[test]
    fn real_bodies_decode() {
        let url = url::Url::parse("https://api.github.test/x").unwrap();
        for body in real_bodies() {
            decodes_or_names(&body).unwrap();
            let records: usize = RESOURCES
                .iter()
                .filter_map(|resource| {
                    let ctx = Ctx {
                        org: "acme",
                        resource_type: resource.name,
                        repo: None,
                    };
                    page_items(resource, body.clone(), &url)
                        .and_then(|items| map_items(resource, &ctx, items, &url))
                        .ok()
                })
                .map(|r| r.len())
                .sum();
            assert!(records > 0, "no resource type maps {body}");
        }
    }
}
