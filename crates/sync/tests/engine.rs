#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The sync engine on both backends: change detection, sweeping only complete listings,
//! failures reported and never read as deletions.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use roster_connector_sdk::{Connector, ConnectorError, FakeClock, Listing, Page, PageToken};
use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector, default_anchor};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, RiskPolicy, Status, Usage};
use roster_store::testing::test_stores;
use roster_store::{InventoryFilter, RunStatus, Store};
use roster_sync::{NoProgress, SyncEngine, SyncSource};

fn synthetic(count: u64) -> SyncSource {
    SyncSource {
        name: "sample".into(),
        connector: Box::new(
            SyntheticConnector::new(SyntheticConfig {
                count,
                seed: 9,
                anchor: default_anchor(),
                page_size: 50,
            })
            .unwrap(),
        ),
    }
}

fn engine(store: &Store) -> SyncEngine {
    let mut e = SyncEngine::new(
        store.clone(),
        RiskPolicy::default(),
        Arc::new(FakeClock::default()),
    );
    e.batch_size = 64;
    e
}

async fn count(store: &Store, status: Option<Status>) -> u64 {
    store
        .inventory_count(&InventoryFilter {
            status,
            include_gone: true,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn first_sync_inserts_resync_writes_nothing_shrink_sweeps() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let r1 = engine(s)
            .run(&[synthetic(1000)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(
            (r1.status, r1.counts.new, r1.counts.unchanged),
            (RunStatus::Ok, 1000, 0),
            "{}",
            t.backend
        );
        assert_eq!(count(s, None).await, 1000);

        let r2 = engine(s)
            .run(&[synthetic(1000)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(
            (
                r2.counts.new,
                r2.counts.changed,
                r2.counts.unchanged,
                r2.counts.gone
            ),
            (0, 0, 1000, 0),
            "{}",
            t.backend
        );

        let r3 = engine(s).run(&[synthetic(900)], &NoProgress).await.unwrap();
        assert_eq!(
            (r3.counts.gone, r3.counts.unchanged),
            (100, 900),
            "{}",
            t.backend
        );
        assert_eq!(count(s, Some(Status::Gone)).await, 100);
        assert_eq!(
            s.inventory_count(&InventoryFilter::default())
                .await
                .unwrap(),
            900,
            "gone records are hidden by default"
        );

        // They come back.
        let r4 = engine(s)
            .run(&[synthetic(1000)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(
            (r4.counts.changed, r4.counts.new, r4.counts.unchanged),
            (100, 0, 900),
            "{}",
            t.backend
        );
        assert_eq!(count(s, Some(Status::Gone)).await, 0);
        let page = s
            .inventory_page(&InventoryFilter::default(), None, 5)
            .await
            .unwrap();
        assert!(
            page.iter().all(|m| m.first_seen_run == r1.run_id),
            "first_seen survives updates"
        );
    }
}

type ScriptedListing = (Listing, Result<Vec<Record>, ConnectorError>);

/// A connector whose listings are set by the test: each a list of records or an error.
#[derive(Clone, Default)]
struct ScriptedConnector {
    listings: Arc<Mutex<Vec<ScriptedListing>>>,
    page_size: usize,
    /// When set, every listing answers with this token forever (a pagination loop).
    loop_token: Option<String>,
    plan_error: Option<ConnectorError>,
}

#[async_trait]
impl Connector for ScriptedConnector {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        if let Some(e) = &self.plan_error {
            return Err(e.clone());
        }
        Ok(self
            .listings
            .lock()
            .unwrap()
            .iter()
            .map(|(l, _)| l.clone())
            .collect())
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let all = self.listings.lock().unwrap();
        let (_, res) = all.iter().find(|(l, _)| l == listing).unwrap();
        let records = res.clone()?;
        let start: usize = page.map(|p| p.0.parse().unwrap_or(0)).unwrap_or(0);
        if let Some(t) = &self.loop_token {
            return Ok(Page {
                records: records[..1].to_vec(),
                next: Some(PageToken(t.clone())),
            });
        }
        let end = (start + self.page_size).min(records.len());
        Ok(Page {
            records: records[start..end].to_vec(),
            next: (end < records.len()).then(|| PageToken(end.to_string())),
        })
    }
}

fn rec(rt: &str, scope: &str, id: &str) -> Record {
    Record {
        key: RecordKey {
            resource_type: rt.into(),
            scope: scope.into(),
            external_id: id.into(),
        },
        platform: Platform::Github,
        kind: Kind::DeployKey,
        name: format!("key-{id}"),
        parent: None,
        status: Status::Active,
        created_at: None,
        last_used_at: None,
        usage: Usage::NoTelemetry,
        expires_at: None,
        privilege: Privilege::Read,
        privilege_detail: vec![],
        owner: None,
        owner_source: None,
        credential_fingerprint: None,
        signals: vec![],
        interactive_sign_in: None,
        raw: serde_json::json!({"id": id}),
    }
}

fn records(rt: &str, scope: &str, n: usize) -> Vec<Record> {
    (0..n).map(|i| rec(rt, scope, &i.to_string())).collect()
}

fn source(c: &ScriptedConnector) -> SyncSource {
    SyncSource {
        name: "scripted".into(),
        connector: Box::new(c.clone()),
    }
}

#[tokio::test]
async fn a_failed_listing_is_reported_and_never_swept() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let a = Listing::new("github.deploy_key", "acme");
        let b = Listing::new("github.deploy_key", "labs");
        let c = ScriptedConnector {
            page_size: 3,
            ..Default::default()
        };
        *c.listings.lock().unwrap() = vec![
            (a.clone(), Ok(records(&a.resource_type, "acme", 10))),
            (b.clone(), Ok(records(&b.resource_type, "labs", 10))),
        ];
        let r1 = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        assert_eq!(r1.counts.new, 20);

        // `labs` now answers 403 and `acme` lost half its keys.
        *c.listings.lock().unwrap() = vec![
            (a.clone(), Ok(records(&a.resource_type, "acme", 5))),
            (
                b.clone(),
                Err(ConnectorError::Forbidden {
                    url: "http://x/orgs/labs".into(),
                    needs: Some("admin:org".into()),
                }),
            ),
        ];
        let r2 = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        assert_eq!(r2.status, RunStatus::Partial, "{}", t.backend);
        assert_eq!(
            (r2.counts.gone, r2.counts.failed_listings),
            (5, 1),
            "{}",
            t.backend
        );
        let failed = &r2.connectors[0].listings[1];
        assert_eq!(failed.status, "failed");
        assert!(failed.error.as_deref().unwrap().contains("admin:org"));
        assert!(r2.to_text().contains("NOT SEEN: github.deploy_key in labs"));
        let labs = InventoryFilter {
            scope: Some("labs".into()),
            ..Default::default()
        };
        assert_eq!(
            s.inventory_count(&labs).await.unwrap(),
            10,
            "{}: nothing swept in a failed listing",
            t.backend
        );
        let listings = s.listings().await.unwrap();
        let labs_state = listings.iter().find(|l| l.scope == "labs").unwrap();
        assert_eq!(
            (
                labs_state.last_status.as_str(),
                labs_state.last_complete_run
            ),
            ("failed", Some(r1.run_id))
        );
    }
}

#[tokio::test]
async fn a_pagination_loop_fails_the_listing_but_keeps_what_was_seen() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let a = Listing::new("github.deploy_key", "acme");
        let c = ScriptedConnector {
            page_size: 3,
            loop_token: Some("same".into()),
            ..Default::default()
        };
        *c.listings.lock().unwrap() = vec![(a.clone(), Ok(records(&a.resource_type, "acme", 4)))];
        let r = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        assert_eq!(r.status, RunStatus::Failed, "{}", t.backend);
        let l = &r.connectors[0].listings[0];
        assert!(
            l.error.as_deref().unwrap().contains("pagination loop"),
            "{:?}",
            l.error
        );
        assert_eq!(l.duplicates, 1, "the looping page repeats its record");
        assert_eq!(count(s, None).await, 1);
    }
}

#[tokio::test]
async fn plan_failure_sweeps_nothing_and_changes_are_detected() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let a = Listing::new("github.deploy_key", "acme");
        let c = ScriptedConnector {
            page_size: 100,
            ..Default::default()
        };
        let mut recs = records(&a.resource_type, "acme", 3);
        // One record claims another listing: rejected, not stored.
        recs.push(rec("github.deploy_key", "elsewhere", "x"));
        *c.listings.lock().unwrap() = vec![(a.clone(), Ok(recs))];
        let r = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        assert_eq!((r.counts.new, r.connectors[0].listings[0].rejected), (3, 1));

        let mut changed = records(&a.resource_type, "acme", 3);
        changed[1].privilege = Privilege::Write;
        *c.listings.lock().unwrap() = vec![(a.clone(), Ok(changed))];
        let r = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        assert_eq!(
            (r.counts.changed, r.counts.unchanged),
            (1, 2),
            "{}",
            t.backend
        );

        let broken = ScriptedConnector {
            plan_error: Some(ConnectorError::Unauthorized {
                url: "http://x/".into(),
            }),
            ..c.clone()
        };
        let r = engine(s)
            .run(&[source(&broken)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(r.status, RunStatus::Failed);
        assert!(r.connectors[0].error.as_deref().unwrap().contains("401"));
        assert_eq!(count(s, Some(Status::Active)).await, 3);
        let runs = s.recent_sync_runs(10).await.unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].status, "failed");
    }
}

