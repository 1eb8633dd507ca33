//! The run's store writes, on their own task and in order. The engine lists and classifies the
//! next page while the previous batch is being written; order keeps the guarantees: a listing is
//! recorded complete only after all its batches and its sweep have committed.

use chrono::{DateTime, Utc};
use roster_store::{ListingOutcome, RecordRow, Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::SyncError;

enum WriteOp {
    Records(Vec<RecordRow>, DateTime<Utc>),
    Gone(Vec<i64>, DateTime<Utc>),
    Listing(ListingOutcome, DateTime<Utc>),
}

pub(crate) struct RunWriter {
    tx: Option<mpsc::Sender<WriteOp>>,
    handle: Option<JoinHandle<Result<(), StoreError>>>,
}

/// Batches queued ahead of the writer; each is at most `batch_size` records, so memory stays
/// bounded.
const QUEUE: usize = 2;

impl RunWriter {
    pub(crate) fn start(store: Store, run_id: i64) -> Self {
        let (tx, mut rx) = mpsc::channel::<WriteOp>(QUEUE);
        let handle = tokio::spawn(async move {
            while let Some(op) = rx.recv().await {
                match op {
                    WriteOp::Records(rows, now) => store.write_records(run_id, now, &rows).await?,
                    WriteOp::Gone(ids, now) => store.mark_gone(run_id, now, &ids).await?,
                    WriteOp::Listing(outcome, now) => {
                        store.record_listing(run_id, now, &outcome).await?
                    }
                }
            }
            Ok(())
        });
        Self {
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
        self.send(WriteOp::Records(rows, now)).await
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

    /// Waits until everything queued is committed.
    pub(crate) async fn finish(&mut self) -> Result<(), SyncError> {
        self.tx = None;
        match self.handle.take() {
            Some(handle) => match handle.await {
                Ok(result) => result.map_err(SyncError::from),
                Err(_) => Err(SyncError::WriterStopped),
            },
            None => Ok(()),
        }
    }
}
