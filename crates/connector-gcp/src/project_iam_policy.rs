//! A project's IAM policy (`POST v1/projects/{p}:getIamPolicy`, Resource Manager v1) and what it
//! grants each service account, normalised to Roster's privilege.
//!
//! Predefined roles are fixed sets of permissions, so a role id stands for its permissions:
//! - **admin**: the basic `roles/owner` and `roles/editor` (editor can change almost everything
//!   and act as any service account of the project), and the roles that change IAM or mint
//!   credentials of other identities ([`IAM_ADMIN_ROLES`]);
//! - **read**: `roles/viewer`, `roles/browser` and predefined `…viewer` / `…reader` roles;
//! - **write**: every other predefined role;
//! - **unknown**: custom roles (`projects/…/roles/…`, `organizations/…/roles/…`), whose
//!   permissions are not read.
//!
//! Only project-level bindings are read: grants on folders, the organisation or single
//! resources are not, and the detail says so when a service account has no project role.

use std::collections::HashMap;

use roster_core::Privilege;
use serde::Deserialize;

use crate::common::max_privilege;

/// The basic (primitive) roles: broad, predating IAM's predefined roles.
pub(crate) const BASIC_ROLES: &[&str] = &["roles/owner", "roles/editor", "roles/viewer"];

/// Roles that change IAM policies, manage service accounts and their keys, or mint tokens for
/// other service accounts: each can reach any permission in the project.
pub(crate) const IAM_ADMIN_ROLES: &[&str] = &[
    "roles/iam.securityAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.workloadIdentityPoolAdmin",
    "roles/iam.roleAdmin",
    "roles/iam.organizationRoleAdmin",
    "roles/iam.denyAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/resourcemanager.folderAdmin",
    "roles/resourcemanager.folderIamAdmin",
    "roles/resourcemanager.organizationAdmin",
];

#[derive(Debug, Deserialize)]
pub(crate) struct Policy {
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Binding {
    pub role: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub condition: Option<Condition>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Condition {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub expression: Option<String>,
}

/// One role granted to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub role: String,
    /// The condition's title (or expression) of a conditional binding.
    pub condition: Option<String>,
}

/// What Roster knows of a project's bindings.
#[derive(Debug, Clone)]
pub(crate) enum PolicyView {
    /// Grants per member (`serviceAccount:email`, lowercased).
    Read(HashMap<String, Vec<Grant>>),
    /// The policy could not be read (the reason, for the detail).
    Unreadable(String),
}

/// A service account's privilege from the project's bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Privileges {
    pub privilege: Privilege,
    /// `roles/x` or `roles/x (condition: title)`, or why nothing is known.
    pub detail: Vec<String>,
    /// The basic roles among the grants.
    pub basic: Vec<String>,
}

pub(crate) fn role_privilege(role: &str) -> Privilege {
    if role == "roles/owner" || role == "roles/editor" || IAM_ADMIN_ROLES.contains(&role) {
        return Privilege::Admin;
    }
    let Some(name) = role.strip_prefix("roles/") else {
        // A custom role: its permissions are not read.
        return Privilege::Unknown;
    };
    let lower = name.to_ascii_lowercase();
    if name == "viewer"
        || name == "browser"
        || lower.ends_with("viewer")
        || lower.ends_with("reader")
    {
        Privilege::Read
    } else {
        Privilege::Write
    }
}

impl PolicyView {
    pub(crate) fn from_policy(policy: Policy) -> Self {
        let mut grants: HashMap<String, Vec<Grant>> = HashMap::new();
        for b in policy.bindings {
            let condition = b
                .condition
                .and_then(|c| c.title.filter(|t| !t.is_empty()).or(c.expression));
            for m in b.members {
                // `deleted:serviceAccount:…?uid=…` names an account that no longer exists.
                if m.starts_with("deleted:") {
                    continue;
                }
                grants
                    .entry(m.to_ascii_lowercase())
                    .or_default()
                    .push(Grant {
                        role: b.role.clone(),
                        condition: condition.clone(),
                    });
            }
        }
        Self::Read(grants)
    }

