//! `/metrics` in the Prometheus text format (0.0.4, what Prometheus scrapes and `promtool check
//! metrics` reads). Two sources:
//!
//! - what this process counts as it goes, in [`Metrics`]: HTTP requests, scheduler firings,
//!   lease hand-overs, SIEM delivery attempts. Held by the [`Roster`] that `roster serve` builds
//!   (see [`Roster::with_metrics`]); other commands count nothing.
//! - what the database says, read at each scrape ([`Roster::metrics`]): sync runs, records by
//!   platform and tier, listings not seen, pending and overdue reviews, the SIEM backlog, the
//!   pool. None of these reads the records table (see `roster_store::monitoring`), so a scrape
//!   costs the same at 1M records as at 100; every replica on one database reports the same
//!   values for them.
//!
//! Every label takes its values from a bounded set: connector and campaign-definition names
//! from the configuration, platforms, tiers, statuses, route patterns (never a raw path).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use roster_store::{Store, StoreError};

use crate::Roster;
use crate::access::Principal;
use crate::error::AppError;
use crate::summary::{InventorySummary, tier_index};
use roster_core::Tier;

/// The content type of the text format, for the `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latency buckets (seconds): around the 20 ms median and 100 ms p99 targets of the
/// pages, out to a slow export.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Tier labels by the inbox's tier rank (0 critical … 4 none).
const TIER_BY_RANK: [&str; 5] = ["critical", "high", "medium", "low", "none"];

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics: {0}")]
    Prometheus(#[from] prometheus::Error),
}

impl From<MetricsError> for AppError {
    fn from(e: MetricsError) -> Self {
        AppError::Internal(e.to_string())
    }
}

/// What this process counts: one registry, made once by `roster serve`.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    job_runs: IntCounterVec,
    lease_handovers: IntCounterVec,
    siem_deliveries: IntCounterVec,
}

/// How a scheduled job's firing went on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// This server took the lease and ran the job.
    Ran,
    /// Another server holds this tick's lease.
    LeaseHeldElsewhere,
    /// The lease could not be read or written (the database); nothing ran.
    LeaseError,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Ran => "ran",
            JobOutcome::LeaseHeldElsewhere => "lease_held_elsewhere",
            JobOutcome::LeaseError => "lease_error",
        }
    }
}

fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: C,
) -> Result<C, MetricsError> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let http_requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "roster_http_requests_total",
                    "HTTP requests answered, by method, matched route pattern and status.",
                ),
                &["method", "route", "status"],
            )?,
        )?;
        let http_duration = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "roster_http_request_duration_seconds",
                    "Time from a request's arrival to its response's head, by method and route \
                     pattern (a streamed export's body is not timed).",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["method", "route"],
            )?,
        )?;
        let job_runs = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "roster_scheduler_job_runs_total",
                    "Scheduled job firings on this server, by job (its lease name) and outcome: \
                     ran, lease_held_elsewhere, lease_error.",
                ),
                &["job", "outcome"],
            )?,
        )?;
        let lease_handovers = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "roster_lease_handovers_total",
                    "Leases this server took that another server held before (a scheduled job's \
                     or the SIEM webhook's).",
                ),
                &["lease"],
            )?,
        )?;
        let siem_deliveries = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "roster_siem_webhook_deliveries_total",
                    "Attempts by this server to POST an audit event to the SIEM webhook, by \
                     outcome: delivered, failed.",
                ),
                &["outcome"],
            )?,
        )?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            job_runs,
            lease_handovers,
            siem_deliveries,
        })
    }

    /// One answered request. `route` is the matched pattern (`/identities/{id}`), or `None`
    /// when no route matched; any method outside the usual few counts as `other`.
    pub fn observe_http(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        };
        let route = route.unwrap_or("unmatched");
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(took.as_secs_f64());
    }

    pub fn job_fired(&self, job: &str, outcome: JobOutcome) {
        self.job_runs
            .with_label_values(&[job, outcome.as_str()])
            .inc();
    }

    pub fn lease_handed_over(&self, lease: &str) {
        self.lease_handovers.with_label_values(&[lease]).inc();
    }

    pub fn siem_attempt(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.siem_deliveries.with_label_values(&[outcome]).inc();
    }
}

/// Takes or renews `lease` for `holder` (as [`Store::try_lease`]) and counts a hand-over when
/// someone else held it before. The holder is read first, apart from the take: two servers
/// racing for an expired lease may both see the old holder, but only the winner counts.
pub(crate) async fn take_lease(
    store: &Store,
    metrics: Option<&Metrics>,
    lease: &str,
    holder: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let before = match metrics {
        Some(_) => store.lease_holder(lease).await?,
        None => None,
    };
    let taken = store.try_lease(lease, holder, until, now).await?;
    if taken
        && let (Some(m), Some((previous, _))) = (metrics, before)
        && previous != holder
    {
        m.lease_handed_over(lease);
    }
    Ok(taken)
}

