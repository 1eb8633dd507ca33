//! What the resource types share: the record skeleton, Graph's timestamps, decoding items
//! without quoting their values, and the fields Roster reads of Graph's objects.

use chrono::{DateTime, Utc};
use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Platform, Record, RecordKey};
use serde::Deserialize;
use serde_json::Value;

use crate::{AzureConnector, MAX_PAGES};

/// Microsoft's own tenant: `appOwnerOrganizationId` of first-party apps (Microsoft Graph,
/// Office 365 Exchange Online …).
pub(crate) const MICROSOFT_TENANT_ID: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// Whether a principal's app is Microsoft's own (left out unless `include_microsoft_apps`).
pub(crate) fn first_party(app_owner_organization_id: Option<&str>) -> bool {
    app_owner_organization_id.is_some_and(|t| t.eq_ignore_ascii_case(MICROSOFT_TENANT_ID))
}

/// An object's display name, or `<what> <id>` when it has none.
pub(crate) fn display_name(name: Option<&str>, what: &str, id: &str) -> String {
    name.filter(|n| !n.is_empty())
        .map_or_else(|| format!("{what} {id}"), str::to_owned)
}

/// A record of `resource_type` in `tenant` with everything unknown: the mapper fills in what
/// Graph says.
pub(crate) fn record(
    resource_type: &str,
    tenant: &str,
    kind: Kind,
    external_id: String,
    name: String,
    raw: Value,
) -> Record {
    Record::unknown(
        RecordKey {
            resource_type: resource_type.to_string(),
            scope: tenant.to_string(),
            external_id,
        },
        Platform::Azure,
        kind,
        name,
        raw,
    )
}

pub(crate) use roster_connector_sdk::decode_item as decode;

/// Graph's `DateTimeOffset`s (`2024-01-02T03:04:05Z`, sometimes with fractional seconds or an
/// offset); anything else is treated as absent.
pub(crate) fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `passwordCredentials[]` / `keyCredentials[]` entries: metadata only. Graph never returns a
/// password's value (`secretText`) on a read, and a certificate's `key` only on a single-object
/// `$select`; both are dropped from `raw` anyway.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialInfo {
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
    /// keyCredentials: `AsymmetricX509Cert`, `Symmetric`…
    #[serde(default, rename = "type")]
    pub key_type: Option<String>,
    /// keyCredentials: `Verify`, `Sign`.
    #[serde(default)]
    pub usage: Option<String>,
    /// keyCredentials of a certificate: its SHA-1 thumbprint.
    #[serde(default)]
    pub custom_key_identifier: Option<String>,
}

impl CredentialInfo {
    /// How a person tells it apart: its display name, else its hint, else its key id.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.hint.as_ref().map(|h| format!("{h}…")))
            .unwrap_or_else(|| self.key_id.clone().unwrap_or_default())
    }

    /// A certificate's thumbprint as a credential fingerprint. Graph sends
    /// `customKeyIdentifier` as the thumbprint's hex, or as base64 of its bytes (Edm.Binary);
    /// both are taken. A client secret's is free text and says nothing.
    pub fn certificate_fingerprint(&self) -> Option<String> {
        use roster_core::credential_fingerprint::{
            from_x509_thumbprint_base64, from_x509_thumbprint_hex,
        };
        if self.key_type.as_deref() != Some("AsymmetricX509Cert") {
            return None;
        }
        let id = self.custom_key_identifier.as_deref()?;
        from_x509_thumbprint_hex(id).or_else(|| from_x509_thumbprint_base64(id))
    }
}

/// Fields never to keep from a credential (secret material if a server sends it).
pub(crate) const SECRET_FIELDS: &[&str] = &["secretText", "key"];

/// The application fields every app-based listing asks for.
pub(crate) const APPLICATION_SELECT: &str = "id,appId,displayName,createdDateTime,signInAudience,passwordCredentials,keyCredentials,publisherDomain,disabledByMicrosoftStatus";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Application {
    pub id: String,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub password_credentials: Vec<CredentialInfo>,
    #[serde(default)]
    pub key_credentials: Vec<CredentialInfo>,
    #[serde(default)]
    pub disabled_by_microsoft_status: Option<String>,
}

impl Application {
    pub fn name(&self) -> String {
        display_name(self.display_name.as_deref(), "application", &self.id)
    }
}

/// An owner (`GET …/owners`): a user or a service principal.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Owner {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    #[serde(rename = "userPrincipalName", default)]
    pub user_principal_name: Option<String>,
    #[serde(rename = "mail", default)]
    pub mail: Option<String>,
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
}

impl Owner {
    /// How Roster names the owner: a user by UPN (or mail), anything else by display name.
    pub fn label(&self) -> Option<String> {
        self.user_principal_name
            .clone()
            .or_else(|| self.mail.clone())
            .or_else(|| self.display_name.clone())
            .or_else(|| self.id.clone())
            .filter(|s| !s.is_empty())
    }
}

/// The fields asked of owners (a `directoryObject` collection; `$select` of user fields on it
/// is what Graph documents for owners).
pub(crate) const OWNER_SELECT: &str = "id,displayName,userPrincipalName,mail";

