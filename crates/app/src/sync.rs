//! One sync run: the configured connectors (plus Roster's own API tokens on a full run), the
//! run's summary and its audit event. Shared by `roster sync` and the scheduled sync.

use std::sync::Arc;

use roster_connector_sdk::SystemClock;
use roster_store::audit::NewAuditEvent;
use roster_sync::{Progress, SyncEngine, SyncReport, SyncSource};

pub use roster_store::RunStatus;

use crate::Roster;
use crate::error::AppError;

impl From<roster_sync::SyncError> for AppError {
    fn from(e: roster_sync::SyncError) -> Self {
        match e {
            busy @ roster_sync::SyncError::Busy { .. } => AppError::Conflict(busy.to_string()),
            e => AppError::Unavailable(e.to_string()),
        }
    }
}

impl Roster {
    /// When the last sync that read something (ended `ok` or `partial`) finished; `None` if
    /// none ever did.
    pub async fn last_completed_sync(
        &self,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
        Ok(self.store.last_completed_sync_run().await?)
    }

    /// One sync run of `sources`; `full` adds Roster's own API tokens and means every
    /// configured connector runs.
    pub async fn sync_once(
        &self,
        mut sources: Vec<SyncSource>,
        full: bool,
        actor: &str,
        progress: &dyn Progress,
    ) -> Result<SyncReport, AppError> {
        let store = &self.store;
        if full {
            sources.push(SyncSource {
                name: crate::roster_api_token::SOURCE_NAME.into(),
                connector: Box::new(crate::roster_api_token::ApiTokenSource::new(store.clone())),
            });
        }
        let redo = store
            .mark_evaluations_due_unless_policy(&self.policy_hash)
            .await?;
        if redo > 0 {
            tracing::info!(
                records = redo,
                "the policy changed: every record is evaluated again"
            );
        }
        let engine = SyncEngine::new(store.clone(), self.policy.clone(), Arc::new(SystemClock));
        // Phase timings at debug level (`ROSTER_LOG=debug`), for tests/bench/ingest.sh's readers.
        let started = std::time::Instant::now();
        let report = engine.run(&sources, progress).await?;
        let synced = started.elapsed();
        store
            .set_run_policy_hash(report.run_id, &self.policy_hash)
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
}
