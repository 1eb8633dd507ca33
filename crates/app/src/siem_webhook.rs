//! The audit trail's copy to a SIEM: `roster serve` POSTs every audit event, oldest first, one
//! per request, to `[audit] webhook_url_*`. Delivery is at least once: the id of the last event
//! the receiver accepted is kept in the database (`audit_deliveries`), so a restart resumes after
//! it; an event is retried with backoff a bounded number of times, then the round stops (the
//! cursor stays before it) and the next round starts over from that event.
//!
//! Each body is the event's export form (as `roster audit export` prints it). With
//! `webhook_secret_*`, `X-Roster-Signature: sha256=<hex>` is the HMAC-SHA256 of the body under
//! that key. `X-Roster-Event-Id` carries the event id so a receiver can drop duplicates. With
//! `[audit] signing_key_*`, `X-Roster-Checkpoint` carries a signed checkpoint of the trail up to
//! that event (compact JSON, see [`crate::audit::Checkpoint`]): the SIEM then holds proof of
//! how long the trail was, which a later `roster audit verify --checkpoint` can be run against.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use roster_connector_sdk::Clock;
use roster_store::{Store, StoreError};
use sha2::Sha256;

use crate::config::{AuditConfig, ConfigError, read_secret};

/// The cursor's name in `audit_deliveries`.
pub const SINK: &str = "siem-webhook";
pub const SIGNATURE_HEADER: &str = "X-Roster-Signature";
pub const EVENT_ID_HEADER: &str = "X-Roster-Event-Id";
pub const CHECKPOINT_HEADER: &str = "X-Roster-Checkpoint";
/// Events read per round trip to the database.
const BATCH: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the SIEM webhook could not be reached: {0}")]
    Unreachable(String),
    #[error("the SIEM webhook answered HTTP {0}")]
    Status(u16),
    #[error("audit event {id} not delivered after {attempts} attempts: {last}")]
    GaveUp {
        id: i64,
        attempts: u32,
        last: Box<DeliveryError>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per event per round.
    pub attempts: u32,
    /// The wait after the first failure; doubled after each further one, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// The wait between rounds when nothing is pending or a round gave up.
    pub poll: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            poll: Duration::from_secs(2),
        }
    }
}

