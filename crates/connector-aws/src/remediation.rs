//! Access-key remediation, staged: `deactivate`, then `delete` once the key has been inactive
//! for `remediation.delete_after_days`. Each step reads the key's live state first; a dry run
//! makes the same reads and says which call a real run would make.

use async_trait::async_trait;
use aws_sdk_iam::types::StatusType;
use roster_connector_sdk::{RemediationError, RemediationOutcome, RemediationRequest, Remediator};

use crate::client::{iam_client, map_err};
use crate::{AwsConnector, access_key};

const KEY_ACTIONS: &[&str] = &["deactivate", "delete"];

#[async_trait]
impl Remediator for AwsConnector {
    fn actions(&self, resource_type: &str) -> &'static [&'static str] {
        if resource_type == access_key::RESOURCE_TYPE {
            KEY_ACTIONS
        } else {
            &[]
        }
    }

    fn previous_stage(&self, action: &str) -> Option<&'static str> {
        (action == "delete").then_some("deactivate")
    }

    fn execution_off(&self) -> Option<String> {
        roster_connector_sdk::execution_off(self.config().remediation.enabled)
    }

    async fn remediate(
        &self,
        req: &RemediationRequest<'_>,
    ) -> Result<RemediationOutcome, RemediationError> {
        let r = req.record;
        if r.key.resource_type != access_key::RESOURCE_TYPE {
            return Err(RemediationError::Refused(format!(
                "the aws connector remediates access keys only, not {}",
                r.key.resource_type
            )));
        }
        if !KEY_ACTIONS.contains(&req.action) {
            return Err(RemediationError::Refused(format!(
                "unknown action `{}` for an access key (offered: {})",
                req.action,
                KEY_ACTIONS.join(", ")
            )));
        }
        let rc = &self.config().remediation;
        if req.execute && !rc.enabled {
            return Err(RemediationError::Disabled(
                "set `remediation.enabled = true` on the connector to allow it (a dry run works without)".into(),
            ));
        }
        let account_id = r.key.scope.as_str();
        let key_id = r.key.external_id.as_str();
        let user = r.raw["user_name"].as_str().ok_or_else(|| {
            RemediationError::Refused("the record does not name the key's user".into())
        })?;
        let account = self
            .config()
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .ok_or_else(|| {
                RemediationError::Refused(format!("account {account_id} is not configured"))
            })?;
        let endpoint = self
            .config()
            .endpoint_url
            .clone()
            .unwrap_or_else(|| "https://iam.amazonaws.com".into());
        let client = iam_client(self.config(), account).await?;

        // Live state first: the inventory may be hours old.
        let listed = client
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| map_err(&endpoint, account_id, "ListAccessKeys", e))?;
        let live = listed
            .access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key_id));
        let Some(live) = live else {
            return Ok(RemediationOutcome {
                executed: false,
                summary: format!("access key {key_id} of `{user}` no longer exists; nothing to do"),
                calls: vec![],
            });
        };
        let inactive = live.status() == Some(&StatusType::Inactive);
        match req.action {
            "deactivate" => {
                if inactive {
                    return Ok(RemediationOutcome {
                        executed: false,
                        summary: format!("access key {key_id} of `{user}` is already inactive"),
                        calls: vec![],
                    });
                }
                let call = format!(
                    "iam:UpdateAccessKey UserName={user} AccessKeyId={key_id} Status=Inactive"
                );
                if req.execute {
                    client
                        .update_access_key()
                        .user_name(user)
                        .access_key_id(key_id)
                        .status(StatusType::Inactive)
                        .send()
                        .await
                        .map_err(|e| map_err(&endpoint, account_id, "UpdateAccessKey", e))?;
                }
                Ok(RemediationOutcome {
                    executed: req.execute,
                    summary: format!(
                        "{} access key {key_id} of `{user}` in {account_id}; it can be deleted from {}",
                        if req.execute {
                            "deactivated"
                        } else {
                            "would deactivate"
                        },
                        (req.now + chrono::Duration::days(rc.delete_after_days))
                            .format("%Y-%m-%d %H:%M UTC"),
                    ),
                    calls: vec![call],
                })
            }
            _ => {
                if !inactive {
                    return Err(RemediationError::Refused(format!(
                        "access key {key_id} of `{user}` is active: deactivate it first, then delete after {} days",
                        rc.delete_after_days
                    )));
                }
                let Some(since) = req.previous_stage_at else {
                    return Err(RemediationError::Refused(format!(
                        "Roster has no record of deactivating {key_id}; deactivate it through Roster so the grace period has a start"
                    )));
                };
                let allowed_from = since + chrono::Duration::days(rc.delete_after_days);
                if req.now < allowed_from {
                    return Err(RemediationError::Refused(format!(
                        "access key {key_id} was deactivated at {}; the grace period of {} days ends at {}",
                        since.format("%Y-%m-%d %H:%M UTC"),
                        rc.delete_after_days,
                        allowed_from.format("%Y-%m-%d %H:%M UTC")
                    )));
                }
                let call = format!("iam:DeleteAccessKey UserName={user} AccessKeyId={key_id}");
                if req.execute {
                    client
                        .delete_access_key()
                        .user_name(user)
                        .access_key_id(key_id)
                        .send()
                        .await
                        .map_err(|e| map_err(&endpoint, account_id, "DeleteAccessKey", e))?;
                }
                Ok(RemediationOutcome {
                    executed: req.execute,
                    summary: format!(
                        "{} access key {key_id} of `{user}` in {account_id}",
                        if req.execute {
                            "deleted"
                        } else {
                            "would delete"
                        }
                    ),
                    calls: vec![call],
                })
            }
        }
    }
}
