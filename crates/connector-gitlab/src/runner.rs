//! `gitlab.group_runner` (`GET /groups/:id/runners`) and `gitlab.runner` (every runner of the
//! instance, `GET /runners/all`, admin API), each completed by `GET /runners/:id` for its last
//! contact, its projects and groups, and (GitLab 18.x and later) its token's expiry.

use roster_core::{Kind, Privilege, Record, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, ResourceType, Source, Where, decode, time_field};

pub(crate) const GROUP: ResourceType = ResourceType {
    name: "gitlab.group_runner",
    listed_in: Where::Groups,
    source: Source::Scope(|scope| {
        format!(
            "groups/{}/runners",
            scope.group_segment().unwrap_or_default()
        )
    }),
    needs: "the Owner role on the group",
    detail: Some(detail_path),
    map,
};

pub(crate) const INSTANCE: ResourceType = ResourceType {
    name: "gitlab.runner",
    listed_in: Where::Instance,
    source: Source::Scope(|_| "runners/all".into()),
    needs: "an administrator token",
    detail: Some(detail_path),
    map,
};

fn detail_path(item: &Value) -> Option<String> {
    item.get("id")
        .and_then(Value::as_u64)
        .map(|id| format!("runners/{id}"))
}

#[derive(Deserialize)]
struct Runner {
    id: u64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    runner_type: Option<String>,
    #[serde(default)]
    paused: Option<bool>,
    #[serde(default)]
    is_shared: Option<bool>,
    #[serde(default)]
    locked: Option<bool>,
    #[serde(default)]
    run_untagged: Option<bool>,
    #[serde(default)]
    projects: Vec<Named>,
    #[serde(default)]
    groups: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    path_with_namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let runner: Runner = decode(&item)?;
    let label = runner
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .or(runner.name.clone().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| format!("runner {}", runner.id));
    let contacted = time_field(&item, "contacted_at");
    let expires_at = time_field(&item, "token_expires_at");
    let created_at = time_field(&item, "created_at");
    let mut r = ctx.record(Kind::Runner, runner.id.to_string(), label, item);
    r.created_at = created_at;
    // The token's expiry, when GitLab says it (identities are not judged on it; it is shown).
    r.expires_at = expires_at;
    if let Some(t) = contacted {
        r.usage = roster_core::Usage::Used;
        r.last_used_at = Some(t);
    }
    if runner.paused == Some(true) {
        r.status = Status::Disabled;
    }
    // A runner executes jobs with their CI job tokens and sees their variables.
    r.privilege = Privilege::Write;
    let mut detail = Vec::new();
    if let Some(t) = &runner.runner_type {
        detail.push(format!("type:{t}"));
    }
    if runner.is_shared == Some(true) {
        detail.push("shared".into());
    }
    if runner.locked == Some(true) {
        detail.push("locked".into());
    }
    if runner.run_untagged == Some(true) {
        detail.push("runs_untagged_jobs".into());
    }
    for p in &runner.projects {
        if let Some(path) = p.path_with_namespace.as_ref().or(p.name.as_ref()) {
            detail.push(format!("project:{path}"));
        }
    }
    for g in &runner.groups {
        if let Some(name) = &g.name {
            detail.push(format!("group:{name}"));
        }
    }
    r.privilege_detail = detail;
    Ok(Some(r))
}
