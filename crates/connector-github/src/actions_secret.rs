//! `github.org_actions_secret` and `github.repo_actions_secret`: GitHub Actions secrets of the
//! org (`GET /orgs/{org}/actions/secrets`) and of each repository
//! (`GET /repos/{owner}/{repo}/actions/secrets`). GitHub returns names and dates only; Roster
//! keeps nothing else (any `value` member is dropped all the same).

use chrono::{DateTime, Utc};
use roster_core::record::drop_secret_fields;
use roster_core::{Kind, Record};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode};

pub(crate) const ORG: ResourceType = ResourceType {
    name: "github.org_actions_secret",
    source: Source::Org(|org| format!("orgs/{org}/actions/secrets")),
    items: Items::Field("secrets"),
    needs: "organization_secrets:read (classic token: admin:org)",
    map,
};

pub(crate) const REPO: ResourceType = ResourceType {
    name: "github.repo_actions_secret",
    source: Source::PerRepo(|repo| format!("repos/{repo}/actions/secrets")),
    items: Items::Field("secrets"),
    needs: "secrets:read on every repository (classic token: repo)",
    map,
};

#[derive(Deserialize)]
struct ActionsSecret {
    name: String,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    visibility: Option<String>,
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    let s: ActionsSecret = decode(&item)?;
    drop_secret_fields(&mut item, &["value", "encrypted_value", "key"]);
    let (external_id, name) = match ctx.repo {
        Some(repo) => {
            if let Value::Object(m) = &mut item {
                m.insert("repository".into(), Value::String(repo.full_name.clone()));
            }
            (
                format!("{}/{}", repo.full_name, s.name),
                format!("{}: {}", repo.full_name, s.name),
            )
        }
        None => (s.name.clone(), format!("{} (org secret)", s.name)),
    };
    let mut r = ctx.record(Kind::CiSecret, external_id, name, item);
    // The age that matters for a secret is that of its current value: GitHub's `updated_at`
    // (the last time the value was set), with `created_at` kept in `raw`. Rules on age ("not
    // updated in a year") read `created_at`, so it carries `updated_at` here.
    r.created_at = s.updated_at.or(s.created_at);
    if let Some(v) = s.visibility {
        r.privilege_detail = vec![format!("visibility:{v}")];
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Repo;
    use serde_json::json;

    #[test]
    fn secrets_carry_names_and_the_value_date_only() {
        let ctx = Ctx {
            org: "acme",
            resource_type: ORG.name,
            repo: None,
        };
        let item = json!({"name": "GH_TOKEN", "created_at": "2019-08-10T14:59:22Z",
            "updated_at": "2020-01-10T14:59:22Z", "visibility": "all", "value": "leak"});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "GH_TOKEN");
        assert_eq!(
            r.created_at.unwrap().to_rfc3339(),
            "2020-01-10T14:59:22+00:00"
        );
        assert!(r.raw.get("value").is_none());
        let repo = Repo {
            full_name: "acme/web".into(),
            public: true,
        };
        let ctx = Ctx {
            org: "acme",
            resource_type: REPO.name,
            repo: Some(&repo),
        };
        let r = map(
            &ctx,
            json!({"name": "X", "created_at": "2019-08-10T14:59:22Z",
            "updated_at": "2020-01-10T14:59:22Z"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.key.external_id, "acme/web/X");
    }
}
