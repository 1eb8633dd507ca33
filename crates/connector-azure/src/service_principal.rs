//! `azure.service_principal`: the identities that act in the tenant (`GET
//! /v1.0/servicePrincipals`): the tenant's own applications' principals, third-party apps'
//! and managed identities — with their owners, the application permissions granted to them and
//! their sign-in activity. Microsoft's first-party principals are left out unless configured.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record, Status};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::app_permission::stronger;
use crate::common::{
    OWNER_SELECT, Owner, SECRET_FIELDS, decode, display_name, first_party, owner_fields, record,
};
use crate::directory_role;
use crate::graph::forbidden;
use crate::{AzureConnector, MAX_PAGES, malformed};

pub(crate) const RESOURCE: &str = "azure.service_principal";

pub(crate) const SELECT: &str = "id,appId,displayName,servicePrincipalType,accountEnabled,appOwnerOrganizationId,signInAudience,tags";

pub(crate) const NEEDS: &str = "Application.Read.All (application permission)";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePrincipal {
    id: String,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    account_enabled: Option<bool>,
    #[serde(default)]
    app_owner_organization_id: Option<String>,
    #[serde(default)]
    service_principal_type: Option<String>,
}

/// Whether the principal's application is registered in this tenant (not a third party's,
/// not a managed identity).
fn homed_here(c: &AzureConnector, sp: &ServicePrincipal) -> bool {
    sp.app_owner_organization_id
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(&c.tenant))
        && sp.service_principal_type.as_deref() != Some("ManagedIdentity")
}

pub(crate) async fn records(
    c: &AzureConnector,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::with_capacity(items.len());
    for mut item in items {
        let sp: ServicePrincipal = decode(&item).map_err(|e| malformed(url, e))?;
        if first_party(sp.app_owner_organization_id.as_deref()) && !c.include_microsoft_apps {
            continue;
        }
        roster_core::record::drop_secret_fields(&mut item, SECRET_FIELDS);
        let owners: Vec<Owner> = c
            .graph
            .all(
                &format!(
                    "v1.0/servicePrincipals/{}/owners?$select={OWNER_SELECT}",
                    sp.id
                ),
                MAX_PAGES,
            )
            .await
            .map_err(|e| forbidden(e, NEEDS))?;
        let (owner, owners_raw) = owner_fields(&owners);
        let name = display_name(sp.display_name.as_deref(), "service principal", &sp.id);
        let mut r = record(
            RESOURCE,
            &c.tenant,
            Kind::ServiceAccount,
            sp.id.clone(),
            name,
            Value::Null,
        );
        let p = c
            .permissions
            .of_service_principal(&c.graph, &sp.id, MAX_PAGES)
            .await?;
        r.privilege = p.privilege;
        r.privilege_detail = p.detail;
        // Directory roles make a principal an administrator without any app permission. A
        // tenant that does not let Roster read them is said so in the detail, not guessed.
        match directory_role::of_principal(&c.graph, &sp.id, MAX_PAGES).await? {
            Some((privilege, roles)) => {
                r.privilege = stronger(r.privilege, privilege);
                r.privilege_detail.extend(roles);
            }
            None => r.privilege_detail.push(format!(
                "directory roles not readable (needs {})",
                directory_role::NEEDS
            )),
        }
        let seen = c
            .sign_ins
            .app(&c.graph, sp.app_id.as_deref(), MAX_PAGES)
            .await?;
        r.usage = seen.usage;
        r.last_used_at = seen.last;
        if sp.account_enabled == Some(false) {
            r.status = Status::Disabled;
        }
        if let Some(o) = owner {
            r.owner = Some(o);
            r.owner_source = Some("azure:service_principal_owner".into());
        } else if let (Some(app_id), true) = (sp.app_id.as_deref(), homed_here(c, &sp)) {
            // Its own owners are rarely set: those who answer for it own its app registration.
            if let Some(app_owners) = c.owners_of_application_by_app_id(app_id).await? {
                let (app_owner, _) = owner_fields(&app_owners);
                if let Some(o) = app_owner {
                    r.owner = Some(o);
                    r.owner_source = Some("azure:application_owner".into());
                }
            }
        }
        if let Value::Object(m) = &mut item {
            m.insert("owners".into(), owners_raw);
            if sp.service_principal_type.as_deref() == Some("ManagedIdentity") {
                // A managed identity has no secret of its own to rotate; its owner is the
                // Azure resource it is attached to.
                m.insert("managedIdentity".into(), Value::Bool(true));
            }
        }
        r.raw = item;
        out.push(r);
    }
    Ok(out)
}
