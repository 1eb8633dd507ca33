//! Daily, history past `[retention]` is pruned (see [`crate::retention`]).

use chrono::{DateTime, Utc};

use super::JobContext;
use crate::access::Principal;

/// The job's lease name.
pub const JOB: &str = "retention";

/// Daily at 03:47, away from jobs on the hour.
pub const SCHEDULE: &str = "0 47 3 * * *";

pub fn job(ctx: std::sync::Arc<JobContext>, now: DateTime<Utc>) -> super::JobFuture {
    Box::pin(async move {
        let system = Principal::cli(format!("scheduler:{}", ctx.holder));
        match ctx.roster.prune(&system, now).await {
            Ok(p) => tracing::info!(
                record_history_rows = p.record_history_rows,
                sync_run_reports = p.sync_run_reports,
                "history pruned"
            ),
            Err(e) => tracing::error!(error = %e, "history not pruned"),
        }
    })
}
