//! `azure.federated_credential`: federated identity credentials of every app registration
//! (`GET /v1.0/applications/{id}/federatedIdentityCredentials`): an external issuer's tokens
//! whose `sub` equals `subject` (and `aud` one of `audiences`) sign in as the app — no secret.
//!
//! Entra matches `subject` exactly, so the breadth of a credential is what its subject's
//! claims leave open. For GitHub Actions (and GitLab CI) the subject is built from claims of the
//! job; a subject that names no repository (an org-wide custom template such as
//! `repository_owner:acme:environment:prod`), or names a repository but no branch, tag or
//! environment, admits more than one repository or branch: NHI6, with the repositories and
//! refs that can federate in spelled out.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record, Signal};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::common::{Application, decode, owner_fields, record};
use crate::graph::forbidden;
use crate::{APPLICATIONS_NEEDS, AzureConnector, MAX_PAGES, malformed};

pub(crate) const RESOURCE: &str = "azure.federated_credential";

#[derive(Deserialize)]
struct FederatedIdentityCredential {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
}

pub(crate) async fn records(
    c: &AzureConnector,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::new();
    for item in items {
        let app: Application = decode(&item).map_err(|e| malformed(url, e))?;
        let path = format!("v1.0/applications/{}/federatedIdentityCredentials", app.id);
        let fics: Vec<Value> = c
            .graph
            .all(&path, MAX_PAGES)
            .await
            .map_err(|e| forbidden(e, APPLICATIONS_NEEDS))?;
        if fics.is_empty() {
            continue;
        }
        let permissions = match &app.app_id {
            Some(app_id) => Some(c.permissions.of_app_id(&c.graph, app_id, MAX_PAGES).await?),
            None => None,
        };
        let app_seen = c
            .sign_ins
            .app(&c.graph, app.app_id.as_deref(), MAX_PAGES)
            .await?;
        let owners = c.owners_of_application(&app.id).await?;
        let (owner, _) = owner_fields(&owners);
        let app_name = app.name();
        for mut raw in fics {
            let fic: FederatedIdentityCredential = decode(&raw).map_err(|e| malformed(url, e))?;
            let fic_name = fic.name.clone().unwrap_or_else(|| fic.id.clone());
            let issuer = fic.issuer.clone().unwrap_or_default();
            let subject = fic.subject.clone().unwrap_or_default();
            let mut r = record(
                RESOURCE,
                &c.tenant,
                Kind::Role,
                format!("{}/{}", app.id, fic.id),
                format!("{app_name}: {fic_name}"),
                Value::Null,
            );
            r.parent = Some(c.application_key(&app.id));
            if let Some(p) = &permissions {
                r.privilege = p.privilege;
                r.privilege_detail = p.detail.clone();
            }
            // Entra's reports do not attribute sign-ins to one federated credential: an app
            // that never signed in never used it; otherwise the source cannot say.
            if app_seen.usage == roster_core::Usage::NeverUsed {
                r.usage = roster_core::Usage::NeverUsed;
            }
            if let Some(o) = &owner {
                r.owner = Some(o.clone());
                r.owner_source = Some("azure:application_owner".into());
            }
            let scope = federation_scope(&issuer, &subject);
            if let Value::Object(m) = &mut raw {
                m.insert(
                    "application".into(),
                    serde_json::json!({"id": app.id, "appId": app.app_id, "displayName": app.display_name}),
                );
                if let Some(scope) = &scope {
                    m.insert("federatesFrom".into(), Value::String(scope.who.clone()));
                }
            }
            if let Some(scope) = &scope
                && scope.broad
            {
                let perms = permissions
                    .as_ref()
                    .map(|p| format!(" with its permissions ({})", p.detail.join(", ")))
                    .unwrap_or_default();
                r.signals.push(Signal::new(
                        "azure.federated_credential.broad_subject",
                        format!(
                            "federated credential `{fic_name}` of app `{app_name}` admits {}: {} (issuer {issuer}, subject `{subject}`, audiences {}) can sign in as the app{perms}",
                            scope.breadth,
                            scope.who,
                            fic.audiences.join(", ")
                        ),
                    ));
            }
            r.raw = raw;
            out.push(r);
        }
    }
    Ok(out)
}

/// Who can present a token that matches a federated credential, for the CI issuers Roster
/// knows (GitHub Actions, GitLab CI); `None` for other issuers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationScope {
    /// In plain words: "GitHub Actions jobs in any repository of `acme`, on any branch".
    pub who: String,
    /// More than one repository, or more than one branch of one repository.
    pub broad: bool,
    /// What is open: "more than one repository" / "more than one branch".
    pub breadth: &'static str,
}

/// Claim keys GitHub can put in a subject (the default template and every
/// `include_claim_keys` of a customised one).
const GITHUB_KEYS: &[&str] = &[
    "repo",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "context",
    "environment",
    "ref",
    "ref_type",
    "ref_protected",
    "pull_request",
    "job_workflow_ref",
    "job_workflow_sha",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "event_name",
    "head_ref",
    "base_ref",
    "actor",
    "actor_id",
    "enterprise",
    "enterprise_id",
    "runner_environment",
    "sha",
    "run_id",
    "run_number",
    "run_attempt",
];

const GITLAB_KEYS: &[&str] = &[
    "project_path",
    "project_id",
    "namespace_path",
    "namespace_id",
    "ref_type",
    "ref",
    "ref_protected",
    "environment",
    "environment_protected",
    "pipeline_source",
    "user_login",
    "user_id",
    "job_project_path",
];

