//! Remediation through GitLab's REST API, one documented call per action:
//!
//! | resource type | action | live read | call |
//! |---|---|---|---|
//! | `gitlab.project_access_token` | `revoke` | `GET /projects/:id/access_tokens/:token_id` | `DELETE /projects/:id/access_tokens/:token_id` |
//! | `gitlab.group_access_token` | `revoke` | `GET /groups/:id/access_tokens/:token_id` | `DELETE /groups/:id/access_tokens/:token_id` |
//! | `gitlab.personal_access_token` | `revoke` | `GET /personal_access_tokens/:id` | `DELETE /personal_access_tokens/:id` |
//! | `gitlab.project_deploy_token` | `revoke` | `GET /projects/:id/deploy_tokens/:token_id` | `DELETE /projects/:id/deploy_tokens/:token_id` |
//! | `gitlab.group_deploy_token` | `revoke` | `GET /groups/:id/deploy_tokens/:token_id` | `DELETE /groups/:id/deploy_tokens/:token_id` |
//! | `gitlab.deploy_key` | `delete` | `GET /projects/:id/deploy_keys/:key_id` | `DELETE /projects/:id/deploy_keys/:key_id` |
//! | `gitlab.pipeline_trigger` | `delete` | `GET /projects/:id/triggers/:trigger_id` | `DELETE /projects/:id/triggers/:trigger_id` |
//!
//! Every step reads the live object first, so a stale inventory never drives a destructive call:
//! an object GitLab no longer shows (404) is left alone, and so is a token already revoked or
//! inactive. A dry run makes the same read and lists the call a real run would make. A real run
//! needs `[connectors.remediation] enabled = true`. None is staged: GitLab has no "disable" for
//! these (a revoked token cannot be restored).

use async_trait::async_trait;
use reqwest::Method;
use roster_connector_sdk::{
    ConnectorError, RemediationError, RemediationOutcome, RemediationRequest, Remediator,
};
use roster_core::Record;
use serde_json::Value;

use crate::api::forbidden;
use crate::common::{INSTANCE_SCOPE, Scope};
use crate::{
    GitlabConnector, access_token, deploy_key, deploy_token, personal_access_token,
    pipeline_trigger,
};

const REVOKE: &[&str] = &["revoke"];
const DELETE: &[&str] = &["delete"];

fn offered(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        t if t == access_token::PROJECT.name
            || t == access_token::GROUP.name
            || t == personal_access_token::RESOURCE.name
            || t == deploy_token::PROJECT.name
            || t == deploy_token::GROUP.name =>
        {
            REVOKE
        }
        t if t == deploy_key::PROJECT.name || t == pipeline_trigger::RESOURCE.name => DELETE,
        _ => &[],
    }
}

fn refused(msg: impl Into<String>) -> RemediationError {
    RemediationError::Refused(msg.into())
}

/// A numeric GitLab id.
fn numeric_id(s: &str) -> Result<u64, RemediationError> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(refused(format!("`{s}` is not a GitLab id")));
    }
    s.parse()
        .map_err(|_| refused(format!("`{s}` is not a GitLab id")))
}

/// `{project id}/{id}` of a per-project record.
fn project_and_id(record: &Record) -> Result<(u64, u64), RemediationError> {
    let external = record.key.external_id.as_str();
    let (project, id) = external
        .split_once('/')
        .ok_or_else(|| refused(format!("`{external}` does not name a project")))?;
    Ok((numeric_id(project)?, numeric_id(id)?))
}

fn text<'a>(item: &'a Value, field: &str) -> Option<&'a str> {
    item.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a step does: the object's path (read, then deleted) and how to describe it.
struct Target {
    path: String,
    /// `revoked` / `would revoke`.
    done: &'static str,
    would: &'static str,
    /// The object, e.g. "project access token `deploy` (42) of project 7".
    what: String,
    needs: &'static str,
}

