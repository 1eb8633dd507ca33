//! `github.credential_authorization`: credentials (classic PATs, OAuth and App user tokens, SSH
//! keys) that members authorised for the org's SAML single sign-on
//! (`GET /orgs/{org}/credential-authorizations`, GitHub Enterprise Cloud, org owners).

use chrono::{DateTime, Utc};
use roster_core::record::drop_secret_fields;
use roster_core::{Kind, Privilege, Record};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode, max_privilege};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "github.credential_authorization",
    source: Source::Org(|org| format!("orgs/{org}/credential-authorizations")),
    items: Items::Array,
    needs: "read:org as an org owner (classic token; SAML SSO orgs on GitHub Enterprise Cloud)",
    map,
};

#[derive(Deserialize)]
struct Authorization {
    login: String,
    credential_id: u64,
    #[serde(default)]
    credential_type: Option<String>,
    #[serde(default)]
    credential_authorized_at: Option<DateTime<Utc>>,
    #[serde(default)]
    authorized_credential_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    authorized_credential_title: Option<String>,
    #[serde(default)]
    authorized_credential_note: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Classic OAuth scopes to a privilege: `admin:*`, `delete_repo`, `site_admin` are admin; `repo`,
/// `public_repo`, `workflow`, `write:*` are write; `read:*` and `user` read.
fn scope_privilege(scope: &str) -> Privilege {
    if scope.starts_with("admin:") || scope == "delete_repo" || scope == "site_admin" {
        Privilege::Admin
    } else if scope == "repo"
        || scope == "public_repo"
        || scope == "workflow"
        || scope.starts_with("write:")
        || scope == "gist"
    {
        Privilege::Write
    } else if scope.starts_with("read:") || scope == "user" || scope.starts_with("user:") {
        Privilege::Read
    } else {
        Privilege::Unknown
    }
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    let a: Authorization = decode(&item)?;
    // The token's last eight characters narrow a leaked-token search; Roster keeps no part of
    // a secret. An SSH key's fingerprint is public and stays.
    drop_secret_fields(&mut item, &["token_last_eight"]);
    let (usage, last_used) = crate::common::usage_from(&item, "credential_accessed_at");
    let ctype = a.credential_type.as_deref().unwrap_or("credential");
    let label = a
        .authorized_credential_title
        .as_deref()
        .or(a.authorized_credential_note.as_deref())
        .filter(|s| !s.is_empty())
        .map(|t| format!(" `{t}`"))
        .unwrap_or_default();
    let name = format!("{ctype}{label} of {}", a.login);
    let mut r = ctx.record(
        Kind::PersonalAccessToken,
        a.credential_id.to_string(),
        name,
        item,
    );
    r.privilege = a
        .scopes
        .iter()
        .map(|s| scope_privilege(s))
        .fold(Privilege::Unknown, max_privilege);
    r.privilege_detail = a.scopes;
    r.created_at = a.credential_authorized_at;
    r.expires_at = a.authorized_credential_expires_at;
    r.usage = usage;
    r.last_used_at = last_used;
    r.owner = Some(a.login);
    r.owner_source = Some("github:login".into());
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::Usage;
    use serde_json::json;

    #[test]
    fn authorization_maps_scopes_and_drops_the_token_tail() {
        let ctx = Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: None,
        };
        let item = json!({"login": "octocat", "credential_id": 161195,
            "credential_type": "personal access token", "token_last_eight": "71c3fc11",
            "credential_authorized_at": "2011-01-26T19:06:43Z",
            "credential_accessed_at": "2011-01-26T19:06:43Z",
            "authorized_credential_expires_at": null, "scopes": ["user", "repo"]});
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.privilege, Privilege::Write);
        assert_eq!(r.owner.as_deref(), Some("octocat"));
        assert_eq!(r.usage, Usage::Used);
        assert!(r.expires_at.is_none());
        assert!(r.raw.get("token_last_eight").is_none());
        assert_eq!(scope_privilege("admin:org"), Privilege::Admin);
    }
}