/// A connector whose one listing reads one page through a validator cache: answered "304"
/// when the cache holds the page's validator, else fetched and kept (unless `touch` is off).
struct Validated {
    cache: Arc<roster_connector_sdk::ValidatorCache>,
    touch: bool,
}

const PAGE_URL: &str = "https://api.example.com/orgs/acme/hooks";

#[async_trait]
impl Connector for Validated {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        Ok(vec![Listing::new("test.hook", "acme")])
    }

    async fn list(&self, listing: &Listing, _: Option<&PageToken>) -> Result<Page, ConnectorError> {
        if self.touch {
            if self.cache.lookup(PAGE_URL).is_some() {
                self.cache.note_not_modified(PAGE_URL);
            } else {
                self.cache.remember(roster_connector_sdk::CachedResponse {
                    url: PAGE_URL.into(),
                    etag: "\"v1\"".into(),
                    link: None,
                    body: b"[1]".to_vec(),
                });
            }
        }
        let record = Record::unknown(
            RecordKey {
                resource_type: listing.resource_type.clone(),
                scope: listing.scope.clone(),
                external_id: "1".into(),
            },
            Platform::Github,
            Kind::Webhook,
            "hook".into(),
            serde_json::json!({"id": 1}),
        );
        Ok(Page {
            records: vec![record],
            next: None,
        })
    }

    fn validator_cache(&self) -> Option<Arc<roster_connector_sdk::ValidatorCache>> {
        Some(self.cache.clone())
    }
}

