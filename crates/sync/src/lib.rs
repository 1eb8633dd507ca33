//! The sync engine: runs connectors, streams their pages into the store in batched
//! transactions, writes only what changed (by content hash), keeps history, and sweeps a
//! listing (marks its unseen records gone) only when that listing completed.

mod engine;
mod report;
mod writer;

pub use engine::{NoProgress, Progress, SyncEngine, SyncSource};
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
}
