//! `gitlab.deploy_key`: SSH deploy keys of every project (`GET /projects/:id/deploy_keys`, with
//! `can_push`), and `gitlab.instance_deploy_key`: every deploy key of the instance with the
//! projects it can push to (`GET /deploy_keys`, admin API).

use chrono::{DateTime, Utc};
use roster_core::{Kind, Privilege, Record, Signal, credential_fingerprint};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Parents, ResourceType, Source, Where, decode, time_field};

pub(crate) const PROJECT: ResourceType = ResourceType {
    name: "gitlab.deploy_key",
    listed_in: Where::Groups,
    source: Source::Walk(Parents::Projects, |_, id| {
        format!("projects/{id}/deploy_keys")
    }),
    needs: "the Maintainer role on every project",
    detail: None,
    map,
};

pub(crate) const INSTANCE: ResourceType = ResourceType {
    name: "gitlab.instance_deploy_key",
    listed_in: Where::Instance,
    source: Source::Scope(|_| "deploy_keys".into()),
    needs: "an administrator token",
    detail: None,
    map,
};

#[derive(Deserialize)]
struct DeployKey {
    id: u64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    can_push: Option<bool>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    fingerprint_sha256: Option<String>,
    #[serde(default)]
    projects_with_write_access: Vec<ProjectRef>,
}

#[derive(Deserialize)]
struct ProjectRef {
    #[serde(default)]
    path_with_namespace: Option<String>,
    id: u64,
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    let k: DeployKey = decode(&item)?;
    // The public key is not a secret, but it is long and says nothing the fingerprint does not.
    if let Value::Object(m) = &mut item {
        m.remove("key");
    }
    let place = ctx.place().to_string();
    let title = k.title.clone().unwrap_or_else(|| format!("key {}", k.id));
    let expires_at = time_field(&item, "expires_at");
    let mut r = ctx.record(
        Kind::DeployKey,
        ctx.external_id(k.id),
        format!("{place}: {title}"),
        item,
    );
    r.created_at = k.created_at;
    r.expires_at = expires_at;
    let push_to: Vec<String> = k
        .projects_with_write_access
        .iter()
        .map(|p| {
            p.path_with_namespace
                .clone()
                .unwrap_or_else(|| format!("project {}", p.id))
        })
        .collect();
    let write = k.can_push == Some(true) || !push_to.is_empty();
    r.privilege = if write {
        Privilege::Write
    } else if ctx.parent.is_some() && k.can_push == Some(false) {
        Privilege::Read
    } else if ctx.parent.is_none() {
        // The instance listing names every project the key can push to; none means read-only.
        Privilege::Read
    } else {
        Privilege::Unknown
    };
    r.privilege_detail = if ctx.parent.is_some() {
        vec![format!("can_push:{write}")]
    } else {
        push_to.iter().map(|p| format!("push:{p}")).collect()
    };
    if let Some(fp) = &k.fingerprint_sha256 {
        r.privilege_detail.push(format!("fingerprint:{fp}"));
    }
    // Per project only: the instance listing shows the same keys again (a key enabled on a
    // project is in both), and counting both would call every key reused.
    if ctx.parent.is_some() {
        r.credential_fingerprint = k
            .fingerprint_sha256
            .as_deref()
            .and_then(credential_fingerprint::from_ssh_sha256)
            .or_else(|| {
                k.key
                    .as_deref()
                    .and_then(credential_fingerprint::from_ssh_public_key)
            });
    }
    if write {
        let targets = if ctx.parent.is_some() {
            format!("`{place}`")
        } else {
            push_to
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        r.signals.push(Signal::new(
            "gitlab.deploy_key.can_push",
            format!("deploy key `{title}` can push to {targets}"),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instance_keys_name_the_projects_they_push_to() {
        let ctx = Ctx {
            scope: crate::common::INSTANCE_SCOPE,
            resource_type: INSTANCE.name,
            parent: None,
            max_token_lifetime_days: 365,
        };
        let item = json!({"id": 1, "title": "ci", "key": "ssh-ed25519 AAAA", "created_at": "2024-01-01T00:00:00Z",
            "fingerprint": "x", "fingerprint_sha256": "SHA256:y",
            "projects_with_write_access": [{"id": 7, "path_with_namespace": "acme/web"}]});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.privilege, Privilege::Write);
        assert!(r.raw.get("key").is_none());
        assert!(r.signals[0].message.contains("`acme/web`"));
        assert_eq!(r.credential_fingerprint, None, "listed again per project");
    }

    #[test]
    fn project_keys_carry_their_fingerprint() {
        let parent = crate::common::Parent {
            id: 7,
            name: "acme/web".into(),
        };
        let ctx = Ctx {
            scope: "acme",
            resource_type: PROJECT.name,
            parent: Some(&parent),
            max_token_lifetime_days: 365,
        };
        // A real key: `ssh-keygen -lf` prints SHA256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y.
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG/wUPWWchvaeJLoDWnQAJQ3eiGddpYlS5fpgwsjDKZ/ ci";
        let expected = Some("ssh-sha256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y".to_owned());
        let both = json!({"id": 1, "title": "ci", "key": key, "can_push": false,
            "fingerprint_sha256": "SHA256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y"});
        assert_eq!(
            map(&ctx, both).unwrap().unwrap().credential_fingerprint,
            expected
        );
        // Without GitLab's fingerprint it is computed from the key, to the same value.
        let key_only = json!({"id": 1, "title": "ci", "key": key, "can_push": false});
        let r = map(&ctx, key_only).unwrap().unwrap();
        assert_eq!(r.credential_fingerprint, expected);
        assert!(r.raw.get("key").is_none());
        let neither = json!({"id": 1, "title": "ci", "can_push": false});
        assert_eq!(
            map(&ctx, neither).unwrap().unwrap().credential_fingerprint,
            None
        );
    }
}
