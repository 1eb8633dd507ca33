//! A connector's scheduled sync (`schedule` on its `[[connectors]]` entry).

use chrono::{DateTime, Utc};

use super::JobContext;

pub async fn run(ctx: &JobContext, connector: &str, _now: DateTime<Utc>) {
    let sources = match ctx.roster.connectors.sources(&[connector.to_owned()]) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(connector, error = %e, "scheduled sync: bad connector configuration");
            return;
        }
    };
    let actor = format!("scheduler:{}", ctx.holder);
    match ctx
        .roster
        .sync_once(sources, false, &actor, &roster_sync::NoProgress)
        .await
    {
        Ok(report) => tracing::info!(
            connector,
            run = report.run_id,
            status = report.status.as_str(),
            "scheduled sync finished"
        ),
        Err(crate::AppError::Conflict(busy)) => {
            tracing::info!(connector, "scheduled sync skipped: {busy}")
        }
        Err(e) => tracing::error!(connector, error = %e, "scheduled sync failed"),
    }
}
