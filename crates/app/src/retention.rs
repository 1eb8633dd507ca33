//! Pruning history past `[retention]`: record history and sync runs' reports. Each pass is an
//! audit event with what it deleted; the audit trail itself is never pruned.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::access::Principal;
use crate::{AppError, Roster};

/// What one pass deleted, and the cut-offs it used (`None`: that kind is kept whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub record_history_before: Option<DateTime<Utc>>,
    pub record_history_rows: u64,
    pub sync_run_detail_before: Option<DateTime<Utc>>,
    pub sync_run_reports: u64,
}

/// `days` before `now`, or `None` for 0 (keep everything).
fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - Duration::days(i64::from(days)))
}

impl Roster {
    /// Deletes what the retention settings no longer keep at `now`, audited as
    /// `retention.pruned` (also when nothing was old enough, so the trail shows it ran).
    pub async fn prune(&self, p: &Principal, now: DateTime<Utc>) -> Result<Pruned, AppError> {
        p.require_prune()?;
        let r = &self.config.retention;
        let mut pruned = Pruned {
            record_history_before: cutoff(now, r.record_history_days),
            sync_run_detail_before: cutoff(now, r.sync_run_detail_days),
            ..Pruned::default()
        };
        if let Some(before) = pruned.record_history_before {
            pruned.record_history_rows = self.store.prune_record_history(before).await?;
        }
        if let Some(before) = pruned.sync_run_detail_before {
            pruned.sync_run_reports = self.store.prune_sync_run_detail(before).await?;
        }
        self.record_event(
            p.actor(),
            "retention.pruned",
            None,
            serde_json::to_value(&pruned)?,
            now,
        )
        .await?;
        Ok(pruned)
    }
}
