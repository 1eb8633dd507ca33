//! The audit trail: append-only, hash-chained. Appends are serialised (one transaction; on
//! PostgreSQL under an advisory lock) so that two writers never link to the same predecessor.
//! With a chain key (`[audit] chain_key_env|_file`, never in the database) each link is an
//! HMAC-SHA256, written `hmac-sha256:<hex>`: someone who can write the table but has not the
//! key can no longer rewrite events and recompute the chain after them.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::entity::{audit_delivery, audit_event};
use crate::{Store, StoreError};

/// The prefix of a keyed link.
pub const KEYED: &str = "hmac-sha256:";

/// The audit chain's HMAC key. Never stored, never printed.
#[derive(Clone)]
pub struct AuditKey(std::sync::Arc<[u8]>);

impl AuditKey {
    /// The shortest key taken: below this a key can be guessed.
    pub const MIN_LEN: usize = 16;

    pub fn new(key: &[u8]) -> Option<Self> {
        (key.len() >= Self::MIN_LEN).then(|| Self(std::sync::Arc::from(key)))
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(redacted)")
    }
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditVerification {
    /// Events that verify, from the first.
    pub events: u64,
    /// Of those, how many are only hash-chained (written before a chain key was set).
    pub unkeyed: u64,
    pub broken: Option<ChainBreak>,
}

/// The hash the first event links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Arbitrary key of the PostgreSQL advisory lock that serialises appends.
const APPEND_LOCK: i64 = 0x0005_260a_0d17;

pub use audit_event::Model as AuditEvent;

/// What an audit-log view keeps: exact actor and target, an action or (ending in `.`) an action
/// family, a time range `[since, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// What to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

/// The export form of an event (`roster audit export`, `/api/v1/audit-events`, the SIEM
/// webhook): `detail` as JSON rather than the stored text.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ExportedEvent {
    pub id: i64,
    /// RFC 3339, microseconds, UTC.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// What happened, as JSON (the stored text when it is not JSON).
    pub detail: serde_json::Value,
    /// The previous event's `hash`.
    pub prev_hash: String,
    /// SHA-256 (keyed when the chain has a key) over `prev_hash` and this event.
    pub hash: String,
}

impl From<&AuditEvent> for ExportedEvent {
    fn from(ev: &AuditEvent) -> Self {
        Self {
            id: ev.id,
            at: ev.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor: ev.actor.clone(),
            action: ev.action.clone(),
            target: ev.target.clone(),
            detail: serde_json::from_str(&ev.detail)
                .unwrap_or_else(|_| serde_json::Value::String(ev.detail.clone())),
            prev_hash: ev.prev_hash.clone(),
            hash: ev.hash.clone(),
        }
    }
}

/// [`ExportedEvent`] as a JSON value (its keys in the order `serde_json` maps keep).
pub fn export_json(ev: &AuditEvent) -> serde_json::Value {
    serde_json::to_value(ExportedEvent::from(ev)).unwrap_or_default()
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub id: i64,
    pub reason: String,
}

fn event_hash(
    key: Option<&AuditKey>,
    prev: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: &str,
) -> String {
    // serde_json sorts object keys, so this text is canonical.
    let content = json!({
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor": actor,
        "action": action,
        "target": target,
        "detail": detail,
    })
    .to_string();
    match key {
        Some(AuditKey(k)) => {
            use hmac::Mac;
            // Any key length is valid for HMAC; `new_from_slice` cannot fail here.
            let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(k) else {
                unreachable!("HMAC takes keys of any length")
            };
            mac.update(prev.as_bytes());
            mac.update(b"\n");
            mac.update(content.as_bytes());
            format!("{KEYED}{:x}", mac.finalize().into_bytes())
        }
        None => {
            let mut h = Sha256::new();
            h.update(prev.as_bytes());
            h.update(b"\n");
            h.update(content.as_bytes());
            format!("{:x}", h.finalize())
        }
    }
}

