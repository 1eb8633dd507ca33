//! Scheduled work in `roster serve`: connector syncs, campaign launches and campaign
//! reminders, one file per job. Several servers may share one database: each firing takes a
//! lease in the database first, so a job runs on one of them.

pub mod audit_checkpoint;
mod campaign_launch;
mod campaign_reminders;
mod connector_sync;
mod evaluation_refresh;
mod retention;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tokio::task::JoinSet;
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

/// How long after a tick another server may still fire it (scheduler granularity, clock
/// skew): a stopping server keeps the leases of ticks it finished more recently than this, so
/// that a replica firing the same tick late does not run it again.
const LATE_FIRING: Duration = Duration::seconds(10);

/// The jobs this server fired: their tasks, and per lease when it was taken and whether its
/// run finished. A stopping server waits for the tasks, then gives the leases back.
#[derive(Default)]
struct Firings {
    state: Mutex<FiringState>,
}

#[derive(Default)]
struct FiringState {
    /// Once set, nothing more is fired.
    stopping: bool,
    tasks: JoinSet<()>,
    /// Lease name → (taken at, run finished).
    leases: HashMap<String, (DateTime<Utc>, bool)>,
}

impl Firings {
    fn lock(&self) -> std::sync::MutexGuard<'_, FiringState> {
        // A panic while holding it leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `run` at `now`, on its own task, if this server takes the lease `job` (until `until`).
async fn run_leased<F>(
    ctx: Arc<JobContext>,
    firings: Arc<Firings>,
    job: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    run: F,
) where
    F: Fn(Arc<JobContext>, DateTime<Utc>) -> JobFuture,
{
    use crate::metrics::JobOutcome;
    if firings.lock().stopping {
        return;
    }
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
        let work = run(ctx.clone(), now);
        let spawned = {
            let mut state = firings.lock();
            if !state.stopping {
                // Finished tasks are reaped here, so the set stays as small as what runs.
                while state.tasks.try_join_next().is_some() {}
                state.leases.insert(job.to_owned(), (now, false));
                let (name, done) = (job.to_owned(), firings.clone());
                state.tasks.spawn(async move {
                    work.await;
                    if let Some(lease) = done.lock().leases.get_mut(&name)
                        && lease.0 == now
                    {
                        lease.1 = true;
                    }
                });
            }
            !state.stopping
        };
        if !spawned && let Err(e) = ctx.roster.store.release_lease(job, &ctx.holder).await {
            tracing::warn!(job, error = %e, "cannot release the job lease; it lapses");
        }
    }
}

/// Adds `run` under `schedule`, guarded by the lease `job`.
async fn add_leased<F>(
    sched: &JobScheduler,
    ctx: &Arc<JobContext>,
    firings: &Arc<Firings>,
    job: String,
    schedule: &str,
    run: F,
) -> Result<(), SchedulerError>
where
    F: Fn(Arc<JobContext>, DateTime<Utc>) -> JobFuture + Send + Sync + Clone + 'static,
{
    let ctx = ctx.clone();
    let firings = firings.clone();
    let name = job.clone();
    let cron = Job::new_async(schedule, move |uuid: Uuid, mut l: JobScheduler| {
        let ctx = ctx.clone();
        let firings = firings.clone();
        let name = name.clone();
        let run = run.clone();
        Box::pin(async move {
            let now = Utc::now();
            let next = l.next_tick_for_job(uuid).await.ok().flatten();
            run_leased(ctx, firings, &name, lease_until(now, next), now, run).await
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

/// The running scheduler of `roster serve`.
pub struct Scheduler {
    sched: JobScheduler,
    ctx: Arc<JobContext>,
    firings: Arc<Firings>,
}

/// Starts every scheduled job the configuration names. The returned scheduler runs them until
/// [`Scheduler::stop`] or the process ends.
pub async fn start(ctx: JobContext) -> Result<Scheduler, SchedulerError> {
    let ctx = Arc::new(ctx);
    let firings = Arc::new(Firings::default());
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
            &firings,
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
            &firings,
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
        &firings,
        "campaign-reminders".into(),
        &reminders,
        |ctx, now| Box::pin(async move { campaign_reminders::run(&ctx, now).await }),
    )
    .await?;
    if ctx.roster.config.audit.checkpoint_dir.is_some() {
        add_leased(
            &sched,
            &ctx,
            &firings,
            audit_checkpoint::JOB.into(),
            audit_checkpoint::SCHEDULE,
            audit_checkpoint::job,
        )
        .await?;
    }
    add_leased(
        &sched,
        &ctx,
        &firings,
        evaluation_refresh::JOB.into(),
        evaluation_refresh::SCHEDULE,
        evaluation_refresh::job,
    )
    .await?;
    add_leased(
        &sched,
        &ctx,
        &firings,
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
        ctx.clone(),
        firings.clone(),
        evaluation_refresh::JOB,
        lease_until(now, None),
        now,
        evaluation_refresh::job,
    ));
    Ok(Scheduler {
        sched,
        ctx,
        firings,
    })
}

impl Scheduler {
    /// Stops for a server's graceful exit: fires nothing more, gives the jobs under way up to
    /// `grace` to finish and cancels the rest, closes the sync runs they leave `running` as
    /// aborted, and gives back this server's leases (a cancelled job's, so that another server
    /// can run it; a finished tick's only once no replica can still be firing that tick, see
    /// [`LATE_FIRING`]). Call it after the tasks that hold other leases of this server's (the
    /// SIEM delivery) have stopped.
    pub async fn stop(mut self, grace: std::time::Duration) {
        let mut tasks = {
            let mut state = self.firings.lock();
            state.stopping = true;
            std::mem::take(&mut state.tasks)
        };
        if let Err(e) = self.sched.shutdown().await {
            tracing::warn!(error = %e, "cannot stop the job scheduler");
        }
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                jobs = tasks.len(),
                "scheduled jobs still running at the stop's deadline; cancelled"
            );
            tasks.shutdown().await;
        }
        let store = &self.ctx.roster.store;
        let now = Utc::now();
        match roster_sync::abandon_this_process(store, now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "cancelled sync runs closed as aborted"),
            Err(e) => tracing::warn!(error = %e, "cannot close this server's sync runs"),
        }
        let keep: Vec<String> = self
            .firings
            .lock()
            .leases
            .iter()
            .filter(|(_, (taken, finished))| *finished && now - *taken < LATE_FIRING)
            .map(|(job, _)| job.clone())
            .collect();
        match store.release_leases_of(&self.ctx.holder, &keep).await {
            Ok(n) => tracing::info!(released = n, kept = keep.len(), "job leases given back"),
            Err(e) => tracing::warn!(error = %e, "cannot release the job leases; they lapse"),
        }
    }
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
