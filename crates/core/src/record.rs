//! A normalised record as a connector emits it, its stable id and its content fingerprint.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::model::{Kind, Platform, Privilege, RecordClass, Status, Usage};
use crate::signal::Signal;

/// Where a record lives in its source: the listing it came from and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    /// The connector's resource type, e.g. `aws.iam_user`.
    pub resource_type: String,
    /// Org / group / account / project / tenant.
    pub scope: String,
    pub external_id: String,
}

/// A record's id: a 64-bit hash of (connector name, resource type, scope, external id). It is
/// stable across syncs and databases, and a connector can name a parent without a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub i64);

impl RecordId {
    pub fn derive(connector: &str, key: &RecordKey) -> Self {
        let mut buf = Vec::with_capacity(
            connector.len() + key.resource_type.len() + key.scope.len() + key.external_id.len() + 3,
        );
        for part in [
            connector,
            key.resource_type.as_str(),
            key.scope.as_str(),
            key.external_id.as_str(),
        ] {
            buf.extend_from_slice(part.as_bytes());
            buf.push(0);
        }
        // Reinterpreting the bits keeps every id in an SQL BIGINT.
        RecordId(xxh3_64(&buf) as i64)
    }
}

/// A second, independent 32-bit hash of an external id. Within one listing (connector,
/// resource type and scope fixed), two records with the same [`RecordId`] but different checks
/// are different natural keys whose ids collide: the sync skips the second instead of merging.
/// Equal checks do not prove equal keys, so the store still compares the full key on write.
pub fn external_id_check(external_id: &str) -> u32 {
    // Any seed but 0 (that of [`RecordId::derive`]) keeps the two hashes independent.
    const SEED: u64 = 0x5eed_c011_1510_0019;
    xxh3_64_with_seed(external_id.as_bytes(), SEED) as u32
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0 as u64)
    }
}

/// A record id was not 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a record id (16 hex digits)")]
pub struct ParseRecordIdError(pub String);

impl FromStr for RecordId {
    type Err = ParseRecordIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(ParseRecordIdError(s.to_owned()));
        }
        u64::from_str_radix(s, 16)
            .map(|v| RecordId(v as i64))
            .map_err(|_| ParseRecordIdError(s.to_owned()))
    }
}

impl Serialize for RecordId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// In OpenAPI: the string it serialises as.
impl utoipa::PartialSchema for RecordId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9a-f]{16}$"))
            .description(Some("A record id: 16 hex digits."))
            .into()
    }
}

impl utoipa::ToSchema for RecordId {}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One identity or credential, normalised. Connectors build these; the sync engine stores them.
/// It never holds a secret value: connectors drop those (see [`drop_secret_fields`]) before a
/// record is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: RecordKey,
    pub platform: Platform,
    pub kind: Kind,
    pub name: String,
    /// The identity a credential belongs to, when the platform says.
    pub parent: Option<RecordKey>,
    /// `Active` or `Disabled`; `Gone` is the sync engine's verdict, never a connector's.
    pub status: Status,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub usage: Usage,
    pub expires_at: Option<DateTime<Utc>>,
    pub privilege: Privilege,
    /// The raw scopes, roles or policies behind `privilege`.
    pub privilege_detail: Vec<String>,
    pub owner: Option<String>,
    /// Where the owner came from, e.g. `aws_tag:owner`, `github:added_by`.
    pub owner_source: Option<String>,
    /// The public material behind a credential in canonical form (see
    /// [`crate::credential_fingerprint`]), so that its reuse elsewhere can be seen. Computed by
    /// the connector from what the platform returns; the material itself is not kept twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_fingerprint: Option<String>,
    /// Platform rules the connector saw fire (see [`crate::signal`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<Signal>,
    /// A person can sign in as this identity, where the platform says so (an AWS service user
    /// with a console password): human use of a non-human identity (NHI10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_sign_in: Option<InteractiveSignIn>,
    /// The platform's own JSON for this record, secrets removed.
    pub raw: serde_json::Value,
}

/// How a person can sign in as an identity, and when one last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractiveSignIn {
    /// In the platform's terms, e.g. "console password".
    pub method: String,
    /// The last sign-in that way; `None` when there was none or the platform does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<DateTime<Utc>>,
}