impl GitlabConnector {
    fn target(&self, r: &Record, scope: Scope<'_>) -> Result<Target, RemediationError> {
        let t = r.key.resource_type.as_str();
        let group = || {
            scope.group_segment().ok_or_else(|| {
                refused(format!(
                    "{t} records belong to a group; this one is in {}",
                    r.key.scope
                ))
            })
        };
        let revoke = ("revoked", "would revoke");
        let delete = ("deleted", "would delete");
        let (path, (done, would), what, needs) = if t == access_token::PROJECT.name {
            let (p, id) = project_and_id(r)?;
            (
                format!("projects/{p}/access_tokens/{id}"),
                revoke,
                format!("project access token {id} of project {p}"),
                "the Maintainer role on the project (token scope api)",
            )
        } else if t == access_token::GROUP.name {
            let id = numeric_id(&r.key.external_id)?;
            (
                format!("groups/{}/access_tokens/{id}", group()?),
                revoke,
                format!("group access token {id} of `{}`", r.key.scope),
                "the Owner role on the group (token scope api)",
            )
        } else if t == personal_access_token::RESOURCE.name {
            let id = numeric_id(&r.key.external_id)?;
            (
                format!("personal_access_tokens/{id}"),
                revoke,
                format!("personal access token {id}"),
                "an administrator token (or the group's Owner role for a group service account)",
            )
        } else if t == deploy_token::PROJECT.name {
            let (p, id) = project_and_id(r)?;
            (
                format!("projects/{p}/deploy_tokens/{id}"),
                revoke,
                format!("deploy token {id} of project {p}"),
                "the Maintainer role on the project",
            )
        } else if t == deploy_token::GROUP.name {
            let id = numeric_id(&r.key.external_id)?;
            (
                format!("groups/{}/deploy_tokens/{id}", group()?),
                revoke,
                format!("deploy token {id} of `{}`", r.key.scope),
                "the Maintainer role on the group",
            )
        } else if t == deploy_key::PROJECT.name {
            let (p, id) = project_and_id(r)?;
            (
                format!("projects/{p}/deploy_keys/{id}"),
                delete,
                format!("deploy key {id} of project {p}"),
                "the Maintainer role on the project",
            )
        } else {
            let (p, id) = project_and_id(r)?;
            (
                format!("projects/{p}/triggers/{id}"),
                delete,
                format!("pipeline trigger {id} of project {p}"),
                "the Maintainer role on the project (and ownership of the trigger)",
            )
        };
        Ok(Target {
            path,
            done,
            would,
            what,
            needs,
        })
    }
}

#[async_trait]
impl Remediator for GitlabConnector {
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
        req.check("gitlab", offered(resource_type), self.remediation.enabled)?;
        let scope = self.scope(&r.key.scope).ok_or_else(|| {
            refused(format!(
                "scope `{}` is not configured on this connector (groups: {}; instance: {})",
                r.key.scope,
                self.groups.join(", "),
                if self.instance { INSTANCE_SCOPE } else { "off" }
            ))
        })?;
        let target = self.target(r, scope)?;

        // Live state first: the inventory may be hours old.
        let live = match self.api.get::<Value>(&target.path).await {
            Ok(response) => {
                let mut body = response.body;
                roster_core::record::drop_secret_fields(&mut body, crate::common::SECRET_FIELDS);
                body
            }
            Err(ConnectorError::NotFound { .. }) => {
                return Ok(RemediationOutcome {
                    executed: false,
                    summary: format!(
                        "GitLab shows no {} any more (removed, or hidden from this token); nothing to do",
                        target.what
                    ),
                    calls: vec![],
                });
            }
            Err(e) => return Err(forbidden(e, target.needs).into()),
        };
        let inactive = live.get("revoked").and_then(Value::as_bool) == Some(true)
            || live.get("active").and_then(Value::as_bool) == Some(false);
        if inactive {
            return Ok(RemediationOutcome {
                executed: false,
                summary: format!(
                    "{} is already revoked or inactive; nothing to do",
                    target.what
                ),
                calls: vec![],
            });
        }
        let label = text(&live, "name")
            .or_else(|| text(&live, "title"))
            .or_else(|| text(&live, "description"))
            .map(|n| format!(" `{n}`"))
            .unwrap_or_default();
        let call = format!("DELETE /{}", target.path);
        if req.execute {
            self.api
                .send(Method::DELETE, &target.path)
                .await
                .map_err(|e| forbidden(e, target.needs))?;
        }
        Ok(RemediationOutcome {
            executed: req.execute,
            summary: format!(
                "{} {}{label}",
                if req.execute {
                    target.done
                } else {
                    target.would
                },
                target.what
            ),
            calls: vec![call],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_actions() {
        for t in crate::group_resource_types()
            .into_iter()
            .chain(crate::instance_resource_types())
        {
            let expected = !matches!(
                t,
                "gitlab.service_account"
                    | "gitlab.instance_deploy_key"
                    | "gitlab.group_runner"
                    | "gitlab.runner"
                    | "gitlab.project_variable"
                    | "gitlab.group_variable"
                    | "gitlab.instance_variable"
            );
            assert_eq!(offered(t).len() == 1, expected, "{t}");
        }
        assert!(numeric_id("12a").is_err());
        assert!(numeric_id("").is_err());
    }
}
