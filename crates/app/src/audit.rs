//! The audit trail as the faces use it: events of sign-in and refusal that only a face sees
//! (recorded through here), the export for admins and auditors, and the chain's verification.

use chrono::{DateTime, Utc};
use roster_store::audit::NewAuditEvent;

pub use roster_store::audit::{
    AuditEvent, AuditFilter, AuditVerification, ChainBreak, ExportedEvent, export_json,
};

use crate::Roster;
use crate::access::Principal;
use crate::error::AppError;

pub const SIGN_IN: &str = "auth.sign_in";
pub const SIGN_IN_FAILED: &str = "auth.sign_in_failed";
pub const SIGN_OUT: &str = "auth.sign_out";
pub const SIGN_OUT_EVERYWHERE: &str = "auth.sign_out_everywhere";
pub const SIGN_IN_LINK_ISSUED: &str = "auth.sign_in_link_issued";
pub const SESSIONS_ENDED: &str = "auth.sessions_ended";
pub const EMAIL_TAKEN: &str = "auth.email_taken";
pub const ACCESS_DENIED: &str = "auth.access_denied";
/// Most events one read returns.
pub const MAX_EVENTS: u64 = 10_000;

/// A point of the chain kept outside the database (a file, a ticket, the SIEM): the newest
/// event when it was taken, and how many events led to it; signed with the configured
/// Ed25519 key (`[audit] signing_key_env|_file`), so that a copy cannot be forged or edited.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub id: i64,
    pub hash: String,
    pub events: u64,
    /// When it was taken (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Ed25519 signature (hex) of [`Checkpoint::signed_text`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The signer's public key (hex), for information: verification uses the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl Checkpoint {
    /// What the signature covers: every field but the signature and the key.
    pub fn signed_text(&self) -> String {
        format!(
            "roster-audit-checkpoint\nid={}\nhash={}\nevents={}\nat={}\n",
            self.id,
            self.hash,
            self.events,
            self.at.as_deref().unwrap_or("")
        )
    }

    pub fn sign(mut self, key: &ed25519_dalek::SigningKey) -> Self {
        use ed25519_dalek::Signer;
        self.signature = Some(hex::encode(
            key.sign(self.signed_text().as_bytes()).to_bytes(),
        ));
        self.public_key = Some(hex::encode(key.verifying_key().to_bytes()));
        self
    }

    /// Checks the signature with `key`: an unsigned checkpoint, or one signed by another key
    /// or edited since, is refused with why.
    pub fn verify_signature(&self, key: &ed25519_dalek::VerifyingKey) -> Result<(), String> {
        let Some(sig) = &self.signature else {
            return Err(
                "the checkpoint is not signed, but a checkpoint key is configured: \
                        anyone could have written it"
                    .into(),
            );
        };
        let sig = hex::decode(sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| ed25519_dalek::Signature::from_bytes(&b))
            .ok_or("the checkpoint's signature is not 64 bytes in hex")?;
        key.verify_strict(self.signed_text().as_bytes(), &sig)
            .map_err(|_| {
                "the checkpoint's signature does not verify with the configured key: it was \
                 edited, or signed by another key"
                    .to_owned()
            })
    }
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

    /// A page of the trail, newest first, narrowed by `f` (the audit-log page), with the
    /// number of events `f` keeps.
    pub async fn audit_log(
        &self,
        p: &Principal,
        f: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<(Vec<AuditEvent>, u64), AppError> {
        p.require_governance("the audit trail is for admins and auditors")?;
        Ok(self
            .store
            .audit_events_filtered(f, before, limit.clamp(1, MAX_EVENTS))
            .await?)
    }

    /// The chain's newest event at `now`, to keep outside the database (`roster audit
    /// checkpoint`, the scheduled checkpoint), signed when a signing key is configured.
    pub async fn audit_checkpoint(
        &self,
        p: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Option<Checkpoint>, AppError> {
        let signing_key = self.config.audit.signing_key()?;
        let (events, broken) = self.verify_audit(p).await?;
        if let Some(b) = broken {
            return Err(AppError::Conflict(format!(
                "the audit trail is broken at event {}: {}; no checkpoint of it is taken",
                b.id, b.reason
            )));
        }
        let Some(newest) = self.store.newest_audit_event().await? else {
            return Ok(None);
        };
        let checkpoint = Checkpoint {
            id: newest.id,
            hash: newest.hash,
            events,
            at: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            signature: None,
            public_key: None,
        };
        Ok(Some(match &signing_key {
            Some(k) => checkpoint.sign(k),
            None => checkpoint,
        }))
    }

    /// [`Roster::verify_audit`], and that the chain still reaches `checkpoint`: deleting the
    /// newest events, or all of them, leaves a chain that verifies on its own but not this.
    pub async fn verify_audit_against(
        &self,
        p: &Principal,
        checkpoint: &Checkpoint,
    ) -> Result<AuditVerification, AppError> {
        // The signature first: it is cheap, and a forged checkpoint says nothing of the chain.
        if let Some(key) = self.config.audit.checkpoint_verifying_key()? {
            checkpoint
                .verify_signature(&key)
                .map_err(AppError::Invalid)?;
        }
        let mut v = self.verify_audit_chain(p).await?;
        if v.broken.is_some() {
            return Ok(v);
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
            Some(_) if v.events < checkpoint.events => {
                Some("fewer events lead to the checkpoint than when it was taken")
            }
            Some(_) => None,
        };
        v.broken = reason.map(|r| ChainBreak {
            id: checkpoint.id,
            reason: r.into(),
        });
        Ok(v)
    }

    /// Walks the chain: how many events verify, and the first broken one.
    pub async fn verify_audit(&self, p: &Principal) -> Result<(u64, Option<ChainBreak>), AppError> {
        let v = self.verify_audit_chain(p).await?;
        Ok((v.events, v.broken))
    }

    /// Walks the chain: how many events verify (and how many of them are not keyed), and the
    /// first broken one.
    pub async fn verify_audit_chain(&self, p: &Principal) -> Result<AuditVerification, AppError> {
        p.require_governance("the audit trail is for admins and auditors")?;
        Ok(self.store.verify_audit_chain().await?)
    }

    /// A consistent copy of the store at `to` (SQLite), audited.
    pub async fn backup_to(&self, p: &Principal, to: &std::path::Path) -> Result<(), AppError> {
        p.require_issue_sign_in_links()?;
        self.store.backup_into(to).await?;
        self.record_event(
            p.actor(),
            "store.backed_up",
            None,
            serde_json::json!({"to": to.display().to_string()}),
            Utc::now(),
        )
        .await
    }

    /// Live records, identities and credentials.
    pub async fn record_count(&self) -> Result<u64, AppError> {
        Ok(self
            .store
            .inventory_count(&roster_store::InventoryFilter::default())
            .await?)
    }

    /// Whether new audit events are keyed (a chain key is configured).
    pub fn audit_chain_keyed(&self) -> bool {
        self.store.audit_keyed()
    }
}
