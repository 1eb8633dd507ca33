//! `gitlab.service_account`: service accounts, users made for automation
//! (`GET /groups/:id/service_accounts`, or `GET /service_accounts` instance-wide).

use roster_core::{Kind, Record};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, ResourceType, Scope, Source, Where, decode};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "gitlab.service_account",
    listed_in: Where::Both,
    source: Source::Scope(list_path),
    needs: "the Owner role on the group, or an administrator token instance-wide",
    detail: None,
    map,
};

/// The service accounts of a scope (also the parents of `gitlab.personal_access_token`).
pub(crate) fn list_path(scope: &Scope<'_>) -> String {
    match scope.group_segment() {
        Some(g) => format!("groups/{g}/service_accounts"),
        None => "service_accounts".into(),
    }
}

#[derive(Deserialize)]
struct ServiceAccount {
    id: u64,
    username: String,
    #[serde(default)]
    name: Option<String>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let a: ServiceAccount = decode(&item)?;
    let name = match a.name.filter(|n| !n.is_empty() && *n != a.username) {
        Some(n) => format!("{} ({n})", a.username),
        None => a.username.clone(),
    };
    let mut r = ctx.record(Kind::ServiceAccount, a.id.to_string(), name, item);
    // Its reach is that of its tokens and memberships; the account alone says nothing.
    r.privilege_detail = vec![format!("user:{}", a.username)];
    Ok(Some(r))
}
