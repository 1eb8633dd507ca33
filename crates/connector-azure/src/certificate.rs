//! `azure.certificate`: the key credentials (certificates) of every app registration —
//! thumbprint, type, usage, start and end; the certificate's `key` is never kept.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record};
use serde_json::Value;
use url::Url;

use crate::common::{Application, CredentialInfo, decode, owner_fields, record, time};
use crate::{AzureConnector, MAX_PAGES, malformed};

pub(crate) const RESOURCE: &str = "azure.certificate";

pub(crate) async fn records(
    c: &AzureConnector,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::new();
    for item in items {
        let app: Application = decode(&item).map_err(|e| malformed(url, e))?;
        for cred in &app.key_credentials {
            out.push(credential_record(c, &app, cred, RESOURCE, Kind::Certificate).await?);
        }
    }
    Ok(out)
}

/// A client secret's or certificate's record: the app's owner and permissions (what the
/// credential can do), the credential's own dates and sign-in activity.
pub(crate) async fn credential_record(
    c: &AzureConnector,
    app: &Application,
    cred: &CredentialInfo,
    resource_type: &str,
    kind: Kind,
) -> Result<Record, ConnectorError> {
    let key_id = cred.key_id.clone().unwrap_or_default();
    let label = cred
        .display_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| cred.hint.clone().map(|h| format!("{h}…")))
        .unwrap_or_else(|| key_id.clone());
    let app_name = app.name();
    let name = format!("{app_name}: {label}");
    let raw = serde_json::json!({
        "application": {"id": app.id, "appId": app.app_id, "displayName": app.display_name},
        "keyId": cred.key_id,
        "displayName": cred.display_name,
        "hint": cred.hint,
        "startDateTime": cred.start_date_time,
        "endDateTime": cred.end_date_time,
        "type": cred.key_type,
        "usage": cred.usage,
    });
    let mut r = record(
        resource_type,
        &c.tenant,
        kind,
        format!("{}/{key_id}", app.id),
        name,
        raw,
    );
    r.parent = Some(c.application_key(&app.id));
    r.created_at = time(cred.start_date_time.as_deref());
    r.expires_at = time(cred.end_date_time.as_deref());
    if let Some(app_id) = &app.app_id {
        let p = c.permissions.of_app_id(&c.graph, app_id, MAX_PAGES).await?;
        r.privilege = p.privilege;
        r.privilege_detail = p.detail;
    }
    let seen = c
        .sign_ins
        .credential(&c.graph, cred.key_id.as_deref(), MAX_PAGES)
        .await?;
    r.usage = seen.usage;
    r.last_used_at = seen.last;
    let owners = c.owners_of_application(&app.id).await?;
    if let (Some(owner), _) = owner_fields(&owners) {
        r.owner = Some(owner);
        r.owner_source = Some("azure:application_owner".into());
    }
    Ok(r)
}