pub struct SiemWebhook {
    http: reqwest::Client,
    url: reqwest::Url,
    key: Option<Vec<u8>>,
    /// Signs each delivery's checkpoint (`[audit] signing_key_*`).
    checkpoint_key: Option<ed25519_dalek::SigningKey>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    /// Counts delivery attempts and lease hand-overs (`roster serve`).
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl SiemWebhook {
    /// The webhook `[audit]` configures, secrets read; `None` when no URL is configured.
    pub fn from_config(
        cfg: &AuditConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(url) = read_secret(
            "audit.webhook_url",
            cfg.webhook_url_env.as_deref(),
            cfg.webhook_url_file.as_deref(),
        )?
        else {
            if cfg.webhook_secret_env.is_some() || cfg.webhook_secret_file.is_some() {
                return Err(ConfigError::BadValue {
                    key: "audit.webhook_secret_env".into(),
                    detail: "a signing key without `webhook_url_env` / `webhook_url_file`".into(),
                });
            }
            return Ok(None);
        };
        let key = read_secret(
            "audit.webhook_secret",
            cfg.webhook_secret_env.as_deref(),
            cfg.webhook_secret_file.as_deref(),
        )?;
        let checkpoint_key = cfg.signing_key()?;
        Self::new(&url, key.as_deref(), RetryPolicy::default(), clock)
            .map(|w| Some(w.with_checkpoint_key(checkpoint_key)))
    }

    pub fn new(
        url: &str,
        key: Option<&str>,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        // The URL's text is never repeated: it may carry the receiver's token.
        let bad_url = || ConfigError::BadValue {
            key: "audit.webhook_url".into(),
            detail: "not an http(s) URL".into(),
        };
        let url = reqwest::Url::parse(url).map_err(|_| bad_url())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad_url());
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| ConfigError::BadValue {
                key: "audit.webhook_url".into(),
                detail: e.without_url().to_string(),
            })?;
        Ok(Self {
            http,
            url,
            key: key.map(|k| k.as_bytes().to_vec()),
            checkpoint_key: None,
            retry,
            clock,
            metrics: None,
        })
    }

    /// Sends a signed checkpoint with every event.
    pub fn with_checkpoint_key(mut self, key: Option<ed25519_dalek::SigningKey>) -> Self {
        self.checkpoint_key = key;
        self
    }

    /// `sha256=<hex>` of `body` under the key, if one is configured.
    pub fn signature(&self, body: &[u8]) -> Option<String> {
        let key = self.key.as_ref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(format!("sha256={hex}"))
    }

    async fn post(
        &self,
        id: i64,
        body: &[u8],
        checkpoint: Option<&str>,
    ) -> Result<(), DeliveryError> {
        let mut req = self
            .http
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .header(EVENT_ID_HEADER, id.to_string())
            .body(body.to_vec());
        if let Some(sig) = self.signature(body) {
            req = req.header(SIGNATURE_HEADER, sig);
        }
        if let Some(c) = checkpoint {
            req = req.header(CHECKPOINT_HEADER, c);
        }
        let sent = match req.send().await {
            Err(e) => Err(DeliveryError::Unreachable(e.without_url().to_string())),
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(DeliveryError::Status(resp.status().as_u16())),
        };
        if let Some(m) = &self.metrics {
            m.siem_attempt(sent.is_ok());
        }
        sent
    }

    /// One event, with up to `attempts` tries and a doubling wait between them.
    async fn deliver_one(
        &self,
        id: i64,
        body: &[u8],
        checkpoint: Option<&str>,
    ) -> Result<(), DeliveryError> {
        let mut wait = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            match self.post(id, body, checkpoint).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= self.retry.attempts => {
                    return Err(DeliveryError::GaveUp {
                        id,
                        attempts: attempt,
                        last: Box::new(e),
                    });
                }
                Err(e) => {
                    tracing::warn!(event = id, attempt, error = %e, "audit event not delivered; retrying");
                    self.clock.sleep(wait).await;
                    wait = (wait * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
            }
        }
    }

    /// Delivers every event after the stored cursor, in order, moving the cursor after each
    /// one; returns how many were delivered. Stops at an event that could not be delivered.
    pub async fn deliver_pending(&self, store: &Store) -> Result<u64, DeliveryError> {
        self.deliver_holding(store, None).await
    }

    /// The lease's length: a few polls. Short, so a server that died hands over quickly; it is
    /// renewed after every event, so a long backlog keeps it.
    fn lease_length(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.retry.poll * 5)
            .unwrap_or_else(|_| chrono::Duration::seconds(10))
    }

    /// [`Self::deliver_pending`], renewing `holder`'s lease after each event and stopping if
    /// another server has taken it.
    async fn deliver_holding(
        &self,
        store: &Store,
        holder: Option<&str>,
    ) -> Result<u64, DeliveryError> {
        let mut after = store.audit_delivery_cursor(SINK).await?;
        let mut delivered = 0;
        // How many events lead up to each one: counted once, then one more per event.
        let mut events = match self.checkpoint_key {
            Some(_) => store.audit_events_up_to(after).await?,
            None => 0,
        };
        loop {
            let batch = store.audit_events_after(after, BATCH).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            for ev in batch {
                let body = roster_store::audit::export_json(&ev).to_string();
                events += 1;
                let checkpoint = self.checkpoint_key.as_ref().map(|key| {
                    let c = crate::audit::Checkpoint {
                        id: ev.id,
                        hash: ev.hash.clone(),
                        events,
                        at: Some(
                            self.clock
                                .now()
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        ),
                        signature: None,
                        public_key: None,
                    };
                    serde_json::to_string(&c.sign(key)).unwrap_or_default()
                });
                self.deliver_one(ev.id, body.as_bytes(), checkpoint.as_deref())
                    .await?;
                store
                    .set_audit_delivery_cursor(SINK, ev.id, self.clock.now())
                    .await?;
                after = ev.id;
                delivered += 1;
                if let Some(holder) = holder {
                    let now = self.clock.now();
                    if !store
                        .try_lease(SINK_LEASE, holder, now + self.lease_length(), now)
                        .await?
                    {
                        return Ok(delivered);
                    }
                }
            }
        }
    }

    /// Runs for as long as the server does. With several servers on one database, the one
    /// holding the `siem-webhook` lease delivers, renewing it each round and after each event;
    /// when it stops, another takes over a few polls later from the persisted cursor. (While
    /// one event is being retried the lease can lapse, so a receiver that keeps failing may
    /// get an event from two servers: delivery is at least once.)
    pub async fn run(self, store: Store, holder: String) {
        loop {
            let now = self.clock.now();
            match crate::metrics::take_lease(
                &store,
                self.metrics.as_deref(),
                SINK_LEASE,
                &holder,
                now + self.lease_length(),
                now,
            )
            .await
            {
                Ok(true) => match self.deliver_holding(&store, Some(&holder)).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::debug!(events = n, "audit events delivered to the SIEM webhook")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "audit delivery to the SIEM webhook paused")
                    }
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take the SIEM delivery lease"),
            }
            self.clock.sleep(self.retry.poll).await;
        }
    }
}

/// The lease that makes one server deliver at a time.
const SINK_LEASE: &str = "siem-webhook";

