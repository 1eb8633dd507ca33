//! Remediation through Microsoft Graph, one documented call per action:
//!
//! | resource type | action | live read | call |
//! |---|---|---|---|
//! | `azure.client_secret` | `remove` | `GET /v1.0/applications/{id}?$select=id,displayName,passwordCredentials` | `POST /v1.0/applications/{id}/removePassword` `{"keyId": …}` |
//!
//! The step reads the live application first, so a stale inventory never drives the call: a
//! secret the application no longer has (or an application that is gone) is left alone. A dry
//! run makes the same read and lists the call a real run would make; a real run needs
//! `[connectors.remediation] enabled = true`. Entra has no "disable" for a secret, so the
//! step is not staged.

use async_trait::async_trait;
use reqwest::Method;
use roster_connector_sdk::{
    ConnectorError, RemediationError, RemediationOutcome, RemediationRequest, Remediator,
};
use serde::Deserialize;
use serde_json::json;

use crate::common::CredentialInfo;
use crate::graph::forbidden;
use crate::{APPLICATIONS_NEEDS, AzureConnector, client_secret};

const REMOVE: &[&str] = &["remove"];

const WRITE_NEEDS: &str = "Application.ReadWrite.OwnedBy (as an owner of the app) or Application.ReadWrite.All (application permission)";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiveApplication {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    password_credentials: Vec<CredentialInfo>,
}

fn refused(msg: impl Into<String>) -> RemediationError {
    RemediationError::Refused(msg.into())
}

/// A directory object id or key id: a GUID, safe as a URL path segment.
fn guid(s: &str) -> Result<&str, RemediationError> {
    let ok = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if ok {
        Ok(s)
    } else {
        Err(refused(format!(
            "`{s}` is not a directory object id (GUID)"
        )))
    }
}

#[async_trait]
impl Remediator for AzureConnector {
    fn actions(&self, resource_type: &str) -> &'static [&'static str] {
        if resource_type == client_secret::RESOURCE {
            REMOVE
        } else {
            &[]
        }
    }

    fn previous_stage(&self, _action: &str) -> Option<&'static str> {
        None
    }

    fn execution_off(&self) -> Option<String> {
        roster_connector_sdk::execution_off(self.remediation.enabled)
    }

    async fn remediate(
        &self,
        req: &RemediationRequest<'_>,
    ) -> Result<RemediationOutcome, RemediationError> {
        let record = req.record;
        if record.key.resource_type != client_secret::RESOURCE || req.action != "remove" {
            return Err(refused(format!(
                "`{}` is not an action offered for {} (offered: {})",
                req.action,
                record.key.resource_type,
                self.actions(&record.key.resource_type).join(", ")
            )));
        }
        if record.key.scope != self.tenant {
            return Err(refused(format!(
                "the record belongs to tenant `{}`, this connector reads `{}`",
                record.key.scope, self.tenant
            )));
        }
        if req.execute && !self.remediation.enabled {
            return Err(RemediationError::Disabled(
                "set `[connectors.remediation] enabled = true` to remove client secrets".into(),
            ));
        }
        let (app_id, key_id) = record
            .key
            .external_id
            .split_once('/')
            .ok_or_else(|| refused("the record does not name an application and a key id"))?;
        let (app_id, key_id) = (guid(app_id)?, guid(key_id)?);
        let read = format!("v1.0/applications/{app_id}?$select=id,displayName,passwordCredentials");
        let live = match self.graph.get::<LiveApplication>(&read).await {
            Ok((live, _)) => live,
            Err(ConnectorError::NotFound { .. }) => {
                return Ok(RemediationOutcome {
                    executed: false,
                    summary: format!(
                        "application {app_id} no longer exists in Entra ID; nothing to do"
                    ),
                    calls: vec![],
                });
            }
            Err(e) => return Err(forbidden(e, APPLICATIONS_NEEDS).into()),
        };
        let app_name = live
            .display_name
            .clone()
            .unwrap_or_else(|| app_id.to_string());
        let Some(cred) = live.password_credentials.iter().find(|c| {
            c.key_id
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(key_id))
        }) else {
            return Ok(RemediationOutcome {
                executed: false,
                summary: format!(
                    "application `{app_name}` has no client secret {key_id} any more; nothing to do"
                ),
                calls: vec![],
            });
        };
        let what = format!(
            "client secret `{}` ({key_id}, hint {}…, ends {}) of application `{app_name}`",
            cred.display_name.as_deref().unwrap_or("unnamed"),
            cred.hint.as_deref().unwrap_or("?"),
            cred.end_date_time.as_deref().unwrap_or("never"),
        );
        let path = format!("v1.0/applications/{app_id}/removePassword");
        let body = json!({"keyId": key_id});
        let call = format!("POST /{path} {body}");
        if !req.execute {
            return Ok(RemediationOutcome {
                executed: false,
                summary: format!("would remove {what}"),
                calls: vec![call],
            });
        }
        self.graph
            .send(Method::POST, &path, Some(&body))
            .await
            .map_err(|e| forbidden(e, WRITE_NEEDS))?;
        Ok(RemediationOutcome {
            executed: true,
            summary: format!("removed {what}"),
            calls: vec![call],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guids_reach_a_url() {
        assert!(guid("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b").is_ok());
        assert!(guid("../../servicePrincipals").is_err());
        assert!(guid("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5").is_err());
    }
}
