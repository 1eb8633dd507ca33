//! What the resource types share: the description of a listing, the context a mapper gets, and
//! GitLab's roles and scopes translated into Roster's privilege.

use chrono::{DateTime, NaiveDate, Utc};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, Signal, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The scope of instance-wide listings. Parentheses cannot occur in a GitLab group path, so it
/// never collides with a group's scope.
pub const INSTANCE_SCOPE: &str = "(instance)";

/// What a listing's scope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// A group, by full path.
    Group(&'a str),
    /// The whole instance (admin API).
    Instance,
}

impl Scope<'_> {
    /// The group's path as one URL path segment (`acme%2Fplatform`), which is how GitLab takes a
    /// group path in place of its id.
    pub fn group_segment(&self) -> Option<String> {
        match self {
            Scope::Group(path) => Some(path.replace('/', "%2F")),
            Scope::Instance => None,
        }
    }
}

/// Which scopes a resource type is listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Where {
    Groups,
    Instance,
    Both,
}

/// What a walk goes through, one child listing per parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parents {
    /// Every project of the group (subgroups included) or of the instance.
    Projects,
    /// Every service account of the instance or the group.
    ServiceAccounts,
}

/// How a resource type is listed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// One endpoint for the scope: `path(scope)`.
    Scope(fn(&Scope<'_>) -> String),
    /// One endpoint per parent: `path(scope, parent id)`.
    Walk(Parents, fn(&Scope<'_>, u64) -> String),
}

/// One resource type of the connector.
pub(crate) struct ResourceType {
    /// `gitlab.…`, the listing's resource type and every record's `key.resource_type`.
    pub name: &'static str,
    pub listed_in: Where,
    pub source: Source,
    /// What the token needs to read it, reported when GitLab answers 403.
    pub needs: &'static str,
    /// A per-item detail read (`runners/{id}`) whose fields complete the list item.
    pub detail: Option<fn(&Value) -> Option<String>>,
    /// Maps one item; `Ok(None)` skips it.
    pub map: fn(&Ctx<'_>, Value) -> Result<Option<Record>, String>,
}

/// A project or service account a walk goes through, as the page token carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Parent {
    #[serde(rename = "i")]
    pub id: u64,
    /// `path_with_namespace` of a project, `username` of a service account.
    #[serde(rename = "n")]
    pub name: String,
}

/// What a mapper knows besides the item.
pub(crate) struct Ctx<'a> {
    pub scope: &'a str,
    pub resource_type: &'static str,
    pub parent: Option<&'a Parent>,
    pub max_token_lifetime_days: i64,
}

impl Ctx<'_> {
    /// A record of this listing with everything unknown: the mapper fills in what GitLab says.
    pub fn record(&self, kind: Kind, external_id: String, name: String, raw: Value) -> Record {
        Record::unknown(
            RecordKey {
                resource_type: self.resource_type.to_string(),
                scope: self.scope.to_string(),
                external_id,
            },
            Platform::Gitlab,
            kind,
            name,
            raw,
        )
    }

    /// `{parent id}/{id}` for per-project items, `{id}` otherwise.
    pub fn external_id(&self, id: impl std::fmt::Display) -> String {
        match self.parent {
            Some(p) => format!("{}/{id}", p.id),
            None => id.to_string(),
        }
    }

    /// Where the item lives, for its name: the project path, or the group / instance.
    pub fn place(&self) -> &str {
        self.parent.map_or(self.scope, |p| p.name.as_str())
    }

    /// The signal for a token whose lifetime exceeds the configured maximum.
    pub fn lifetime_signal(&self, r: &mut Record, what: &str) {
        if let (Some(created), Some(expires)) = (r.created_at, r.expires_at) {
            let days = (expires - created).num_days();
            if days > self.max_token_lifetime_days {
                r.signals.push(Signal::new(
                    "gitlab.token.lifetime_over_max",
                    format!(
                        "{what} lives {days} days (created {}, expires {}), beyond the maximum of {} days",
                        created.date_naive(),
                        expires.date_naive(),
                        self.max_token_lifetime_days
                    ),
                ));
            }
        }
    }
}

pub(crate) use roster_connector_sdk::decode_item as decode;

/// Fields that hold secret material in GitLab's answers: a CI/CD variable's `value`, a trigger's
/// or a runner's `token` (GitLab shows trigger tokens in full to their owner). Removed from every
/// item before it is mapped, kept, or logged.
pub(crate) const SECRET_FIELDS: &[&str] = &["value", "token"];

/// `last_used_at`-style fields: a timestamp means used, `null` never used, a field GitLab does
/// not send (older versions, or an endpoint without it) no telemetry.
pub(crate) fn usage_from(item: &Value, field: &str) -> (Usage, Option<DateTime<Utc>>) {
    match item.get(field) {
        None => (Usage::NoTelemetry, None),
        Some(Value::Null) => (Usage::NeverUsed, None),
        Some(v) => match v.as_str().and_then(parse_time) {
            Some(t) => (Usage::Used, Some(t)),
            None => (Usage::NoTelemetry, None),
        },
    }
}

/// GitLab timestamps (`2021-01-20T22:11:48.151Z`) and dates (`expires_at: 2021-01-31`, taken as
/// the start of that day in UTC: GitLab revokes expiring tokens at the start of their expiry day).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = s.parse::<DateTime<Utc>>() {
        return Some(t);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
}

