//! `roster remediate ID --action A [--execute]`: one remediation step through the record's
//! connector. A dry run (the default) reads the live state and prints the calls a real run
//! would make. Every run, dry or not, refused or not, is an audit event.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_connector_sdk::{RemediationError, RemediationRequest};
use roster_core::RecordId;
use roster_store::audit::NewAuditEvent;
use serde_json::json;

use super::{actor, load_config, open_store};
use crate::registry;

#[derive(Debug, clap::Args)]
pub struct RemediateArgs {
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The record's id (16 hex digits, as `roster identities` prints it).
    pub id: RecordId,
    /// What to do, e.g. `deactivate` then, after the grace period, `delete`.
    #[arg(long)]
    pub action: String,
    /// Change the platform. Without it, a dry run.
    #[arg(long)]
    pub execute: bool,
    /// Why, for the audit trail.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Exit codes: 0 done (or a dry run that could be done), 1 refused or failed.
pub async fn run(args: RemediateArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let store = open_store(&config).await?;
    let row = store.record(args.id.0).await?;
    let record = row.to_record()?;
    let remediator = registry::remediator(&config.connectors, &row.connector)?;
    let offered = remediator.actions(&record.key.resource_type);
    if !offered.contains(&args.action.as_str()) {
        anyhow::bail!(
            "`{}` is not offered for {} records of `{}` (offered: {})",
            args.action,
            record.key.resource_type,
            row.connector,
            if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            }
        );
    }
    let target = args.id.to_string();
    let previous_stage_at = match remediator.previous_stage(&args.action) {
        Some(prev) => store
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
    let now = Utc::now();
    let req = RemediationRequest {
        record: &record,
        action: &args.action,
        execute: args.execute,
        now,
        previous_stage_at,
    };
    let result = remediator.remediate(&req).await;
    let (detail, code) = match &result {
        Ok(o) => {
            println!(
                "{}{}",
                if args.execute { "" } else { "DRY RUN: " },
                o.summary
            );
            for c in &o.calls {
                println!("  {} {c}", if o.executed { "called" } else { "would call" });
            }
            (
                json!({"dry_run": !args.execute, "executed": o.executed, "summary": o.summary,
                       "calls": o.calls, "reason": args.reason, "connector": row.connector,
                       "record": record.name}),
                ExitCode::SUCCESS,
            )
        }
        Err(e) => {
            eprintln!("error: {e}");
            let kind = match e {
                RemediationError::Disabled(_) => "disabled",
                RemediationError::Refused(_) => "refused",
                RemediationError::Connector(_) => "failed",
            };
            (
                json!({"dry_run": !args.execute, "executed": false, kind: e.to_string(),
                       "reason": args.reason, "connector": row.connector, "record": record.name}),
                ExitCode::from(1),
            )
        }
    };
    store
        .append_audit(
            NewAuditEvent {
                actor: actor(),
                action: format!("remediation.{}", args.action),
                target: Some(target),
                detail,
            },
            now,
        )
        .await?;
    Ok(code)
}
