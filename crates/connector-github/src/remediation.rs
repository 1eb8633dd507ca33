//! Remediation through GitHub's REST API, one documented call per action:
//!
//! | resource type | action | live read | call |
//! |---|---|---|---|
//! | `github.deploy_key` | `delete` | `GET /repos/{o}/{r}/keys/{id}` | `DELETE /repos/{o}/{r}/keys/{id}` |
//! | `github.fine_grained_pat` | `revoke` | `GET /orgs/{org}/personal-access-tokens` (paged) | `POST /orgs/{org}/personal-access-tokens/{pat_id}` `{"action":"revoke"}` |
//! | `github.credential_authorization` | `remove` | `GET /orgs/{org}/credential-authorizations?login=` (paged) | `DELETE /orgs/{org}/credential-authorizations/{credential_id}` |
//! | `github.org_runner` | `remove` | `GET /orgs/{org}/actions/runners/{id}` | `DELETE /orgs/{org}/actions/runners/{id}` |
//! | `github.repo_runner` | `remove` | `GET /repos/{o}/{r}/actions/runners/{id}` | `DELETE /repos/{o}/{r}/actions/runners/{id}` |
//! | `github.webhook` | `deactivate` | `GET /orgs/{org}/hooks/{id}` | `PATCH /orgs/{org}/hooks/{id}` `{"active":false}` |
//!
//! Every step reads the live object first, so a stale inventory never drives a destructive
//! call: an object GitHub no longer shows (404) is left alone, and so is a webhook already
//! inactive. A dry run makes the same reads and lists the call a real run would make. A real run
//! needs `[connectors.remediation] enabled = true`. None of these is staged: GitHub has no
//! "disable" for a key, a grant, an authorization or a runner.

use async_trait::async_trait;
use reqwest::Method;
use roster_connector_sdk::{
    ConnectorError, Fingerprint, PageCursor, PageLimit, RemediationError, RemediationOutcome,
    RemediationRequest, Remediator,
};
use roster_core::Record;
use serde_json::{Value, json};

use crate::api::forbidden;
use crate::{
    GithubConnector, credential_authorization, deploy_key, fine_grained_pat, runner, webhook,
};

const DELETE: &[&str] = &["delete"];
const REVOKE: &[&str] = &["revoke"];
const REMOVE: &[&str] = &["remove"];
const DEACTIVATE: &[&str] = &["deactivate"];

fn offered(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        t if t == deploy_key::RESOURCE.name => DELETE,
        t if t == fine_grained_pat::RESOURCE.name => REVOKE,
        t if t == credential_authorization::RESOURCE.name => REMOVE,
        t if t == runner::ORG.name || t == runner::REPO.name => REMOVE,
        t if t == webhook::RESOURCE.name => DEACTIVATE,
        _ => &[],
    }
}

/// The one mutating call a step makes, and how to describe it.
struct Call {
    method: Method,
    /// Relative to `api_url`, no leading slash.
    path: String,
    body: Option<Value>,
    /// What the credentials need for it, reported when GitHub answers 403 or 404.
    needs: &'static str,
    /// Past tense and conditional: `deleted` / `would delete`.
    done: &'static str,
    would: &'static str,
    /// The object, for the summary: "deploy key `ci` (12) of `acme/web`".
    what: String,
}

impl Call {
    fn describe(&self) -> String {
        match &self.body {
            Some(body) => format!("{} /{} {body}", self.method, self.path),
            None => format!("{} /{}", self.method, self.path),
        }
    }
}

/// What the live read found.
enum Live {
    /// Act with this call.
    Act(Call),
    /// Nothing to do; the summary says why.
    Nothing(String),
}

fn refused(msg: impl Into<String>) -> RemediationError {
    RemediationError::Refused(msg.into())
}

/// A numeric GitHub id, as the record's external id (or its last segment) carries it.
fn numeric_id(s: &str) -> Result<u64, RemediationError> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(refused(format!("`{s}` is not a GitHub id")));
    }
    s.parse()
        .map_err(|_| refused(format!("`{s}` is not a GitHub id")))
}

