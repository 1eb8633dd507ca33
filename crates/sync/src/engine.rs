//! One sync run over a set of connectors.

use std::collections::HashMap;
use std::sync::Arc;

use roster_connector_sdk::{
    CachedResponse, Clock, Connector, ConnectorError, Listing, PageGuard, ValidatorCache,
};
use roster_core::{Record, RecordId, RecordKey, RiskPolicy, Status, external_id_check};
use roster_store::{
    Change, Collision, EvaluationInputs, HttpValidator, IndexEntry, ListingOutcome, RecordIndex,
    RecordRow, RunCounts, RunStatus, Store,
};

use crate::SyncError;
use crate::lease::{self, SyncHolder};
use crate::report::{ConnectorReport, ListingReport, SyncReport};
use crate::writer::RunWriter;

/// A configured connector: its name (part of every record id) and the source itself.
pub struct SyncSource {
    pub name: String,
    pub connector: Box<dyn Connector>,
}

/// Progress callbacks, for the CLI's progress bar. Called from the sync task.
pub trait Progress: Send + Sync {
    fn listing_started(&self, _connector: &str, _listing: &Listing) {}
    fn records_seen(&self, _n: u64) {}
    fn listing_finished(&self, _connector: &str, _report: &ListingReport) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

pub struct SyncEngine {
    store: Store,
    policy: RiskPolicy,
    clock: Arc<dyn Clock>,
    /// Records per write transaction.
    pub batch_size: usize,
    /// Pages per listing before it is called a loop.
    pub max_pages: u64,
    /// How a record's id is derived from its connector and natural key: [`RecordId::derive`].
    /// Replaceable so that tests can make ids collide, which no real 64-bit hash will do.
    pub record_id: fn(&str, &RecordKey) -> RecordId,
}

impl SyncEngine {
    pub fn new(store: Store, policy: RiskPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            policy,
            clock,
            batch_size: 2000,
            max_pages: 100_000,
            record_id: RecordId::derive,
        }
    }

    /// Runs every source once. Source failures end the run `partial` (or `failed` when
    /// nothing was read); only store failures are errors.
    pub async fn run(
        &self,
        sources: &[SyncSource],
        progress: &dyn Progress,
    ) -> Result<SyncReport, SyncError> {
        let started_at = self.clock.now();
        let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
        let holder = SyncHolder::this_process();
        lease::take(&self.store, &names, &holder, started_at).await?;
        let result = async {
            let aborted = lease::abort_dead_runs(&self.store, started_at).await?;
            if aborted > 0 {
                tracing::warn!(
                    aborted,
                    "closed sync runs left unfinished by a process that died; every stored \
                     evaluation is redone at the end of this run"
                );
            }
            let run_id = self
                .store
                .begin_sync_run(started_at, &names, &holder.to_string())
                .await?;
            let heartbeat = lease::keep_alive(self.store.clone(), names.clone(), &holder, run_id);
            let result = self.run_held(run_id, started_at, sources, progress).await;
            drop(heartbeat);
            result
        }
        .await;
        lease::release(&self.store, &names, &holder).await;
        result
    }

