//! Scheduled work in `roster serve`: connector syncs, campaign launches and campaign
//! reminders, one file per job. Several servers may share one database: each firing takes a
//! lease in the database first, so a job runs on one of them.

pub mod audit_checkpoint;
mod campaign_launch;
mod campaign_reminders;
mod connector_sync;
mod evaluation_refresh;
mod retention;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use uuid::Uuid;

pub use campaign_reminders::{ReminderChannel, ReminderMessage};

use crate::Roster;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("schedule `{schedule}` of {job}: {detail}")]
    BadSchedule {
        job: String,
        schedule: String,
        detail: String,
    },
    #[error("scheduler: {0}")]
    Scheduler(#[from] JobSchedulerError),
}

/// What every job reads.
pub struct JobContext {
    pub roster: Arc<Roster>,
    /// This server, as lease holder and audit actor.
    pub holder: String,
    pub public_url: String,
    pub reminders: Option<Arc<dyn ReminderChannel>>,
}

/// How long a firing keeps the lease: half the time to the job's next firing, so a replica
/// firing the same tick a moment later finds it taken, and the next tick finds it free.
fn lease_until(now: DateTime<Utc>, next: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match next {
        Some(n) if n > now => now + (n - now) / 2,
        _ => now + Duration::minutes(5),
    }
}

type JobFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `run` at `now` if this server takes the lease `job` (until `until`).
async fn run_leased<F>(
    ctx: Arc<JobContext>,
    job: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    run: F,
) where
    F: Fn(Arc<JobContext>, DateTime<Utc>) -> JobFuture,
{
    use crate::metrics::JobOutcome;
    let roster = &ctx.roster;
    let metrics = roster.process_metrics();
    let outcome = match crate::metrics::take_lease(
        &roster.store,
        metrics,
        job,
        &ctx.holder,
        until,
        now,
    )
    .await
    {
        Ok(true) => JobOutcome::Ran,
        Ok(false) => {
            tracing::debug!(job, "another server runs this tick");
            JobOutcome::LeaseHeldElsewhere
        }
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot take the job lease; skipped");
            JobOutcome::LeaseError
        }
    };
    // Counted when it starts: a long sync shows as running at once.
    if let Some(m) = metrics {
        m.job_fired(job, outcome);
    }
    if outcome == JobOutcome::Ran {
        run(ctx.clone(), now).await;
    }
}

/// Adds `run` under `schedule`, guarded by the lease `job`.
async fn add_leased<F>(
    sched: &JobScheduler,
    ctx: &Arc<JobContext>,
    job: String,
    schedule: &str,
    run: F,
) -> Result<(), SchedulerError>
where
    F: Fn(Arc<JobContext>, DateTime<Utc>) -> JobFuture + Send + Sync + Clone + 'static,
{
    let ctx = ctx.clone();
    let name = job.clone();
    let cron = Job::new_async(schedule, move |uuid: Uuid, mut l: JobScheduler| {
        let ctx = ctx.clone();
        let name = name.clone();
        let run = run.clone();
        Box::pin(async move {
            let now = Utc::now();
            let next = l.next_tick_for_job(uuid).await.ok().flatten();
            run_leased(ctx, &name, lease_until(now, next), now, run).await
        })
    })
    .map_err(|e| SchedulerError::BadSchedule {
        job: job.clone(),
        schedule: schedule.to_owned(),
        detail: e.to_string(),
    })?;
    sched.add(cron).await?;
    Ok(())
}

/// Starts every scheduled job the configuration names. The returned scheduler runs them until
/// it is shut down or dropped with the process.
pub async fn start(ctx: JobContext) -> Result<JobScheduler, SchedulerError> {
    let ctx = Arc::new(ctx);
    let sched = JobScheduler::new().await?;
    for c in ctx
        .roster
        .config
        .connectors
        .iter()
        .filter(|c| c.schedule.is_some())
    {
        let schedule = c.schedule.clone().unwrap_or_default();
        let name = c.name.clone();
        add_leased(
            &sched,
            &ctx,
            format!("sync:{name}"),
            &schedule,
            move |ctx, now| {
                let name = name.clone();
                Box::pin(async move { connector_sync::run(&ctx, &name, now).await })
            },
        )
        .await?;
    }
    for d in ctx
        .roster
        .config
        .campaigns
        .iter()
        .filter(|d| d.schedule.is_some())
    {
        let schedule = d.schedule.clone().unwrap_or_default();
        let name = d.name.clone();
        add_leased(
            &sched,
            &ctx,
            format!("campaign:{name}"),
            &schedule,
            move |ctx, now| {
                let name = name.clone();
                Box::pin(async move { campaign_launch::run(&ctx, &name, now).await })
            },
        )
        .await?;
    }
    let reminders = ctx.roster.config.scheduler.reminders.clone();
    add_leased(
        &sched,
        &ctx,
        "campaign-reminders".into(),
        &reminders,
        |ctx, now| Box::pin(async move { campaign_reminders::run(&ctx, now).await }),
    )
    .await?;
    if ctx.roster.config.audit.checkpoint_dir.is_some() {
        add_leased(
            &sched,
            &ctx,
            audit_checkpoint::JOB.into(),
            audit_checkpoint::SCHEDULE,
            audit_checkpoint::job,
        )
        .await?;
    }
    add_leased(
        &sched,
        &ctx,
        evaluation_refresh::JOB.into(),
        evaluation_refresh::SCHEDULE,
        evaluation_refresh::job,
    )
    .await?;
    add_leased(
        &sched,
        &ctx,
        retention::JOB.into(),
        retention::SCHEDULE,
        retention::job,
    )
    .await?;
    sched.start().await?;
    // The refresh also runs once at start: what fell due while no server ran would otherwise
    // wait for the first tick, up to five minutes, and until then every tier or finding page
    // reads it as due rows (the critical tier at 1M: 39 ms median with 88 due, 11.5 ms after).
    let now = Utc::now();
    tokio::spawn(run_leased(
        ctx,
        evaluation_refresh::JOB,
        lease_until(now, None),
        now,
        evaluation_refresh::job,
    ));
    Ok(sched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_lease_lasts_half_way_to_the_next_tick() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        assert_eq!(
            lease_until(now, Some(now + Duration::hours(6))),
            now + Duration::hours(3)
        );
        assert_eq!(lease_until(now, None), now + Duration::minutes(5));
        assert_eq!(lease_until(now, Some(now)), now + Duration::minutes(5));
    }
}