/// `key:value:key:value` with values that may contain `:` until the next known key; a key
/// without a value (GitHub's `pull_request`) maps to "".
fn claims<'a>(subject: &'a str, keys: &[&str]) -> Vec<(&'a str, String)> {
    let parts: Vec<&str> = subject.split(':').collect();
    let mut out: Vec<(&str, String)> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        let key = parts[i];
        let mut value: Vec<&str> = Vec::new();
        i += 1;
        while i < parts.len() && !keys.contains(&parts[i]) {
            value.push(parts[i]);
            i += 1;
        }
        out.push((key, value.join(":")));
    }
    out
}

/// How broad a federated credential is (see [`FederationScope`]).
pub fn federation_scope(issuer: &str, subject: &str) -> Option<FederationScope> {
    let host = Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let host = host.as_deref().unwrap_or("");
    let github =
        host == "token.actions.githubusercontent.com" || issuer.ends_with("/_services/token");
    let gitlab = host.contains("gitlab");
    if github {
        Some(github_scope(subject))
    } else if gitlab {
        Some(gitlab_scope(subject))
    } else {
        None
    }
}

fn get<'a>(claims: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    claims
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

fn github_scope(subject: &str) -> FederationScope {
    let c = claims(subject, GITHUB_KEYS);
    let repo = get(&c, "repo")
        .or_else(|| get(&c, "repository"))
        .map(|r| format!("repository `{r}`"))
        .or_else(|| get(&c, "repository_id").map(|id| format!("the repository with id {id}")));
    let owner = get(&c, "repository_owner")
        .map(|o| format!("`{o}`"))
        .or_else(|| get(&c, "repository_owner_id").map(|id| format!("the owner with id {id}")));
    let refs = if let Some(r) = get(&c, "ref") {
        Some(format!("ref `{r}`"))
    } else if let Some(e) = get(&c, "environment") {
        Some(format!("environment `{e}`"))
    } else {
        get(&c, "job_workflow_ref").map(|w| format!("reusable workflow `{w}`"))
    };
    let pull_request = get(&c, "pull_request").is_some();
    let branches = match (&refs, pull_request) {
        (Some(r), _) => r.clone(),
        (None, true) => "any pull request, whatever its head branch".to_string(),
        (None, false) => "any branch, tag or event".to_string(),
    };
    match (repo, owner) {
        (Some(repo), _) => FederationScope {
            who: format!("GitHub Actions jobs in {repo}, {branches}"),
            broad: refs.is_none(),
            breadth: "more than one branch",
        },
        (None, Some(owner)) => FederationScope {
            who: format!("GitHub Actions jobs in any repository of {owner}, {branches}"),
            broad: true,
            breadth: "more than one repository",
        },
        (None, None) => FederationScope {
            who: format!("GitHub Actions jobs in any repository on the issuer, {branches}"),
            broad: true,
            breadth: "more than one repository",
        },
    }
}

fn gitlab_scope(subject: &str) -> FederationScope {
    let c = claims(subject, GITLAB_KEYS);
    let refs = get(&c, "ref").map(|r| {
        let kind = get(&c, "ref_type").unwrap_or("ref");
        format!("{kind} `{r}`")
    });
    let branches = refs
        .clone()
        .unwrap_or_else(|| "any branch or tag".to_string());
    if let Some(project) = get(&c, "project_path") {
        FederationScope {
            who: format!("GitLab CI jobs in project `{project}`, {branches}"),
            broad: refs.is_none(),
            breadth: "more than one branch",
        }
    } else {
        let group = get(&c, "namespace_path")
            .map(|g| format!("any project of `{g}`"))
            .unwrap_or_else(|| "any project on the issuer".to_string());
        FederationScope {
            who: format!("GitLab CI jobs in {group}, {branches}"),
            broad: true,
            breadth: "more than one repository",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH: &str = "https://token.actions.githubusercontent.com";

    #[test]
    fn one_repository_and_branch_is_narrow() {
        let s = federation_scope(GH, "repo:contoso/web:ref:refs/heads/main").unwrap();
        assert!(!s.broad);
        assert_eq!(
            s.who,
            "GitHub Actions jobs in repository `contoso/web`, ref `refs/heads/main`"
        );
        let s = federation_scope(GH, "repo:contoso/web:environment:prod").unwrap();
        assert!(!s.broad, "{s:?}");
    }

    #[test]
    fn owner_wide_custom_template_admits_every_repository() {
        let s = federation_scope(GH, "repository_owner:contoso:environment:prod").unwrap();
        assert!(s.broad);
        assert_eq!(s.breadth, "more than one repository");
        assert!(s.who.contains("any repository of `contoso`"), "{}", s.who);
        assert!(s.who.contains("environment `prod`"), "{}", s.who);
    }

    #[test]
    fn pull_requests_and_refless_subjects_admit_many_branches() {
        let s = federation_scope(GH, "repo:contoso/web:pull_request").unwrap();
        assert!(s.broad);
        assert_eq!(s.breadth, "more than one branch");
        assert!(s.who.contains("any pull request"), "{}", s.who);
        let s = federation_scope(GH, "repo:contoso/web").unwrap();
        assert!(
            s.broad && s.who.contains("any branch, tag or event"),
            "{s:?}"
        );
    }

    #[test]
    fn gitlab_subjects_and_other_issuers() {
        let s = federation_scope(
            "https://gitlab.com",
            "project_path:grp/app:ref_type:branch:ref:main",
        )
        .unwrap();
        assert!(!s.broad);
        assert_eq!(s.who, "GitLab CI jobs in project `grp/app`, branch `main`");
        let s = federation_scope("https://gitlab.example.com", "project_path:grp/app").unwrap();
        assert!(s.broad);
        assert!(
            federation_scope(
                "https://kubernetes.default.svc",
                "system:serviceaccount:a:b"
            )
            .is_none()
        );
    }
}
