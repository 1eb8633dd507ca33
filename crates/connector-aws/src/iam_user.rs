//! IAM users. A user with a console password and nothing that marks it as software is a person:
//! Roster does not list the person, only the access keys they hold (see `access_key.rs`).

use aws_sdk_iam::types::UserDetail;
use roster_core::{InteractiveSignIn, Kind, Platform, Record, RecordKey, Status, Usage};
use serde_json::json;

use crate::account::AccountData;
use crate::client::to_utc;
use crate::principal;

pub const RESOURCE_TYPE: &str = "aws.iam_user";

const SERVICE_WORDS: &[&str] = &[
    "svc",
    "service",
    "bot",
    "ci",
    "cd",
    "deploy",
    "automation",
    "pipeline",
    "terraform",
    "github",
    "gitlab",
    "jenkins",
    "robot",
    "app",
    "system",
    "machine",
];

/// Why a user is judged to be software, or `None` for a person.
pub fn service_hint(u: &UserDetail, password: Option<bool>) -> Option<String> {
    let words = |s: &str| {
        s.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| SERVICE_WORDS.contains(&w))
    };
    let path = u.path().unwrap_or("/");
    if path != "/" && words(path) {
        return Some(format!("path `{path}`"));
    }
    for t in u.tags() {
        let k = t.key().to_ascii_lowercase();
        if matches!(
            k.as_str(),
            "type" | "kind" | "usage" | "identity-type" | "nhi"
        ) && words(t.value())
        {
            return Some(format!("tag `{}={}`", t.key(), t.value()));
        }
    }
    let name = u.user_name().unwrap_or("");
    if words(name) {
        return Some(format!("name `{name}`"));
    }
    if password != Some(true) {
        return Some("no console password".into());
    }
    None
}

pub fn key(account: &str, user_name: &str) -> RecordKey {
    RecordKey {
        resource_type: RESOURCE_TYPE.into(),
        scope: account.into(),
        external_id: user_name.into(),
    }
}

/// A service user's record; `None` for a person.
/// `privilege` is the user's, from [`user_privilege`] (computed once for the user and its keys).
pub fn record(
    account: &str,
    u: &UserDetail,
    data: &AccountData,
    privilege: &(roster_core::Privilege, Vec<String>),
) -> Option<Record> {
    let name = u.user_name()?.to_owned();
    let row = data.report.as_ref().and_then(|r| r.get(&name));
    let password = row.and_then(|r| r.password_enabled);
    let hint = service_hint(u, password)?;
    let (privilege, privilege_detail) = (privilege.0, privilege.1.clone());
    let owner = principal::owner_from_tags(u.tags());

    let keys = match &data.keys {
        Ok(k) => k.by_user.get(&name).map(Vec::as_slice).unwrap_or_default(),
        Err(_) => &[],
    };
    let active_keys: Vec<&str> = keys
        .iter()
        .filter(|k| k.status().is_some_and(|s| s.as_str() == "Active"))
        .filter_map(|k| k.access_key_id())
        .collect();
    // A console password on a service user: a person can sign in as it (the generic rule
    // `usage.human_sign_in`, NHI10), with the credential report's last console sign-in.
    let interactive_sign_in = (password == Some(true)).then(|| InteractiveSignIn {
        method: "console password".to_owned(),
        last_at: row.and_then(|r| r.password_last_used),
    });
    // A user's last use is its most recent key use or console sign-in. A key whose usage is
    // unknown leaves the user's unknown too, unless some use was seen.
    let key_usages: Vec<_> = keys
        .iter()
        .map(|k| crate::access_key::last_used(k, row, data))
        .collect();
    let last_key_use = key_usages.iter().filter_map(|u| u.at).max();
    let last_used_at = last_key_use.max(row.and_then(|r| r.password_last_used));
    let usage = if last_used_at.is_some() {
        Usage::Used
    } else if key_usages.iter().any(|u| u.usage == Usage::NoTelemetry) {
        Usage::NoTelemetry
    } else if data.report.is_some() || data.keys.is_ok() && !keys.is_empty() {
        Usage::NeverUsed
    } else {
        Usage::NoTelemetry
    };
    Some(Record {
        key: key(account, &name),
        platform: Platform::Aws,
        kind: Kind::ServiceAccount,
        name: name.clone(),
        parent: None,
        status: Status::Active,
        created_at: u.create_date().and_then(to_utc),
        last_used_at,
        usage,
        expires_at: None,
        privilege,
        privilege_detail,
        owner: owner.as_ref().map(|o| o.0.clone()),
        owner_source: owner.map(|o| o.1),
        credential_fingerprint: None,
        signals: Vec::new(),
        interactive_sign_in,
        raw: json!({
            "arn": u.arn(),
            "user_id": u.user_id(),
            "path": u.path(),
            "groups": u.group_list(),
            "tags": principal::tags_json(u.tags()),
            "console_password": password,
            "judged_service_by": hint,
            "access_keys": keys.iter().filter_map(|k| k.access_key_id()).collect::<Vec<_>>(),
            // Two or more: the generic `credential.two_active` rule fires on the user.
            "active_access_keys": active_keys,
            "permissions_boundary": u.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        }),
    })
}

/// A user's privilege from its inline, attached and group policies (its keys act with it).
pub fn user_privilege(u: &UserDetail, data: &AccountData) -> (roster_core::Privilege, Vec<String>) {
    let all_docs = merged_docs(data);
    let mut policies = principal::inline(u.user_policy_list(), "");
    policies.extend(principal::attached(
        u.attached_managed_policies(),
        "",
        all_docs,
    ));
    policies.extend(principal::via_groups(
        u.group_list(),
        &data.details.groups,
        all_docs,
    ));
    let boundary = principal::boundary(
        u.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        all_docs,
    );
    principal::privilege(&policies, boundary.as_ref(), &data.verdicts)
}

/// Customer and AWS-managed documents in one map, for group attachments.
pub fn merged_docs(data: &AccountData) -> &std::collections::HashMap<String, (String, String)> {
    &data.all_docs
}
