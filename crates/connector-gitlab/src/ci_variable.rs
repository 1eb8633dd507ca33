//! `gitlab.project_variable`, `gitlab.group_variable` and `gitlab.instance_variable`: CI/CD
//! variables (`GET /projects/:id/variables` for every project, `GET /groups/:id/variables`,
//! `GET /admin/ci/variables`). **GitLab returns each variable's value; it is dropped before the
//! item is mapped** — only the key, scope and flags are kept.

use roster_core::{Kind, Privilege, Record, Signal};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Parents, ResourceType, Source, Where, decode};

pub(crate) const PROJECT: ResourceType = ResourceType {
    name: "gitlab.project_variable",
    listed_in: Where::Both,
    source: Source::Walk(Parents::Projects, |_, id| {
        format!("projects/{id}/variables")
    }),
    needs: "the Maintainer role on every project",
    detail: None,
    map,
};

pub(crate) const GROUP: ResourceType = ResourceType {
    name: "gitlab.group_variable",
    listed_in: Where::Groups,
    source: Source::Scope(|scope| {
        format!(
            "groups/{}/variables",
            scope.group_segment().unwrap_or_default()
        )
    }),
    needs: "the Owner role on the group",
    detail: None,
    map,
};

pub(crate) const INSTANCE: ResourceType = ResourceType {
    name: "gitlab.instance_variable",
    listed_in: Where::Instance,
    source: Source::Scope(|_| "admin/ci/variables".into()),
    needs: "an administrator token",
    detail: None,
    map,
};

#[derive(Deserialize)]
struct Variable {
    key: String,
    #[serde(default)]
    variable_type: Option<String>,
    #[serde(default)]
    protected: Option<bool>,
    #[serde(default)]
    masked: Option<bool>,
    #[serde(default)]
    environment_scope: Option<String>,
}

/// Whether a variable's key names a secret (`DB_PASSWORD`, `DEPLOY_TOKEN`, `AWS_SECRET_ACCESS_KEY`,
/// `SSH_PRIVATE_KEY`…).
pub(crate) fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    const WORDS: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "PRIVATE",
        "CREDENTIAL",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "AUTH",
    ];
    WORDS.iter().any(|w| k.contains(w))
        || k.ends_with("_KEY")
        || k.ends_with("_PWD")
        || k.ends_with("_PASS")
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    // Defence in depth: the listing already dropped it before calling the mapper.
    roster_core::record::drop_secret_fields(&mut item, &["value"]);
    let v: Variable = decode(&item)?;
    let env = v.environment_scope.clone().unwrap_or_else(|| "*".into());
    let place = ctx.place().to_string();
    let external_id = if ctx.resource_type == INSTANCE.name {
        v.key.clone()
    } else if ctx.parent.is_some() {
        format!("{}/{}/{env}", ctx.parent.map_or(0, |p| p.id), v.key)
    } else {
        format!("{}/{env}", v.key)
    };
    let name = if env == "*" {
        format!("{place}: {}", v.key)
    } else {
        format!("{place}: {} ({env})", v.key)
    };
    let mut r = ctx.record(Kind::CiSecret, external_id, name, item);
    r.privilege = Privilege::Unknown;
    let protected = v.protected == Some(true);
    let masked = v.masked == Some(true);
    r.privilege_detail = vec![
        format!("protected:{protected}"),
        format!("masked:{masked}"),
        format!("environment_scope:{env}"),
    ];
    if let Some(t) = v.variable_type {
        r.privilege_detail.push(format!("type:{t}"));
    }
    if looks_secret(&v.key) {
        let label = format!("CI/CD variable `{}` of `{place}`", v.key);
        if !masked {
            r.signals.push(Signal::new(
                "gitlab.variable.secret_unmasked",
                format!("{label} looks like a secret but is not masked: job logs can print it"),
            ));
        }
        if !protected {
            r.signals.push(Signal::new(
                "gitlab.variable.secret_unprotected",
                format!(
                    "{label} looks like a secret but is not protected: pipelines on any branch can read it"
                ),
            ));
        }
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Parent;
    use serde_json::json;

    #[test]
    fn value_is_dropped_and_secret_keys_checked() {
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
        let item = json!({"variable_type": "env_var", "key": "DB_PASSWORD", "value": "hunter2",
            "protected": false, "masked": false, "environment_scope": "production"});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "7/DB_PASSWORD/production");
        assert!(!r.raw.to_string().contains("hunter2"));
        let rules: Vec<_> = r.signals.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "gitlab.variable.secret_unmasked",
                "gitlab.variable.secret_unprotected"
            ]
        );
        assert!(looks_secret("AWS_SECRET_ACCESS_KEY"));
        assert!(looks_secret("ssh_private_key"));
        assert!(!looks_secret("DEPLOY_ENV"));
    }
}
