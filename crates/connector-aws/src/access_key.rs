//! Access keys: long-lived secret material. Last use comes from the credential report, matched
//! to the key by creation time, or from GetAccessKeyLastUsed when there is no report or the
//! report cannot tell the key from another of its user's (see
//! [`crate::credential_report::indistinct`]). The record's `raw.usage_source` says which.

use aws_sdk_iam::types::{AccessKeyMetadata, UserDetail};
use chrono::{DateTime, Utc};
use roster_core::{Kind, Platform, Record, RecordKey, Signal, Status, Usage};
use serde_json::json;

use crate::account::AccountData;
use crate::client::to_utc;
use crate::credential_report::ReportRow;
use crate::iam_user;

pub const RESOURCE_TYPE: &str = "aws.access_key";

/// What decided a key's usage, as `raw.usage_source` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageSource {
    CredentialReport,
    GetAccessKeyLastUsed,
    /// Nothing could say: no report column matched and the key was not asked about.
    None,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::CredentialReport => "credential_report",
            UsageSource::GetAccessKeyLastUsed => "get_access_key_last_used",
            UsageSource::None => "none",
        }
    }
}

/// A key's last use, the service it was last used with, and what says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub at: Option<DateTime<Utc>>,
    pub usage: Usage,
    pub service: Option<String>,
    pub source: UsageSource,
    /// Why the source is not the report, or why usage is unknown.
    pub detail: Option<String>,
}

/// Last use of a key and what says so. A key IAM was asked about is judged by the answer
/// alone: when the call failed its usage is unknown, never the report's guess.
pub fn last_used(k: &AccessKeyMetadata, row: Option<&ReportRow>, data: &AccountData) -> KeyUsage {
    let id = k.access_key_id().unwrap_or("");
    let asked = data
        .keys
        .as_ref()
        .ok()
        .and_then(|keys| keys.last_used.get(id));
    let why_asked = if data.report.is_some() {
        "the credential report cannot tell this key from another of its user's (created in the same second, or more keys than report columns)"
    } else {
        "the credential report was unavailable"
    };
    match asked {
        Some(Ok(answer)) => {
            return KeyUsage {
                at: answer.at,
                usage: if answer.at.is_some() {
                    Usage::Used
                } else {
                    Usage::NeverUsed
                },
                service: answer.service.clone(),
                source: UsageSource::GetAccessKeyLastUsed,
                detail: Some(why_asked.to_owned()),
            };
        }
        Some(Err(e)) => {
            return KeyUsage {
                at: None,
                usage: Usage::NoTelemetry,
                service: None,
                source: UsageSource::GetAccessKeyLastUsed,
                detail: Some(format!("{why_asked}; GetAccessKeyLastUsed failed: {e}")),
            };
        }
        None => {}
    }
    if data.report.is_some() {
        let created = k.create_date().and_then(to_utc);
        let index = key_index(k, data);
        return match row.and_then(|r| r.key_for(created, index)) {
            Some(col) => KeyUsage {
                at: col.last_used,
                usage: if col.last_used.is_some() {
                    Usage::Used
                } else {
                    Usage::NeverUsed
                },
                service: col.last_used_service.clone(),
                source: UsageSource::CredentialReport,
                detail: None,
            },
            None => KeyUsage {
                at: None,
                usage: Usage::NoTelemetry,
                service: None,
                source: UsageSource::None,
                detail: Some("no credential report column matches the key".to_owned()),
            },
        };
    }
    KeyUsage {
        at: None,
        usage: Usage::NoTelemetry,
        service: None,
        source: UsageSource::None,
        detail: Some("the credential report was unavailable".to_owned()),
    }
}

/// Position of the key among its user's keys by creation time (the report's column order).
fn key_index(k: &AccessKeyMetadata, data: &AccountData) -> usize {
    let Ok(keys) = &data.keys else { return 0 };
    let Some(list) = k.user_name().and_then(|u| keys.by_user.get(u)) else {
        return 0;
    };
    let mut dates: Vec<_> = list
        .iter()
        .map(|x| x.create_date().map(|d| d.secs()))
        .collect();
    dates.sort_unstable();
    let mine = k.create_date().map(|d| d.secs());
    dates.iter().position(|d| *d == mine).unwrap_or(0)
}

pub fn record(
    account: &str,
    user: &UserDetail,
    is_service_user: bool,
    k: &AccessKeyMetadata,
    data: &AccountData,
    federation: Option<&[String]>,
    privilege: &(roster_core::Privilege, Vec<String>),
) -> Option<Record> {
    let id = k.access_key_id()?.to_owned();
    let user_name = user.user_name().unwrap_or("").to_owned();
    let row = data.report.as_ref().and_then(|r| r.get(&user_name));
    let key_usage = last_used(k, row, data);
    let active = k.status().is_some_and(|s| s.as_str() == "Active");
    let owner_hint = crate::principal::owner_from_tags(user.tags());
    // A person's key: the person answers for it.
    let (owner, owner_source) = match (is_service_user, owner_hint) {
        (_, Some((o, src))) => (Some(o), Some(src)),
        (false, None) => (Some(user_name.clone()), Some("aws:key_holder".to_owned())),
        (true, None) => (None, None),
    };
    let mut signals = Vec::new();
    if active {
        if let Some(providers) = federation.filter(|p| !p.is_empty()) {
            signals.push(Signal::new(
                "aws.key.long_lived_with_federation",
                format!(
                    "access key {id} of `{user_name}` is long-lived, while the account already trusts OIDC provider(s) {}",
                    providers.join(", ")
                ),
            ));
        }
    }
    Some(Record {
        key: RecordKey {
            resource_type: RESOURCE_TYPE.into(),
            scope: account.into(),
            external_id: id.clone(),
        },
        platform: Platform::Aws,
        kind: Kind::AccessKey,
        name: format!("{id} ({user_name})"),
        parent: is_service_user.then(|| iam_user::key(account, &user_name)),
        status: if active {
            Status::Active
        } else {
            Status::Disabled
        },
        created_at: k.create_date().and_then(to_utc),
        last_used_at: key_usage.at,
        usage: key_usage.usage,
        // IAM access keys never expire.
        expires_at: None,
        // A key acts with its user's permissions.
        privilege: privilege.0,
        privilege_detail: privilege.1.clone(),
        owner,
        owner_source,
        credential_fingerprint: None,
        signals,
        interactive_sign_in: None,
        raw: json!({
            "access_key_id": id,
            "user_name": user_name,
            "user_arn": user.arn(),
            "status": k.status().map(|s| s.as_str()),
            "user_is_service": is_service_user,
            "usage_source": key_usage.source.as_str(),
            "usage_detail": key_usage.detail,
            "last_used_service": key_usage.service,
        }),
    })
}
