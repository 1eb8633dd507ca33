//! The sync engine: runs connectors, streams their pages into the store in batched
//! transactions, writes only what changed (by content hash), keeps history, and sweeps a
//! listing (marks its unseen records gone) only when that listing completed.

mod engine;
mod lease;
mod report;
mod writer;

pub use engine::{NoProgress, Progress, SyncEngine, SyncSource};
pub use lease::{
    HEARTBEAT_EVERY, SYNC_LEASE, SyncHolder, abandon_this_process, abort_dead_runs, run_is_dead,
};
pub use report::{ConnectorReport, ListingReport, SyncReport};

/// What stops a sync as a whole. Source failures are not errors here: they are reported per
/// listing and the run ends `partial`.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] roster_store::StoreError),
    /// The write task ended without saying why (it panicked or was cancelled).
    #[error("the store writer stopped unexpectedly")]
    WriterStopped,
    /// Another live process is syncing this connector.
    #[error("connector {connector} is being synced by {holder}{}", since.map(|t| format!(" since {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))).unwrap_or_default())]
    Busy {
        connector: String,
        holder: String,
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
}