/// `owner/repo/id` of a repository-level record, checked to stay under the record's org and
/// to be safe as URL path segments.
fn repo_and_id<'a>(record: &'a Record, org: &str) -> Result<(&'a str, u64), RemediationError> {
    let external = record.key.external_id.as_str();
    let (repo, id) = external
        .rsplit_once('/')
        .ok_or_else(|| refused(format!("`{external}` does not name a repository")))?;
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if segment_ok(owner) && segment_ok(name) => {
            if !owner.eq_ignore_ascii_case(org) {
                return Err(refused(format!(
                    "repository `{repo}` is not in the record's org `{org}`"
                )));
            }
        }
        _ => return Err(refused(format!("`{repo}` is not a repository name"))),
    }
    Ok((repo, numeric_id(id)?))
}

fn text<'a>(item: &'a Value, field: &str) -> Option<&'a str> {
    item.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl GithubConnector {
    /// GET one object: `None` when GitHub answers 404 (gone, or hidden from these credentials;
    /// either way not something to act on).
    async fn read_one(&self, path: &str, needs: &str) -> Result<Option<Value>, ConnectorError> {
        match self.api.get::<Value>(path).await {
            Ok(response) => Ok(Some(response.body)),
            Err(ConnectorError::NotFound { .. }) => Ok(None),
            Err(e) => Err(forbidden(e, needs)),
        }
    }

    /// Pages through a listing (a JSON array per page) for the item whose `id_field` is `id`.
    async fn find_listed(
        &self,
        first: String,
        id_field: &str,
        id: u64,
        needs: &str,
    ) -> Result<Option<Value>, ConnectorError> {
        let limit = PageLimit::new(&first, self.max_pages);
        let mut cursor = PageCursor::default();
        loop {
            let url = cursor.at().unwrap_or(&first).to_owned();
            let response = self
                .api
                .get::<Value>(&url)
                .await
                .map_err(|e| forbidden(e, needs))?;
            let Value::Array(items) = response.body else {
                return Err(ConnectorError::Malformed {
                    url: response.url.to_string(),
                    detail: "expected a JSON array".into(),
                });
            };
            let fingerprint = Fingerprint::of(&items);
            if let Some(item) = items
                .into_iter()
                .find(|i| i.get(id_field).and_then(Value::as_u64) == Some(id))
            {
                return Ok(Some(item));
            }
            if !cursor.follow(
                limit,
                response.url.as_str(),
                fingerprint,
                response.next.map(String::from),
            )? {
                return Ok(None);
            }
        }
    }

    async fn deploy_key(&self, record: &Record, org: &str) -> Result<Live, RemediationError> {
        let (repo, id) = repo_and_id(record, org)?;
        let path = format!("repos/{repo}/keys/{id}");
        let Some(live) = self.read_one(&path, deploy_key::RESOURCE.needs).await? else {
            return Ok(Live::Nothing(format!(
                "GitHub shows no deploy key {id} on `{repo}` (deleted, or hidden from these credentials); nothing to do"
            )));
        };
        let title = text(&live, "title").unwrap_or("untitled");
        Ok(Live::Act(Call {
            method: Method::DELETE,
            path,
            body: None,
            needs: "administration:write on the repository (classic token: repo, as a repository admin)",
            done: "deleted",
            would: "would delete",
            what: format!(
                "deploy key `{title}` ({id}, {}) of `{repo}`",
                if live.get("read_only").and_then(Value::as_bool) == Some(true) {
                    "read-only"
                } else {
                    "read-write"
                }
            ),
        }))
    }

    async fn fine_grained_pat(&self, record: &Record, org: &str) -> Result<Live, RemediationError> {
        let id = numeric_id(&record.key.external_id)?;
        let first = format!(
            "orgs/{org}/personal-access-tokens?per_page={}",
            self.page_size
        );
        let Some(live) = self
            .find_listed(first, "id", id, fine_grained_pat::RESOURCE.needs)
            .await?
        else {
            return Ok(Live::Nothing(format!(
                "`{org}` lists no fine-grained token grant {id} any more (revoked or expired); nothing to do"
            )));
        };
        let name = text(&live, "token_name").unwrap_or("unnamed token");
        let owner = live
            .pointer("/owner/login")
            .and_then(Value::as_str)
            .unwrap_or("unknown owner");
        Ok(Live::Act(Call {
            method: Method::POST,
            path: format!("orgs/{org}/personal-access-tokens/{id}"),
            body: Some(json!({"action": "revoke"})),
            needs: "a GitHub App installation token with organization_personal_access_tokens:write",
            done: "revoked",
            would: "would revoke",
            what: format!("the grant {id} of fine-grained token `{name}` of {owner} to `{org}`"),
        }))
    }

    async fn credential_authorization(
        &self,
        record: &Record,
        org: &str,
    ) -> Result<Live, RemediationError> {
        let id = numeric_id(&record.key.external_id)?;
        // Narrowed to the member's authorizations when the record names the member.
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("per_page", &self.page_size.to_string());
            if let Some(login) = record.raw.get("login").and_then(Value::as_str) {
                query.append_pair("login", login);
            }
            query.finish()
        };
        let Some(live) = self
            .find_listed(
                format!("orgs/{org}/credential-authorizations?{query}"),
                "credential_id",
                id,
                credential_authorization::RESOURCE.needs,
            )
            .await?
        else {
            return Ok(Live::Nothing(format!(
                "`{org}` lists no SAML SSO authorization of credential {id} any more; nothing to do"
            )));
        };
        let ctype = text(&live, "credential_type").unwrap_or("credential");
        let login = text(&live, "login").unwrap_or("unknown member");
        Ok(Live::Act(Call {
            method: Method::DELETE,
            path: format!("orgs/{org}/credential-authorizations/{id}"),
            body: None,
            needs: "admin:org as an org owner (classic token; SAML SSO orgs on GitHub Enterprise Cloud)",
            done: "removed",
            would: "would remove",
            what: format!("the SAML SSO authorization of {ctype} {id} of {login} for `{org}`"),
        }))
    }

    async fn runner(&self, record: &Record, org: &str) -> Result<Live, RemediationError> {
        let (path, place, id, needs) = if record.key.resource_type == runner::REPO.name {
            let (repo, id) = repo_and_id(record, org)?;
            (
                format!("repos/{repo}/actions/runners/{id}"),
                repo.to_string(),
                id,
                (
                    runner::REPO.needs,
                    "administration:write on the repository (classic token: repo)",
                ),
            )
        } else {
            let id = numeric_id(&record.key.external_id)?;
            (
                format!("orgs/{org}/actions/runners/{id}"),
                org.to_string(),
                id,
                (
                    runner::ORG.needs,
                    "organization_self_hosted_runners:write (classic token: admin:org)",
                ),
            )
        };
        let Some(live) = self.read_one(&path, needs.0).await? else {
            return Ok(Live::Nothing(format!(
                "GitHub shows no self-hosted runner {id} on `{place}` any more; nothing to do"
            )));
        };
        let name = text(&live, "name").unwrap_or("unnamed");
        let busy = if live.get("busy").and_then(Value::as_bool) == Some(true) {
            " (busy with a job now)"
        } else {
            ""
        };
        Ok(Live::Act(Call {
            method: Method::DELETE,
            path,
            body: None,
            needs: needs.1,
            done: "removed",
            would: "would remove",
            what: format!("self-hosted runner `{name}` ({id}){busy} from `{place}`"),
        }))
    }

    async fn webhook(&self, record: &Record, org: &str) -> Result<Live, RemediationError> {
        let id = numeric_id(&record.key.external_id)?;
        let path = format!("orgs/{org}/hooks/{id}");
        let Some(live) = self.read_one(&path, webhook::RESOURCE.needs).await? else {
            return Ok(Live::Nothing(format!(
                "GitHub shows no webhook {id} on `{org}` any more; nothing to do"
            )));
        };
        // The live config's URL may carry credentials: the summary uses the record's name,
        // whose URL the inventory redacted.
        if live.get("active").and_then(Value::as_bool) == Some(false) {
            return Ok(Live::Nothing(format!(
                "webhook {id} ({}) of `{org}` is already inactive; nothing to do",
                record.name
            )));
        }
        Ok(Live::Act(Call {
            method: Method::PATCH,
            path,
            body: Some(json!({"active": false})),
            needs: "organization_hooks:write (classic token: admin:org_hook)",
            done: "deactivated",
            would: "would deactivate",
            what: format!("webhook {id} ({}) of `{org}`", record.name),
        }))
    }
}

