//! Entra directory roles assigned to a service principal (`GET
//! /v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{id}'&$expand=roleDefinition`):
//! a principal with Global Administrator or Application Administrator is a tenant
//! administrator without any application permission. Judged by the role's
//! `allowedResourceActions`, never by its name.

use roster_connector_sdk::ConnectorError;
use roster_core::Privilege;
use serde::Deserialize;

use crate::graph::Graph;

pub(crate) const NEEDS: &str = "RoleManagement.Read.Directory (application permission)";

/// Actions with which a principal can take over the tenant: every directory action, role
/// assignment, or adding credentials to (or granting app roles for) other applications.
const ADMIN_ACTIONS: &[&str] = &[
    "microsoft.directory/*",
    "microsoft.directory/roleAssignments/",
    "microsoft.directory/roleDefinitions/",
    "microsoft.directory/applications/credentials/update",
    "microsoft.directory/servicePrincipals/credentials/update",
    "microsoft.directory/servicePrincipals/appRoleAssignedTo/update",
    "microsoft.directory/applications/allProperties/allTasks",
    "microsoft.directory/servicePrincipals/allProperties/allTasks",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleAssignment {
    #[serde(default)]
    directory_scope_id: Option<String>,
    #[serde(default)]
    role_definition: Option<RoleDefinition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleDefinition {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    role_permissions: Vec<RolePermission>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RolePermission {
    #[serde(default)]
    allowed_resource_actions: Vec<String>,
}

/// The normalised privilege of one allowed action.
pub(crate) fn privilege_of_action(action: &str) -> Privilege {
    let a = action.to_ascii_lowercase();
    if ADMIN_ACTIONS.iter().any(|admin| {
        let admin = admin.to_ascii_lowercase();
        if admin.ends_with('/') || admin.ends_with('*') {
            a.starts_with(&admin) && !a.ends_with("/read")
        } else {
            a == admin
        }
    }) {
        Privilege::Admin
    } else if a.ends_with("/read") || a.contains("/read") && a.ends_with("read") {
        Privilege::Read
    } else {
        Privilege::Write
    }
}

/// The directory roles of `principal_id`, as (privilege, details); `None` when the tenant does
/// not let Roster read role assignments (403), so the caller can say so.
pub(crate) async fn of_principal(
    graph: &Graph,
    principal_id: &str,
    max_pages: u64,
) -> Result<Option<(Privilege, Vec<String>)>, ConnectorError> {
    let url = format!(
        "v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{principal_id}'&$expand=roleDefinition"
    );
    let assignments: Vec<RoleAssignment> = match graph.all(&url, max_pages).await {
        Ok(a) => a,
        Err(ConnectorError::Forbidden { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut privilege = Privilege::Unknown;
    let mut detail = Vec::new();
    for a in assignments {
        let Some(def) = a.role_definition else {
            continue;
        };
        let name = def.display_name.unwrap_or_else(|| "unnamed role".into());
        let scope = match a.directory_scope_id.as_deref() {
            None | Some("/") => String::new(),
            Some(s) => format!(" (scope {s})"),
        };
        for action in def
            .role_permissions
            .iter()
            .flat_map(|p| p.allowed_resource_actions.iter())
        {
            privilege = crate::app_permission::stronger(privilege, privilege_of_action(action));
        }
        detail.push(format!("directory role: {name}{scope}"));
    }
    Ok(Some((privilege, detail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_judged_by_the_roles_actions() {
        assert_eq!(
            privilege_of_action("microsoft.directory/*/allTasks"),
            Privilege::Admin
        );
        assert_eq!(
            privilege_of_action("microsoft.directory/applications/credentials/update"),
            Privilege::Admin
        );
        assert_eq!(
            privilege_of_action("microsoft.directory/roleAssignments/allProperties/allTasks"),
            Privilege::Admin
        );
        assert_eq!(
            privilege_of_action("microsoft.directory/roleAssignments/standard/read"),
            Privilege::Read
        );
        assert_eq!(
            privilege_of_action("microsoft.directory/users/standard/read"),
            Privilege::Read
        );
        assert_eq!(
            privilege_of_action("microsoft.directory/groups/members/update"),
            Privilege::Write
        );
    }
}
