//! The audit trail as the faces use it: events of sign-in and refusal that only a face sees
//! (recorded through here), the export for admins and auditors, and the chain's verification.

use chrono::{DateTime, Utc};
use roster_store::audit::NewAuditEvent;

pub use roster_store::audit::{AuditEvent, ChainBreak, export_json};

use crate::Roster;
use crate::access::Principal;
use crate::error::AppError;

pub const SIGN_IN: &str = "auth.sign_in";
pub const SIGN_IN_FAILED: &str = "auth.sign_in_failed";
pub const SIGN_OUT: &str = "auth.sign_out";
pub const ACCESS_DENIED: &str = "auth.access_denied";
/// Most events one read returns.
pub const MAX_EVENTS: u64 = 10_000;

/// A point of the chain kept outside the database (a file, a ticket, the SIEM): the newest
/// event when it was taken, and how many events led to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub id: i64,
    pub hash: String,
    pub events: u64,
}

impl Roster {
    /// Appends an event a face observed (a sign-in, a refusal). Fails when it cannot be
    /// written: then what it records must not happen.
    pub async fn record_event(
        &self,
        actor: String,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.store
            .append_audit(
                NewAuditEvent {
                    actor,
                    action: action.to_owned(),
                    target,
                    detail,
                },
                now,
            )
            .await?;
        Ok(())
    }

    /// Events with an id above `after`, oldest first, at most `limit` (capped at
    /// [`MAX_EVENTS`]).
    pub async fn audit_events(
        &self,
        p: &Principal,
        after: i64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, AppError> {
        p.require_governance("the audit trail is for admins and auditors")?;
        Ok(self
            .store
            .audit_events_after(after, limit.clamp(1, MAX_EVENTS))
            .await?)
    }

    /// The chain's newest event, to keep outside the database (`roster audit checkpoint`).
    pub async fn audit_checkpoint(&self, p: &Principal) -> Result<Option<Checkpoint>, AppError> {
        let (events, broken) = self.verify_audit(p).await?;
        if let Some(b) = broken {
            return Err(AppError::Conflict(format!(
                "the audit trail is broken at event {}: {}; no checkpoint of it is taken",
                b.id, b.reason
            )));
        }
        let mut after = 0;
        let mut newest = None;
        loop {
            let batch = self.store.audit_events_after(after, MAX_EVENTS).await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = last.id;
            newest = Some(last.clone());
        }
        Ok(newest.map(|e| Checkpoint {
            id: e.id,
            hash: e.hash,
            events,
        }))
    }

    /// [`Roster::verify_audit`], and that the chain still reaches `checkpoint`: deleting the
    /// newest events, or all of them, leaves a chain that verifies on its own but not this.
    pub async fn verify_audit_against(
        &self,
        p: &Principal,
        checkpoint: &Checkpoint,
    ) -> Result<(u64, Option<ChainBreak>), AppError> {
        let (events, broken) = self.verify_audit(p).await?;
        if broken.is_some() {
            return Ok((events, broken));
        }
        let kept = self
            .store
            .audit_events_after(checkpoint.id - 1, 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.id == checkpoint.id);
        let reason = match kept {
            None => Some("the checkpoint's event is gone: the trail was shortened"),
            Some(e) if e.hash != checkpoint.hash => {
                Some("the checkpoint's event has another hash: the trail was rewritten")
            }
            Some(_) if events < checkpoint.events => {
                Some("fewer events lead to the checkpoint than when it was taken")
            }
            Some(_) => None,
        };
        Ok((
            events,
            reason.map(|r| ChainBreak {
                id: checkpoint.id,
                reason: r.into(),
            }),
        ))
    }

    /// Walks the chain: how many events verify, and the first broken one.
    pub async fn verify_audit(&self, p: &Principal) -> Result<(u64, Option<ChainBreak>), AppError> {
        p.require_governance("the audit trail is for admins and auditors")?;
        Ok(self.store.verify_audit().await?)
    }
}