fn validated(touch: bool) -> SyncSource {
    SyncSource {
        name: "gh".into(),
        connector: Box::new(Validated {
            cache: Arc::new(roster_connector_sdk::ValidatorCache::new(
                Vec::new(),
                roster_connector_sdk::ValidatorLimits::default(),
            )),
            touch,
        }),
    }
}

#[tokio::test]
async fn validators_are_restored_before_a_run_saved_after_it_and_304s_reported() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let r1 = engine(s)
            .run(&[validated(true)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(r1.connectors[0].not_modified, Some(0), "{}", t.backend);
        assert_eq!(s.http_validators("gh").await.unwrap().len(), 1);

        // A new process: the validator comes from the store.
        let r2 = engine(s)
            .run(&[validated(true)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(r2.connectors[0].not_modified, Some(1), "{}", t.backend);
        assert_eq!(r2.connectors[0].listings[0].not_modified, 1);
        assert_eq!(r2.counts.unchanged, 1);
        assert!(
            r2.to_text()
                .contains("1 request(s) answered 304 Not Modified")
        );
        assert_eq!(s.http_validators("gh").await.unwrap().len(), 1);

        // A run that no longer asks for the page drops its validator.
        engine(s)
            .run(&[validated(false)], &NoProgress)
            .await
            .unwrap();
        assert!(
            s.http_validators("gh").await.unwrap().is_empty(),
            "{}",
            t.backend
        );
        // Connectors without a cache report nothing about 304s.
        let r = engine(s).run(&[synthetic(10)], &NoProgress).await.unwrap();
        assert_eq!(r.connectors[0].not_modified, None);
    }
}

/// Every live record's stored tier and rules against a full evaluation at `at`, in the store's
/// current context. Returns how many records were compared.
async fn assert_stored_evaluations_hold(
    s: &Store,
    at: chrono::DateTime<chrono::Utc>,
    what: &str,
) -> u64 {
    let inputs = roster_store::EvaluationInputs::load(s).await.unwrap();
    let policy = RiskPolicy::default();
    let mut after = None;
    let mut n = 0;
    loop {
        let rows = s
            .inventory_page(&InventoryFilter::default(), after, 500)
            .await
            .unwrap();
        if rows.is_empty() {
            return n;
        }
        for row in rows {
            after = Some(row.id);
            let mut full = s.record(row.id).await.unwrap();
            full.raw = row.raw.clone();
            let e = inputs.evaluate(&policy, row.id, &full.to_record().unwrap(), at);
            assert_eq!(
                (row.tier.as_str(), row.finding_rules.as_str()),
                (
                    e.tier.as_str(),
                    roster_store::evaluation::stored_rules(&e).as_str()
                ),
                "{what}: record {} ({}) stored an evaluation that does not hold at {at}",
                row.id,
                row.name
            );
            assert!(
                row.evaluated_until.is_none_or(|u| u > at),
                "{what}: record {} is left due",
                row.id
            );
            n += 1;
        }
    }
}

#[tokio::test]
async fn stored_evaluations_hold_at_the_end_of_every_run() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let clock = Arc::new(FakeClock::new(default_anchor()));
        let engine = |clock: &Arc<FakeClock>| {
            let mut e = SyncEngine::new(s.clone(), RiskPolicy::default(), clock.clone());
            e.batch_size = 64;
            e
        };
        let r1 = engine(&clock)
            .run(&[synthetic(600)], &NoProgress)
            .await
            .unwrap();
        let n = assert_stored_evaluations_hold(s, r1.finished_at, "first sync").await;
        assert_eq!(n, 600, "{}", t.backend);
        // `evaluation_due` lists exactly the records falling due before the cover ends.
        let cover = s.covered_until().await.unwrap();
        assert!(cover > r1.finished_at, "{}", t.backend);
        let mut soon = Vec::new();
        let mut after = None;
        loop {
            let rows = s
                .inventory_page(&InventoryFilter::default(), after, 500)
                .await
                .unwrap();
            let Some(last) = rows.last() else { break };
            after = Some(last.id);
            soon.extend(
                rows.iter()
                    .filter(|r| r.evaluated_until.is_some_and(|u| u < cover))
                    .map(|r| r.id),
            );
        }
        let mut listed = s
            .listed_due(cover - chrono::Duration::seconds(1))
            .await
            .unwrap();
        soon.sort_unstable();
        listed.sort_unstable();
        assert!(
            !soon.is_empty(),
            "{}: some fall due within the day",
            t.backend
        );
        assert_eq!(listed, soon, "{}", t.backend);

        // Half a year on, nothing changed at the source: thresholds (staleness, rotation age,
        // expiry) were crossed, and the unchanged records' evaluations must follow.
        clock.advance(std::time::Duration::from_secs(183 * 86_400));
        let r2 = engine(&clock)
            .run(&[synthetic(600)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(r2.counts.unchanged, 600, "{}", t.backend);
        assert_stored_evaluations_hold(s, r2.finished_at, "re-sync half a year later").await;

        // A claim and a directory import change the owner rules between runs: the affected
        // records are due, so the next run re-evaluates them.
        let orphan = s
            .inventory_page(
                &InventoryFilter {
                    class: Some(roster_core::RecordClass::Identity),
                    ..Default::default()
                },
                None,
                500,
            )
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.owner.is_none() && r.status == "active")
            .expect("the synthetic estate has an ownerless identity");
        s.claim_ownership(
            orphan.id,
            "alice@example.com",
            "alice@example.com",
            "",
            r2.finished_at,
        )
        .await
        .unwrap();
        s.import_directory(
            "csv",
            &[roster_store::people::DirectoryEntry {
                key: "bob@example.com".into(),
                email: None,
                display_name: None,
                kind: "person".into(),
                active: false,
            }],
            r2.finished_at,
        )
        .await
        .unwrap();
        let due = s.record(orphan.id).await.unwrap().evaluated_until;
        assert!(
            due.is_some_and(|u| u <= r2.finished_at),
            "{}: the claimed record is due",
            t.backend
        );
        assert!(
            s.covered_until().await.unwrap() <= r2.finished_at,
            "{}: the list of what falls due no longer covers the present",
            t.backend
        );
        clock.advance(std::time::Duration::from_secs(300));
        let r3 = engine(&clock)
            .run(&[synthetic(600)], &NoProgress)
            .await
            .unwrap();
        assert_stored_evaluations_hold(s, r3.finished_at, "after a claim and an import").await;
        assert!(
            !s.record(orphan.id)
                .await
                .unwrap()
                .finding_rules
                .contains("owner.missing"),
            "{}: the claim counts",
            t.backend
        );

        // A person's first sign-in (the directory already has people) marks only what they
        // own, and lists it, so readers keep their narrowed reads.
        let owned = s
            .inventory_page(&InventoryFilter::default(), None, 600)
            .await
            .unwrap()
            .into_iter()
            .find_map(|r| r.owner.filter(|o| o.contains('@')))
            .expect("the synthetic estate has owners");
        let cover = s.covered_until().await.unwrap();
        assert!(cover > r3.finished_at, "{}", t.backend);
        s.record_sso_login(&owned.to_uppercase(), None, None, r3.finished_at)
            .await
            .unwrap();
        assert_eq!(s.covered_until().await.unwrap(), cover, "{}", t.backend);
        let listed = s.listed_due(r3.finished_at).await.unwrap();
        let theirs = s
            .inventory_page(
                &InventoryFilter {
                    owner: Some(owned.clone()),
                    ..Default::default()
                },
                None,
                600,
            )
            .await
            .unwrap();
        assert!(!theirs.is_empty(), "{}", t.backend);
        for r in &theirs {
            assert!(
                listed.contains(&r.id),
                "{}: {}'s record is listed due",
                t.backend,
                owned
            );
        }
        assert_eq!(
            listed.len(),
            theirs.len(),
            "{}: and nothing else",
            t.backend
        );
        let r4 = engine(&clock)
            .run(&[synthetic(600)], &NoProgress)
            .await
            .unwrap();
        assert_stored_evaluations_hold(s, r4.finished_at, "after a first sign-in").await;
    }
}

/// One sync per connector: while another live process holds a connector, a sync of it is
/// refused naming the holder and the running run is left alone; a connector it does not hold
/// syncs meanwhile; once the holder is dead its lease is taken over at once, its run closed as
/// aborted, and every stored evaluation marked due.
#[tokio::test]
async fn a_second_sync_of_a_connector_is_refused_while_the_first_runs() {
    use roster_connector_sdk::Clock;
    use roster_sync::{SYNC_LEASE, SyncHolder};
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let now = FakeClock::default().now();
        engine(s).run(&[synthetic(100)], &NoProgress).await.unwrap();

        // This very process, under another nonce: alive.
        let alive = SyncHolder::this_process();
        let other = alive.to_string();
        assert!(
            s.try_lease("sync-run:sample", &other, now + SYNC_LEASE, now)
                .await
                .unwrap()
        );
        let running = s
            .begin_sync_run(now, &["sample".into()], &other)
            .await
            .unwrap();
        let err = engine(s)
            .run(&[synthetic(100)], &NoProgress)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("connector sample is being synced by PID") && err.contains("since"),
            "{err}"
        );
        assert_eq!(s.sync_run(running).await.unwrap().status, "running");
        let elsewhere = SyncSource {
            name: "elsewhere".into(),
            ..synthetic(10)
        };
        let report = engine(s).run(&[elsewhere], &NoProgress).await.unwrap();
        assert_eq!(report.status, RunStatus::Ok, "{}", t.backend);
        assert_eq!(
            s.sync_run(running).await.unwrap().status,
            "running",
            "{}: a live run is never aborted",
            t.backend
        );

        // The holder dies (a PID no process has).
        let dead = SyncHolder::parse(&format!("{}:4000000000:gone", alive.host)).unwrap();
        assert!(
            s.take_over_lease(
                "sync-run:sample",
                &other,
                &dead.to_string(),
                now + SYNC_LEASE
            )
            .await
            .unwrap()
        );
        let dead_run = s
            .begin_sync_run(now, &["sample".into()], &dead.to_string())
            .await
            .unwrap();
        assert_eq!(
            roster_sync::abort_dead_runs(s, now).await.unwrap(),
            1,
            "{}: only the dead run",
            t.backend
        );
        assert_eq!(s.sync_run(dead_run).await.unwrap().status, "aborted");
        let inputs = roster_store::EvaluationInputs::load(s).await.unwrap();
        let check = s
            .check_evaluations(&RiskPolicy::default(), &inputs, now, false)
            .await
            .unwrap();
        assert_eq!(
            (check.due, check.wrong),
            (check.checked, 0),
            "{}: every evaluation is due after a dead run",
            t.backend
        );
        let report = engine(s).run(&[synthetic(100)], &NoProgress).await.unwrap();
        assert_eq!(report.status, RunStatus::Ok, "{}", t.backend);
        let inputs = roster_store::EvaluationInputs::load(s).await.unwrap();
        let check = s
            .check_evaluations(&RiskPolicy::default(), &inputs, now, false)
            .await
            .unwrap();
        assert_eq!((check.due, check.wrong), (0, 0), "{}", t.backend);
        assert_eq!(s.sync_run(running).await.unwrap().status, "running");
    }
}

