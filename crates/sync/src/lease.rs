//! One sync per connector at a time. A run takes a lease on each of its connectors
//! (`sync-run:NAME` in the job leases) and keeps it, and its run's heartbeat, alive while it
//! runs; a second sync of a connector is refused with who holds it. A run left `running` is
//! closed as aborted only once its process is known dead: its heartbeat lapsed, or it ran on
//! this host and its process is gone.

use chrono::{DateTime, Duration, Utc};
use roster_store::Store;

use crate::SyncError;

/// How long a lease and a heartbeat hold without renewal.
pub const SYNC_LEASE: Duration = Duration::seconds(90);
/// How often a running sync renews them.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The process running a sync: `host:pid:nonce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncHolder {
    pub host: String,
    pub pid: u32,
    nonce: String,
}

impl SyncHolder {
    pub fn this_process() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Self {
            host: this_host(),
            pid: std::process::id(),
            nonce: format!("{nanos:08x}"),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.rsplitn(3, ':');
        let nonce = parts.next()?.to_owned();
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_owned();
        Some(Self { host, pid, nonce })
    }

    /// Known dead: it ran on this host and no process has its pid. (Elsewhere, and where
    /// `/proc` is missing, only a lapsed heartbeat tells.)
    pub fn is_dead_here(&self) -> bool {
        self.host == this_host()
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl std::fmt::Display for SyncHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.pid, self.nonce)
    }
}

fn this_host() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        // The holder's separator may not appear in the host part's parse.
        .map(|h| h.replace(':', "_"))
        .unwrap_or_else(|| "localhost".into())
}

fn lease_name(connector: &str) -> String {
    format!("sync-run:{connector}")
}

