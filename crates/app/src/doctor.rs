//! `roster doctor`: checks what the store holds against what it should, and repairs it. Today:
//! every stored evaluation against a fresh one (what dashboards, tier filters and counts
//! read), and sync runs left `running` by a process that died.

use chrono::{DateTime, Utc};
use roster_store::{EvaluationCheck, EvaluationInputs};

use crate::Roster;
use crate::access::Principal;
use crate::error::AppError;

/// What the doctor found (and, with repair, fixed).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DoctorReport {
    pub records_checked: u64,
    /// Stored evaluations that claim to hold now yet disagree with a fresh one.
    pub evaluations_wrong: u64,
    /// Stored evaluations due for a refresh (readers already evaluate those themselves).
    pub evaluations_due: u64,
    pub examples: Vec<WrongEvaluationView>,
    /// Sync runs left `running` by a dead process (closed as aborted with repair).
    pub dead_runs: u64,
    pub repaired: bool,
    pub evaluations_rewritten: u64,
    /// Whether the inventory's search index held what the records do (rebuilt with repair).
    pub search_index_agrees: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct WrongEvaluationView {
    pub id: i64,
    pub stored_tier: String,
    pub fresh_tier: String,
    pub stored_rules: String,
    pub fresh_rules: String,
}

impl DoctorReport {
    /// Whether everything held what it should (before any repair).
    pub fn healthy(&self) -> bool {
        self.evaluations_wrong == 0 && self.dead_runs == 0 && self.search_index_agrees
    }
}

impl Roster {
    /// Checks the store at `now`; with `repair`, closes dead runs and rewrites wrong and due
    /// evaluations (audited). Refused while a sync runs: it is rewriting what this reads.
    pub async fn doctor(
        &self,
        p: &Principal,
        repair: bool,
        now: DateTime<Utc>,
    ) -> Result<DoctorReport, AppError> {
        p.require_governance("check and repair the store")?;
        let dead = self.dead_sync_runs(now).await?;
        let live_runs = self.store.running_sync_runs().await?.len() as u64 - dead.len() as u64;
        if live_runs > 0 {
            return Err(AppError::Conflict(
                "a sync is running; run the doctor when it has finished".into(),
            ));
        }
        if repair {
            self.store.abort_sync_runs(&dead, now).await?;
        }
        let inputs = EvaluationInputs::load(&self.store).await?;
        let EvaluationCheck {
            checked,
            wrong,
            due,
            examples,
            repaired,
        } = self
            .store
            .check_evaluations(&self.policy, &inputs, now, repair)
            .await?;
        let search_index_agrees = self.store.search_index_agrees().await?;
        if repair && !search_index_agrees {
            self.store.rebuild_search_index().await?;
        }
        let report = DoctorReport {
            records_checked: checked,
            evaluations_wrong: wrong,
            evaluations_due: due,
            examples: examples
                .into_iter()
                .map(|w| WrongEvaluationView {
                    id: w.id,
                    stored_tier: w.stored_tier,
                    fresh_tier: w.fresh_tier,
                    stored_rules: w.stored_rules,
                    fresh_rules: w.fresh_rules,
                })
                .collect(),
            dead_runs: dead.len() as u64,
            repaired: repair,
            evaluations_rewritten: repaired,
            search_index_agrees,
        };
        if repair && (repaired > 0 || !dead.is_empty() || !search_index_agrees) {
            self.record_event(
                p.actor(),
                "doctor.repair",
                None,
                serde_json::json!({
                    "evaluations_wrong": wrong,
                    "evaluations_rewritten": repaired,
                    "dead_runs_closed": dead.len(),
                    "search_index_rebuilt": !search_index_agrees,
                }),
                now,
            )
            .await?;
        }
        Ok(report)
    }

    /// The runs left `running` whose process is dead (see `roster_sync::abort_dead_runs`).
    async fn dead_sync_runs(&self, now: DateTime<Utc>) -> Result<Vec<i64>, AppError> {
        Ok(self
            .store
            .running_sync_runs()
            .await?
            .into_iter()
            .filter(|r| roster_sync::run_is_dead(r.holder.as_deref(), r.heartbeat_at, now))
            .map(|r| r.id)
            .collect())
    }
}
