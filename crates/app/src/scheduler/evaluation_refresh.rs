//! Keeps the stored evaluations current between syncs: re-evaluates those that fell due (a key
//! turned stale, an exception ended) and, twice a day, lists afresh those falling due within the
//! next day, so that the inventory's tier and finding filters keep reading the stored columns
//! through their indexes instead of scanning for due rows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use roster_store::EvaluationInputs;

use super::JobContext;

/// The job's lease name.
pub const JOB: &str = "evaluation-refresh";

/// Every five minutes, on the second 30 (away from syncs scheduled on the minute); and once
/// when the server starts (`super::start`).
pub const SCHEDULE: &str = "30 */5 * * * *";

/// [`run`] as the scheduler's job.
pub fn job(ctx: std::sync::Arc<JobContext>, now: DateTime<Utc>) -> super::JobFuture {
    Box::pin(async move { run(&ctx, now).await })
}

pub async fn run(ctx: &JobContext, now: DateTime<Utc>) {
    // A run whose process died is closed here too (the server's start-up refresh among
    // them), which marks every evaluation due: its re-evaluation is then redone below.
    match roster_sync::abort_dead_runs(&ctx.roster.store, now).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            runs = n,
            "closed sync runs left unfinished by a process that died; every stored evaluation is redone"
        ),
        Err(e) => tracing::warn!(error = %e, "evaluation refresh: cannot close dead sync runs"),
    }
    // A sync re-evaluates what it touched and what fell due when it ends; redoing rows it is
    // rewriting meanwhile could list them wrongly.
    if ctx.roster.store.sync_running().await.unwrap_or(true) {
        tracing::debug!("evaluation refresh: a sync run is under way; skipped");
        return;
    }
    // Records a crashed sync wrote but never indexed for search (searches read them anyway).
    match ctx.roster.store.index_pending_search().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            records = n,
            "records left unindexed were indexed for search"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot index records waiting for the search index"),
    }
    match ctx.roster.store.evaluations_need_refresh(now).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "evaluation refresh: cannot read what falls due");
            return;
        }
    }
    let refreshed = async {
        let inputs = EvaluationInputs::load(&ctx.roster.store).await?;
        ctx.roster
            .store
            .refresh_evaluations(&ctx.roster.policy, &inputs, &HashSet::new(), now)
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

#[cfg(test)]
mod tests {
    use super::*;
    use roster_connector_sdk::FakeClock;
    use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector, default_anchor};
    use std::sync::Arc;

    /// Two days after a sync, the job redoes what fell due and lists the next day's; a day on
    /// with nothing due and the list fresh, it does nothing.
    #[tokio::test]
    async fn the_job_redoes_what_fell_due_and_lists_the_next_day() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let policy = roster_core::RiskPolicy::default();
            let source = roster_sync::SyncSource {
                name: "sample".into(),
                connector: Box::new(
                    SyntheticConnector::new(SyntheticConfig {
                        count: 1000,
                        seed: 8,
                        anchor: default_anchor(),
                        page_size: 200,
                    })
                    .unwrap(),
                ),
            };
            let clock = Arc::new(FakeClock::new(default_anchor()));
            let report = roster_sync::SyncEngine::new(t.store.clone(), policy.clone(), clock)
                .run(&[source], &roster_sync::NoProgress)
                .await
                .unwrap();
            let roster = crate::Roster::new(
                t.store.clone(),
                crate::config::Config::default(),
                crate::policy::LoadedPolicy {
                    policy,
                    hash: String::new(),
                },
            );
            let ctx = JobContext {
                roster: Arc::new(roster),
                holder: "test".into(),
                public_url: "http://127.0.0.1".into(),
                reminders: None,
            };
            let later = report.finished_at + chrono::Duration::days(2);
            let due = t
                .store
                .listed_due(report.finished_at + chrono::Duration::hours(23))
                .await
                .unwrap();
            assert!(!due.is_empty(), "{}", t.backend);
            assert!(t.store.evaluations_need_refresh(later).await.unwrap());
            run(&ctx, later).await;
            assert!(
                t.store.covered_until().await.unwrap() > later + chrono::Duration::hours(12),
                "{}: the next day is listed",
                t.backend
            );
            for id in due {
                let row = t.store.record(id).await.unwrap();
                assert!(
                    row.evaluated_until.is_none_or(|u| u > later),
                    "{}: record {id} was redone",
                    t.backend
                );
            }
            assert!(
                !t.store.evaluations_need_refresh(later).await.unwrap(),
                "{}",
                t.backend
            );
        }
    }
}
