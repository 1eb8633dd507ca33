//! What the resource types share: the description of a listing, the context a mapper gets, and
//! the translation of GitHub's permission maps into Roster's privilege.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the items of a response are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Items {
    /// The body is the array.
    Array,
    /// The body is an object; the array is this member (`{"total_count": 2, "secrets": [...]}`).
    Field(&'static str),
    /// The body is the one item (an OIDC `sub` template).
    Whole,
}

/// How a resource type is listed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// One endpoint under the org, paged with `Link`: `path(org)`.
    Org(fn(&str) -> String),
    /// One endpoint per repository of the org (`orgs/{org}/repos`, paged): `path("org/repo")`.
    PerRepo(fn(&str) -> String),
    /// The org's runner groups, each with its runners (`runner_group.rs`).
    RunnerGroups,
}

/// One resource type of the connector (one listing per org).
pub(crate) struct ResourceType {
    /// `github.…`, the listing's resource type and every record's `key.resource_type`.
    pub name: &'static str,
    pub source: Source,
    pub items: Items,
    /// What the credentials need to read it, reported when GitHub answers 403 or 404.
    pub needs: &'static str,
    /// Maps one item; `Ok(None)` skips it (e.g. a repository that uses the org's template).
    pub map: fn(&Ctx<'_>, Value) -> Result<Option<Record>, String>,
}

/// A repository of the org, as the repo walk carries it in its page token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Repo {
    #[serde(rename = "n")]
    pub full_name: String,
    #[serde(rename = "p")]
    pub public: bool,
}

/// What a mapper knows besides the item.
pub(crate) struct Ctx<'a> {
    pub org: &'a str,
    pub resource_type: &'static str,
    /// The repository of a per-repo listing.
    pub repo: Option<&'a Repo>,
}

impl Ctx<'_> {
    /// The repository's full name, or the org for org-level items.
    pub fn repo_name(&self) -> &str {
        self.repo.map_or(self.org, |r| r.full_name.as_str())
    }

    /// A record of this listing with everything unknown: the mapper fills in what GitHub says.
    pub fn record(&self, kind: Kind, external_id: String, name: String, raw: Value) -> Record {
        Record::unknown(
            RecordKey {
                resource_type: self.resource_type.to_string(),
                scope: self.org.to_string(),
                external_id,
            },
            Platform::Github,
            kind,
            name,
            raw,
        )
    }
}

pub(crate) use roster_connector_sdk::decode_item as decode;

/// `last_used`-style fields: GitHub's value when present; `null` means never used; a field the
/// server does not send at all (older GitHub Enterprise Server) means no telemetry.
pub(crate) fn usage_from(item: &Value, field: &str) -> (Usage, Option<DateTime<Utc>>) {
    match item.get(field) {
        None => (Usage::NoTelemetry, None),
        Some(Value::Null) => (Usage::NeverUsed, None),
        Some(v) => match v.as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
            Some(t) => (Usage::Used, Some(t)),
            None => (Usage::NoTelemetry, None),
        },
    }
}

/// GitHub permission maps (`{"contents": "write", "metadata": "read"}`) to a privilege and
/// `name:level` details. `admin` anywhere, or write on `administration` /
/// `organization_administration`, is admin; other writes are write.
pub(crate) fn privilege_of(perms: &BTreeMap<String, String>) -> (Privilege, Vec<String>) {
    let mut privilege = None;
    let mut detail = Vec::new();
    for (name, level) in perms {
        detail.push(format!("{name}:{level}"));
        let p = match level.as_str() {
            "admin" => Privilege::Admin,
            "write" if name == "administration" || name == "organization_administration" => {
                Privilege::Admin
            }
            "write" => Privilege::Write,
            "read" => Privilege::Read,
            _ => Privilege::Unknown,
        };
        privilege = Some(max_privilege(privilege.unwrap_or(Privilege::Unknown), p));
    }
    (privilege.unwrap_or(Privilege::Unknown), detail)
}

/// The stronger of two privileges (unknown is the weakest).
pub(crate) fn max_privilege(a: Privilege, b: Privilege) -> Privilege {
    fn rank(p: Privilege) -> u8 {
        match p {
            Privilege::Unknown => 0,
            Privilege::Read => 1,
            Privilege::Write => 2,
            Privilege::Admin => 3,
        }
    }
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permissions_map_to_privilege() {
        let p = |v: Value| privilege_of(&serde_json::from_value(v).unwrap());
        assert_eq!(p(json!({})).0, Privilege::Unknown);
        assert_eq!(p(json!({"metadata": "read"})).0, Privilege::Read);
        let (priv_, detail) = p(json!({"metadata": "read", "contents": "write"}));
        assert_eq!(priv_, Privilege::Write);
        assert_eq!(detail, vec!["contents:write", "metadata:read"]);
        assert_eq!(p(json!({"administration": "write"})).0, Privilege::Admin);
        assert_eq!(
            p(json!({"organization_projects": "admin"})).0,
            Privilege::Admin
        );
    }

    #[test]
    fn usage_tells_null_from_absent() {
        let item = json!({"a": null, "b": "2024-01-02T03:04:05Z"});
        assert_eq!(usage_from(&item, "a").0, Usage::NeverUsed);
        assert_eq!(usage_from(&item, "b").0, Usage::Used);
        assert_eq!(usage_from(&item, "c").0, Usage::NoTelemetry);
    }
}
