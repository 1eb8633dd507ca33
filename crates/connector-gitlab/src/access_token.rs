//! `gitlab.project_access_token` and `gitlab.group_access_token`: project and group access
//! tokens (`GET /projects/:id/access_tokens` for every project, `GET /groups/:id/access_tokens`).
//! Each acts as a bot user that nobody logs in as, with a role in its project or group.

use chrono::{DateTime, Utc};
use roster_core::{Kind, Record, Signal, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{
    Ctx, Parents, ResourceType, Source, Where, api_scope_signal, decode, role_name, time_field,
    token_privilege, usage_from,
};

pub(crate) const PROJECT: ResourceType = ResourceType {
    name: "gitlab.project_access_token",
    listed_in: Where::Both,
    source: Source::Walk(Parents::Projects, |_, id| {
        format!("projects/{id}/access_tokens")
    }),
    needs: "the Maintainer role on every project (token scope read_api)",
    detail: None,
    map,
};

pub(crate) const GROUP: ResourceType = ResourceType {
    name: "gitlab.group_access_token",
    listed_in: Where::Groups,
    source: Source::Scope(|scope| {
        format!(
            "groups/{}/access_tokens",
            scope.group_segment().unwrap_or_default()
        )
    }),
    needs: "the Owner role on the group (token scope read_api)",
    detail: None,
    map,
};

#[derive(Deserialize)]
struct AccessToken {
    id: u64,
    name: String,
    #[serde(default)]
    user_id: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    access_level: Option<u64>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let t: AccessToken = decode(&item)?;
    let place = ctx.place().to_string();
    let what = if ctx.parent.is_some() {
        "project access token"
    } else {
        "group access token"
    };
    let kind = if ctx.parent.is_some() {
        Kind::ProjectToken
    } else {
        Kind::GroupToken
    };
    let (usage, last_used) = usage_from(&item, "last_used_at");
    let expires_at = time_field(&item, "expires_at");
    let mut r = ctx.record(
        kind,
        ctx.external_id(t.id),
        format!("{place}: {}", t.name),
        item,
    );
    r.created_at = t.created_at;
    r.expires_at = expires_at;
    r.usage = usage;
    r.last_used_at = last_used;
    if t.revoked == Some(true) || t.active == Some(false) {
        r.status = Status::Disabled;
    }
    r.privilege = token_privilege(&t.scopes, t.access_level);
    r.privilege_detail = t.scopes.iter().map(|s| format!("scope:{s}")).collect();
    if let Some(level) = t.access_level {
        r.privilege_detail
            .push(format!("role:{}", role_name(level).to_lowercase()));
    }
    if let Some(bot) = t.user_id {
        r.privilege_detail.push(format!("bot_user:{bot}"));
    }
    let label = format!("{what} `{}` of `{place}`", t.name);
    if let Some(level) = t.access_level.filter(|l| *l >= 40) {
        r.signals.push(Signal::new(
            "gitlab.bot_token.high_role",
            format!("{label} acts with the {} role", role_name(level)),
        ));
    }
    api_scope_signal(&mut r, &t.scopes, t.access_level, &label);
    ctx.lifetime_signal(&mut r, &label);
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Parent;
    use roster_core::{Privilege, Usage};
    use serde_json::json;

    #[test]
    fn maintainer_token_with_api_is_signalled() {
        let project = Parent {
            id: 7,
            name: "acme/web".into(),
        };
        let ctx = Ctx {
            scope: "acme",
            resource_type: PROJECT.name,
            parent: Some(&project),
            max_token_lifetime_days: 365,
        };
        let item = json!({"user_id": 141, "scopes": ["api"], "name": "deploy", "expires_at": null,
            "id": 42, "active": true, "created_at": "2021-01-20T22:11:48.151Z", "revoked": false,
            "access_level": 40, "last_used_at": null});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "7/42");
        assert_eq!(r.kind, Kind::ProjectToken);
        assert_eq!(r.privilege, Privilege::Write);
        assert_eq!(r.usage, Usage::NeverUsed);
        assert!(r.privilege_detail.contains(&"role:maintainer".to_string()));
        let rules: Vec<_> = r.signals.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(rules, ["gitlab.bot_token.high_role"]);
    }

    #[test]
    fn reporter_api_token_and_long_lifetime() {
        let ctx = Ctx {
            scope: "acme",
            resource_type: GROUP.name,
            parent: None,
            max_token_lifetime_days: 365,
        };
        let item = json!({"user_id": 9, "scopes": ["api"], "name": "reader", "expires_at": "2026-01-31",
            "id": 3, "active": true, "created_at": "2024-01-01T00:00:00Z", "revoked": false,
            "access_level": 20});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "3");
        assert_eq!(r.privilege, Privilege::Read);
        let rules: Vec<_> = r.signals.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["gitlab.token.api_scope", "gitlab.token.lifetime_over_max"]
        );
    }
}