    /// [`Self::run`] once its connectors' leases are held and its run opened.
    async fn run_held(
        &self,
        run_id: i64,
        started_at: chrono::DateTime<chrono::Utc>,
        sources: &[SyncSource],
        progress: &dyn Progress,
    ) -> Result<SyncReport, SyncError> {
        // Records are evaluated as they are written, in the context as it stood before the run;
        // what the run changes of that context is re-evaluated at its end.
        let mut inputs = EvaluationInputs::load(&self.store).await?;

        let write_store = self.store.writer().await?;
        let mut writer = RunWriter::start(write_store.clone(), run_id);
        let mut reports = Vec::with_capacity(sources.len());
        for source in sources {
            let report = match self
                .run_source(source, &inputs, &mut writer, progress)
                .await
            {
                Ok(report) => report,
                Err(e) => {
                    // Whatever the writer had committed stays; the run is left for the next
                    // one to close as aborted, as after a crash.
                    let _ = writer.finish().await;
                    return Err(e);
                }
            };
            reports.push(report);
        }
        let stored_collisions = writer.finish().await?;
        count_stored_collisions(&mut reports, stored_collisions);
        let mut counts = RunCounts::default();
        for report in &reports {
            counts.add(&report.counts);
        }
        // After the writer, so that these writes never wait on its transactions (SQLite).
        for source in sources {
            if let Some(cache) = source.connector.validator_cache() {
                self.save_validators(&source.name, &cache).await?;
            }
        }

        let finished_at = self.clock.now();
        let refresh_started = std::time::Instant::now();
        // On the writer's connection: its page cache holds what the run just wrote.
        let mut touched = inputs.reload_cross_record(&write_store).await?;
        // Credentials answer to their identity's owner, as it stands after this run.
        touched.extend(write_store.inherit_owners().await?);
        let reevaluated = write_store
            .refresh_evaluations(&self.policy, &inputs, &touched, finished_at)
            .await?;
        // What the run added, into the search index in bulk (with the tiers just stored).
        let indexed = write_store.index_pending_search().await?;
        // Statistics for the planner after a large write (PostgreSQL).
        write_store
            .analyze_after_bulk_write(counts.new + counts.changed)
            .await?;
        tracing::debug!(
            touched = touched.len(),
            reevaluated,
            indexed,
            ms = refresh_started.elapsed().as_millis() as u64,
            "stored evaluations brought up to the end of the run"
        );

        let any_failure = counts.failed_listings > 0 || reports.iter().any(|r| r.error.is_some());
        let any_complete = reports
            .iter()
            .any(|r| r.listings.iter().any(|l| l.status == "complete"));
        let status = match (any_failure, any_complete) {
            (false, _) => RunStatus::Ok,
            (true, true) => RunStatus::Partial,
            (true, false) => RunStatus::Failed,
        };
        let report = SyncReport {
            run_id,
            status,
            started_at,
            finished_at,
            counts,
            connectors: reports,
        };
        let json = serde_json::to_value(&report).unwrap_or_default();
        self.store
            .finish_sync_run(run_id, finished_at, status, counts, &json)
            .await?;
        Ok(report)
    }

    async fn run_source(
        &self,
        source: &SyncSource,
        inputs: &EvaluationInputs,
        writer: &mut RunWriter,
        progress: &dyn Progress,
    ) -> Result<ConnectorReport, SyncError> {
        let mut report = ConnectorReport {
            name: source.name.clone(),
            error: None,
            counts: RunCounts::default(),
            not_modified: None,
            listings: Vec::new(),
        };
        let cache = source.connector.validator_cache();
        if let Some(cache) = &cache {
            let saved = self.store.http_validators(&source.name).await?;
            cache.restore(saved.into_iter().map(cached_response).collect());
        }
        let plan = match source.connector.plan().await {
            Ok(plan) => plan,
            Err(e) => {
                tracing::warn!(connector = %source.name, error = %e, "connector plan failed; nothing of it swept");
                report.error = Some(e.to_string());
                return Ok(report);
            }
        };
        let mut index = self.store.load_index(&source.name).await?;
        for listing in plan {
            progress.listing_started(&source.name, &listing);
            let before = cache.as_ref().map_or(0, |c| c.not_modified());
            let mut l = self
                .run_listing(source, &listing, inputs, &mut index, writer, progress)
                .await?;
            l.not_modified = cache.as_ref().map_or(0, |c| c.not_modified()) - before;
            report.counts.add(&l.counts);
            progress.listing_finished(&source.name, &l);
            report.listings.push(l);
        }
        if let Some(cache) = &cache {
            let not_modified = cache.not_modified();
            report.not_modified = Some(not_modified);
            tracing::info!(
                connector = %source.name,
                not_modified,
                "requests answered 304 Not Modified (served from the last run's bodies; no rate-limit quota spent)"
            );
        }
        Ok(report)
    }

    /// Keeps what the connector's requests validated or refreshed in this run, for the next:
    /// writes the pages fetched anew, drops those no request used.
    async fn save_validators(
        &self,
        connector: &str,
        cache: &ValidatorCache,
    ) -> Result<(), SyncError> {
        let changes = cache.changes();
        let fresh = changes
            .fresh
            .into_iter()
            .map(|c| HttpValidator {
                url: c.url,
                etag: c.etag,
                link: c.link,
                body: c.body,
            })
            .collect();
        self.store
            .update_http_validators(connector, &changes.stale, fresh)
            .await?;
        Ok(())
    }

