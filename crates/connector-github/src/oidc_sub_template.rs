//! `github.oidc_sub_template` and `github.repo_oidc_sub_template`: how GitHub Actions builds the
//! `sub` claim of its OIDC tokens for the org (`GET /orgs/{org}/actions/oidc/customization/sub`)
//! and for repositories that override it (`GET /repos/{owner}/{repo}/actions/oidc/customization/sub`
//! with `use_default: false`). Cloud trust policies match `sub`, so the AWS and Entra trust
//! analysis needs the template to read their conditions right (`raw.include_claim_keys`).
//!
//! The domain model has no kind for a federation setting; these are recorded as `role` (the
//! federation side of the org's pipelines), with no privilege and no usage data.

use roster_core::{Kind, Record};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode};

pub(crate) const ORG: ResourceType = ResourceType {
    name: "github.oidc_sub_template",
    source: Source::Org(|org| format!("orgs/{org}/actions/oidc/customization/sub")),
    items: Items::Whole,
    needs: "organization_administration:read (classic token: read:org)",
    map,
};

pub(crate) const REPO: ResourceType = ResourceType {
    name: "github.repo_oidc_sub_template",
    source: Source::PerRepo(|repo| format!("repos/{repo}/actions/oidc/customization/sub")),
    items: Items::Whole,
    needs: "actions:read on every repository (classic token: repo)",
    map,
};

#[derive(Deserialize)]
struct Template {
    #[serde(default)]
    use_default: Option<bool>,
    #[serde(default)]
    include_claim_keys: Vec<String>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let t: Template = decode(&item)?;
    if t.use_default == Some(true) {
        // The repository follows the org's template, recorded once for the org.
        return Ok(None);
    }
    let keys = if t.include_claim_keys.is_empty() {
        "default".to_string()
    } else {
        t.include_claim_keys.join(", ")
    };
    let subject = ctx.repo_name().to_string();
    let mut r = ctx.record(
        Kind::Role,
        subject.clone(),
        format!("Actions OIDC sub template of {subject} ({keys})"),
        item,
    );
    r.privilege_detail = t
        .include_claim_keys
        .iter()
        .map(|k| format!("sub_claim:{k}"))
        .collect();
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Repo;
    use serde_json::json;

    #[test]
    fn org_template_is_recorded_and_default_repos_are_skipped() {
        let ctx = Ctx {
            org: "acme",
            resource_type: ORG.name,
            repo: None,
        };
        let r = map(&ctx, json!({"include_claim_keys": ["repo", "context"]}))
            .unwrap()
            .unwrap();
        assert_eq!(r.key.external_id, "acme");
        assert_eq!(r.raw["include_claim_keys"][0], "repo");
        let repo = Repo {
            full_name: "acme/web".into(),
            public: false,
        };
        let ctx = Ctx {
            org: "acme",
            resource_type: REPO.name,
            repo: Some(&repo),
        };
        assert!(map(&ctx, json!({"use_default": true})).unwrap().is_none());
        let r = map(
            &ctx,
            json!({"use_default": false, "include_claim_keys": ["repo"]}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.key.external_id, "acme/web");
    }
}
