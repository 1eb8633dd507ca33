//! `azure.service_principal_secret` and `azure.service_principal_certificate`: password and key
//! credentials added to a service principal itself (`addPassword` / `addKey` on
//! `servicePrincipals`) rather than to its app registration. The app registration's blade does
//! not show them, so they are easily overlooked, and adding one is a known way to keep access
//! to a tenant; each is signalled `azure.service_principal.own_credential`. Metadata only: Graph
//! never returns the value on a read.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record, Signal};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::common::{CredentialInfo, MICROSOFT_TENANT_ID, decode, record, time};
use crate::{AzureConnector, MAX_PAGES, malformed};

pub(crate) const SECRET: &str = "azure.service_principal_secret";
pub(crate) const CERTIFICATE: &str = "azure.service_principal_certificate";

pub(crate) const SELECT: &str =
    "id,appId,displayName,appOwnerOrganizationId,passwordCredentials,keyCredentials";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePrincipal {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    app_owner_organization_id: Option<String>,
    #[serde(default)]
    password_credentials: Vec<CredentialInfo>,
    #[serde(default)]
    key_credentials: Vec<CredentialInfo>,
}

/// The credentials of each principal in `items`: its passwords for [`SECRET`], its keys for
/// [`CERTIFICATE`].
pub(crate) async fn records(
    c: &AzureConnector,
    resource: &str,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::new();
    for item in items {
        let sp: ServicePrincipal = decode(&item).map_err(|e| malformed(url, e))?;
        let first_party = sp
            .app_owner_organization_id
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(MICROSOFT_TENANT_ID));
        if first_party && !c.include_microsoft_apps {
            continue;
        }
        let (creds, kind, what) = if resource == SECRET {
            (&sp.password_credentials, Kind::ClientSecret, "password")
        } else {
            (&sp.key_credentials, Kind::Certificate, "key")
        };
        let sp_name = sp
            .display_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("service principal {}", sp.id));
        for cred in creds {
            let key_id = cred.key_id.clone().unwrap_or_default();
            let label = cred
                .display_name
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| cred.hint.clone().map(|h| format!("{h}…")))
                .unwrap_or_else(|| key_id.clone());
            let raw = serde_json::json!({
                "servicePrincipal": {"id": sp.id, "displayName": sp.display_name},
                "keyId": cred.key_id,
                "displayName": cred.display_name,
                "hint": cred.hint,
                "startDateTime": cred.start_date_time,
                "endDateTime": cred.end_date_time,
                "type": cred.key_type,
                "usage": cred.usage,
            });
            let mut r = record(
                resource,
                &c.tenant,
                kind,
                format!("{}/{key_id}", sp.id),
                format!("{sp_name}: {label}"),
                raw,
            );
            r.parent = Some(c.service_principal_key(&sp.id));
            r.credential_fingerprint = cred.certificate_fingerprint();
            r.created_at = time(cred.start_date_time.as_deref());
            r.expires_at = time(cred.end_date_time.as_deref());
            let p = c
                .permissions
                .of_service_principal(&c.graph, &sp.id, MAX_PAGES)
                .await?;
            r.privilege = p.privilege;
            r.privilege_detail = p.detail;
            let seen = c
                .sign_ins
                .credential(&c.graph, cred.key_id.as_deref(), MAX_PAGES)
                .await?;
            r.usage = seen.usage;
            r.last_used_at = seen.last;
            r.signals.push(Signal::new(
                "azure.service_principal.own_credential",
                format!(
                    "service principal `{sp_name}` holds a {what} credential of its own (`{label}`), not on its app registration, where it is easily overlooked"
                ),
            ));
            out.push(r);
        }
    }
    Ok(out)
}
