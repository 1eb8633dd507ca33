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

use crate::common::{CredentialInfo, Holder, credential_of, decode, display_name, first_party};
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
        if first_party(sp.app_owner_organization_id.as_deref()) && !c.include_microsoft_apps {
            continue;
        }
        let (creds, kind, what) = if resource == SECRET {
            (&sp.password_credentials, Kind::ClientSecret, "password")
        } else {
            (&sp.key_credentials, Kind::Certificate, "key")
        };
        if creds.is_empty() {
            continue;
        }
        let holder = Holder {
            id: sp.id.clone(),
            name: display_name(sp.display_name.as_deref(), "service principal", &sp.id),
            raw: (
                "servicePrincipal",
                serde_json::json!({"id": sp.id, "displayName": sp.display_name}),
            ),
            key: c.service_principal_key(&sp.id),
        };
        let p = c
            .permissions
            .of_service_principal(&c.graph, &sp.id, MAX_PAGES)
            .await?;
        for cred in creds {
            let mut r = credential_of(c, &holder, cred, resource, kind).await?;
            r.privilege = p.privilege;
            r.privilege_detail = p.detail.clone();
            r.signals.push(Signal::new(
                "azure.service_principal.own_credential",
                format!(
                    "service principal `{}` holds a {what} credential of its own (`{}`), not on its app registration, where it is easily overlooked",
                    holder.name,
                    cred.label()
                ),
            ));
            out.push(r);
        }
    }
    Ok(out)
}
