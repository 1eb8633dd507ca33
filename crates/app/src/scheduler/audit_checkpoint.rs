//! Every hour, a signed checkpoint of the audit trail's head into `[audit] checkpoint_dir`
//! (`checkpoint-<event id>.json`, and `latest.json`): copied off the database's host, it lets
//! `roster audit verify --checkpoint` detect a trail shortened or rewritten since.

use chrono::{DateTime, Utc};

use super::JobContext;
use crate::access::Principal;

/// The job's lease name.
pub const JOB: &str = "audit-checkpoint";

/// Hourly, at minute 17 (away from jobs on the hour).
pub const SCHEDULE: &str = "0 17 * * * *";

pub fn job(ctx: std::sync::Arc<JobContext>, now: DateTime<Utc>) -> super::JobFuture {
    Box::pin(async move {
        if let Err(e) = run(&ctx, now).await {
            tracing::error!(error = %e, "audit checkpoint not written");
        }
    })
}

/// Writes the checkpoint; returns its file, or `None` when no directory is configured or the
/// trail is empty.
pub async fn run(
    ctx: &JobContext,
    now: DateTime<Utc>,
) -> Result<Option<std::path::PathBuf>, crate::AppError> {
    let Some(dir) = ctx.roster.config.audit.checkpoint_dir.clone() else {
        return Ok(None);
    };
    let system = Principal::cli(format!("scheduler:{}", ctx.holder));
    let Some(checkpoint) = ctx.roster.audit_checkpoint(&system, now).await? else {
        return Ok(None);
    };
    let text = serde_json::to_string_pretty(&checkpoint)?;
    let io = |e: std::io::Error| {
        crate::AppError::Unavailable(format!("audit.checkpoint_dir {}: {e}", dir.display()))
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let file = dir.join(format!("checkpoint-{}.json", checkpoint.id));
    // Written whole, then renamed: a reader never sees half a checkpoint.
    let tmp = dir.join(".checkpoint.tmp");
    std::fs::write(&tmp, &text).map_err(io)?;
    std::fs::rename(&tmp, &file).map_err(io)?;
    std::fs::write(&tmp, &text).map_err(io)?;
    std::fs::rename(&tmp, dir.join("latest.json")).map_err(io)?;
    tracing::info!(event = checkpoint.id, file = %file.display(), "audit checkpoint written");
    Ok(Some(file))
}
