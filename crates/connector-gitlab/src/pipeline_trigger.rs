//! `gitlab.pipeline_trigger`: pipeline trigger tokens of every project
//! (`GET /projects/:id/triggers`). A trigger runs pipelines as its owner, so one owned by someone
//! who left keeps acting with their rights.

use chrono::{DateTime, Utc};
use roster_core::{Kind, Privilege, Record, Signal};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Parents, ResourceType, Source, Where, decode, usage_from};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "gitlab.pipeline_trigger",
    listed_in: Where::Both,
    source: Source::Walk(Parents::Projects, |_, id| format!("projects/{id}/triggers")),
    needs: "the Maintainer role on every project",
    detail: None,
    map,
};

#[derive(Deserialize)]
struct Trigger {
    id: u64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    owner: Option<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let t: Trigger = decode(&item)?;
    let place = ctx.place().to_string();
    let title = t
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("trigger {}", t.id));
    let (usage, last_used) = usage_from(&item, "last_used");
    let owner_field_present = item.get("owner").is_some();
    let mut r = ctx.record(
        Kind::TriggerToken,
        ctx.external_id(t.id),
        format!("{place}: {title}"),
        item,
    );
    r.created_at = t.created_at;
    r.usage = usage;
    r.last_used_at = last_used;
    // Pipelines it starts run with its owner's rights on the project.
    r.privilege = Privilege::Write;
    r.privilege_detail = vec!["runs_pipelines_as_owner".into()];
    let label = format!("pipeline trigger `{title}` of `{place}`");
    match t.owner {
        Some(owner) => {
            let username = owner.username.filter(|u| !u.is_empty());
            if let Some(u) = &username {
                r.owner = Some(u.clone());
                r.owner_source = Some("gitlab:trigger_owner".into());
            }
            if let Some(state) = owner.state.filter(|s| {
                matches!(
                    s.as_str(),
                    "blocked" | "deactivated" | "banned" | "ldap_blocked"
                )
            }) {
                r.signals.push(Signal::new(
                    "gitlab.trigger.owner_inactive",
                    format!(
                        "{label} is owned by `{}`, whose GitLab account is {state}",
                        username.as_deref().unwrap_or("unknown")
                    ),
                ));
            }
        }
        None if owner_field_present => r.signals.push(Signal::new(
            "gitlab.trigger.owner_inactive",
            format!("{label} has no owner any more: its owner's account was deleted"),
        )),
        None => {}
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Parent;
    use roster_core::Usage;
    use serde_json::json;

    #[test]
    fn blocked_owner_is_signalled_and_token_never_kept() {
        let project = Parent {
            id: 7,
            name: "acme/web".into(),
        };
        let ctx = Ctx {
            scope: "acme",
            resource_type: RESOURCE.name,
            parent: Some(&project),
            max_token_lifetime_days: 365,
        };
        let mut item = json!({"id": 10, "description": "deploy", "created_at": "2024-01-01T00:00:00Z",
            "last_used": null, "token": "glptt-secret", "updated_at": "2024-01-01T00:00:00Z",
            "owner": {"id": 1, "name": "Bob", "username": "bob", "state": "blocked",
                "avatar_url": "", "web_url": ""}});
        roster_core::record::drop_secret_fields(&mut item, crate::common::SECRET_FIELDS);
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.owner.as_deref(), Some("bob"));
        assert_eq!(r.usage, Usage::NeverUsed);
        assert_eq!(r.signals[0].rule, "gitlab.trigger.owner_inactive");
        assert!(!r.raw.to_string().contains("glptt-secret"));
    }
}
