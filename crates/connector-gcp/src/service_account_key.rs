//! `gcp.service_account_key`: the user-managed keys of every service account of a project
//! (`GET v1/projects/{p}/serviceAccounts/{email}/keys?keyTypes=USER_MANAGED`, walking the
//! account listing). A key acts with its account's roles, so it carries the account's
//! privilege; its owner is the account's.
//!
//! `privateKeyData` is dropped if a server returns it: Roster never stores a secret.

use chrono::{DateTime, Datelike, Utc};
use roster_core::record::drop_secret_fields;
use roster_core::{Kind, Record, RecordKey, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{decode, last_segment, record};
use crate::last_authentication::Telemetry;
use crate::project_iam_policy::Privileges;

pub(crate) const RESOURCE_TYPE: &str = "gcp.service_account_key";
pub(crate) const NEEDS: &str = "iam.serviceAccountKeys.list on the project (e.g. roles/iam.serviceAccountKeyAdmin or roles/iam.securityReviewer)";

/// Secret members of IAM's `ServiceAccountKey`.
pub(crate) const SECRET_FIELDS: &[&str] = &["privateKeyData"];

/// The fields of IAM's `ServiceAccountKey` the connector reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccountKey {
    name: String,
    #[serde(default)]
    valid_after_time: Option<DateTime<Utc>>,
    #[serde(default)]
    valid_before_time: Option<DateTime<Utc>>,
    #[serde(default)]
    key_type: Option<String>,
    #[serde(default)]
    key_origin: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// The account a key belongs to, as the walk of the account listing carries it.
pub(crate) struct Account<'a> {
    pub email: &'a str,
    pub external_id: &'a str,
    pub owner: Option<&'a str>,
    pub privileges: &'a Privileges,
}

/// Maps one key; `Ok(None)` skips a system-managed key (Google rotates those).
pub(crate) fn map(
    project: &str,
    mut item: Value,
    account: &Account<'_>,
    telemetry: &Telemetry,
) -> Result<Option<Record>, String> {
    drop_secret_fields(&mut item, SECRET_FIELDS);
    let k: ServiceAccountKey = decode(&item)?;
    if k.key_type.as_deref() == Some("SYSTEM_MANAGED") {
        return Ok(None);
    }
    let id = last_segment(&k.name).to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("ServiceAccountKey: name does not end in a key id".into());
    }
    let seen = telemetry.usage(&[&id]);
    if let Value::Object(m) = &mut item {
        m.insert("serviceAccount".into(), Value::String(account.email.into()));
        m.insert("lastAuthentication".into(), seen.evidence);
    }
    let mut r = record(
        RESOURCE_TYPE,
        project,
        Kind::ServiceAccountKey,
        id.clone(),
        format!("{} key {id}", account.email),
        item,
    );
    r.parent = Some(RecordKey {
        resource_type: crate::service_account::RESOURCE_TYPE.into(),
        scope: project.into(),
        external_id: account.external_id.into(),
    });
    r.created_at = k.valid_after_time;
    // Keys without an expiry say 9999-12-31T23:59:59Z.
    r.expires_at = k.valid_before_time.filter(|t| t.year() < 9999);
    if k.disabled == Some(true) {
        r.status = Status::Disabled;
    }
    r.usage = seen.usage;
    r.last_used_at = seen.last_used_at;
    r.privilege = account.privileges.privilege;
    r.privilege_detail = account
        .privileges
        .detail
        .iter()
        .map(|d| format!("{d} (via {})", account.email))
        .collect();
    if let Some(origin) = k.key_origin {
        r.privilege_detail.push(format!("keyOrigin:{origin}"));
    }
    if let Some(owner) = account.owner {
        r.owner = Some(owner.to_string());
        r.owner_source = Some("gcp:service_account_description".into());
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::{Privilege, Usage};
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn private_key_data_is_dropped_and_no_expiry_is_none() {
        let privileges = Privileges {
            privilege: Privilege::Admin,
            detail: vec!["roles/editor".into()],
            basic: vec!["roles/editor".into()],
        };
        let account = Account {
            email: "ci@acme-prod.iam.gserviceaccount.com",
            external_id: "1057",
            owner: Some("team-platform"),
            privileges: &privileges,
        };
        let item = json!({"name": "projects/acme-prod/serviceAccounts/ci@acme-prod.iam.gserviceaccount.com/keys/0a1b2c",
            "validAfterTime": "2023-01-01T00:00:00Z", "validBeforeTime": "9999-12-31T23:59:59Z",
            "keyAlgorithm": "KEY_ALG_RSA_2048", "keyOrigin": "GOOGLE_PROVIDED", "keyType": "USER_MANAGED",
            "privateKeyData": "ewogICJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCIK"});
        let r = map("acme-prod", item, &account, &Telemetry::Off)
            .unwrap()
            .unwrap();
        assert!(r.raw.get("privateKeyData").is_none());
        assert!(!r.raw.to_string().contains("ewogICJ0eXBl"));
        assert_eq!(r.expires_at, None);
        assert_eq!(r.usage, Usage::NoTelemetry);
        assert_eq!(r.parent.as_ref().unwrap().external_id, "1057");
        assert_eq!(r.privilege, Privilege::Admin);
        assert_eq!(r.owner.as_deref(), Some("team-platform"));

        let system =
            json!({"name": "projects/p/serviceAccounts/a@b/keys/ff", "keyType": "SYSTEM_MANAGED"});
        assert!(
            map(
                "acme-prod",
                system,
                &account,
                &Telemetry::Read(HashMap::new())
            )
            .unwrap()
            .is_none()
        );
    }
}
