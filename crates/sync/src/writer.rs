//! The run's store writes, on their own task and in order. The engine lists and classifies the
//! next page while the previous batch is being written; order keeps the guarantees: a listing is
//! recorded complete only after all its batches and its sweep have committed.

use chrono::{DateTime, Utc};
use roster_store::{
    Collision, ListingOutcome, PreparedRecords, RecordRow, RunWrites, Store, StoreError,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::SyncError;

enum WriteOp {
    Records(PreparedRecords),
    Gone(Vec<i64>, DateTime<Utc>),
    Listing(ListingOutcome, DateTime<Utc>),
}

pub(crate) struct RunWriter {
    store: Store,
    run_id: i64,
    tx: Option<mpsc::Sender<WriteOp>>,
    handle: Option<JoinHandle<Result<Vec<Collision>, StoreError>>>,
}

/// Batches queued ahead of the writer; each is at most `batch_size` records, so memory stays
/// bounded.
const QUEUE: usize = 2;

/// The most records one write transaction takes from queued batches.
const GROUP_ROWS: usize = 20_000;

async fn apply(
    writes: &mut RunWrites,
    run_id: i64,
    op: WriteOp,
    collisions: &mut Vec<Collision>,
) -> Result<(), StoreError> {
    match op {
        WriteOp::Records(batch) => {
            collisions.extend(writes.records(batch).await?);
            Ok(())
        }
        WriteOp::Gone(ids, now) => writes.gone(run_id, now, &ids).await,
        WriteOp::Listing(outcome, now) => writes.listing(run_id, now, &outcome).await,
    }
}

impl RunWriter {
    pub(crate) fn start(store: Store, run_id: i64) -> Self {
        let (tx, mut rx) = mpsc::channel::<WriteOp>(QUEUE);
        let task_store = store.clone();
        let handle = tokio::spawn(async move {
            // Ops already queued behind the first join its transaction, up to GROUP_ROWS
            // records: when the engine outpaces the database (a bulk load), each index page
            // goes to the WAL once per group instead of once per batch; when the source is
            // slower, every op commits as soon as it is written, and the write lock is never
            // held while waiting on the source. Order is kept: a listing's outcome commits with
            // or after its batches and sweep.
            // Collisions the store found are reported when the run ends (see `finish`): the
            // engine has moved on by the time a batch is written.
            let mut collisions = Vec::new();
            while let Some(op) = rx.recv().await {
                let mut writes = task_store.begin_run_writes().await?;
                apply(&mut writes, run_id, op, &mut collisions).await?;
                while writes.rows() < GROUP_ROWS {
                    match rx.try_recv() {
                        Ok(op) => apply(&mut writes, run_id, op, &mut collisions).await?,
                        Err(_) => break,
                    }
                }
                writes.commit().await?;
            }
            Ok(collisions)
        });
        Self {
            store,
            run_id,
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    async fn send(&mut self, op: WriteOp) -> Result<(), SyncError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(op).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped: its own error says why.
            Err(self
                .finish()
                .await
                .err()
                .unwrap_or(SyncError::WriterStopped))
        }
    }

    pub(crate) async fn records(
        &mut self,
        rows: Vec<RecordRow>,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        if rows.is_empty() {
            return Ok(());
        }
        // Built here, on the engine's task, while the writer commits the batch before.
        let batch = self.store.prepare_records(self.run_id, now, rows);
        self.send(WriteOp::Records(batch)).await
    }

    pub(crate) async fn gone(
        &mut self,
        ids: Vec<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.send(WriteOp::Gone(ids, now)).await
    }

    pub(crate) async fn listing(
        &mut self,
        outcome: ListingOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        self.send(WriteOp::Listing(outcome, now)).await
    }

    /// Waits until everything queued is committed; returns the records the store skipped as
    /// id collisions with stored records of other natural keys.
    pub(crate) async fn finish(&mut self) -> Result<Vec<Collision>, SyncError> {
        self.tx = None;
        match self.handle.take() {
            Some(handle) => match handle.await {
                Ok(result) => result.map_err(SyncError::from),
                Err(_) => Err(SyncError::WriterStopped),
            },
            None => Ok(Vec::new()),
        }
    }
}
