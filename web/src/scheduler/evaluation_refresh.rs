//! Keeps the stored evaluations current between syncs: re-evaluates those that fell due (a key
//! turned stale, an exception ended) and, twice a day, lists afresh those falling due within the
//! next day, so that the inventory's tier and finding filters keep reading the stored columns
//! through their indexes instead of scanning for due rows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use roster_store::EvaluationInputs;

use super::JobContext;

/// Every five minutes, on the second 30 (away from syncs scheduled on the minute).
pub const SCHEDULE: &str = "30 */5 * * * *";

pub async fn run(ctx: &JobContext, now: DateTime<Utc>) {
    match ctx.store.evaluations_need_refresh(now).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "evaluation refresh: cannot read what falls due");
            return;
        }
    }
    let refreshed = async {
        let inputs = EvaluationInputs::load(&ctx.store).await?;
        ctx.store
            .refresh_evaluations(&ctx.policy, &inputs, &HashSet::new(), now)
            .await
    }
    .await;
    match refreshed {
        Ok(n) => tracing::info!(records = n, "stored evaluations that fell due were redone"),
        Err(e) => {
            tracing::warn!(error = %e, "evaluation refresh failed; readers check due rows themselves")
        }
    }
}
