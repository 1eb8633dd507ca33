//! Key remediation through IAM v1, staged:
//!
//! | action | live read | call |
//! |---|---|---|
//! | `disable` | `GET v1/projects/{p}/serviceAccounts/{email}/keys/{id}` | `POST v1/projects/{p}/serviceAccounts/{email}/keys/{id}:disable` `{}` |
//! | `delete` | the same | `DELETE v1/projects/{p}/serviceAccounts/{email}/keys/{id}` |
//!
//! `delete` only follows a `disable` made through Roster (the audit trail gives its time) at
//! least `remediation.delete_after_days` earlier, of a key that is still disabled: a disabled
//! key can be re-enabled if something breaks, a deleted one cannot. Every step reads the live
//! key first, so a stale inventory never drives a call; a dry run makes the same read and lists
//! the call a real run would make. A real run needs `[connectors.remediation] enabled = true`.

use async_trait::async_trait;
use reqwest::Method;
use roster_connector_sdk::{
    ConnectorError, RemediationError, RemediationOutcome, RemediationRequest, Remediator,
};
use serde_json::{Value, json};

use crate::api::Service;
use crate::{GcpConnector, forbidden, service_account_key};

const KEY_ACTIONS: &[&str] = &["disable", "delete"];

const NEEDS: &str = "iam.serviceAccountKeys.disable / .delete on the account (e.g. roles/iam.serviceAccountKeyAdmin)";

fn refused(msg: impl Into<String>) -> RemediationError {
    RemediationError::Refused(msg.into())
}

#[async_trait]
impl Remediator for GcpConnector {
    fn actions(&self, resource_type: &str) -> &'static [&'static str] {
        if resource_type == service_account_key::RESOURCE_TYPE {
            KEY_ACTIONS
        } else {
            &[]
        }
    }

    fn previous_stage(&self, action: &str) -> Option<&'static str> {
        (action == "delete").then_some("disable")
    }

    fn execution_off(&self) -> Option<String> {
        roster_connector_sdk::execution_off(self.remediation.enabled)
    }

    async fn remediate(
        &self,
        req: &RemediationRequest<'_>,
    ) -> Result<RemediationOutcome, RemediationError> {
        let r = req.record;
        if r.key.resource_type != service_account_key::RESOURCE_TYPE {
            return Err(refused(format!(
                "the gcp connector remediates service account keys only, not {}",
                r.key.resource_type
            )));
        }
        if !KEY_ACTIONS.contains(&req.action) {
            return Err(refused(format!(
                "unknown action `{}` for a service account key (offered: {})",
                req.action,
                KEY_ACTIONS.join(", ")
            )));
        }
        if req.execute && !self.remediation.enabled {
            return Err(RemediationError::Disabled(
                "set `enabled = true` under `[connectors.remediation]` to allow it (a dry run works without)"
                    .into(),
            ));
        }
        let project = self
            .projects
            .iter()
            .find(|p| **p == r.key.scope)
            .ok_or_else(|| {
                refused(format!(
                    "project `{}` is not configured on this connector",
                    r.key.scope
                ))
            })?;
        let key_id = r.key.external_id.as_str();
        if key_id.is_empty() || !key_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(refused(format!("`{key_id}` is not a key id")));
        }
        let email = r
            .raw
            .get("serviceAccount")
            .and_then(Value::as_str)
            .filter(|e| {
                e.contains('@')
                    && e.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_'))
            })
            .ok_or_else(|| refused("the record does not name the key's service account"))?;
        let path = format!("v1/projects/{project}/serviceAccounts/{email}/keys/{key_id}");

        // Live state first: the inventory may be hours old.
        let live = match self.api.get::<Value>(Service::Iam, &path).await {
            Ok(response) => response.body,
            Err(ConnectorError::NotFound { .. }) => {
                return Ok(RemediationOutcome {
                    executed: false,
                    summary: format!("key {key_id} of `{email}` no longer exists; nothing to do"),
                    calls: vec![],
                });
            }
            Err(e) => return Err(forbidden(e, NEEDS).into()),
        };
        let disabled = live.get("disabled").and_then(Value::as_bool) == Some(true);
        let rc = &self.remediation;
        let (method, call_path, body, done, would) = match req.action {
            "disable" => {
                if disabled {
                    return Ok(RemediationOutcome {
                        executed: false,
                        summary: format!(
                            "key {key_id} of `{email}` is already disabled; nothing to do"
                        ),
                        calls: vec![],
                    });
                }
                (
                    Method::POST,
                    format!("{path}:disable"),
                    Some(json!({})),
                    "disabled",
                    "would disable",
                )
            }
            _ => {
                if !disabled {
                    return Err(refused(format!(
                        "key {key_id} of `{email}` is enabled: disable it first, then delete after {} days",
                        rc.delete_after_days
                    )));
                }
                let Some(since) = req.previous_stage_at else {
                    return Err(refused(format!(
                        "Roster has no record of disabling key {key_id}; disable it through Roster so the grace period has a start"
                    )));
                };
                let allowed_from = since + chrono::Duration::days(rc.delete_after_days);
                if req.now < allowed_from {
                    return Err(refused(format!(
                        "key {key_id} was disabled at {}; the grace period of {} days ends at {}",
                        since.format("%Y-%m-%d %H:%M UTC"),
                        rc.delete_after_days,
                        allowed_from.format("%Y-%m-%d %H:%M UTC")
                    )));
                }
                (
                    Method::DELETE,
                    path.clone(),
                    None,
                    "deleted",
                    "would delete",
                )
            }
        };
        let call = match &body {
            Some(b) => format!("{method} /{call_path} {b}"),
            None => format!("{method} /{call_path}"),
        };
        if req.execute {
            self.api
                .send(Service::Iam, method, &call_path, body.as_ref())
                .await
                .map_err(|e| forbidden(e, NEEDS))?;
        }
        let after = if req.action == "disable" {
            format!(
                "; it can be deleted from {}",
                (req.now + chrono::Duration::days(rc.delete_after_days))
                    .format("%Y-%m-%d %H:%M UTC")
            )
        } else {
            String::new()
        };
        Ok(RemediationOutcome {
            executed: req.execute,
            summary: format!(
                "{} key {key_id} of `{email}` in {project}{after}",
                if req.execute { done } else { would }
            ),
            calls: vec![call],
        })
    }
}