/// Serialises appends until `txn` ends: PostgreSQL's advisory lock. (On SQLite the transaction
/// holds the write lock from its start: [`crate::begin_write`].)
async fn lock_appends(txn: &DatabaseTransaction) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({APPEND_LOCK})"),
        ))
        .await?;
    }
    Ok(())
}

/// Appends one event inside the caller's transaction, so a state change and its audit event
/// commit together or not at all.
pub async fn append_audit_in(
    txn: &DatabaseTransaction,
    key: Option<&AuditKey>,
    e: NewAuditEvent,
    at: DateTime<Utc>,
) -> Result<AuditEvent, StoreError> {
    // Microseconds: what both databases store, so the hash recomputes from the row.
    let at = at.trunc_subsecs(6);
    let detail = e.detail.to_string();
    lock_appends(txn).await?;
    let prev = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .one(txn)
        .await?
        .map_or_else(|| GENESIS.to_owned(), |p| p.hash);
    let hash = event_hash(
        key,
        &prev,
        at,
        &e.actor,
        &e.action,
        e.target.as_deref(),
        &detail,
    );
    Ok(audit_event::ActiveModel {
        at: Set(at),
        actor: Set(e.actor),
        action: Set(e.action),
        target: Set(e.target),
        detail: Set(detail),
        prev_hash: Set(prev),
        hash: Set(hash),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

impl Store {
    /// Appends one event at `at`, linked to the last one, in its own transaction.
    pub async fn append_audit(
        &self,
        e: NewAuditEvent,
        at: DateTime<Utc>,
    ) -> Result<AuditEvent, StoreError> {
        let txn = self.begin_write().await?;
        let saved = append_audit_in(&txn, self.audit_key.as_ref(), e, at).await?;
        txn.commit().await?;
        Ok(saved)
    }

    /// Walks the chain from the first event; the first event whose link or hash does not hold.
    pub async fn verify_audit(&self) -> Result<(u64, Option<ChainBreak>), StoreError> {
        let v = self.verify_audit_chain().await?;
        Ok((v.events, v.broken))
    }

    /// Walks the chain from the first event. Keyed links need the chain key (without it the
    /// walk is refused, not passed); once links are keyed, an unkeyed one after them is a
    /// break: it was written by someone without the key.
    pub async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        let mut prev = GENESIS.to_owned();
        let mut v = AuditVerification::default();
        let mut keyed_seen = false;
        let mut after = i64::MIN;
        let broken = |id: i64, reason: &str| ChainBreak {
            id,
            reason: reason.into(),
        };
        loop {
            let batch = audit_event::Entity::find()
                .filter(audit_event::Column::Id.gt(after))
                .order_by_asc(audit_event::Column::Id)
                .limit(1000)
                .all(&self.db)
                .await?;
            if batch.is_empty() {
                return Ok(v);
            }
            for ev in batch {
                if ev.prev_hash != prev {
                    v.broken = Some(broken(
                        ev.id,
                        "its link does not match the previous event's hash (an event before it was changed or removed)",
                    ));
                    return Ok(v);
                }
                let keyed = ev.hash.starts_with(KEYED);
                let key = match (keyed, &self.audit_key) {
                    (true, None) => {
                        return Err(StoreError::Conflict(format!(
                            "event {} on is keyed (HMAC): set audit.chain_key_env or \
                             audit.chain_key_file to the chain key to verify the trail",
                            ev.id
                        )));
                    }
                    (true, Some(k)) => Some(k),
                    (false, _) if keyed_seen => {
                        v.broken = Some(broken(
                            ev.id,
                            "it is not keyed, yet comes after keyed events: it was written or rewritten without the chain key",
                        ));
                        return Ok(v);
                    }
                    (false, _) => None,
                };
                let expect = event_hash(
                    key,
                    &prev,
                    ev.at,
                    &ev.actor,
                    &ev.action,
                    ev.target.as_deref(),
                    &ev.detail,
                );
                if ev.hash != expect {
                    v.broken = Some(broken(
                        ev.id,
                        if keyed {
                            "its content does not match its keyed hash (the event was changed, or the chain key is not the one it was written with)"
                        } else {
                            "its content does not match its hash (the event was changed)"
                        },
                    ));
                    return Ok(v);
                }
                keyed_seen |= keyed;
                v.unkeyed += u64::from(!keyed);
                prev = ev.hash;
                after = ev.id;
                v.events += 1;
            }
        }
    }

    /// Whether any event of `action` was ever recorded.
    pub async fn audit_action_seen(&self, action: &str) -> Result<bool, StoreError> {
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq(action))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// How many events have an id up to `id`.
    pub async fn audit_events_up_to(&self, id: i64) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::Id.lte(id))
            .count(&self.db)
            .await?)
    }

    /// The chain's head.
    pub async fn newest_audit_event(&self) -> Result<Option<AuditEvent>, StoreError> {
        Ok(audit_event::Entity::find()
            .order_by_desc(audit_event::Column::Id)
            .limit(1)
            .one(&self.db)
            .await?)
    }

    /// Up to `limit` events with an id above `after`, oldest first.
    pub async fn audit_events_after(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(after))
            .order_by_asc(audit_event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// One page of the trail, newest first, narrowed by `f`, before event `before`; with how
    /// many events `f` keeps in all.
    pub async fn audit_events_filtered(
        &self,
        f: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<(Vec<AuditEvent>, u64), StoreError> {
        use sea_orm::PaginatorTrait;
        let mut q = audit_event::Entity::find();
        if let Some(a) = f.actor.as_deref().filter(|a| !a.is_empty()) {
            q = q.filter(audit_event::Column::Actor.eq(a));
        }
        if let Some(a) = f.action.as_deref().filter(|a| !a.is_empty()) {
            // `campaign.` (a trailing dot) is every campaign action.
            q = match a.strip_suffix('.') {
                Some(prefix) => {
                    q.filter(audit_event::Column::Action.starts_with(format!("{prefix}.")))
                }
                None => q.filter(audit_event::Column::Action.eq(a)),
            };
        }
        if let Some(t) = f.target.as_deref().filter(|t| !t.is_empty()) {
            q = q.filter(audit_event::Column::Target.eq(t));
        }
        if let Some(since) = f.since {
            q = q.filter(audit_event::Column::At.gte(since));
        }
        if let Some(until) = f.until {
            q = q.filter(audit_event::Column::At.lt(until));
        }
        let total = q.clone().count(&self.db).await?;
        if let Some(b) = before {
            q = q.filter(audit_event::Column::Id.lt(b));
        }
        let events = q
            .order_by_desc(audit_event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((events, total))
    }

    /// Appends `action` with `detail.sha256 = sha256` unless the last `action` event already
    /// recorded that hash; returns the event appended, if any. Read and append share one
    /// transaction (and on PostgreSQL the append lock), so two servers starting together record
    /// one change once.
    pub async fn record_hash_change(
        &self,
        actor: &str,
        action: &str,
        target: Option<String>,
        sha256: &str,
        mut detail: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<Option<AuditEvent>, StoreError> {
        let txn = self.begin_write().await?;
        lock_appends(&txn).await?;
        let last = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq(action))
            .order_by_desc(audit_event::Column::Id)
            .limit(1)
            .one(&txn)
            .await?;
        let previous = last.and_then(|ev| {
            serde_json::from_str::<serde_json::Value>(&ev.detail)
                .ok()
                .and_then(|d| d.get("sha256").and_then(|h| h.as_str()).map(str::to_owned))
        });
        if previous.as_deref() == Some(sha256) {
            return Ok(None);
        }
        if let Some(map) = detail.as_object_mut() {
            map.insert("sha256".into(), json!(sha256));
            map.insert("previous_sha256".into(), json!(previous));
        }
        let saved = append_audit_in(
            &txn,
            self.audit_key.as_ref(),
            NewAuditEvent {
                actor: actor.to_owned(),
                action: action.to_owned(),
                target,
                detail,
            },
            at,
        )
        .await?;
        txn.commit().await?;
        Ok(Some(saved))
    }

    /// The id of the last event `sink` accepted (0: none yet).
    pub async fn audit_delivery_cursor(&self, sink: &str) -> Result<i64, StoreError> {
        Ok(audit_delivery::Entity::find_by_id(sink.to_owned())
            .one(&self.db)
            .await?
            .map_or(0, |c| c.last_event_id))
    }

    /// Moves `sink`'s cursor to `last_event_id`.
    pub async fn set_audit_delivery_cursor(
        &self,
        sink: &str,
        last_event_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        audit_delivery::Entity::insert(audit_delivery::ActiveModel {
            sink: Set(sink.to_owned()),
            last_event_id: Set(last_event_id),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(audit_delivery::Column::Sink)
                .update_columns([
                    audit_delivery::Column::LastEventId,
                    audit_delivery::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// One event by its id.
    pub async fn audit_event(&self, id: i64) -> Result<AuditEvent, StoreError> {
        audit_event::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("audit event {id}")))
    }

    /// Events about `target` with `action`, newest first.
    pub async fn audit_events_for(
        &self,
        target: &str,
        action: &str,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::Target.eq(target))
            .filter(audit_event::Column::Action.eq(action))
            .order_by_desc(audit_event::Column::Id)
            .all(&self.db)
            .await?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev(action: &str, n: i64) -> NewAuditEvent {
        NewAuditEvent {
            actor: "cli:alice".into(),
            action: action.into(),
            target: Some("00000000000000aa".into()),
            detail: json!({"n": n, "reason": "test"}),
        }
    }

    /// SQLite: an append that starts while another connection holds the write lock waits for
    /// it and links to the event that connection committed, rather than reading the chain's
    /// head first and failing at once (SQLITE_BUSY_SNAPSHOT) when that commit lands.
    #[tokio::test]
    async fn an_append_waits_for_another_connections_write() {
        let file = std::env::temp_dir().join(format!(
            "roster-append-{}-{}.db",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let first = Store::connect(&url).await.unwrap();
        first.migrate().await.unwrap();
        let second = Store::connect(&url).await.unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        first.append_audit(ev("sync", 0), at).await.unwrap();

        // The other connection holds the write lock, with an event not yet committed.
        let held = first.begin_write().await.unwrap();
        append_audit_in(&held, None, ev("sync", 1), at)
            .await
            .unwrap();
        let waiting = tokio::spawn(async move { second.append_audit(ev("sync", 2), at).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        held.commit().await.unwrap();

        let appended = waiting.await.unwrap();
        assert!(appended.is_ok(), "{appended:?}");
        assert_eq!(first.verify_audit().await.unwrap(), (3, None));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    #[tokio::test]
    async fn chain_verifies_and_names_the_first_tampered_event() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let at = Utc.with_ymd_and_hms(2026, 11, 22, 1, 2, 3).unwrap()
                + chrono::Duration::nanoseconds(123_456_789);
            let mut ids = Vec::new();
            for n in 0..4 {
                ids.push(
                    s.append_audit(ev("remediation.deactivate", n), at)
                        .await
                        .unwrap()
                        .id,
                );
            }
            assert_eq!(s.verify_audit().await.unwrap(), (4, None), "{}", t.backend);
            assert_eq!(
                s.audit_events_for("00000000000000aa", "remediation.deactivate")
                    .await
                    .unwrap()
                    .len(),
                4
            );

            // The database itself refuses to change or remove an event.
            for sql in [
                format!(
                    "UPDATE audit_events SET detail = '{{}}' WHERE id = {}",
                    ids[2]
                ),
                format!("DELETE FROM audit_events WHERE id = {}", ids[3]),
            ] {
                let refused =
                    s.db.execute(Statement::from_string(s.db.get_database_backend(), sql))
                        .await
                        .unwrap_err()
                        .to_string();
                assert!(refused.contains("append-only"), "{}: {refused}", t.backend);
            }
            if t.backend == "postgres" {
                let refused =
                    s.db.execute(Statement::from_string(
                        s.db.get_database_backend(),
                        "TRUNCATE audit_events",
                    ))
                    .await
                    .unwrap_err()
                    .to_string();
                assert!(refused.contains("append-only"), "{refused}");
            }
            assert_eq!(s.verify_audit().await.unwrap(), (4, None), "{}", t.backend);

            // Someone with the owner's rights drops the guards and changes the third event's
            // detail behind the store's back.
            crate::testing::drop_audit_guards(s).await.unwrap();
            s.db.execute(Statement::from_string(
                s.db.get_database_backend(),
                format!(
                    "UPDATE audit_events SET detail = '{{\"n\":99}}' WHERE id = {}",
                    ids[2]
                ),
            ))
            .await
            .unwrap();
            let (ok, broken) = s.verify_audit().await.unwrap();
            assert_eq!(ok, 2, "{}", t.backend);
            assert_eq!(broken.unwrap().id, ids[2]);

            // Removing an event breaks the link of the next one.
            s.db.execute(Statement::from_string(
                s.db.get_database_backend(),
                format!(
                    "UPDATE audit_events SET detail = '{}' WHERE id = {}",
                    ev("x", 2).detail.to_string().replace("\"x\"", ""),
                    ids[2]
                ),
            ))
            .await
            .unwrap();
            s.db.execute(Statement::from_string(
                s.db.get_database_backend(),
                format!("DELETE FROM audit_events WHERE id = {}", ids[1]),
            ))
            .await
            .unwrap();
            let (_, broken) = s.verify_audit().await.unwrap();
            assert_eq!(broken.unwrap().id, ids[2], "{}", t.backend);
        }
    }

    #[tokio::test]
    async fn a_keyed_chain_cannot_be_extended_or_rewritten_without_its_key() {
        assert!(AuditKey::new(b"too-short").is_none());
        let key = || AuditKey::new(b"0123456789abcdef-chain-key");
        for t in crate::testing::test_stores().await.unwrap() {
            let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
            let plain = t.store.clone();
            plain
                .append_audit(ev("before.keying", 0), at)
                .await
                .unwrap();
            let keyed = t.store.clone().with_audit_key(key());
            let first_keyed = keyed.append_audit(ev("sync", 1), at).await.unwrap();
            assert!(first_keyed.hash.starts_with(KEYED), "{}", first_keyed.hash);
            keyed.append_audit(ev("sync", 2), at).await.unwrap();
            let v = keyed.verify_audit_chain().await.unwrap();
            assert_eq!(
                (v.events, v.unkeyed, v.broken),
                (3, 1, None),
                "{}",
                t.backend
            );

            // Without the key the keyed links cannot be checked: refused, never passed.
            let refused = plain.verify_audit_chain().await.unwrap_err().to_string();
            assert!(refused.contains("chain_key"), "{refused}");
            // Another key: broken at the first keyed event.
            let other = t
                .store
                .clone()
                .with_audit_key(AuditKey::new(b"another-key-0123456789"));
            let broken = other.verify_audit_chain().await.unwrap().broken.unwrap();
            assert_eq!(broken.id, first_keyed.id, "{}", t.backend);
            assert!(broken.reason.contains("chain key"), "{}", broken.reason);

            // Someone who can write the table but has not the key extends the chain.
            let forged = plain.append_audit(ev("forged", 3), at).await.unwrap();
            let broken = keyed.verify_audit_chain().await.unwrap().broken.unwrap();
            assert_eq!(broken.id, forged.id, "{}", t.backend);
            assert!(
                broken.reason.contains("without the chain key"),
                "{}",
                broken.reason
            );
        }
    }
}