/// Ids as [`roster_core::RecordId::derive`] makes them, except that external id `b` takes the
/// id of `a` in the same listing: a collision no real 64-bit hash can be made to produce.
fn b_collides_with_a(connector: &str, key: &RecordKey) -> roster_core::RecordId {
    let mut key = key.clone();
    if key.external_id == "b" {
        key.external_id = "a".into();
    }
    roster_core::RecordId::derive(connector, &key)
}

async fn stored_external_id(store: &Store, connector: &str, key: &RecordKey) -> String {
    let id = roster_core::RecordId::derive(connector, key).0;
    store.record(id).await.unwrap().external_id
}

#[tokio::test]
async fn a_colliding_id_in_one_listing_is_skipped_not_merged_and_a_duplicate_is_not_a_collision() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let l = Listing::new("github.deploy_key", "acme");
        let c = ScriptedConnector {
            page_size: 2,
            ..Default::default()
        };
        let rt = &l.resource_type;
        *c.listings.lock().unwrap() = vec![(
            l.clone(),
            Ok(vec![
                rec(rt, "acme", "a"),
                rec(rt, "acme", "x"),
                rec(rt, "acme", "b"),
            ]),
        )];
        let mut e = engine(s);
        e.record_id = b_collides_with_a;
        let r = e.run(&[source(&c)], &NoProgress).await.unwrap();
        let listing = &r.connectors[0].listings[0];
        assert_eq!(
            (
                r.status,
                listing.status,
                r.counts.new,
                r.counts.collisions,
                listing.counts.collisions,
                listing.duplicates
            ),
            (RunStatus::Ok, "complete", 2, 1, 1, 0),
            "{}",
            t.backend
        );
        assert_eq!(count(s, None).await, 2, "{}: b is not stored", t.backend);
        assert_eq!(
            stored_external_id(s, "scripted", &rec(rt, "acme", "a").key).await,
            "a",
            "{}",
            t.backend
        );
        assert!(
            r.to_text().contains("1 record(s) SKIPPED"),
            "{}",
            r.to_text()
        );

        // The clean twin: the same key listed twice is a duplicate, and the text says nothing
        // of collisions.
        *c.listings.lock().unwrap() = vec![(
            l.clone(),
            Ok(vec![
                rec(rt, "acme", "a"),
                rec(rt, "acme", "x"),
                rec(rt, "acme", "a"),
            ]),
        )];
        let r = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        let listing = &r.connectors[0].listings[0];
        assert_eq!(
            (
                r.counts.unchanged,
                r.counts.collisions,
                listing.duplicates,
                r.counts.gone
            ),
            (2, 0, 1, 0),
            "{}",
            t.backend
        );
        assert!(!r.to_text().contains("SKIPPED"), "{}", r.to_text());
    }
}

