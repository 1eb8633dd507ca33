//! Application permissions granted to a service principal (`GET
//! /servicePrincipals/{id}/appRoleAssignments`), each `appRoleId` resolved to the permission's
//! value through the resource service principal's `appRoles` — privilege is judged by the
//! permission granted on Microsoft Graph itself, never by a role's or an app's name.
//!
//! Lookups are remembered for the connector's lifetime (one sync run), since the app, secret
//! and certificate listings all ask for the same applications' permissions.

use std::collections::HashMap;

use roster_connector_sdk::ConnectorError;
use roster_core::Privilege;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::graph::{Graph, forbidden};

/// Microsoft Graph's and the legacy Azure AD Graph's application ids: the resources whose
/// directory permissions make an app a tenant administrator.
const MICROSOFT_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const AZURE_AD_GRAPH_APP_ID: &str = "00000002-0000-0000-c000-000000000000";

/// Application permissions on Graph with which an app can make itself (or anyone) a directory
/// administrator: write the directory, assign directory roles or app roles, or add
/// credentials to any application.
const ADMIN_PERMISSIONS: &[&str] = &[
    "Directory.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
    "PrivilegedAccess.ReadWrite.AzureADGroup",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
];

pub(crate) const NEEDS: &str = "Application.Read.All (application permission; app role assignments and the resource's appRoles)";

/// What one service principal was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Permissions {
    pub privilege: Privilege,
    /// `Microsoft Graph: Directory.ReadWrite.All`, one per assignment.
    pub detail: Vec<String>,
}

