//! `azure.application`: app registrations (`GET /v1.0/applications`), with their owners
//! (`GET /applications/{id}/owners`), the application permissions granted to their service
//! principal in this tenant, and their sign-in activity.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record, Signal, Status};
use serde_json::Value;
use url::Url;

use crate::common::{Application, SECRET_FIELDS, decode, owner_fields, record, time};
use crate::{AzureConnector, MAX_PAGES, malformed};

pub(crate) const RESOURCE: &str = "azure.application";

pub(crate) async fn records(
    c: &AzureConnector,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::with_capacity(items.len());
    for mut item in items {
        let app: Application = decode(&item).map_err(|e| malformed(url, e))?;
        roster_core::record::drop_secret_fields(&mut item, SECRET_FIELDS);
        let owners = c.owners_of_application(&app.id).await?;
        let (owner, owners_raw) = owner_fields(&owners);
        let name = app.name();
        let mut r = record(
            RESOURCE,
            &c.tenant,
            Kind::AppInstallation,
            app.id.clone(),
            name.clone(),
            Value::Null,
        );
        r.created_at = time(app.created_date_time.as_deref());
        if let Some(app_id) = &app.app_id {
            let p = c.permissions.of_app_id(&c.graph, app_id, MAX_PAGES).await?;
            r.privilege = p.privilege;
            r.privilege_detail = p.detail;
        }
        let seen = c
            .sign_ins
            .app(&c.graph, app.app_id.as_deref(), MAX_PAGES)
            .await?;
        r.usage = seen.usage;
        r.last_used_at = seen.last;
        if app
            .disabled_by_microsoft_status
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "NotDisabled")
        {
            r.status = Status::Disabled;
        }
        match owner {
            Some(o) => {
                r.owner = Some(o);
                r.owner_source = Some("azure:application_owner".into());
            }
            None => r.signals.push(Signal::new(
                "azure.application.no_owner",
                format!(
                    "app registration `{name}` has no owners in Entra ID: nobody but directory administrators can manage or rotate its credentials, and nobody answers for it"
                ),
            )),
        }
        if let Value::Object(m) = &mut item {
            m.insert("owners".into(), owners_raw);
        }
        r.raw = item;
        out.push(r);
    }
    Ok(out)
}