#[tokio::test]
async fn a_record_colliding_with_a_stored_one_leaves_it_untouched_and_its_listing_complete() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let l = Listing::new("github.deploy_key", "acme");
        let rt = l.resource_type.clone();
        let c = ScriptedConnector {
            page_size: 2,
            ..Default::default()
        };
        *c.listings.lock().unwrap() = vec![(
            l.clone(),
            Ok(vec![rec(&rt, "acme", "a"), rec(&rt, "acme", "x")]),
        )];
        let mut e = engine(s);
        e.record_id = b_collides_with_a;
        assert_eq!(
            e.run(&[source(&c)], &NoProgress).await.unwrap().counts.new,
            2
        );

        // `a` is gone from the source and `b`, whose id is `a`'s, appears: the index knows the
        // stored key is another one, so `b` is skipped and `a` is swept as any gone record.
        let mut changed_x = rec(&rt, "acme", "x");
        changed_x.privilege = Privilege::Admin;
        *c.listings.lock().unwrap() = vec![(l.clone(), Ok(vec![rec(&rt, "acme", "b"), changed_x]))];
        let r = e.run(&[source(&c)], &NoProgress).await.unwrap();
        let listing = &r.connectors[0].listings[0];
        assert_eq!(
            (
                r.status,
                listing.status,
                r.counts.changed,
                r.counts.new,
                r.counts.collisions,
                r.counts.gone
            ),
            (RunStatus::Ok, "complete", 1, 0, 1, 1),
            "{}",
            t.backend
        );
        let a_key = rec(&rt, "acme", "a").key;
        let a = s
            .record(roster_core::RecordId::derive("scripted", &a_key).0)
            .await
            .unwrap();
        assert_eq!(
            (a.external_id.as_str(), a.name.as_str(), a.status.as_str()),
            ("a", "key-a", "gone"),
            "{}: the stored record keeps its key and content",
            t.backend
        );
        assert_eq!(count(s, None).await, 2, "{}", t.backend);
    }
}

