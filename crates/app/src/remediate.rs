//! One remediation step on one record through its connector. A dry run (the default) reads the
//! live state and returns the calls a real run would make. Every run, dry or not, refused or
//! not, is an audit event.

use chrono::{DateTime, Utc};
use roster_connector_sdk::{RemediationError, RemediationOutcome, RemediationRequest};
use roster_core::RecordId;
use roster_store::audit::{AuditEvent, NewAuditEvent};
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
        Ok(self.remediate_audited(p, ask, now).await?.0)
    }

    /// [`Roster::remediate`], with the audit event that recorded it.
    async fn remediate_audited(
        &self,
        p: &Principal,
        ask: &RemediationAsk<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Result<RemediationOutcome, RemediationError>, AuditEvent), AppError> {
        p.require_remediate()?;
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
        let event = self
            .store
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
        Ok((result, event))
    }

    /// A dry run of `action` on the record, asked from its page: the plan is in the audit
    /// event whose id this returns (read back with [`Roster::remediation_plan`]). Carrying it
    /// out stays with the CLI and the API.
    pub async fn remediation_dry_run(
        &self,
        p: &Principal,
        id: RecordId,
        action: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, AppError> {
        let ask = RemediationAsk {
            id,
            action,
            execute: false,
            reason: "dry run from the identity page",
        };
        Ok(self.remediate_audited(p, &ask, now).await?.1.id)
    }

    /// What remediation the record's connector offers, as `p` may use it: `None` for someone
    /// who may not remediate. A connector that cannot be built or offers nothing says why.
    pub async fn remediation_offer(
        &self,
        p: &Principal,
        connector: &str,
        resource_type: &str,
    ) -> Option<RemediationOffer> {
        if !p.can_remediate() {
            return None;
        }
        let mut offer = RemediationOffer {
            connector: connector.to_owned(),
            actions: Vec::new(),
            none_because: None,
            execution_off: None,
        };
        let configured = self
            .connectors
            .configs()
            .iter()
            .any(|c| c.name == connector);
        if !configured && connector == crate::roster_api_token::SOURCE_NAME {
            offer.none_because = Some(
                "Roster's own API tokens are not remediated through a connector: an admin revokes them on the API tokens page".into(),
            );
            return Some(offer);
        }
        let built = match self.connectors.connector(connector).await {
            Ok(c) => c,
            Err(e) => {
                offer.none_because = Some(format!(
                    "no remediation is offered: connector `{connector}` cannot be used ({e})"
                ));
                return Some(offer);
            }
        };
        let Some(remediator) = built.remediator() else {
            offer.none_because = Some(self.connectors.no_remediation(connector).to_string());
            return Some(offer);
        };
        offer.actions = remediator
            .actions(resource_type)
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        if offer.actions.is_empty() {
            offer.none_because = Some(format!(
                "the `{connector}` connector offers no remediation for {resource_type} records"
            ));
        }
        offer.execution_off = remediator.execution_off();
        Some(offer)
    }

    /// A remediation run on record `id` as its audit event `event` recorded it: the plan (or
    /// the refusal) shown after a dry run from the identity page.
    pub async fn remediation_plan(
        &self,
        p: &Principal,
        id: RecordId,
        event: i64,
    ) -> Result<RemediationPlan, AppError> {
        p.require_remediate()?;
        let e = self.store.audit_event(event).await?;
        let action = e
            .action
            .strip_prefix("remediation.")
            .filter(|_| e.target.as_deref() == Some(id.to_string().as_str()))
            .ok_or_else(|| AppError::NotFound(format!("remediation run {event} of record {id}")))?
            .to_owned();
        let d: serde_json::Value = serde_json::from_str(&e.detail)?;
        let text = |k: &str| d[k].as_str().map(str::to_owned);
        let outcome = if let Some(summary) = text("summary") {
            PlanOutcome::Planned {
                summary,
                calls: d["calls"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        } else if let Some(why) = text("refused") {
            PlanOutcome::Refused(why)
        } else if let Some(why) = text("disabled") {
            PlanOutcome::Off(why)
        } else {
            PlanOutcome::Failed(text("failed").unwrap_or_else(|| "no outcome recorded".into()))
        };
        Ok(RemediationPlan {
            event,
            action,
            dry_run: d["dry_run"].as_bool().unwrap_or(true),
            at: e.at,
            actor: e.actor,
            outcome,
        })
    }
}

/// The remediation a record's connector offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationOffer {
    pub connector: String,
    /// In stage order; empty when none is offered.
    pub actions: Vec<String>,
    /// Why none is offered, in one line.
    pub none_because: Option<String>,
    /// Why a real run would be refused (remediation not enabled, sample data); a dry run may.
    pub execution_off: Option<String>,
}

/// One remediation run as the audit trail recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationPlan {
    /// The audit event's id.
    pub event: i64,
    pub action: String,
    pub dry_run: bool,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub outcome: PlanOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanOutcome {
    /// What a real run would do (or, not dry, did): the summary and the platform calls.
    Planned { summary: String, calls: Vec<String> },
    /// The connector refused the step (wrong stage, grace period, gone from the platform...).
    Refused(String),
    /// Remediation is off for the connector.
    Off(String),
    /// The connector failed (the platform did not answer, refused the credentials...).
    Failed(String),
}