impl crate::Roster {
    /// The webhook's delivery loop over this Roster's audit trail (run it on its own task).
    pub fn siem_delivery(
        &self,
        siem: SiemWebhook,
        holder: String,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let siem = SiemWebhook {
            metrics: self.metrics.clone(),
            ..siem
        };
        siem.run(self.store.clone(), holder)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use roster_connector_sdk::FakeClock;
    use roster_store::audit::NewAuditEvent;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const KEY: &str = "canary-siem-signing-key";

    async fn append(store: &Store, n: usize) {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        for i in 0..n {
            store
                .append_audit(
                    NewAuditEvent {
                        actor: "cli:test".into(),
                        action: "test.event".into(),
                        target: Some(format!("n:{i}")),
                        detail: serde_json::json!({"i": i}),
                    },
                    at,
                )
                .await
                .unwrap();
        }
    }

    fn webhook(url: &str, clock: Arc<FakeClock>) -> SiemWebhook {
        SiemWebhook::new(
            url,
            Some(KEY),
            RetryPolicy {
                attempts: 4,
                first_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(30),
                poll: Duration::from_secs(2),
            },
            clock,
        )
        .unwrap()
    }

    /// Ids, in arrival order, of the events the receiver answered 2xx, checking each signature.
    async fn received_ids(receiver: &MockServer, hook: &SiemWebhook) -> Vec<i64> {
        receiver
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let sig = r.headers[SIGNATURE_HEADER].to_str().unwrap();
                assert_eq!(Some(sig.to_owned()), hook.signature(&r.body));
                let ev: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(
                    r.headers[EVENT_ID_HEADER].to_str().unwrap(),
                    ev["id"].to_string()
                );
                ev["id"].as_i64().unwrap()
            })
            .collect()
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let hook = SiemWebhook::new(
            "http://127.0.0.1:9/",
            Some("Jefe"),
            RetryPolicy::default(),
            Arc::new(FakeClock::new(Utc::now())),
        )
        .unwrap();
        assert_eq!(
            hook.signature(b"what do ya want for nothing?").unwrap(),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn a_receiver_failing_twice_gets_every_event_in_order_and_a_restart_resumes() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let store = &t.store;
            append(store, 3).await;
            let receiver = MockServer::start().await;
            // Mounted first, so it answers first: two failures, then the catch-all accepts.
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(503))
                .up_to_n_times(2)
                .mount(&receiver)
                .await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(204))
                .mount(&receiver)
                .await;
            let clock = Arc::new(FakeClock::new(Utc::now()));
            let hook = webhook(&receiver.uri(), clock.clone());
            assert_eq!(
                hook.deliver_pending(store).await.unwrap(),
                3,
                "{}",
                t.backend
            );
            assert_eq!(
                clock.slept(),
                vec![Duration::from_secs(1), Duration::from_secs(2)],
                "backoff doubles"
            );
            let ids = received_ids(&receiver, &hook).await;
            let first = ids[0];
            assert_eq!(ids, vec![first, first, first, first + 1, first + 2]);
            let body: serde_json::Value =
                serde_json::from_slice(&receiver.received_requests().await.unwrap()[4].body)
                    .unwrap();
            assert_eq!(body["action"], "test.event");
            assert_eq!(body["detail"]["i"], 2, "detail as JSON: {body}");
            assert_eq!(store.audit_delivery_cursor(SINK).await.unwrap(), first + 2);

            // A new process (a restart) sends only what came after.
            append(store, 2).await;
            receiver.reset().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(200))
                .mount(&receiver)
                .await;
            let restarted = webhook(&receiver.uri(), clock.clone());
            assert_eq!(restarted.deliver_pending(store).await.unwrap(), 2);
            assert_eq!(
                received_ids(&receiver, &restarted).await,
                vec![first + 3, first + 4]
            );
            assert_eq!(restarted.deliver_pending(store).await.unwrap(), 0);
        }
    }

    #[tokio::test]
    async fn a_receiver_that_keeps_failing_gets_bounded_retries_and_keeps_the_cursor() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let store = &t.store;
            append(store, 2).await;
            let receiver = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(500))
                .mount(&receiver)
                .await;
            let clock = Arc::new(FakeClock::new(Utc::now()));
            let hook = webhook(
                &format!("{}/collector?token=canary-url-token", receiver.uri()),
                clock.clone(),
            );
            let err = hook.deliver_pending(store).await.unwrap_err();
            assert!(
                matches!(err, DeliveryError::GaveUp { attempts: 4, .. }),
                "{err}"
            );
            assert!(!err.to_string().contains("canary-url-token"), "{err}");
            assert_eq!(receiver.received_requests().await.unwrap().len(), 4);
            assert_eq!(clock.slept(), [1, 2, 4].map(Duration::from_secs).to_vec());
            assert_eq!(
                store.audit_delivery_cursor(SINK).await.unwrap(),
                0,
                "{}",
                t.backend
            );
        }
    }
}