#[tokio::test]
async fn a_record_whose_id_another_connector_stored_is_refused_by_the_store() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let l = Listing::new("github.deploy_key", "acme");
        let rt = l.resource_type.clone();
        // What another connector stored under the id `scripted` derives for `b` (the index of
        // `scripted` cannot know it: only the store's key check stops the overwrite).
        let foreign = rec(&rt, "acme", "foreign");
        let b_key = rec(&rt, "acme", "b").key;
        let colliding_id = roster_core::RecordId::derive("scripted", &b_key);
        let run = s
            .begin_sync_run(chrono::Utc::now(), &["other".into()], "test")
            .await
            .unwrap();
        let evaluation = RiskPolicy::default().evaluate(&foreign, chrono::Utc::now());
        s.write_records(
            run,
            chrono::Utc::now(),
            &[roster_store::RecordRow {
                id: colliding_id,
                connector: "other".into(),
                content_hash: foreign.content_hash(),
                parent_id: None,
                evaluation,
                record: foreign.clone(),
                change: roster_store::Change::New,
            }],
        )
        .await
        .unwrap();

        let c = ScriptedConnector {
            page_size: 2,
            ..Default::default()
        };
        *c.listings.lock().unwrap() = vec![(
            l.clone(),
            Ok(vec![rec(&rt, "acme", "b"), rec(&rt, "acme", "y")]),
        )];
        let r = engine(s).run(&[source(&c)], &NoProgress).await.unwrap();
        let listing = &r.connectors[0].listings[0];
        assert_eq!(
            (
                r.status,
                listing.status,
                r.counts.new,
                r.counts.collisions,
                r.connectors[0].counts.collisions,
                listing.counts.collisions,
                listing.counts.new
            ),
            (RunStatus::Ok, "complete", 1, 1, 1, 1, 1),
            "{}",
            t.backend
        );
        let stored = s.record(colliding_id.0).await.unwrap();
        assert_eq!(
            (stored.connector.as_str(), stored.external_id.as_str()),
            ("other", "foreign"),
            "{}: the stored record is untouched",
            t.backend
        );
        let finished = s.sync_run(r.run_id).await.unwrap();
        assert_eq!(finished.new_count, 1, "{}", t.backend);

        // The clean twin: without the foreign row the same listing is simply stored.
        let clean = &test_stores().await.unwrap()[0].store;
        let r = engine(clean).run(&[source(&c)], &NoProgress).await.unwrap();
        assert_eq!((r.counts.new, r.counts.collisions), (2, 0));
        assert_eq!(stored_external_id(clean, "scripted", &b_key).await, "b");
    }
}