/// Owners in Graph's order; the first names the record's owner, all go in `raw`.
pub(crate) fn owner_fields(owners: &[Owner]) -> (Option<String>, Value) {
    let first = owners.iter().find_map(Owner::label);
    let list = owners
        .iter()
        .map(|o| {
            serde_json::json!({
                "id": o.id,
                "type": o.odata_type.as_deref().map(|t| t.trim_start_matches("#microsoft.graph.")),
                "name": o.label(),
            })
        })
        .collect();
    (first, Value::Array(list))
}

/// A client secret's or certificate's record: the app's owner and permissions (what the
/// credential can do), the credential's own dates and sign-in activity.
/// Who holds a credential: an app registration or a service principal.
pub(crate) struct Holder {
    pub id: String,
    pub name: String,
    /// The holder as the credential's `raw` names it, e.g. `("application", {…})`.
    pub raw: (&'static str, Value),
    pub key: RecordKey,
}

/// A credential's record as its metadata and the sign-in reports say: `<holder>: <label>`,
/// the metadata, its fingerprint and dates, its last use; under `holder`.
pub(crate) async fn credential_of(
    c: &AzureConnector,
    holder: &Holder,
    cred: &CredentialInfo,
    resource_type: &str,
    kind: Kind,
) -> Result<Record, ConnectorError> {
    let key_id = cred.key_id.clone().unwrap_or_default();
    let label = cred.label();
    let mut raw = serde_json::json!({
        "keyId": cred.key_id,
        "displayName": cred.display_name,
        "hint": cred.hint,
        "startDateTime": cred.start_date_time,
        "endDateTime": cred.end_date_time,
        "type": cred.key_type,
        "usage": cred.usage,
    });
    if let Value::Object(m) = &mut raw {
        m.insert(holder.raw.0.to_owned(), holder.raw.1.clone());
    }
    let mut r = record(
        resource_type,
        &c.tenant,
        kind,
        format!("{}/{key_id}", holder.id),
        format!("{}: {label}", holder.name),
        raw,
    );
    r.parent = Some(holder.key.clone());
    r.credential_fingerprint = cred.certificate_fingerprint();
    r.created_at = time(cred.start_date_time.as_deref());
    r.expires_at = time(cred.end_date_time.as_deref());
    let seen = c
        .sign_ins
        .credential(&c.graph, cred.key_id.as_deref(), MAX_PAGES)
        .await?;
    r.usage = seen.usage;
    r.last_used_at = seen.last;
    Ok(r)
}

pub(crate) async fn credential_record(
    c: &AzureConnector,
    app: &Application,
    cred: &CredentialInfo,
    resource_type: &str,
    kind: Kind,
) -> Result<Record, ConnectorError> {
    let holder = Holder {
        id: app.id.clone(),
        name: app.name(),
        raw: (
            "application",
            serde_json::json!({"id": app.id, "appId": app.app_id, "displayName": app.display_name}),
        ),
        key: c.application_key(&app.id),
    };
    let mut r = credential_of(c, &holder, cred, resource_type, kind).await?;
    if let Some(app_id) = &app.app_id {
        let p = c.permissions.of_app_id(&c.graph, app_id, MAX_PAGES).await?;
        r.privilege = p.privilege;
        r.privilege_detail = p.detail;
    }
    let owners = c.owners_of_application(&app.id).await?;
    if let (Some(owner), _) = owner_fields(&owners) {
        r.owner = Some(owner);
        r.owner_source = Some("azure:application_owner".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_thumbprints_in_hex_or_base64_are_one_fingerprint() {
        let cred = |kind: &str, id: &str| -> CredentialInfo {
            serde_json::from_value(serde_json::json!({"type": kind, "customKeyIdentifier": id}))
                .unwrap()
        };
        let hex = cred(
            "AsymmetricX509Cert",
            "52DCD7C9D0F3A6E4B1C2D3E4F5A6B7C8D9E0F1A2",
        );
        // The same 20 bytes as Edm.Binary.
        let b64 = cred("AsymmetricX509Cert", "UtzXydDzpuSxwtPk9aa3yNng8aI=");
        assert_eq!(
            hex.certificate_fingerprint().as_deref(),
            Some("x509-sha1:52dcd7c9d0f3a6e4b1c2d3e4f5a6b7c8d9e0f1a2")
        );
        assert_eq!(b64.certificate_fingerprint(), hex.certificate_fingerprint());
        assert_eq!(
            cred("Symmetric", "52DCD7C9D0F3A6E4B1C2D3E4F5A6B7C8D9E0F1A2").certificate_fingerprint(),
            None
        );
        assert_eq!(
            cred("AsymmetricX509Cert", "my label").certificate_fingerprint(),
            None
        );
    }

    #[test]
    fn graph_times_parse_with_fractions_and_offsets() {
        assert_eq!(
            time(Some("2024-01-02T03:04:05.1234567Z"))
                .unwrap()
                .timestamp(),
            1_704_164_645
        );
        assert_eq!(
            time(Some("2024-01-02T04:04:05+01:00")).unwrap().timestamp(),
            1_704_164_645
        );
        assert_eq!(time(Some("yesterday")), None);
    }

    #[test]
    fn decode_errors_do_not_quote_values() {
        let err = decode::<Application>(
            &serde_json::json!({"id": "x", "appId": 5, "displayName": "s3cr3t"}),
        )
        .unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
