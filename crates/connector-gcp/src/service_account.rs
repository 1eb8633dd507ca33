//! `gcp.service_account`: the service accounts of a project
//! (`GET v1/projects/{p}/serviceAccounts`, IAM v1, paged with `pageToken`), with their
//! project-level roles and last authentication.

use roster_core::{Kind, Record, Signal, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{decode, owner_in_description, record};
use crate::last_authentication::Telemetry;
use crate::project_iam_policy::PolicyView;

pub(crate) const RESOURCE_TYPE: &str = "gcp.service_account";
pub(crate) const NEEDS: &str =
    "iam.serviceAccounts.list on the project (e.g. roles/iam.serviceAccountViewer)";
/// The basic-role rule (see `roster_core::PLATFORM_RULES`).
pub(crate) const BASIC_ROLE_RULE: &str = "gcp.service_account.basic_role";

/// The fields of IAM's `ServiceAccount` the connector reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceAccount {
    pub email: String,
    #[serde(default)]
    pub unique_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

impl ServiceAccount {
    /// The record id: the unique id (an account deleted and re-created under the same email is
    /// another account), or the email when the server omits it.
    pub(crate) fn external_id(&self) -> &str {
        self.unique_id
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(&self.email)
    }

    /// Emails become URL path segments; anything but an email is refused.
    pub(crate) fn checked(self) -> Result<Self, String> {
        let ok = self.email.contains('@')
            && self
                .email
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_'));
        if ok {
            Ok(self)
        } else {
            Err("ServiceAccount: email is not a service account email".into())
        }
    }
}

/// What the project says about its accounts beyond the listing.
pub(crate) struct AccountView<'a> {
    pub policy: &'a PolicyView,
    pub telemetry: &'a Telemetry,
}

pub(crate) fn map(
    project: &str,
    mut item: Value,
    view: &AccountView<'_>,
) -> Result<Record, String> {
    let sa: ServiceAccount = decode::<ServiceAccount>(&item)?.checked()?;
    let grants = view.policy.for_service_account(&sa.email, project);
    let seen = view.telemetry.usage(&[&sa.email, sa.external_id()]);
    if let Value::Object(m) = &mut item {
        m.insert(
            "projectRoles".into(),
            Value::Array(grants.detail.iter().cloned().map(Value::String).collect()),
        );
        m.insert("lastAuthentication".into(), seen.evidence);
    }
    let mut r = record(
        RESOURCE_TYPE,
        project,
        Kind::ServiceAccount,
        sa.external_id().to_string(),
        sa.email.clone(),
        item,
    );
    if sa.disabled == Some(true) {
        r.status = Status::Disabled;
    }
    r.usage = seen.usage;
    r.last_used_at = seen.last_used_at;
    r.privilege = grants.privilege;
    r.privilege_detail = grants.detail;
    if let Some(owner) = owner_in_description(sa.description.as_deref()) {
        r.owner = Some(owner);
        r.owner_source = Some("gcp:description".into());
    }
    for role in &grants.basic {
        r.signals.push(Signal::new(
            BASIC_ROLE_RULE,
            format!(
                "service account `{}` holds the basic role {role} on project {project}: basic roles grant broad access across every service; grant a predefined role instead",
                sa.email
            ),
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project_iam_policy::Policy;
    use roster_core::{Privilege, Usage};
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn editor_with_owner_in_description() {
        let policy: Policy = serde_json::from_value(json!({"bindings": [
            {"role": "roles/editor", "members": ["serviceAccount:ci@acme-prod.iam.gserviceaccount.com"]}]}))
        .unwrap();
        let policy = PolicyView::from_policy(policy);
        let telemetry = Telemetry::Read(HashMap::new());
        let view = AccountView {
            policy: &policy,
            telemetry: &telemetry,
        };
        let item = json!({"name": "projects/acme-prod/serviceAccounts/ci@acme-prod.iam.gserviceaccount.com",
            "projectId": "acme-prod", "uniqueId": "1057", "email": "ci@acme-prod.iam.gserviceaccount.com",
            "displayName": "CI", "description": "deploys; owner: team-platform", "disabled": false});
        let r = map("acme-prod", item, &view).unwrap();
        assert_eq!(r.key.external_id, "1057");
        assert_eq!(r.name, "ci@acme-prod.iam.gserviceaccount.com");
        assert_eq!(r.privilege, Privilege::Admin);
        assert_eq!(r.usage, Usage::NeverUsed);
        assert_eq!(r.owner.as_deref(), Some("team-platform"));
        assert_eq!(r.signals[0].rule, BASIC_ROLE_RULE);
        assert_eq!(r.raw["projectRoles"][0], "roles/editor");
        let bad = json!({"email": "../../x", "uniqueId": "1"});
        assert!(map("acme-prod", bad, &view).is_err());
    }
}