    pub(crate) fn for_service_account(&self, email: &str, project: &str) -> Privileges {
        let grants = match self {
            PolicyView::Unreadable(reason) => {
                return Privileges {
                    privilege: Privilege::Unknown,
                    detail: vec![format!(
                        "project IAM policy of {project} not readable: {reason}"
                    )],
                    basic: vec![],
                };
            }
            PolicyView::Read(grants) => grants,
        };
        let member = format!("serviceaccount:{}", email.to_ascii_lowercase());
        let Some(list) = grants.get(&member).filter(|l| !l.is_empty()) else {
            return Privileges {
                privilege: Privilege::Unknown,
                detail: vec![format!(
                    "no role on project {project} (grants on folders, the organisation or single resources are not read)"
                )],
                basic: vec![],
            };
        };
        let mut privilege = Privilege::Unknown;
        let mut detail = Vec::new();
        let mut basic = Vec::new();
        for g in list {
            privilege = max_privilege(privilege, role_privilege(&g.role));
            detail.push(match &g.condition {
                Some(c) => format!("{} (condition: {c})", g.role),
                None => g.role.clone(),
            });
            if BASIC_ROLES.contains(&g.role.as_str()) && !basic.contains(&g.role) {
                basic.push(g.role.clone());
            }
        }
        detail.sort();
        detail.dedup();
        Privileges {
            privilege,
            detail,
            basic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_map_to_privilege_by_what_they_grant() {
        assert_eq!(role_privilege("roles/owner"), Privilege::Admin);
        assert_eq!(role_privilege("roles/editor"), Privilege::Admin);
        assert_eq!(
            role_privilege("roles/iam.serviceAccountKeyAdmin"),
            Privilege::Admin
        );
        assert_eq!(role_privilege("roles/viewer"), Privilege::Read);
        assert_eq!(
            role_privilege("roles/storage.objectViewer"),
            Privilege::Read
        );
        assert_eq!(
            role_privilege("roles/secretmanager.secretAccessor"),
            Privilege::Write
        );
        assert_eq!(
            role_privilege("projects/acme-prod/roles/deployer"),
            Privilege::Unknown
        );
    }

    #[test]
    fn grants_of_one_account_with_conditions_and_deleted_members() {
        let policy: Policy = serde_json::from_value(json!({"version": 3, "etag": "BwX=", "bindings": [
            {"role": "roles/editor", "members": ["serviceAccount:ci@acme-prod.iam.gserviceaccount.com", "user:a@acme.com"]},
            {"role": "roles/storage.objectViewer", "members": ["serviceAccount:CI@acme-prod.iam.gserviceaccount.com"],
             "condition": {"title": "until 2026", "expression": "request.time < timestamp('2026-01-01T00:00:00Z')"}},
            {"role": "roles/owner", "members": ["deleted:serviceAccount:ci@acme-prod.iam.gserviceaccount.com?uid=1"]}
        ]})).unwrap();
        let view = PolicyView::from_policy(policy);
        let p = view.for_service_account("ci@acme-prod.iam.gserviceaccount.com", "acme-prod");
        assert_eq!(p.privilege, Privilege::Admin);
        assert_eq!(
            p.detail,
            vec![
                "roles/editor",
                "roles/storage.objectViewer (condition: until 2026)"
            ]
        );
        assert_eq!(p.basic, vec!["roles/editor"]);
        let none = view.for_service_account("other@acme-prod.iam.gserviceaccount.com", "acme-prod");
        assert_eq!(none.privilege, Privilege::Unknown);
        assert!(none.detail[0].contains("no role on project acme-prod"));
        let unreadable = PolicyView::Unreadable("HTTP 403".into())
            .for_service_account("ci@acme-prod.iam.gserviceaccount.com", "acme-prod");
        assert!(unreadable.detail[0].contains("not readable"));
    }
}
