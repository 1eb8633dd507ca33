//! `github.fine_grained_pat`: fine-grained personal access tokens granted access to the org
//! (`GET /orgs/{org}/personal-access-tokens`; GitHub answers it only to a GitHub App).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use roster_core::{Kind, Record};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{
    Ctx, Items, ResourceType, Source, decode, max_privilege, privilege_of, usage_from,
};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "github.fine_grained_pat",
    source: Source::Org(|org| format!("orgs/{org}/personal-access-tokens")),
    items: Items::Array,
    needs: "a GitHub App installation token with organization_personal_access_tokens:read",
    map,
};

#[derive(Deserialize)]
struct Grant {
    id: u64,
    #[serde(default)]
    owner: Option<Login>,
    #[serde(default)]
    repository_selection: Option<String>,
    #[serde(default)]
    permissions: Permissions,
    #[serde(default)]
    access_granted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    token_name: Option<String>,
    #[serde(default)]
    token_id: Option<u64>,
    #[serde(default)]
    token_expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
struct Permissions {
    #[serde(default)]
    organization: BTreeMap<String, String>,
    #[serde(default)]
    repository: BTreeMap<String, String>,
    #[serde(default)]
    other: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub(crate) struct Login {
    pub login: String,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let g: Grant = decode(&item)?;
    let (usage, last_used) = usage_from(&item, "token_last_used_at");
    let name = g
        .token_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| g.token_id.map(|id| format!("token {id}")))
        .unwrap_or_else(|| format!("grant {}", g.id));
    let mut r = ctx.record(Kind::PersonalAccessToken, g.id.to_string(), name, item);
    let mut detail = Vec::new();
    let mut privilege = roster_core::Privilege::Unknown;
    for (prefix, perms) in [
        ("organization", &g.permissions.organization),
        ("repository", &g.permissions.repository),
        ("other", &g.permissions.other),
    ] {
        let (p, d) = privilege_of(perms);
        privilege = max_privilege(privilege, p);
        detail.extend(d.into_iter().map(|d| format!("{prefix}.{d}")));
    }
    if let Some(sel) = &g.repository_selection {
        detail.push(format!("repositories:{sel}"));
    }
    r.privilege = privilege;
    r.privilege_detail = detail;
    r.usage = usage;
    r.last_used_at = last_used;
    r.expires_at = g.token_expires_at;
    // GitHub gives the grant's date, not the token's creation: the closest it says.
    r.created_at = g.access_granted_at;
    if let Some(owner) = g.owner {
        r.owner = Some(owner.login);
        r.owner_source = Some("github:owner".into());
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::{Privilege, Usage};
    use serde_json::json;

    #[test]
    fn grant_maps_owner_permissions_and_usage() {
        let ctx = Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: None,
        };
        let item = json!({"id": 25381, "owner": {"login": "octocat"}, "repository_selection": "all",
            "permissions": {"organization": {"members": "read"}, "repository": {"contents": "write"}},
            "access_granted_at": "2023-05-16T08:47:09.000-07:00", "token_id": 98716,
            "token_name": "Some Token", "token_expired": false,
            "token_expires_at": "2023-11-16T08:47:09.000-07:00", "token_last_used_at": null});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.name, "Some Token");
        assert_eq!(r.owner.as_deref(), Some("octocat"));
        assert_eq!(r.usage, Usage::NeverUsed);
        assert_eq!(r.privilege, Privilege::Write);
        assert!(
            r.privilege_detail
                .contains(&"repository.contents:write".to_string())
        );
        assert!(r.expires_at.is_some());
    }
}