#[async_trait]
impl Remediator for GithubConnector {
    fn actions(&self, resource_type: &str) -> &'static [&'static str] {
        offered(resource_type)
    }

    fn previous_stage(&self, _action: &str) -> Option<&'static str> {
        None
    }

    fn execution_off(&self) -> Option<String> {
        roster_connector_sdk::execution_off(self.remediation.enabled)
    }

    async fn remediate(
        &self,
        req: &RemediationRequest<'_>,
    ) -> Result<RemediationOutcome, RemediationError> {
        let r = req.record;
        let resource_type = r.key.resource_type.as_str();
        req.check("github", offered(resource_type), self.remediation.enabled)?;
        let org = self
            .orgs
            .iter()
            .find(|o| o.eq_ignore_ascii_case(&r.key.scope))
            .map(String::as_str)
            .ok_or_else(|| {
                refused(format!(
                    "org `{}` is not configured on this connector",
                    r.key.scope
                ))
            })?;

        // Live state first: the inventory may be hours old.
        let live = match resource_type {
            t if t == deploy_key::RESOURCE.name => self.deploy_key(r, org).await?,
            t if t == fine_grained_pat::RESOURCE.name => self.fine_grained_pat(r, org).await?,
            t if t == credential_authorization::RESOURCE.name => {
                self.credential_authorization(r, org).await?
            }
            t if t == webhook::RESOURCE.name => self.webhook(r, org).await?,
            _ => self.runner(r, org).await?,
        };
        let call = match live {
            Live::Nothing(summary) => {
                return Ok(RemediationOutcome {
                    executed: false,
                    summary,
                    calls: vec![],
                });
            }
            Live::Act(call) => call,
        };
        if req.execute {
            self.api
                .send(call.method.clone(), &call.path, call.body.as_ref())
                .await
                .map_err(|e| forbidden(e, call.needs))?;
        }
        Ok(RemediationOutcome {
            executed: req.execute,
            summary: format!(
                "{} {}",
                if req.execute { call.done } else { call.would },
                call.what
            ),
            calls: vec![call.describe()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_is_offered_one_action_or_none() {
        for t in crate::resource_types() {
            let n = offered(t).len();
            let expected = !matches!(
                t,
                "github.app_installation"
                    | "github.org_actions_secret"
                    | "github.repo_actions_secret"
                    | "github.oidc_sub_template"
                    | "github.repo_oidc_sub_template"
                    | "github.runner_group"
            );
            assert_eq!(n == 1, expected, "{t}");
        }
    }

    #[test]
    fn repository_ids_are_checked() {
        let mut record = Record {
            key: roster_core::RecordKey {
                resource_type: "github.deploy_key".into(),
                scope: "acme".into(),
                external_id: "acme/web/12".into(),
            },
            platform: roster_core::Platform::Github,
            kind: roster_core::Kind::DeployKey,
            name: "k".into(),
            parent: None,
            status: roster_core::Status::Active,
            created_at: None,
            last_used_at: None,
            usage: roster_core::Usage::NoTelemetry,
            expires_at: None,
            privilege: roster_core::Privilege::Write,
            privilege_detail: vec![],
            owner: None,
            owner_source: None,
            credential_fingerprint: None,
            signals: vec![],
            interactive_sign_in: None,
            raw: Value::Null,
        };
        assert_eq!(repo_and_id(&record, "acme").ok(), Some(("acme/web", 12)));
        assert_eq!(repo_and_id(&record, "ACME").ok(), Some(("acme/web", 12)));
        for bad in [
            "other/web/12",
            "acme/../12",
            "acme/web/x",
            "acme/web/",
            "12",
            "acme/we b/12",
            "acme/web/1?x=2",
            "acme/a/b/1",
        ] {
            record.key.external_id = bad.into();
            assert!(repo_and_id(&record, "acme").is_err(), "{bad}");
        }
    }
}