/// A credential without an owner of its own takes its identity's, with where it came from;
/// one with its own keeps it; one whose identity has none is orphaned (`owner.missing`); and
/// when the identity's owner changes or goes, the credential follows at the next run.
#[tokio::test]
async fn credentials_inherit_their_identity_s_owner() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let roles = Listing::new("aws.role", "111122223333");
        let keys = Listing::new("aws.access_key", "111122223333");
        let identity = |id: &str, owner: Option<&str>| {
            let mut r = rec("aws.role", "111122223333", id);
            r.platform = Platform::Aws;
            r.kind = Kind::Role;
            r.owner = owner.map(str::to_owned);
            r.owner_source = owner.map(|_| "aws_tag:owner".to_owned());
            r
        };
        let key = |id: &str, parent: &str, own: Option<&str>| {
            let mut r = rec("aws.access_key", "111122223333", id);
            r.platform = Platform::Aws;
            r.kind = Kind::AccessKey;
            r.parent = Some(identity(parent, None).key);
            r.owner = own.map(str::to_owned);
            r.owner_source = own.map(|_| "platform".to_owned());
            r
        };
        let c = ScriptedConnector {
            page_size: 100,
            ..Default::default()
        };
        let run = |owned_by: Option<&'static str>| {
            *c.listings.lock().unwrap() = vec![
                (
                    roles.clone(),
                    Ok(vec![
                        identity("deployer", owned_by),
                        identity("nobody", None),
                    ]),
                ),
                (
                    keys.clone(),
                    Ok(vec![
                        key("k1", "deployer", None),
                        key("k2", "deployer", Some("own@acme.example")),
                        key("k3", "nobody", None),
                    ]),
                ),
            ];
            engine(s)
        };
        let stored = |id: &'static str| async move {
            let rows = s
                .inventory_page(&InventoryFilter::default(), None, 100)
                .await
                .unwrap();
            let row = rows
                .into_iter()
                .find(|r| r.external_id == id)
                .unwrap_or_else(|| panic!("{id} stored"));
            (row.owner, row.owner_source, row.finding_rules)
        };
        run(Some("ada@acme.example"))
            .run(&[source(&c)], &NoProgress)
            .await
            .unwrap();
        let (owner, source_, rules) = stored("k1").await;
        assert_eq!(owner.as_deref(), Some("ada@acme.example"), "{}", t.backend);
        assert_eq!(source_.as_deref(), Some("inherited:aws_tag:owner"));
        assert!(!rules.contains("owner.missing"), "{rules}");
        let (owner, source_, _) = stored("k2").await;
        assert_eq!(
            (owner.as_deref(), source_.as_deref()),
            (Some("own@acme.example"), Some("platform")),
            "its own owner stays"
        );
        let (owner, _, rules) = stored("k3").await;
        assert_eq!(owner, None);
        assert!(rules.contains("owner.missing"), "orphaned: {rules}");

        // The identity's owner changes, then goes: the key follows, its evaluation too.
        run(Some("bo@acme.example"))
            .run(&[source(&c)], &NoProgress)
            .await
            .unwrap();
        assert_eq!(stored("k1").await.0.as_deref(), Some("bo@acme.example"));
        run(None).run(&[source(&c)], &NoProgress).await.unwrap();
        let (owner, source_, rules) = stored("k1").await;
        assert_eq!((owner, source_), (None, None), "{}", t.backend);
        assert!(rules.contains("owner.missing"), "{rules}");
        assert_eq!(
            stored("k2").await.0.as_deref(),
            Some("own@acme.example"),
            "never its own owner"
        );
    }
}

