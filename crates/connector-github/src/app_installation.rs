//! `github.app_installation`: GitHub Apps installed on the org (`GET /orgs/{org}/installations`),
//! with their permissions, repository selection and suspension.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use roster_core::{Kind, Privilege, Record, Signal, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode, privilege_of};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "github.app_installation",
    source: Source::Org(|org| format!("orgs/{org}/installations")),
    items: Items::Field("installations"),
    needs: "organization_administration:read (classic token: admin:read:org / read:org as an org owner)",
    map,
};

#[derive(Deserialize)]
struct Installation {
    id: u64,
    #[serde(default)]
    app_slug: Option<String>,
    #[serde(default)]
    app_id: Option<u64>,
    #[serde(default)]
    repository_selection: Option<String>,
    #[serde(default)]
    permissions: BTreeMap<String, String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    suspended_at: Option<DateTime<Utc>>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let i: Installation = decode(&item)?;
    let slug = i
        .app_slug
        .clone()
        .or_else(|| i.app_id.map(|id| format!("app {id}")))
        .unwrap_or_else(|| format!("installation {}", i.id));
    let mut r = ctx.record(Kind::AppInstallation, i.id.to_string(), slug.clone(), item);
    let (privilege, detail) = privilege_of(&i.permissions);
    r.privilege = privilege;
    r.privilege_detail = detail;
    r.created_at = i.created_at;
    if i.suspended_at.is_some() {
        r.status = Status::Disabled;
    }
    let all_repos = i.repository_selection.as_deref() == Some("all");
    if all_repos && matches!(privilege, Privilege::Write | Privilege::Admin) {
        let writes: Vec<&str> = r
            .privilege_detail
            .iter()
            .filter(|d| d.ends_with(":write") || d.ends_with(":admin"))
            .map(String::as_str)
            .collect();
        r.signals.push(Signal::new(
            "github.app.all_repos_write",
            format!(
                "app `{slug}` is installed on all repositories of `{}` with {} ({})",
                ctx.org,
                privilege,
                writes.join(", ")
            ),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn all_repos_with_write_is_signalled() {
        let ctx = Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: None,
        };
        let item = json!({"id": 7, "app_slug": "ci-bot", "repository_selection": "all",
            "permissions": {"contents": "write", "metadata": "read"},
            "created_at": "2017-05-16T08:47:09.000-07:00", "suspended_at": null});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "7");
        assert_eq!(r.privilege, Privilege::Write);
        assert_eq!(r.signals[0].rule, "github.app.all_repos_write");
        assert_eq!(r.status, Status::Active);
        assert_eq!(
            r.created_at.unwrap().to_rfc3339(),
            "2017-05-16T15:47:09+00:00"
        );
        let item = json!({"id": 8, "app_slug": "x", "repository_selection": "selected",
            "permissions": {"contents": "write"}, "suspended_at": "2024-01-01T00:00:00Z"});
        let r = map(&ctx, item).unwrap().unwrap();
        assert!(r.signals.is_empty());
        assert_eq!(r.status, Status::Disabled);
    }
}
