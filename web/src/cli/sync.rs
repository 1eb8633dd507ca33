use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use roster_connector_sdk::SystemClock;
use roster_store::RunStatus;
use roster_sync::SyncEngine;

use roster_store::audit::NewAuditEvent;

use super::{actor, load_config, open_store};
use crate::progress::TerminalProgress;
use crate::{policy, registry};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run only these connectors (by name); repeatable.
    #[arg(long = "connector")]
    pub connectors: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

/// Exit codes: 0 every listing complete, 2 partial (some listings not seen; nothing swept
/// there), 1 error (nothing could be read, or the store failed).
pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let sources = registry::build_all(&config.connectors, &args.connectors)?;
    if sources.is_empty() {
        anyhow::bail!(
            "no connectors configured: add a [[connectors]] section to the configuration"
        );
    }
    let loaded = policy::load_with_hash(config.policy.file.as_deref())?;
    let store = open_store(&config).await?;
    super::record_config_changes(
        &store,
        args.config.as_deref(),
        config.policy.file.as_deref(),
        &loaded.hash,
        chrono::Utc::now(),
    )
    .await?;
    let progress = TerminalProgress::new(matches!(args.format, ReportFormat::Text));
    let report = sync_once(
        &store,
        sources,
        &loaded.policy,
        &loaded.hash,
        args.connectors.is_empty(),
        &actor(),
        &progress,
    )
    .await;
    progress.finish();
    let report = report?;
    match args.format {
        ReportFormat::Text => print!("{}", report.to_text()),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(match report.status {
        RunStatus::Ok => ExitCode::SUCCESS,
        RunStatus::Partial => ExitCode::from(2),
        _ => ExitCode::from(1),
    })
}

/// One sync run of `sources` (plus Roster's own API tokens on a full run), its summary and its
/// audit event. Shared by `roster sync` and the scheduled sync in `roster serve`.
pub async fn sync_once(
    store: &roster_store::Store,
    mut sources: Vec<roster_sync::SyncSource>,
    policy: &roster_core::RiskPolicy,
    policy_hash: &str,
    full: bool,
    actor: &str,
    progress: &dyn roster_sync::Progress,
) -> anyhow::Result<roster_sync::SyncReport> {
    if full {
        sources.push(roster_sync::SyncSource {
            name: crate::roster_api_token::SOURCE_NAME.into(),
            connector: Box::new(crate::roster_api_token::ApiTokenSource::new(store.clone())),
        });
    }
    let redo = store
        .mark_evaluations_due_unless_policy(policy_hash)
        .await?;
    if redo > 0 {
        tracing::info!(
            records = redo,
            "the policy changed: every record is evaluated again"
        );
    }
    let engine = SyncEngine::new(store.clone(), policy.clone(), Arc::new(SystemClock));
    // Phase timings at debug level (`ROSTER_LOG=debug`), for tests/bench/ingest.sh's readers.
    let started = std::time::Instant::now();
    let report = engine.run(&sources, progress).await?;
    let synced = started.elapsed();
    store
        .set_run_policy_hash(report.run_id, policy_hash)
        .await?;
    crate::summary::record_run_summary(store, report.run_id, report.finished_at).await?;
    tracing::debug!(
        sync_ms = synced.as_millis() as u64,
        summary_ms = (started.elapsed() - synced).as_millis() as u64,
        "sync run and its summary done"
    );
    store
        .append_audit(
            NewAuditEvent {
                actor: actor.to_owned(),
                action: "sync".into(),
                target: Some(format!("run:{}", report.run_id)),
                detail: serde_json::json!({
                    "status": report.status.as_str(),
                    "connectors": report.connectors.iter().map(|c| &c.name).collect::<Vec<_>>(),
                }),
            },
            report.finished_at,
        )
        .await?;
    Ok(report)
}