impl Record {
    /// A record of `key` with everything the platform has not said yet left unknown: active, no
    /// dates, no usage data, unknown privilege, no owner. Connectors start here and fill in what
    /// their platform reports.
    pub fn unknown(
        key: RecordKey,
        platform: Platform,
        kind: Kind,
        name: String,
        raw: serde_json::Value,
    ) -> Self {
        Self {
            key,
            platform,
            kind,
            name,
            parent: None,
            status: Status::Active,
            created_at: None,
            last_used_at: None,
            usage: Usage::NoTelemetry,
            expires_at: None,
            privilege: Privilege::Unknown,
            privilege_detail: Vec::new(),
            owner: None,
            owner_source: None,
            credential_fingerprint: None,
            signals: Vec::new(),
            interactive_sign_in: None,
            raw,
        }
    }

    pub fn class(&self) -> RecordClass {
        self.kind.class()
    }

    /// A fingerprint of everything the record says. Equal fingerprints mean nothing changed, so
    /// the sync engine writes nothing. `serde_json` maps are sorted, so the bytes are canonical.
    pub fn content_hash(&self) -> i64 {
        match serde_json::to_vec(self) {
            Ok(bytes) => xxh3_64(&bytes) as i64,
            // Serialising plain data cannot fail; a zero hash only forces a rewrite.
            Err(_) => 0,
        }
    }
}

/// Removes every object member named in `names`, at any depth. Connectors call it on raw
/// platform JSON that can carry secret values (GitLab CI variable `value`, GCP
/// `privateKeyData`) before the JSON goes anywhere else.
pub fn drop_secret_fields(value: &mut serde_json::Value, names: &[&str]) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !names.contains(&k.as_str()));
            for v in map.values_mut() {
                drop_secret_fields(v, names);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                drop_secret_fields(v, names);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(id: &str) -> RecordKey {
        RecordKey {
            resource_type: "aws.iam_user".into(),
            scope: "1234".into(),
            external_id: id.into(),
        }
    }

    fn record() -> Record {
        Record {
            key: key("AIDA1"),
            platform: Platform::Aws,
            kind: Kind::ServiceAccount,
            name: "deployer".into(),
            parent: None,
            status: Status::Active,
            created_at: None,
            last_used_at: None,
            usage: Usage::NoTelemetry,
            expires_at: None,
            privilege: Privilege::Admin,
            privilege_detail: vec!["AdministratorAccess".into()],
            owner: None,
            owner_source: None,
            credential_fingerprint: None,
            signals: vec![],
            interactive_sign_in: None,
            raw: json!({"b": 1, "a": 2}),
        }
    }

    #[test]
    fn ids_are_stable_and_distinguish_every_key_part() {
        let a = RecordId::derive("c", &key("x"));
        assert_eq!(a, RecordId::derive("c", &key("x")));
        assert_ne!(a, RecordId::derive("d", &key("x")));
        assert_ne!(a, RecordId::derive("c", &key("y")));
        // The separator keeps ("ab","c") apart from ("a","bc").
        let k1 = RecordKey {
            resource_type: "ab".into(),
            scope: "c".into(),
            external_id: "".into(),
        };
        let k2 = RecordKey {
            resource_type: "a".into(),
            scope: "bc".into(),
            external_id: "".into(),
        };
        assert_ne!(RecordId::derive("c", &k1), RecordId::derive("c", &k2));
        assert_eq!(a.to_string().parse::<RecordId>().unwrap(), a);
        assert!("xyz".parse::<RecordId>().is_err());
    }

    #[test]
    fn content_hash_changes_with_content_only() {
        let r = record();
        assert_eq!(r.content_hash(), record().content_hash());
        let mut changed = record();
        changed.privilege = Privilege::Read;
        assert_ne!(r.content_hash(), changed.content_hash());
        let mut with_fingerprint = record();
        with_fingerprint.credential_fingerprint = Some("ssh-sha256:x".into());
        assert_ne!(r.content_hash(), with_fingerprint.content_hash());
        // A record without one serialises as before the field existed: stored hashes stay
        // valid and an upgrade rewrites nothing.
        assert!(
            !String::from_utf8(serde_json::to_vec(&r).unwrap())
                .unwrap()
                .contains("credential_fingerprint")
        );
    }

    #[test]
    fn secret_fields_are_dropped_at_any_depth() {
        let mut v =
            json!({"key": "DB_PASSWORD", "value": "hunter2", "nested": [{"value": "x", "ok": 1}]});
        drop_secret_fields(&mut v, &["value"]);
        assert_eq!(v, json!({"key": "DB_PASSWORD", "nested": [{"ok": 1}]}));
    }
}