    async fn run_listing(
        &self,
        source: &SyncSource,
        listing: &Listing,
        inputs: &EvaluationInputs,
        index: &mut RecordIndex,
        writer: &mut RunWriter,
        progress: &dyn Progress,
    ) -> Result<ListingReport, SyncError> {
        let now = self.clock.now();
        let listing_id = index.listing_id(&listing.resource_type, &listing.scope);
        let mut report = ListingReport {
            resource_type: listing.resource_type.clone(),
            scope: listing.scope.clone(),
            status: "complete",
            error: None,
            pages: 0,
            seen: 0,
            duplicates: 0,
            rejected: 0,
            not_modified: 0,
            counts: RunCounts::default(),
        };
        // Each id taken from this listing, with its external id's check: the same id again with
        // the same check is a duplicate, with another a collision.
        let mut seen: HashMap<i64, u32> = HashMap::new();
        let mut pending: Vec<RecordRow> = Vec::new();
        let mut guard = PageGuard::new(listing, self.max_pages);
        let mut token = None;
        let failure: Option<ConnectorError> = loop {
            let page = match source.connector.list(listing, token.as_ref()).await {
                Ok(page) => page,
                Err(e) => break Some(e),
            };
            report.pages += 1;
            let mut page_seen = 0u64;
            for record in page.records {
                if record.key.resource_type != listing.resource_type
                    || record.key.scope != listing.scope
                    || record.status == Status::Gone
                {
                    // A connector bug must not move records between listings (or sweep them).
                    report.rejected += 1;
                    continue;
                }
                let id = (self.record_id)(&source.name, &record.key);
                let check = external_id_check(&record.key.external_id);
                if let Some(&earlier) = seen.get(&id.0) {
                    if earlier == check {
                        report.duplicates += 1;
                    } else {
                        let earlier = self.earlier_key(id, &pending).await;
                        log_collision(
                            &source.name,
                            &record.key,
                            id,
                            &earlier,
                            "listed earlier in this listing",
                        );
                        report.counts.collisions += 1;
                    }
                    continue;
                }
                if let Some(e) = index.entries.get(&id.0)
                    && (e.listing() != listing_id || e.external_id_check != check)
                {
                    // Not taken as seen: the stored record is swept by its own listing's rules.
                    let earlier = self.earlier_key(id, &pending).await;
                    log_collision(&source.name, &record.key, id, &earlier, "stored");
                    report.counts.collisions += 1;
                    continue;
                }
                seen.insert(id.0, check);
                page_seen += 1;
                let at = Moment {
                    connector: &source.name,
                    inputs,
                    now,
                };
                if let Some(row) = self.classify(&at, record, id, index, &mut report.counts) {
                    pending.push(row);
                }
            }
            report.seen += page_seen;
            progress.records_seen(page_seen);
            if pending.len() >= self.batch_size {
                self.flush(listing_id, index, &mut pending, writer).await?;
            }
            match page.next {
                None => break None,
                Some(next) => {
                    if let Err(e) = guard.advance(&next.0) {
                        break Some(e);
                    }
                    token = Some(next);
                }
            }
        };
        // What was seen is true even if the listing failed later: keep it.
        self.flush(listing_id, index, &mut pending, writer).await?;

        if let Some(e) = failure {
            tracing::warn!(connector = %source.name, %listing, error = %e, "listing failed; nothing swept there");
            report.status = "failed";
            report.error = Some(e.to_string());
            report.counts.failed_listings = 1;
        } else {
            let gone = index.unseen_in(listing_id, &seen);
            for id in &gone {
                if let Some(e) = index.entries.get_mut(id) {
                    e.set_gone();
                }
            }
            report.counts.gone = gone.len() as u64;
            writer.gone(gone, self.clock.now()).await?;
        }
        let outcome = ListingOutcome {
            connector: source.name.clone(),
            resource_type: listing.resource_type.clone(),
            scope: listing.scope.clone(),
            complete: report.status == "complete",
            error: report.error.clone(),
            seen: report.seen,
        };
        writer.listing(outcome, self.clock.now()).await?;
        Ok(report)
    }