impl Permissions {
    fn none_here(reason: &str) -> Self {
        Self {
            privilege: Privilege::Unknown,
            detail: vec![reason.to_string()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Assignment {
    #[serde(default)]
    app_role_id: Option<String>,
    #[serde(default)]
    resource_id: Option<String>,
    #[serde(default)]
    resource_display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    app_roles: Vec<AppRole>,
}

#[derive(Debug, Clone, Deserialize)]
struct AppRole {
    id: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SpId {
    id: String,
}

/// Remembers resource service principals and per-app permissions for one run.
#[derive(Default)]
pub(crate) struct PermissionCache {
    resources: Mutex<HashMap<String, Resource>>,
    by_app_id: Mutex<HashMap<String, Permissions>>,
}

/// The normalised privilege of one granted permission on `resource_app_id`.
pub(crate) fn privilege_of(resource_app_id: Option<&str>, value: &str) -> Privilege {
    let directory_api = matches!(
        resource_app_id,
        Some(MICROSOFT_GRAPH_APP_ID | AZURE_AD_GRAPH_APP_ID)
    );
    if directory_api && ADMIN_PERMISSIONS.contains(&value) {
        Privilege::Admin
    } else if value.contains("ReadWrite") || value.contains(".Write") {
        Privilege::Write
    } else if value.contains("Read") {
        Privilege::Read
    } else {
        // `Mail.Send`, `full_access_as_app`, a custom API's role: acting, not only reading.
        Privilege::Write
    }
}

/// The stronger of two privileges (unknown is the weakest).
pub(crate) fn stronger(a: Privilege, b: Privilege) -> Privilege {
    if rank(b) > rank(a) { b } else { a }
}

fn rank(p: Privilege) -> u8 {
    match p {
        Privilege::Unknown => 0,
        Privilege::Read => 1,
        Privilege::Write => 2,
        Privilege::Admin => 3,
    }
}

impl PermissionCache {
    /// The permissions granted to the service principal `sp_id`.
    pub(crate) async fn of_service_principal(
        &self,
        graph: &Graph,
        sp_id: &str,
        max_pages: u64,
    ) -> Result<Permissions, ConnectorError> {
        let assignments: Vec<Assignment> = graph
            .all(
                &format!("v1.0/servicePrincipals/{sp_id}/appRoleAssignments"),
                max_pages,
            )
            .await
            .map_err(|e| forbidden(e, NEEDS))?;
        if assignments.is_empty() {
            return Ok(Permissions {
                privilege: Privilege::Read,
                detail: vec!["no application permissions granted".into()],
            });
        }
        let mut privilege = Privilege::Unknown;
        let mut detail = Vec::new();
        for a in assignments {
            let (Some(role_id), Some(resource_id)) = (a.app_role_id, a.resource_id) else {
                continue;
            };
            let resource = self.resource(graph, &resource_id).await?;
            let resource_name = resource
                .display_name
                .clone()
                .or(a.resource_display_name)
                .unwrap_or_else(|| resource_id.clone());
            // The all-zero id is "default access": the app may call the API, with no role.
            let value = resource
                .app_roles
                .iter()
                .find(|r| r.id.eq_ignore_ascii_case(&role_id))
                .and_then(|r| r.value.clone())
                .unwrap_or_else(|| {
                    if role_id.trim_matches(|c| c == '0' || c == '-').is_empty() {
                        "default access".to_string()
                    } else {
                        format!("unknown app role {role_id}")
                    }
                });
            let p = if value == "default access" {
                Privilege::Read
            } else {
                privilege_of(resource.app_id.as_deref(), &value)
            };
            if rank(p) > rank(privilege) {
                privilege = p;
            }
            detail.push(format!("{resource_name}: {value}"));
        }
        detail.sort();
        detail.dedup();
        Ok(Permissions { privilege, detail })
    }

    /// The permissions of the application `app_id`'s service principal in this tenant (none
    /// when the app has no service principal here: it cannot sign in to this tenant).
    pub(crate) async fn of_app_id(
        &self,
        graph: &Graph,
        app_id: &str,
        max_pages: u64,
    ) -> Result<Permissions, ConnectorError> {
        if let Some(p) = self.by_app_id.lock().await.get(app_id) {
            return Ok(p.clone());
        }
        let safe = app_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
        let permissions = if !safe {
            Permissions::none_here("not a valid appId")
        } else {
            match graph
                .get::<SpId>(&format!(
                    "v1.0/servicePrincipals(appId='{app_id}')?$select=id"
                ))
                .await
            {
                Ok((sp, _)) => self.of_service_principal(graph, &sp.id, max_pages).await?,
                Err(ConnectorError::NotFound { .. }) => {
                    Permissions::none_here("no service principal in this tenant")
                }
                Err(e) => return Err(forbidden(e, NEEDS)),
            }
        };
        self.by_app_id
            .lock()
            .await
            .insert(app_id.to_string(), permissions.clone());
        Ok(permissions)
    }

    async fn resource(&self, graph: &Graph, id: &str) -> Result<Resource, ConnectorError> {
        if let Some(r) = self.resources.lock().await.get(id) {
            return Ok(r.clone());
        }
        let (resource, _): (Resource, _) = graph
            .get(&format!(
                "v1.0/servicePrincipals/{id}?$select=id,appId,displayName,appRoles"
            ))
            .await
            .map_err(|e| forbidden(e, NEEDS))?;
        self.resources
            .lock()
            .await
            .insert(id.to_string(), resource.clone());
        Ok(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_judged_by_the_permission_on_graph() {
        let graph = Some(MICROSOFT_GRAPH_APP_ID);
        assert_eq!(
            privilege_of(graph, "Directory.ReadWrite.All"),
            Privilege::Admin
        );
        assert_eq!(
            privilege_of(graph, "RoleManagement.ReadWrite.Directory"),
            Privilege::Admin
        );
        assert_eq!(privilege_of(graph, "User.Read.All"), Privilege::Read);
        assert_eq!(privilege_of(graph, "Mail.Send"), Privilege::Write);
        assert_eq!(privilege_of(graph, "Group.ReadWrite.All"), Privilege::Write);
        // A custom API that names a role like Graph's is not Graph.
        assert_eq!(
            privilege_of(Some("custom-api"), "Directory.ReadWrite.All"),
            Privilege::Write
        );
    }
}
