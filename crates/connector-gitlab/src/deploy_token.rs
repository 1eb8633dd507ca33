//! `gitlab.project_deploy_token` and `gitlab.group_deploy_token`: deploy tokens
//! (`GET /projects/:id/deploy_tokens` for every project, `GET /groups/:id/deploy_tokens`).
//! They authenticate as a username of their own to the repository and the registries.

use roster_core::{Kind, Privilege, Record, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Parents, ResourceType, Source, Where, decode, time_field};

pub(crate) const PROJECT: ResourceType = ResourceType {
    name: "gitlab.project_deploy_token",
    listed_in: Where::Both,
    source: Source::Walk(Parents::Projects, |_, id| {
        format!("projects/{id}/deploy_tokens")
    }),
    needs: "the Maintainer role on every project",
    detail: None,
    map,
};

pub(crate) const GROUP: ResourceType = ResourceType {
    name: "gitlab.group_deploy_token",
    listed_in: Where::Groups,
    source: Source::Scope(|scope| {
        format!(
            "groups/{}/deploy_tokens",
            scope.group_segment().unwrap_or_default()
        )
    }),
    needs: "the Maintainer role on the group",
    detail: None,
    map,
};

#[derive(Deserialize)]
struct DeployToken {
    id: u64,
    name: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    expired: Option<bool>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let t: DeployToken = decode(&item)?;
    let place = ctx.place().to_string();
    let expires_at = time_field(&item, "expires_at");
    let mut r = ctx.record(
        Kind::DeployToken,
        ctx.external_id(t.id),
        format!("{place}: {}", t.name),
        item,
    );
    r.expires_at = expires_at;
    // GitLab keeps revoked and expired deploy tokens listed; neither authenticates.
    if t.revoked == Some(true) || t.expired == Some(true) {
        r.status = Status::Disabled;
    }
    let writes = t.scopes.iter().any(|s| s.starts_with("write_"));
    r.privilege = if t.scopes.is_empty() {
        Privilege::Unknown
    } else if writes {
        Privilege::Write
    } else {
        Privilege::Read
    };
    r.privilege_detail = t.scopes.iter().map(|s| format!("scope:{s}")).collect();
    if let Some(u) = t.username.filter(|u| !u.is_empty()) {
        r.privilege_detail.push(format!("username:{u}"));
    }
    Ok(Some(r))
}
