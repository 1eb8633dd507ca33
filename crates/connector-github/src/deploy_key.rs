//! `github.deploy_key`: SSH deploy keys of every repository of the org
//! (`GET /repos/{owner}/{repo}/keys`, walking `GET /orgs/{org}/repos`).

use chrono::{DateTime, Utc};
use roster_core::{Kind, Privilege, Record, Signal, Status, credential_fingerprint};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode, usage_from};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "github.deploy_key",
    source: Source::PerRepo(|repo| format!("repos/{repo}/keys")),
    items: Items::Array,
    needs: "administration:read on every repository (classic token: repo, as a repository admin)",
    map,
};

#[derive(Deserialize)]
struct DeployKey {
    id: u64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    added_by: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    key: Option<String>,
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    let k: DeployKey = decode(&item)?;
    let repo = ctx.repo_name().to_string();
    let (usage, last_used) = usage_from(&item, "last_used");
    if let Value::Object(m) = &mut item {
        m.insert("repository".into(), Value::String(repo.clone()));
        // The public key is not a secret, but it is long and the fingerprint says the same.
        m.remove("key");
    }
    let title = k.title.clone().unwrap_or_else(|| format!("key {}", k.id));
    let mut r = ctx.record(
        Kind::DeployKey,
        format!("{repo}/{}", k.id),
        format!("{repo}: {title}"),
        item,
    );
    r.created_at = k.created_at;
    r.credential_fingerprint = k
        .key
        .as_deref()
        .and_then(credential_fingerprint::from_ssh_public_key);
    r.usage = usage;
    r.last_used_at = last_used;
    // A key GitHub does not say is read-only may push.
    let write = k.read_only != Some(true);
    r.privilege = if write {
        Privilege::Write
    } else {
        Privilege::Read
    };
    r.privilege_detail = vec![
        if write {
            "read_only:false"
        } else {
            "read_only:true"
        }
        .into(),
    ];
    if k.enabled == Some(false) {
        r.status = Status::Disabled;
    }
    if let Some(by) = k.added_by.filter(|b| !b.is_empty()) {
        r.owner = Some(by);
        r.owner_source = Some("github:added_by".into());
    }
    if write {
        r.signals.push(Signal::new(
            "github.deploy_key.write",
            format!("deploy key `{title}` on `{repo}` can push (read_only is false)"),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Repo;
    use roster_core::Usage;
    use serde_json::json;

    #[test]
    fn write_key_is_signalled_and_owned_by_its_adder() {
        let repo = Repo {
            full_name: "acme/web".into(),
            public: false,
        };
        let ctx = Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: Some(&repo),
        };
        let item = json!({"id": 1, "key": "ssh-rsa AAA...", "title": "ci", "read_only": false,
            "created_at": "2014-12-10T15:53:42Z", "added_by": "octocat", "last_used": null,
            "enabled": true});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "acme/web/1");
        assert_eq!(r.key.scope, "acme");
        assert_eq!(r.privilege, Privilege::Write);
        assert_eq!(r.usage, Usage::NeverUsed);
        assert_eq!(r.owner_source.as_deref(), Some("github:added_by"));
        assert_eq!(r.signals[0].rule, "github.deploy_key.write");
        assert_eq!(r.raw["repository"], "acme/web");
        // Not a real key: no fingerprint, rather than a wrong one.
        assert_eq!(r.credential_fingerprint, None);
        assert!(r.raw.get("key").is_none());
    }

    #[test]
    fn keys_carry_the_fingerprint_ssh_keygen_prints() {
        let repo = Repo {
            full_name: "acme/api".into(),
            public: false,
        };
        let ctx = Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: Some(&repo),
        };
        // `ssh-keygen -lf` prints SHA256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y for it.
        let item = json!({"id": 2, "title": "deploy", "read_only": true,
            "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG/wUPWWchvaeJLoDWnQAJQ3eiGddpYlS5fpgwsjDKZ/"});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(
            r.credential_fingerprint.as_deref(),
            Some("ssh-sha256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y")
        );
    }
}
