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

    /// Walks the chain: how many events verify, and the first broken one.
    pub async fn verify_audit(&self, p: &Principal) -> Result<(u64, Option<ChainBreak>), AppError> {
        p.require_governance("the audit trail is for admins and auditors")?;
        Ok(self.store.verify_audit().await?)
    }
}
