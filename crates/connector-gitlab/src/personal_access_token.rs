//! `gitlab.personal_access_token`: personal access tokens of service accounts, found by walking
//! the service accounts: `GET /personal_access_tokens?user_id=` (admin API) instance-wide,
//! `GET /groups/:id/service_accounts/:user_id/personal_access_tokens` in a group.

use chrono::{DateTime, Utc};
use roster_core::{Kind, Record, RecordKey, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{
    Ctx, Parents, ResourceType, Source, Where, api_scope_signal, decode, time_field,
    token_privilege, usage_from,
};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "gitlab.personal_access_token",
    listed_in: Where::Both,
    source: Source::Walk(Parents::ServiceAccounts, |scope, user| {
        match scope.group_segment() {
            Some(g) => format!("groups/{g}/service_accounts/{user}/personal_access_tokens"),
            None => format!("personal_access_tokens?user_id={user}"),
        }
    }),
    needs: "an administrator token instance-wide, or the Owner role on the group",
    detail: None,
    map,
};

#[derive(Deserialize)]
struct PersonalAccessToken {
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
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let t: PersonalAccessToken = decode(&item)?;
    let (usage, last_used) = usage_from(&item, "last_used_at");
    let expires_at = time_field(&item, "expires_at");
    let user = ctx.parent.map(|p| p.name.clone());
    let user_id = t.user_id.or(ctx.parent.map(|p| p.id));
    let mut r = ctx.record(
        Kind::PersonalAccessToken,
        t.id.to_string(),
        format!("{}: {}", user.as_deref().unwrap_or("unknown user"), t.name),
        item,
    );
    if let Some(uid) = user_id {
        r.parent = Some(RecordKey {
            resource_type: crate::service_account::RESOURCE.name.to_string(),
            scope: ctx.scope.to_string(),
            external_id: uid.to_string(),
        });
    }
    r.created_at = t.created_at;
    r.expires_at = expires_at;
    r.usage = usage;
    r.last_used_at = last_used;
    if t.revoked == Some(true) || t.active == Some(false) {
        r.status = Status::Disabled;
    }
    r.privilege = token_privilege(&t.scopes, None);
    r.privilege_detail = t.scopes.iter().map(|s| format!("scope:{s}")).collect();
    let label = format!(
        "personal access token `{}` of `{}`",
        t.name,
        user.as_deref().unwrap_or("unknown user")
    );
    api_scope_signal(&mut r, &t.scopes, None, &label);
    ctx.lifetime_signal(&mut r, &label);
    Ok(Some(r))
}