    /// New, changed or returned records become rows to write; unchanged ones only count.
    fn classify(
        &self,
        at: &Moment<'_>,
        mut record: Record,
        id: RecordId,
        index: &RecordIndex,
        counts: &mut RunCounts,
    ) -> Option<RecordRow> {
        let Moment {
            connector,
            inputs,
            now,
        } = *at;
        // Before the fingerprint: a change of owner in the policy is a change of the record.
        self.policy.resolve_owner(&mut record);
        let content_hash = record.content_hash();
        let change = match index.entries.get(&id.0) {
            None => Change::New,
            Some(e) if e.gone() => Change::Returned,
            Some(e) if e.content_hash != content_hash => Change::Changed,
            Some(_) => {
                counts.unchanged += 1;
                return None;
            }
        };
        match change {
            Change::New => counts.new += 1,
            Change::Changed | Change::Returned => counts.changed += 1,
        }
        let parent_id = record
            .parent
            .as_ref()
            .map(|p| (self.record_id)(connector, p));
        let evaluation = inputs.evaluate(&self.policy, id.0, &record, now);
        Some(RecordRow {
            id,
            connector: connector.to_owned(),
            record,
            parent_id,
            content_hash,
            evaluation,
            change,
        })
    }

    async fn flush(
        &self,
        listing_id: u32,
        index: &mut RecordIndex,
        pending: &mut Vec<RecordRow>,
        writer: &mut RunWriter,
    ) -> Result<(), SyncError> {
        if pending.is_empty() {
            return Ok(());
        }
        for row in pending.iter() {
            index.entries.insert(
                row.id.0,
                IndexEntry::new(
                    row.content_hash,
                    listing_id,
                    false,
                    external_id_check(&row.record.key.external_id),
                ),
            );
        }
        writer
            .records(std::mem::take(pending), self.clock.now())
            .await
    }
}

impl SyncEngine {
    /// The natural key that already holds `id`, for the log of a collision (rare): from the
    /// rows not yet flushed, else the store; written in this run but not yet committed, it
    /// is not found.
    async fn earlier_key(&self, id: RecordId, pending: &[RecordRow]) -> String {
        if let Some(row) = pending.iter().find(|r| r.id == id) {
            return natural_key(&row.connector, &row.record.key);
        }
        match self.store.record(id.0).await {
            Ok(m) => natural_key(
                &m.connector,
                &RecordKey {
                    resource_type: m.resource_type,
                    scope: m.scope,
                    external_id: m.external_id,
                },
            ),
            Err(_) => "(written earlier in this run, not yet committed)".to_owned(),
        }
    }
}

/// A natural key for logs: ids and names only, never a secret.
fn natural_key(connector: &str, key: &RecordKey) -> String {
    format!(
        "{connector}/{}/{}/{}",
        key.resource_type, key.scope, key.external_id
    )
}

fn log_collision(connector: &str, key: &RecordKey, id: RecordId, earlier: &str, where_: &str) {
    tracing::error!(
        record_id = %id,
        skipped = %natural_key(connector, key),
        holder = %earlier,
        holder_is = where_,
        "record id collision: two natural keys hash to one id; the later record is skipped, \
         not merged (report it: ids need a wider hash)"
    );
}

/// Books the records the store refused as id collisions (found after their listings were
/// reported, since the writer runs behind the engine): counted as collisions instead of as
/// new or changed. Their listings stay complete; nothing of them was swept.
fn count_stored_collisions(reports: &mut [ConnectorReport], collisions: Vec<Collision>) {
    for c in collisions {
        log_collision(
            &c.connector,
            &c.key,
            c.id,
            &natural_key(&c.stored_connector, &c.stored_key),
            "stored",
        );
        let Some(conn) = reports.iter_mut().find(|r| r.name == c.connector) else {
            continue;
        };
        let rebook = |counts: &mut RunCounts| {
            counts.collisions += 1;
            match c.change {
                Change::New => counts.new = counts.new.saturating_sub(1),
                Change::Changed | Change::Returned => {
                    counts.changed = counts.changed.saturating_sub(1)
                }
            }
        };
        rebook(&mut conn.counts);
        if let Some(l) = conn
            .listings
            .iter_mut()
            .find(|l| l.resource_type == c.key.resource_type && l.scope == c.key.scope)
        {
            rebook(&mut l.counts);
        }
    }
}

/// What a record is classified against: its connector, and the context and moment of its
/// evaluation.
#[derive(Clone, Copy)]
struct Moment<'a> {
    connector: &'a str,
    inputs: &'a EvaluationInputs,
    now: chrono::DateTime<chrono::Utc>,
}

fn cached_response(v: HttpValidator) -> CachedResponse {
    CachedResponse {
        url: v.url,
        etag: v.etag,
        link: v.link,
        body: v.body,
    }
}
