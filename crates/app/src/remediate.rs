//! One remediation step on one record through its connector. A dry run (the default) reads the
//! live state and returns the calls a real run would make. Every run, dry or not, refused or
//! not, is an audit event.

use chrono::{DateTime, Utc};
use roster_connector_sdk::{RemediationError, RemediationOutcome, RemediationRequest};
use roster_core::RecordId;
use roster_store::audit::NewAuditEvent;
use serde_json::json;

use crate::Roster;
use crate::access::Principal;
use crate::error::AppError;

/// What to do.
pub struct RemediationAsk<'a> {
    pub id: RecordId,
    pub action: &'a str,
    pub execute: bool,
    /// Why, for the audit trail.
    pub reason: &'a str,
}

impl Roster {
    /// Runs (or plans) `ask.action` on the record. `Ok(Err(_))`: the connector refused or
    /// failed, and that was recorded; `Err(_)`: nothing was asked of the connector.
    pub async fn remediate(
        &self,
        p: &Principal,
        ask: &RemediationAsk<'_>,
        now: DateTime<Utc>,
    ) -> Result<Result<RemediationOutcome, RemediationError>, AppError> {
        p.require_launch()?;
        let row = self.store.record(ask.id.0).await?;
        let record = row.to_record()?;
        let connector = self.connectors.connector(&row.connector).await?;
        let remediator = connector
            .remediator()
            .ok_or_else(|| self.connectors.no_remediation(&row.connector))?;
        let offered = remediator.actions(&record.key.resource_type);
        if !offered.contains(&ask.action) {
            return Err(AppError::Invalid(format!(
                "`{}` is not offered for {} records of `{}` (offered: {})",
                ask.action,
                record.key.resource_type,
                row.connector,
                if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                }
            )));
        }
        let target = ask.id.to_string();
        let previous_stage_at = match remediator.previous_stage(ask.action) {
            Some(prev) => self
                .store
                .audit_events_for(&target, &format!("remediation.{prev}"))
                .await?
                .into_iter()
                .find(|e| {
                    serde_json::from_str::<serde_json::Value>(&e.detail)
                        .is_ok_and(|d| d["executed"] == true)
                })
                .map(|e| e.at),
            None => None,
        };
        let req = RemediationRequest {
            record: &record,
            action: ask.action,
            execute: ask.execute,
            now,
            previous_stage_at,
        };
        let result = remediator.remediate(&req).await;
        let detail = match &result {
            Ok(o) => json!({"dry_run": !ask.execute, "executed": o.executed, "summary": o.summary,
                            "calls": o.calls, "reason": ask.reason, "connector": row.connector,
                            "record": record.name}),
            Err(e) => {
                let kind = match e {
                    RemediationError::Disabled(_) => "disabled",
                    RemediationError::Refused(_) => "refused",
                    RemediationError::Connector(_) => "failed",
                };
                json!({"dry_run": !ask.execute, "executed": false, kind: e.to_string(),
                       "reason": ask.reason, "connector": row.connector, "record": record.name})
            }
        };
        self.store
            .append_audit(
                NewAuditEvent {
                    actor: p.actor(),
                    action: format!("remediation.{}", ask.action),
                    target: Some(target),
                    detail,
                },
                now,
            )
            .await?;
        Ok(result)
    }
}