/// An optional timestamp or date field.
pub(crate) fn time_field(item: &Value, field: &str) -> Option<DateTime<Utc>> {
    item.get(field).and_then(Value::as_str).and_then(parse_time)
}

/// GitLab's role names by access level.
pub(crate) fn role_name(level: u64) -> &'static str {
    match level {
        0 => "No access",
        5 => "Minimal access",
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        60 => "Admin",
        _ => "unknown role",
    }
}

/// Scopes that only read.
fn read_only_scope(scope: &str) -> bool {
    scope.starts_with("read_") || scope == "ai_features" || scope == "self_rotate"
}

/// A token's privilege from its scopes and, for project and group tokens, its role: read-only
/// scopes read whatever the role; `api` or `write_*` write, and with the Owner role (or `sudo` /
/// `admin_mode` on a personal token) administer.
pub(crate) fn token_privilege(scopes: &[String], level: Option<u64>) -> Privilege {
    if scopes.is_empty() {
        return Privilege::Unknown;
    }
    if scopes.iter().any(|s| s == "sudo" || s == "admin_mode") {
        return Privilege::Admin;
    }
    if scopes.iter().all(|s| read_only_scope(s)) {
        return Privilege::Read;
    }
    match level {
        Some(l) if l >= 50 => Privilege::Admin,
        Some(l) if l >= 30 => Privilege::Write,
        Some(_) => Privilege::Read,
        None => Privilege::Write,
    }
}

/// `gitlab.token.api_scope`: `api` is full read-write API access; on a role that cannot write
/// (Reporter or below) `read_api` grants exactly what the token can use.
pub(crate) fn api_scope_signal(r: &mut Record, scopes: &[String], level: Option<u64>, what: &str) {
    if let Some(l) = level
        && l <= 20
        && scopes.iter().any(|s| s == "api")
    {
        r.signals.push(Signal::new(
            "gitlab.token.api_scope",
            format!(
                "{what} has the `api` scope with the {} role, which cannot write: `read_api` would do",
                role_name(l)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn privilege_from_scopes_and_role() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(token_privilege(&s(&[]), Some(40)), Privilege::Unknown);
        assert_eq!(
            token_privilege(&s(&["read_api", "read_repository"]), Some(50)),
            Privilege::Read
        );
        assert_eq!(token_privilege(&s(&["api"]), Some(50)), Privilege::Admin);
        assert_eq!(token_privilege(&s(&["api"]), Some(40)), Privilege::Write);
        assert_eq!(token_privilege(&s(&["api"]), Some(20)), Privilege::Read);
        assert_eq!(token_privilege(&s(&["api"]), None), Privilege::Write);
        assert_eq!(
            token_privilege(&s(&["read_api", "sudo"]), None),
            Privilege::Admin
        );
    }

    #[test]
    fn usage_and_times() {
        let item = json!({"a": null, "b": "2024-01-02T03:04:05.123Z", "d": "2025-03-01"});
        assert_eq!(usage_from(&item, "a").0, Usage::NeverUsed);
        assert_eq!(usage_from(&item, "b").0, Usage::Used);
        assert_eq!(usage_from(&item, "c").0, Usage::NoTelemetry);
        assert_eq!(
            time_field(&item, "d").unwrap().to_rfc3339(),
            "2025-03-01T00:00:00+00:00"
        );
        assert_eq!(
            Scope::Group("acme/platform").group_segment().as_deref(),
            Some("acme%2Fplatform")
        );
    }
}