/// The gauges and counters read from the database at one scrape, in their own registry.
struct Scrape {
    registry: Registry,
}

impl Scrape {
    fn new() -> Self {
        Scrape {
            registry: Registry::new(),
        }
    }

    fn ints(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntGaugeVec, MetricsError> {
        register(
            &self.registry,
            IntGaugeVec::new(Opts::new(name, help), labels)?,
        )
    }

    fn floats(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, MetricsError> {
        register(
            &self.registry,
            GaugeVec::new(Opts::new(name, help), labels)?,
        )
    }

    /// A gauge without labels, set to `value`.
    fn int(&self, name: &str, help: &str, value: i64) -> Result<(), MetricsError> {
        register(&self.registry, IntGauge::new(name, help)?)?.set(value);
        Ok(())
    }

    /// A gauge without labels, set to `value`.
    fn float(&self, name: &str, help: &str, value: f64) -> Result<(), MetricsError> {
        register(&self.registry, Gauge::new(name, help)?)?.set(value);
        Ok(())
    }

    fn counters(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, MetricsError> {
        register(
            &self.registry,
            IntCounterVec::new(Opts::new(name, help), labels)?,
        )
    }
}

fn seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Roster {
    /// Counts this process's requests, scheduled jobs and deliveries in `metrics` (`roster
    /// serve`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// What this process counts, when it counts (`roster serve`).
    pub fn process_metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    /// `/metrics` for `reader` (an API token's or a session's principal): the text format.
    pub async fn metrics(&self, reader: &Principal) -> Result<String, AppError> {
        reader.require_read_metrics()?;
        self.render_metrics(Utc::now()).await
    }

    /// `/metrics` on the listener `[server] metrics_bind` names: no principal, as whoever can
    /// reach that address is trusted to read it.
    pub async fn metrics_on_listener(&self) -> Result<String, AppError> {
        self.render_metrics(Utc::now()).await
    }

    async fn render_metrics(&self, now: DateTime<Utc>) -> Result<String, AppError> {
        let started = std::time::Instant::now();
        let scrape = Scrape::new();
        self.scrape_sync_runs(&scrape).await?;
        self.scrape_records(&scrape).await?;
        self.scrape_listings(&scrape).await?;
        self.scrape_reviews(&scrape, now).await?;
        self.scrape_siem(&scrape, now).await?;
        self.scrape_pool(&scrape)?;
        scrape
            .ints(
                "roster_build_info",
                "Always 1; the running version as a label.",
                &["version"],
            )?
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        scrape.float(
            "roster_metrics_scrape_duration_seconds",
            "How long this scrape's database reads took.",
            started.elapsed().as_secs_f64(),
        )?;
        let mut families = scrape.registry.gather();
        if let Some(m) = &self.metrics {
            families.extend(m.registry.gather());
        }
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .map_err(MetricsError::from)?;
        String::from_utf8(out).map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Sync runs per connector and status; a run of several connectors counts for each.
    async fn scrape_sync_runs(&self, scrape: &Scrape) -> Result<(), AppError> {
        let finished = scrape.counters(
            "roster_sync_runs_total",
            "Finished sync runs recorded in the database (by any process: `roster sync`, a \
             scheduled sync), by connector and status: ok, partial, failed, aborted. A run of \
             several connectors counts once for each, with the run's status.",
            &["connector", "status"],
        )?;
        let running = scrape.ints(
            "roster_sync_runs_running",
            "Sync runs marked running, by connector (under way, or left so by a process that \
             died and not yet closed).",
            &["connector"],
        )?;
        let last = scrape.floats(
            "roster_sync_last_finished_timestamp_seconds",
            "When the newest sync run of a connector ending in a status finished (Unix time).",
            &["connector", "status"],
        )?;
        let mut newest: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
        let mut connectors: BTreeSet<String> = self
            .config
            .connectors
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let mut now_running: BTreeMap<String, u64> = BTreeMap::new();
        for t in self.store.sync_run_tallies().await? {
            for c in &t.connectors {
                connectors.insert(c.clone());
                if t.status == roster_store::RunStatus::Running.as_str() {
                    *now_running.entry(c.clone()).or_default() += t.runs;
                    continue;
                }
                finished
                    .with_label_values(&[c.as_str(), t.status.as_str()])
                    .inc_by(t.runs);
                if let Some(at) = t.last_finished_at {
                    let e = newest.entry((c.clone(), t.status.clone())).or_insert(at);
                    *e = (*e).max(at);
                }
            }
        }
        for c in &connectors {
            running
                .with_label_values(&[c.as_str()])
                .set(as_i64(now_running.get(c).copied().unwrap_or(0)));
        }
        for ((c, status), at) in newest {
            last.with_label_values(&[c.as_str(), status.as_str()])
                .set(seconds(at));
        }
        Ok(())
    }

    /// The live records per platform and tier as the newest sync run left them: the
    /// dashboard's numbers, stored with the run (one row read).
    async fn scrape_records(&self, scrape: &Scrape) -> Result<(), AppError> {
        let records = scrape.ints(
            "roster_records",
            "Live records (identities and credentials) by platform and tier, as the newest sync \
             run left them (the dashboard's numbers).",
            &["platform", "tier"],
        )?;
        let Some(json) = self.store.latest_run_summary().await? else {
            return Ok(());
        };
        let summary: InventorySummary = serde_json::from_value(json)?;
        for (platform, tiers) in &summary.by_platform {
            for t in [Tier::Critical, Tier::High, Tier::Medium, Tier::Low] {
                records
                    .with_label_values(&[platform.as_str(), t.as_str()])
                    .set(as_i64(tiers[tier_index(t)]));
            }
        }
        if let Some(at) = summary.as_of {
            scrape.float(
                "roster_records_as_of_timestamp_seconds",
                "When the numbers in roster_records were counted: the end of the newest sync \
                 run (Unix time).",
                seconds(at),
            )?;
        }
        Ok(())
    }

    /// Listings (connector × resource type × scope) whose last attempt failed: what Roster
    /// could not see, and so swept nothing of.
    async fn scrape_listings(&self, scrape: &Scrape) -> Result<(), AppError> {
        let all = scrape.ints(
            "roster_listings",
            "Listings (resource type × scope) Roster has attempted, by connector.",
            &["connector"],
        )?;
        let not_seen = scrape.ints(
            "roster_listings_not_seen",
            "Listings whose last attempt failed (not seen: nothing was marked gone there), by \
             connector.",
            &["connector"],
        )?;
        for t in self.store.listing_tallies().await? {
            all.with_label_values(&[t.connector.as_str()])
                .add(as_i64(t.listings));
            let failed = not_seen.with_label_values(&[t.connector.as_str()]);
            if t.last_status != "complete" {
                failed.add(as_i64(t.listings));
            }
        }
        Ok(())
    }

    /// Pending review items of open campaigns by tier, and those past their campaign's due
    /// date, from the inbox tallies.
    async fn scrape_reviews(&self, scrape: &Scrape, now: DateTime<Utc>) -> Result<(), AppError> {
        let pending = scrape.ints(
            "roster_campaign_items_pending",
            "Items of open campaigns waiting for a decision, by the tier they had at launch.",
            &["tier"],
        )?;
        let overdue = scrape.ints(
            "roster_campaign_items_overdue",
            "Pending items of open campaigns past their due date, by tier.",
            &["tier"],
        )?;
        scrape.int(
            "roster_campaigns_open",
            "Access-review campaigns open now.",
            as_i64(self.store.open_campaign_count().await?),
        )?;
        // Every tier, zero included, so that an alert on a tier never reads an absent series.
        for tier in TIER_BY_RANK {
            pending.with_label_values(&[tier]).set(0);
            overdue.with_label_values(&[tier]).set(0);
        }
        for r in self.store.pending_reviews(now).await? {
            let tier = usize::try_from(r.tier_rank)
                .ok()
                .and_then(|i| TIER_BY_RANK.get(i))
                .copied()
                .unwrap_or("none");
            pending.with_label_values(&[tier]).add(as_i64(r.pending));
            overdue.with_label_values(&[tier]).add(as_i64(r.overdue));
        }
        Ok(())
    }

    /// The SIEM webhook's backlog, when one is configured.
    async fn scrape_siem(&self, scrape: &Scrape, now: DateTime<Utc>) -> Result<(), AppError> {
        let audit = &self.config.audit;
        if audit.webhook_url_env.is_none() && audit.webhook_url_file.is_none() {
            return Ok(());
        }
        let lag = self
            .store
            .audit_delivery_lag(crate::siem_webhook::SINK)
            .await?;
        scrape.int(
            "roster_siem_webhook_pending_events",
            "Audit events not yet accepted by the SIEM webhook.",
            as_i64(lag.pending),
        )?;
        let behind = lag
            .oldest_pending_at
            .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        scrape.float(
            "roster_siem_webhook_lag_seconds",
            "Age of the oldest audit event the SIEM webhook has not accepted (0 when none \
             waits).",
            behind,
        )?;
        Ok(())
    }

    fn scrape_pool(&self, scrape: &Scrape) -> Result<(), AppError> {
        let pool = self.store.pool_stats();
        let conns = scrape.ints(
            "roster_db_pool_connections",
            "This process's database connections, by state: idle, in_use.",
            &["state"],
        )?;
        conns.with_label_values(&["idle"]).set(i64::from(pool.idle));
        conns
            .with_label_values(&["in_use"])
            .set(i64::from(pool.open.saturating_sub(pool.idle)));
        scrape.int(
            "roster_db_pool_max_connections",
            "The most connections this process's pool opens.",
            i64::from(pool.max),
        )?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::access::Role;

    /// The value of the one sample whose line starts with `series` (name and labels as
    /// written), if any.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[tokio::test]
    async fn a_sync_counts_once_and_the_scrape_reads_what_the_database_holds() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let config = crate::config::Config::from_toml_str(
                "[[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 60\n",
            )
            .unwrap();
            let roster = Roster::new(
                t.store.clone(),
                config,
                crate::policy::LoadedPolicy {
                    policy: roster_core::RiskPolicy::default(),
                    hash: String::new(),
                },
            )
            .with_metrics(Arc::new(Metrics::new().unwrap()));
            let auditor = Principal::person(Role::Auditor, "a@acme.example");
            let before = roster.metrics(&auditor).await.unwrap();
            let ok = "roster_sync_runs_total{connector=\"sample\",status=\"ok\"}";
            assert_eq!(sample(&before, ok), None, "{}: {before}", t.backend);
            assert_eq!(
                sample(&before, "roster_sync_runs_running{connector=\"sample\"}"),
                Some(0.0),
                "a configured connector shows before its first run"
            );
            let sources = roster.connectors.sources(&["sample".into()]).unwrap();
            roster
                .sync_once(sources, false, "test", &roster_sync::NoProgress)
                .await
                .unwrap();
            let after = roster.metrics(&auditor).await.unwrap();
            assert_eq!(sample(&after, ok), Some(1.0), "{}: {after}", t.backend);
            let records: f64 = after
                .lines()
                .filter(|l| l.starts_with("roster_records{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            assert!(records >= 60.0, "{}: {after}", t.backend);
            assert!(after.contains("roster_listings_not_seen{connector=\"sample\"} 0"));
            assert_eq!(
                sample(&after, "roster_campaign_items_overdue{tier=\"critical\"}"),
                Some(0.0)
            );
            assert!(sample(&after, "roster_db_pool_max_connections").unwrap() >= 1.0);
            // No webhook configured: no SIEM gauges.
            assert!(!after.contains("roster_siem_webhook_lag_seconds"));

            let owner = Principal::person(Role::Owner, "o@acme.example");
            assert!(matches!(
                roster.metrics(&owner).await,
                Err(AppError::Forbidden(_))
            ));
        }
    }

    #[tokio::test]
    async fn process_counters_count_requests_firings_and_hand_overs() {
        let t = roster_store::testing::test_stores()
            .await
            .unwrap()
            .remove(0);
        let m = Metrics::new().unwrap();
        m.observe_http(
            "GET",
            Some("/identities/{id}"),
            200,
            Duration::from_millis(3),
        );
        m.observe_http("BREW", None, 404, Duration::from_millis(1));
        m.job_fired("evaluation-refresh", JobOutcome::Ran);
        let now = Utc::now();
        let soon = now + chrono::Duration::seconds(10);
        let store = &t.store;
        // Taken while free, renewed by its holder, then taken by another after it lapsed.
        assert!(
            take_lease(store, Some(&m), "job", "a", soon, now)
                .await
                .unwrap()
        );
        assert!(
            take_lease(store, Some(&m), "job", "a", soon, now)
                .await
                .unwrap()
        );
        assert!(
            !take_lease(store, Some(&m), "job", "b", soon, now)
                .await
                .unwrap()
        );
        let later = soon + chrono::Duration::seconds(1);
        assert!(
            take_lease(store, Some(&m), "job", "b", later, later)
                .await
                .unwrap()
        );
        let mut families = m.registry.gather();
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in [
            "roster_http_requests_total{method=\"GET\",route=\"/identities/{id}\",status=\"200\"} 1",
            "roster_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1",
            "roster_http_request_duration_seconds_count{method=\"GET\",route=\"/identities/{id}\"} 1",
            "roster_scheduler_job_runs_total{job=\"evaluation-refresh\",outcome=\"ran\"} 1",
            "roster_lease_handovers_total{lease=\"job\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