/// A claim on an identity reaches its credentials that have no owner, as
/// `inherited:<who claimed>`: at once, again when the identity is claimed anew, and at the next
/// run for a credential that arrives later; a credential's own claim is never replaced.
#[tokio::test]
async fn an_identity_s_claim_reaches_its_unowned_credentials() {
    for t in test_stores().await.unwrap() {
        let s = &t.store;
        let roles = Listing::new("aws.role", "111122223333");
        let keys = Listing::new("aws.access_key", "111122223333");
        let identity = |id: &str| {
            let mut r = rec("aws.role", "111122223333", id);
            r.platform = Platform::Aws;
            r.kind = Kind::Role;
            r
        };
        let key = |id: &str| {
            let mut r = rec("aws.access_key", "111122223333", id);
            r.platform = Platform::Aws;
            r.kind = Kind::AccessKey;
            r.parent = Some(identity("nobody").key);
            r
        };
        let c = ScriptedConnector {
            page_size: 100,
            ..Default::default()
        };
        let run = |key_ids: &[&str]| {
            *c.listings.lock().unwrap() = vec![
                (roles.clone(), Ok(vec![identity("nobody")])),
                (keys.clone(), Ok(key_ids.iter().map(|k| key(k)).collect())),
            ];
            engine(s)
        };
        run(&["k1", "k2"])
            .run(&[source(&c)], &NoProgress)
            .await
            .unwrap();
        let id_of = |external: &'static str| async move {
            s.inventory_page(&InventoryFilter::default(), None, 100)
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.external_id == external)
                .unwrap_or_else(|| panic!("{external} stored"))
                .id
        };
        let now = chrono::Utc::now();
        // k2 is claimed on its own first; then the identity.
        s.claim_ownership(
            id_of("k2").await,
            "dee@acme.example",
            "dee@acme.example",
            "",
            now,
        )
        .await
        .unwrap();
        s.claim_ownership(
            id_of("nobody").await,
            "cy@acme.example",
            "cy@acme.example",
            "",
            now,
        )
        .await
        .unwrap();
        let claims = s.ownership_claims().await.unwrap();
        let k1 = &claims[&id_of("k1").await];
        assert_eq!(
            (k1.owner.as_str(), k1.claimed_by.as_str()),
            ("cy@acme.example", "inherited:cy@acme.example"),
            "{}",
            t.backend
        );
        assert_eq!(
            claims[&id_of("k2").await].owner,
            "dee@acme.example",
            "its own claim stays"
        );
        // Whoever asks for cy's records finds the key too.
        let cys = s
            .inventory_page(
                &InventoryFilter {
                    owner: Some("cy@acme.example".into()),
                    ..Default::default()
                },
                None,
                100,
            )
            .await
            .unwrap();
        assert!(cys.iter().any(|r| r.external_id == "k1"), "{}", t.backend);

        // Claimed anew: the inherited claim follows; a key arriving later takes it at its run.
        s.claim_ownership(
            id_of("nobody").await,
            "ed@acme.example",
            "ed@acme.example",
            "",
            now,
        )
        .await
        .unwrap();
        run(&["k1", "k2", "k3"])
            .run(&[source(&c)], &NoProgress)
            .await
            .unwrap();
        let claims = s.ownership_claims().await.unwrap();
        for k in ["k1", "k3"] {
            assert_eq!(
                claims[&id_of(k).await].owner,
                "ed@acme.example",
                "{k} {}",
                t.backend
            );
        }
        assert_eq!(claims[&id_of("k2").await].owner, "dee@acme.example");
    }
}
