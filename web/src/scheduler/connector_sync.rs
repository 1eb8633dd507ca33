//! A connector's scheduled sync (`schedule` on its `[[connectors]]` entry).

use chrono::{DateTime, Utc};

use super::JobContext;
use crate::registry;

pub async fn run(ctx: &JobContext, connector: &str, _now: DateTime<Utc>) {
    let sources = match registry::build_all(&ctx.config.connectors, &[connector.to_owned()]) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(connector, error = %e, "scheduled sync: bad connector configuration");
            return;
        }
    };
    match crate::cli::sync::sync_once(
        &ctx.store,
        sources,
        &ctx.policy,
        &ctx.policy_hash,
        false,
        &format!("scheduler:{}", ctx.holder),
        &roster_sync::NoProgress,
    )
    .await
    {
        Ok(report) => tracing::info!(
            connector,
            run = report.run_id,
            status = report.status.as_str(),
            "scheduled sync finished"
        ),
        Err(e) => tracing::error!(connector, error = %e, "scheduled sync failed"),
    }
}