/// Takes the lease of every connector in `names` for `holder`, or none of them: a connector
/// held by a live process is [`SyncError::Busy`].
pub(crate) async fn take(
    store: &Store,
    names: &[String],
    holder: &SyncHolder,
    now: DateTime<Utc>,
) -> Result<(), SyncError> {
    let me = holder.to_string();
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut taken: Vec<&String> = Vec::new();
    for name in sorted {
        let job = lease_name(name);
        let got = match store.try_lease(&job, &me, now + SYNC_LEASE, now).await {
            Ok(true) => Ok(true),
            Ok(false) => match store.lease_holder(&job).await {
                Ok(Some((other, _)))
                    if SyncHolder::parse(&other).is_some_and(|h| h.is_dead_here()) =>
                {
                    store
                        .take_over_lease(&job, &other, &me, now + SYNC_LEASE)
                        .await
                }
                Ok(_) => Ok(false),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match got {
            Ok(true) => taken.push(name),
            Ok(false) => {
                let busy = busy(store, name, &job).await;
                release(store, &taken, holder).await;
                return Err(busy);
            }
            Err(e) => {
                release(store, &taken, holder).await;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

async fn busy(store: &Store, connector: &str, job: &str) -> SyncError {
    let holder = store
        .lease_holder(job)
        .await
        .ok()
        .flatten()
        .map(|(h, _)| h)
        .unwrap_or_default();
    let since = store.running_sync_runs().await.ok().and_then(|runs| {
        runs.into_iter()
            .find(|r| r.holder.as_deref() == Some(holder.as_str()))
            .map(|r| r.started_at)
    });
    let by = SyncHolder::parse(&holder)
        .map(|h| format!("PID {} on {}", h.pid, h.host))
        .unwrap_or(holder);
    SyncError::Busy {
        connector: connector.to_owned(),
        holder: by,
        since,
    }
}

/// Gives the leases back; a failure only delays the next sync until they lapse.
pub(crate) async fn release<S: AsRef<str>>(store: &Store, names: &[S], holder: &SyncHolder) {
    let me = holder.to_string();
    for name in names {
        if let Err(e) = store.release_lease(&lease_name(name.as_ref()), &me).await {
            tracing::warn!(connector = name.as_ref(), error = %e, "cannot release the sync lease; it lapses on its own");
        }
    }
}

/// The heartbeat task; dropping it stops the task, so a run cancelled mid-way (a server's
/// graceful stop aborts its scheduled sync) stops renewing leases it no longer uses.
pub(crate) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the leases and the run's heartbeat every [`HEARTBEAT_EVERY`] until dropped.
pub(crate) fn keep_alive(
    store: Store,
    names: Vec<String>,
    holder: &SyncHolder,
    run_id: i64,
) -> Heartbeat {
    let me = holder.to_string();
    Heartbeat(tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT_EVERY).await;
            let now = Utc::now();
            for name in &names {
                if let Err(e) = store
                    .try_lease(&lease_name(name), &me, now + SYNC_LEASE, now)
                    .await
                {
                    tracing::warn!(connector = %name, error = %e, "cannot renew the sync lease");
                }
            }
            if let Err(e) = store.sync_run_heartbeat(run_id, now).await {
                tracing::warn!(run = run_id, error = %e, "cannot renew the sync run's heartbeat");
            }
        }
    }))
}

/// Closes as `aborted` every run this process left `running` and gives back their leases: for
/// a process about to exit whose syncs were cancelled (a server's graceful stop), so that
/// another server takes the connectors at once instead of after [`SYNC_LEASE`]. Returns how
/// many runs it closed. Call it only once those syncs' tasks have ended.
pub async fn abandon_this_process(store: &Store, now: DateTime<Utc>) -> Result<u64, SyncError> {
    let me = SyncHolder::this_process();
    let mine: Vec<(i64, SyncHolder, Vec<String>)> = store
        .running_sync_runs()
        .await?
        .into_iter()
        .filter_map(|r| {
            let holder = SyncHolder::parse(r.holder.as_deref()?)?;
            (holder.host == me.host && holder.pid == me.pid).then(|| {
                let names = serde_json::from_str(&r.connectors).unwrap_or_default();
                (r.id, holder, names)
            })
        })
        .collect();
    let ids: Vec<i64> = mine.iter().map(|(id, _, _)| *id).collect();
    let closed = store.abort_sync_runs(&ids, now).await?;
    for (_, holder, names) in &mine {
        release(store, names, holder).await;
    }
    Ok(closed)
}

/// Whether a run marked `running`, held by `holder` and last alive at `heartbeat`, is dead at
/// `now`: its heartbeat lapsed (or it has none: it predates heartbeats), or its process ran
/// here and is gone.
pub fn run_is_dead(
    holder: Option<&str>,
    heartbeat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let lapsed = heartbeat.is_none_or(|h| h + SYNC_LEASE < now);
    let gone = holder
        .and_then(SyncHolder::parse)
        .is_some_and(|h| h.is_dead_here());
    lapsed || gone
}

/// Closes as aborted the runs left `running` by processes now dead (see the module), marking
/// every evaluation due when there were any. Returns how many were closed.
pub async fn abort_dead_runs(store: &Store, now: DateTime<Utc>) -> Result<u64, SyncError> {
    let dead: Vec<i64> = store
        .running_sync_runs()
        .await?
        .into_iter()
        .filter(|r| run_is_dead(r.holder.as_deref(), r.heartbeat_at, now))
        .map(|r| r.id)
        .collect();
    Ok(store.abort_sync_runs(&dead, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_reads_back_and_only_a_missing_local_pid_is_dead() {
        let me = SyncHolder::this_process();
        let back = SyncHolder::parse(&me.to_string()).unwrap();
        assert_eq!(back, me);
        assert!(!me.is_dead_here(), "this process is alive");
        // No pid is this large on Linux (pid_max is at most 2^22).
        let dead = SyncHolder {
            pid: 4_000_000_000,
            ..me.clone()
        };
        if std::path::Path::new("/proc/self").exists() {
            assert!(dead.is_dead_here());
        }
        let elsewhere = SyncHolder {
            host: format!("{}-elsewhere", me.host),
            ..dead
        };
        assert!(!elsewhere.is_dead_here(), "another host's pid says nothing");
        assert_eq!(SyncHolder::parse("no-separators"), None);
        // A heartbeat older than the lease is dead wherever it ran; a fresh one is not.
        let now = Utc::now();
        let far = "elsewhere.example:1:n";
        assert!(run_is_dead(Some(far), Some(now - SYNC_LEASE * 2), now));
        assert!(!run_is_dead(Some(far), Some(now - SYNC_LEASE / 2), now));
        assert!(run_is_dead(None, None, now), "runs from before heartbeats");
        assert_eq!(SyncHolder::parse("h:notapid:n"), None);
    }
}
