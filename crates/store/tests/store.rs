#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store on SQLite and (when `ROSTER_TEST_POSTGRES_URL` is set) PostgreSQL.

use chrono::{DateTime, TimeZone, Utc};
use roster_core::{
    Kind, Platform, Privilege, Record, RecordId, RecordKey, RiskPolicy, Status, Tier, Usage,
};
use roster_store::testing::test_stores;
use roster_store::{Change, InventoryFilter, ListingOutcome, RecordRow, RunCounts, RunStatus};

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, day, 12, 0, 0).unwrap()
}

fn record(scope: &str, id: &str, platform: Platform, owner: Option<&str>) -> Record {
    Record {
        key: RecordKey {
            resource_type: "x.thing".into(),
            scope: scope.into(),
            external_id: id.into(),
        },
        platform,
        kind: Kind::ServiceAccount,
        name: format!("svc-{id}"),
        parent: None,
        status: Status::Active,
        created_at: Some(t(1)),
        last_used_at: Some(t(2)),
        usage: Usage::Used,
        expires_at: None,
        privilege: Privilege::Admin,
        privilege_detail: vec!["roles/owner".into()],
        owner: owner.map(str::to_owned),
        owner_source: owner.map(|_| "test".to_owned()),
        credential_fingerprint: None,
        signals: vec![],
        interactive_sign_in: None,
        raw: serde_json::json!({"id": id, "nested": {"a": [1, 2]}}),
    }
}

fn row(r: Record, change: Change) -> RecordRow {
    let id = RecordId::derive("c", &r.key);
    let evaluation = RiskPolicy::default().evaluate(&r, t(3));
    RecordRow {
        id,
        connector: "c".into(),
        content_hash: r.content_hash(),
        parent_id: None,
        evaluation,
        record: r,
        change,
    }
}

#[tokio::test]
async fn records_round_trip_and_upserts_keep_first_seen() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let run1 = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let r = record("acme", "1", Platform::Gcp, None);
        s.write_records(run1, t(3), &[row(r.clone(), Change::New)])
            .await
            .unwrap();
        let id = RecordId::derive("c", &r.key).0;
        let stored = s.record(id).await.unwrap();
        assert_eq!(
            stored.to_record().unwrap(),
            r,
            "{}: everything round-trips, timestamps included",
            ts.backend
        );
        assert_eq!(stored.tier, "high");
        assert_eq!(
            stored.stored_rules(),
            vec!["privilege.admin", "owner.missing"],
            "{}",
            ts.backend
        );

        let run2 = s.begin_sync_run(t(4), &["c".into()], "test").await.unwrap();
        let mut changed = r.clone();
        changed.privilege = Privilege::Read;
        changed.interactive_sign_in = Some(roster_core::InteractiveSignIn {
            method: "console password".into(),
            last_at: Some(t(2)),
        });
        s.write_records(run2, t(4), &[row(changed.clone(), Change::Changed)])
            .await
            .unwrap();
        let stored = s.record(id).await.unwrap();
        assert_eq!(stored.to_record().unwrap(), changed, "{}", ts.backend);
        assert!(stored.stored_rules().contains(&"usage.human_sign_in"));
        assert_eq!(
            (
                stored.first_seen_run,
                stored.changed_run,
                stored.privilege.as_str()
            ),
            (run1, run2, "read"),
            "{}",
            ts.backend
        );

        s.mark_gone(run2, t(4), &[id]).await.unwrap();
        let stored = s.record(id).await.unwrap();
        assert_eq!(
            (stored.status.as_str(), stored.gone_run),
            ("gone", Some(run2))
        );
        assert!(s.record(12345).await.is_err());
    }
}

#[tokio::test]
async fn inventory_filters_and_keyset_pages() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let run = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let mut rows = Vec::new();
        for i in 0..50 {
            let platform = if i % 2 == 0 {
                Platform::Aws
            } else {
                Platform::Github
            };
            let owner = (i % 5 != 0).then_some("alice");
            rows.push(row(
                record(
                    if i < 25 { "a" } else { "b" },
                    &i.to_string(),
                    platform,
                    owner,
                ),
                Change::New,
            ));
        }
        s.write_records(run, t(3), &rows).await.unwrap();
        let count = |f: InventoryFilter| async move { s.inventory_count(&f).await.unwrap() };
        assert_eq!(count(InventoryFilter::default()).await, 50);
        // A bounded count reads no more than one row past its bound.
        let all = InventoryFilter::default();
        let up_to = |cap| s.inventory_count_up_to(&all, cap);
        assert_eq!(up_to(10).await.unwrap(), 11, "{}: more than 10", ts.backend);
        assert_eq!(up_to(50).await.unwrap(), 50);
        assert_eq!(up_to(1000).await.unwrap(), 50);
        assert_eq!(
            count(InventoryFilter {
                platform: Some(Platform::Aws),
                ..Default::default()
            })
            .await,
            25
        );
        assert_eq!(
            count(InventoryFilter {
                owner: Some("alice".into()),
                ..Default::default()
            })
            .await,
            40
        );
        assert_eq!(
            count(InventoryFilter {
                scope: Some("b".into()),
                ..Default::default()
            })
            .await,
            25
        );
        assert_eq!(
            count(InventoryFilter {
                search: Some("svc-4".into()),
                ..Default::default()
            })
            .await,
            11
        );
        // Every word somewhere, in any case: name, external id, owner or scope.
        let search = |q: &str| InventoryFilter {
            search: Some(q.into()),
            ..Default::default()
        };
        assert_eq!(count(search("SVC-4 ALICE")).await, 9, "{}", ts.backend);
        assert_eq!(count(search("svc-4 nobody")).await, 0);
        assert_eq!(count(search("  svc-49   b ")).await, 1, "scope b, ANDed");
        // An owner from a search box: its start, in any case; exact for what a person owns.
        let owner = |o: &str, prefix: bool| InventoryFilter {
            owner: Some(o.into()),
            owner_prefix: prefix,
            ..Default::default()
        };
        assert_eq!(count(owner("ALI", true)).await, 40, "{}", ts.backend);
        assert_eq!(
            count(owner("li", true)).await,
            0,
            "a start, not a substring"
        );
        assert_eq!(count(owner("ali", false)).await, 0, "exact");
        assert_eq!(count(owner("a_ice", true)).await, 0, "`_` is text");
        // LIKE's wildcards are text in a search: `_` matches no `-`, `%` nothing at all.
        for literal in ["svc_4", "%", "svc\\4"] {
            assert_eq!(
                count(InventoryFilter {
                    search: Some(literal.into()),
                    ..Default::default()
                })
                .await,
                0,
                "{literal}"
            );
        }
        assert_eq!(
            count(InventoryFilter {
                tier: Some(Tier::Critical),
                ..Default::default()
            })
            .await,
            0
        );

        // Keyset pages cover everything once, in id order.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .inventory_page(&InventoryFilter::default(), after, 7)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|m| m.id);
            seen.extend(page.into_iter().map(|m| m.id));
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!((seen.len(), sorted), (50, seen.clone()), "{}", ts.backend);

        let gone: Vec<i64> = rows[..10].iter().map(|r| r.id.0).collect();
        s.mark_gone(run, t(3), &gone).await.unwrap();
        assert_eq!(
            count(InventoryFilter::default()).await,
            40,
            "gone is hidden"
        );
        assert_eq!(
            count(InventoryFilter {
                include_gone: true,
                ..Default::default()
            })
            .await,
            50
        );
        assert_eq!(
            count(InventoryFilter {
                status: Some(Status::Gone),
                ..Default::default()
            })
            .await,
            10
        );
    }
}

/// A platform filter without a kind is read kind by kind and merged (see
/// `Store::inventory_page`): pages still hold exactly the platform's records, in id order, each
/// once, with a class filter too.
#[tokio::test]
async fn a_platform_page_merges_its_kinds_in_id_order() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let run = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let kinds = [
            Kind::ServiceAccount,
            Kind::AccessKey,
            Kind::DeployKey,
            Kind::Role,
        ];
        let rows: Vec<RecordRow> = (0..60)
            .map(|i| {
                let platform = if i % 3 == 0 {
                    Platform::Aws
                } else {
                    Platform::Github
                };
                let mut r = record("a", &i.to_string(), platform, Some("alice"));
                r.kind = kinds[i % kinds.len()];
                row(r, Change::New)
            })
            .collect();
        s.write_records(run, t(3), &rows).await.unwrap();
        for class in [None, Some(roster_core::RecordClass::Credential)] {
            let mut expected: Vec<i64> = rows
                .iter()
                .filter(|r| r.record.platform == Platform::Github)
                .filter(|r| class.is_none_or(|c| r.record.kind.class() == c))
                .map(|r| r.id.0)
                .collect();
            expected.sort_unstable();
            let filter = InventoryFilter {
                platform: Some(Platform::Github),
                class,
                ..Default::default()
            };
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = s.inventory_page(&filter, after, 4).await.unwrap();
                assert!(page.len() <= 4);
                if page.is_empty() {
                    break;
                }
                after = page.last().map(|m| m.id);
                seen.extend(page.into_iter().map(|m| m.id));
            }
            assert_eq!(seen, expected, "{} {class:?}", ts.backend);
            assert!(expected.len() >= 20, "{}", expected.len());
        }
    }
}

#[tokio::test]
async fn runs_listings_and_the_index() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let crashed = s.begin_sync_run(t(1), &["c".into()], "test").await.unwrap();
        assert_eq!(s.running_sync_runs().await.unwrap().len(), 1);
        assert_eq!(s.abort_sync_runs(&[crashed], t(2)).await.unwrap(), 1);
        assert_eq!(
            s.abort_sync_runs(&[crashed], t(2)).await.unwrap(),
            0,
            "an aborted run is not aborted again"
        );
        assert_eq!(s.sync_run(crashed).await.unwrap().status, "aborted");

        let run = s.begin_sync_run(t(2), &["c".into()], "test").await.unwrap();
        s.write_records(
            run,
            t(2),
            &[row(record("a", "1", Platform::Aws, None), Change::New)],
        )
        .await
        .unwrap();
        let outcome = |complete: bool| ListingOutcome {
            connector: "c".into(),
            resource_type: "x.thing".into(),
            scope: "a".into(),
            complete,
            error: (!complete).then(|| "HTTP 403".to_owned()),
            seen: 1,
        };
        s.record_listing(run, t(2), &outcome(true)).await.unwrap();
        let counts = RunCounts {
            new: 1,
            ..Default::default()
        };
        s.finish_sync_run(
            run,
            t(2),
            RunStatus::Ok,
            counts,
            &serde_json::json!({"ok": true}),
        )
        .await
        .unwrap();
        let run2 = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        s.record_listing(run2, t(3), &outcome(false)).await.unwrap();

        let listing = &s.listings().await.unwrap()[0];
        assert_eq!(
            (
                listing.last_status.as_str(),
                listing.last_complete_run,
                listing.last_attempt_run,
                listing.last_error.as_deref()
            ),
            ("failed", Some(run), run2, Some("HTTP 403")),
            "{}: a failure keeps the last complete run",
            ts.backend
        );
        let last = s.last_complete_runs().await.unwrap();
        assert_eq!(
            last.get(&("c".into(), "x.thing".into(), "a".into())),
            Some(&run)
        );

        let index = s.load_index("c").await.unwrap();
        assert_eq!(index.entries.len(), 1);
        assert!(s.load_index("other").await.unwrap().entries.is_empty());
        let finished = s.sync_run(run).await.unwrap();
        assert_eq!((finished.status.as_str(), finished.new_count), ("ok", 1));
    }
}

#[tokio::test]
async fn only_live_shared_fingerprints_are_read_with_their_parents_name() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let run = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let app = record("tenant", "app", Platform::Azure, Some("alice"));
        let app_id = RecordId::derive("c", &app.key);
        let cert = |id: &str, fp: Option<&str>| {
            let mut r = record("tenant", id, Platform::Azure, None);
            r.kind = Kind::Certificate;
            r.credential_fingerprint = fp.map(str::to_owned);
            r
        };
        let mut rows = vec![row(app, Change::New)];
        for r in [
            cert("shared-1", Some("x509-sha1:aa")),
            cert("shared-2", Some("x509-sha1:aa")),
            cert("alone", Some("x509-sha1:bb")),
            cert("gone-twin", Some("x509-sha1:bb")),
            cert("none-1", None),
            cert("none-2", None),
        ] {
            let mut row = row(r, Change::New);
            row.parent_id = Some(app_id);
            rows.push(row);
        }
        s.write_records(run, t(3), &rows).await.unwrap();
        let gone = RecordId::derive("c", &cert("gone-twin", None).key).0;
        s.mark_gone(run, t(3), &[gone]).await.unwrap();

        let mut uses = s.shared_credential_fingerprints().await.unwrap();
        uses.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["svc-shared-1", "svc-shared-2"], "{}", ts.backend);
        assert_eq!(uses[0].parent_id, Some(app_id.0));
        assert_eq!(uses[0].parent_name.as_deref(), Some("svc-app"));
        assert_eq!(uses[0].kind, Kind::Certificate);
        assert_eq!(
            uses[0].fingerprint.as_deref(),
            Some("x509-sha1:aa"),
            "{}",
            ts.backend
        );
        // Both under one app: one place, no reuse.
        assert!(roster_core::credential_fingerprint::reuse_by_record(&uses).is_empty());
    }
}

#[tokio::test]
async fn inventory_pages_read_only_the_sample_mark_of_raw() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let run = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let real = record("acme", "real", Platform::Aws, None);
        let mut sample = record("acme", "sample", Platform::Aws, None);
        sample.raw = serde_json::json!({"id": "sample", "sample_data": true, "slot": 3});
        s.write_records(
            run,
            t(3),
            &[row(real.clone(), Change::New), row(sample, Change::New)],
        )
        .await
        .unwrap();
        let page = s
            .inventory_page(&InventoryFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(page.len(), 2);
        for m in &page {
            let is_sample = m.external_id == "sample";
            let expected = if is_sample {
                r#"{"sample_data":true}"#
            } else {
                "null"
            };
            assert_eq!(m.raw, expected, "{}", ts.backend);
            let record = m.to_record().unwrap();
            let item = m.to_item(&record, RiskPolicy::default().evaluate(&record, t(3)), None);
            assert_eq!(item.sample, is_sample);
            // Everything else is as stored.
            let full = s.record(m.id).await.unwrap();
            assert_eq!(
                (m.name.as_str(), m.content_hash),
                (full.name.as_str(), full.content_hash)
            );
        }
        let id = RecordId::derive("c", &real.key).0;
        assert_eq!(
            s.record(id).await.unwrap().to_record().unwrap().raw,
            real.raw
        );
    }
}

/// A stored record whose id is that of another natural key (a 64-bit collision, made here by
/// giving the row the other key's id) is never overwritten: the upsert skips it and says so,
/// writes no history or evaluation for it, and still writes the rest of the batch.
#[tokio::test]
async fn an_upsert_never_overwrites_a_stored_record_of_another_natural_key() {
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let run1 = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let a = record("acme", "a", Platform::Gcp, None);
        let b = record("acme", "b", Platform::Gcp, Some("ops"));
        let colliding_id = RecordId::derive("c", &b.key);
        let mut stored_a = row(a.clone(), Change::New);
        stored_a.id = colliding_id;
        let collisions = s
            .write_records(run1, t(3), &[stored_a.clone()])
            .await
            .unwrap();
        assert!(collisions.is_empty(), "{}", ts.backend);

        let run2 = s.begin_sync_run(t(4), &["c".into()], "test").await.unwrap();
        let other = record("acme", "other", Platform::Gcp, None);
        for change in [Change::New, Change::Changed] {
            let collisions = s
                .write_records(
                    run2,
                    t(4),
                    &[row(b.clone(), change), row(other.clone(), Change::New)],
                )
                .await
                .unwrap();
            assert_eq!(collisions.len(), 1, "{}: {change:?}", ts.backend);
            let c = &collisions[0];
            assert_eq!(
                (c.id, &c.key, &c.stored_key, c.change),
                (colliding_id, &b.key, &a.key, change),
                "{}",
                ts.backend
            );
            let stored = s.record(colliding_id.0).await.unwrap();
            assert_eq!(
                (stored.to_record().unwrap(), stored.changed_run),
                (a.clone(), run1),
                "{}: the stored record is untouched",
                ts.backend
            );
            assert!(
                s.record_timeline(colliding_id.0).await.unwrap().is_empty(),
                "{}: no history of the skipped record on the stored one",
                ts.backend
            );
        }
        let other_id = RecordId::derive("c", &other.key).0;
        assert_eq!(
            s.record(other_id).await.unwrap().external_id,
            "other",
            "{}: the rest of the batch is written",
            ts.backend
        );

        // The clean twin: the stored natural key itself updates as always.
        let mut changed_a = a.clone();
        changed_a.owner = Some("ops".into());
        let mut update = row(changed_a.clone(), Change::Changed);
        update.id = colliding_id;
        let collisions = s.write_records(run2, t(4), &[update]).await.unwrap();
        assert!(collisions.is_empty(), "{}", ts.backend);
        let stored = s.record(colliding_id.0).await.unwrap();
        assert_eq!(
            (stored.to_record().unwrap(), stored.changed_run),
            (changed_a, run2),
            "{}",
            ts.backend
        );
        assert_eq!(
            s.record_timeline(colliding_id.0).await.unwrap().len(),
            1,
            "{}",
            ts.backend
        );
    }
}

/// SQLite: a store transaction that reads before it writes (the evaluation refresh reads the
/// due list's cover first) waits for another connection's write lock instead of failing at
/// once with SQLITE_BUSY_SNAPSHOT when that write commits: a server's start-up refresh beside
/// its own sign-in link, or beside a CLI, once left every evaluation due for five minutes.
#[tokio::test]
async fn a_refresh_waits_for_another_connections_write_on_sqlite() {
    use roster_store::{EvaluationInputs, Store};
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let file = std::env::temp_dir().join(format!(
        "roster-refresh-{}-{}.db",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let first = Store::connect(&url).await.unwrap();
    first.migrate().await.unwrap();
    let run = first
        .begin_sync_run(t(3), &["c".into()], "test")
        .await
        .unwrap();
    let rows: Vec<RecordRow> = (0..50)
        .map(|i| {
            row(
                record("acme", &i.to_string(), Platform::Gcp, None),
                Change::New,
            )
        })
        .collect();
    first.write_records(run, t(3), &rows).await.unwrap();
    first.mark_all_evaluations_due().await.unwrap();

    let second = Store::connect(&url).await.unwrap();
    let inputs = EvaluationInputs::load(&second).await.unwrap();
    // The other connection holds the write lock with a write not yet committed.
    let held = first.connection().begin().await.unwrap();
    held.execute(Statement::from_string(
        held.get_database_backend(),
        "UPDATE sync_runs SET holder = 'held' WHERE id = 1",
    ))
    .await
    .unwrap();
    let waiting = tokio::spawn(async move {
        second
            .refresh_evaluations(
                &RiskPolicy::default(),
                &inputs,
                &std::collections::HashSet::new(),
                t(4),
            )
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    held.commit().await.unwrap();
    let refreshed = waiting.await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    assert_eq!(refreshed.unwrap(), 50);
}

/// PostgreSQL: servers started together on an empty database migrate once (an advisory lock);
/// every one of them comes up, and each migration is recorded once.
#[tokio::test]
async fn servers_started_together_on_an_empty_postgres_migrate_once() {
    use roster_store::Store;
    use sea_orm::{ConnectionTrait, Statement};
    let Some(url) = roster_store::testing::fresh_postgres_database()
        .await
        .unwrap()
    else {
        eprintln!("skipped: ROSTER_TEST_POSTGRES_URL not set");
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Store::connect(&url).await.unwrap());
    }
    let results = futures::future::join_all(stores.iter().map(Store::migrate)).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let twice = stores[0]
        .connection()
        .query_all(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT version FROM seaql_migrations GROUP BY version HAVING COUNT(*) > 1",
        ))
        .await
        .unwrap();
    assert!(twice.is_empty(), "a migration recorded twice");
    // And the schema is whole: a run can begin.
    stores[3]
        .begin_sync_run(t(3), &["c".into()], "test")
        .await
        .unwrap();
}

/// The search index follows every write: a new record is found by any part of its name,
/// external id, owner or scope, in any case; a rename or a new owner is found by the new text
/// and no longer by the old; text a full-text query would read as syntax (quotes, operators,
/// column filters, prefix stars) is searched for as text; and on SQLite a change made around the
/// triggers is seen by the check the doctor runs, and mended by a rebuild.
#[tokio::test]
async fn the_search_index_follows_every_write() {
    use sea_orm::ConnectionTrait;
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let found = |q: &str| {
            let f = InventoryFilter {
                search: Some(q.into()),
                ..Default::default()
            };
            async move { s.inventory_count(&f).await.unwrap() }
        };
        let run = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let mut a = record(
            "acme-prod",
            "AKIA1",
            Platform::Aws,
            Some("Alice@acme.example"),
        );
        a.name = "deploy-payments".into();
        let b = record("acme-dev", "AKIA2", Platform::Aws, None);
        s.write_records(
            run,
            t(3),
            &[row(a.clone(), Change::New), row(b.clone(), Change::New)],
        )
        .await
        .unwrap();
        // Found while they wait to be indexed (SQLite), and once they are.
        assert_eq!(found("PAYMENTS alice").await, 1, "{}: waiting", ts.backend);
        assert_eq!(found("akia").await, 2, "{}: waiting", ts.backend);
        let waiting = s.index_pending_search().await.unwrap();
        assert_eq!(waiting, if s.is_postgres() { 0 } else { 2 });
        assert_eq!(s.index_pending_search().await.unwrap(), 0, "nothing left");
        assert_eq!(found("PAYMENTS").await, 1, "{}", ts.backend);
        assert_eq!(found("ymen").await, 1, "inside a word");
        assert_eq!(found("akia").await, 2, "external ids");
        assert_eq!(found("prod alice@ACME").await, 1, "scope and owner, ANDed");
        assert_eq!(found("pay nobody").await, 0);
        assert_eq!(found("zzqqxx").await, 0, "a word nothing holds");
        assert_eq!(found("de pay").await, 1, "a short word beside a long one");
        // Pages of a search, one row at a time, in id order; and the rows among given ids.
        let akia = InventoryFilter {
            search: Some("AKIA".into()),
            ..Default::default()
        };
        let first = s.inventory_page(&akia, None, 1).await.unwrap();
        let second = s
            .inventory_page(&akia, first.last().map(|r| r.id), 1)
            .await
            .unwrap();
        let (ida, idb) = (
            RecordId::derive("c", &a.key).0,
            RecordId::derive("c", &b.key).0,
        );
        let mut both = [ida, idb];
        both.sort_unstable();
        assert_eq!(
            (first[0].id, second[0].id),
            (both[0], both[1]),
            "{}",
            ts.backend
        );
        assert!(
            s.inventory_page(&akia, Some(both[1]), 1)
                .await
                .unwrap()
                .is_empty()
        );
        let among = s
            .inventory_rows_among(
                &InventoryFilter {
                    search: Some("payments".into()),
                    ..Default::default()
                },
                &[ida, idb, 999],
            )
            .await
            .unwrap();
        assert_eq!(among.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ida]);

        // A search within a stored tier (the index holds the tier too).
        let within = |q: &str, tier: Tier| {
            let f = InventoryFilter {
                search: Some(q.into()),
                tier: Some(tier),
                ..Default::default()
            };
            async move { s.inventory_count(&f).await.unwrap() }
        };
        let tier_a = |stored: String| -> Tier { stored.parse().unwrap() };
        let before = tier_a(s.record(ida).await.unwrap().tier);
        assert_eq!(within("payments", before).await, 1, "{}", ts.backend);
        assert_eq!(within("payments", Tier::Critical).await, 0);
        // The same through the stored-evaluation filter (the inventory's own), with nothing
        // due: the tier is read inside the index, and named apart from the index's own column.
        let stored = |tier: Tier| InventoryFilter {
            search: Some("payments".into()),
            evaluated: Some(roster_store::StoredEvaluationFilter {
                as_of: t(3),
                tier: Some(tier),
                rules_any: vec![],
                due: Some(vec![]),
            }),
            ..Default::default()
        };
        assert_eq!(
            s.inventory_count(&stored(before)).await.unwrap(),
            1,
            "{}",
            ts.backend
        );
        assert_eq!(
            s.inventory_page(&stored(before), None, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(s.inventory_count(&stored(Tier::Low)).await.unwrap(), 0);

        let run2 = s.begin_sync_run(t(4), &["c".into()], "test").await.unwrap();
        a.name = "deploy-billing".into();
        a.owner = Some("bob@acme.example".into());
        a.privilege = Privilege::Read;
        s.write_records(run2, t(4), &[row(a.clone(), Change::Changed)])
            .await
            .unwrap();
        assert_eq!(found("payments").await, 0, "{}: the old name", ts.backend);
        assert_eq!(found("billing").await, 1, "the new name");
        assert_eq!(found("alice").await, 0, "the old owner");
        assert_eq!(found("bob@").await, 1, "the new owner");
        let after = tier_a(s.record(ida).await.unwrap().tier);
        assert_ne!(before, after, "read-only lowers the tier");
        assert_eq!(
            within("billing", after).await,
            1,
            "{}: the new tier",
            ts.backend
        );
        assert_eq!(within("billing", before).await, 0, "not the old one");

        for syntax in [
            "\"",
            "a\"b\"",
            "NOT",
            "AND OR",
            "name:deploy",
            "deploy*",
            "(dep",
            "^dep",
            "NEAR(a b)",
            "{name}:x",
            "-dep",
        ] {
            assert_eq!(found(syntax).await, 0, "{}: `{syntax}`", ts.backend);
        }
        assert!(s.search_index_agrees().await.unwrap(), "{}", ts.backend);

        if !s.is_postgres() {
            let id = RecordId::derive("c", &b.key).0;
            let db = s.connection();
            db.execute_unprepared("DROP TRIGGER records_search_update")
                .await
                .unwrap();
            db.execute_unprepared(&format!(
                "UPDATE records SET name = 'renamed-by-hand' WHERE id = {id}"
            ))
            .await
            .unwrap();
            assert!(
                !s.search_index_agrees().await.unwrap(),
                "a write around the index"
            );
            s.rebuild_search_index().await.unwrap();
            assert!(s.search_index_agrees().await.unwrap());
            assert_eq!(found("by-hand").await, 1);
            db.execute_unprepared(&format!("DELETE FROM records WHERE id = {id}"))
                .await
                .unwrap();
            assert!(s.search_index_agrees().await.unwrap(), "a delete leaves it");
            assert_eq!(found("by-hand").await, 0);
        }
    }
}

/// No search text is an error: whatever is typed, the search box's query runs (property test
/// over arbitrary text, on SQLite, whose FTS5 query syntax is the parser at risk).
#[test]
fn any_search_text_runs() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(async {
        let s = roster_store::Store::connect("sqlite::memory:")
            .await
            .unwrap();
        s.migrate().await.unwrap();
        let run = s.begin_sync_run(t(3), &["c".into()], "test").await.unwrap();
        let r = record("acme", "1", Platform::Gcp, Some("alice"));
        s.write_records(run, t(3), &[row(r, Change::New)])
            .await
            .unwrap();
        // Indexed, so that every search text goes through FTS5's query parser.
        assert_eq!(s.index_pending_search().await.unwrap(), 1);
        s
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    });
    runner
        .run(&"\\PC{0,40}", |q| {
            let f = InventoryFilter {
                search: Some(q.clone()),
                ..Default::default()
            };
            let n = rt.block_on(store.inventory_count(&f));
            prop_assert!(n.is_ok(), "`{q}`: {n:?}");
            Ok(())
        })
        .unwrap();
}

/// A large write refreshes PostgreSQL's statistics (its search plans depend on them); a small
/// one, or SQLite, does nothing.
#[tokio::test]
async fn a_large_write_refreshes_postgres_statistics() {
    for ts in test_stores().await.unwrap() {
        use sea_orm::{ConnectionTrait, Statement};
        let s = &ts.store;
        // PostgreSQL's own record of it: `reltuples` is -1 until the table is first analysed.
        let analysed = || async {
            let row = s
                .connection()
                .query_one(Statement::from_string(
                    s.backend(),
                    "SELECT reltuples >= 0 AS done FROM pg_class WHERE relname = 'records'",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<bool>("", "done").unwrap()
        };
        assert!(!s.analyze_after_bulk_write(9_999).await.unwrap());
        if s.is_postgres() {
            assert!(!analysed().await, "a fresh table, never analysed");
        }
        assert_eq!(
            s.analyze_after_bulk_write(10_000).await.unwrap(),
            s.is_postgres(),
            "{}",
            ts.backend
        );
        if s.is_postgres() {
            assert!(analysed().await, "statistics taken");
        }
    }
}

/// Retention deletes record history and clears sync-run reports from before the cut-off, and
/// keeps what is newer, the runs themselves and the newest run's report.
#[tokio::test]
async fn retention_prunes_only_what_is_older_than_its_cut_off() {
    use roster_store::entity::{record_history, sync_run};
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    for ts in test_stores().await.unwrap() {
        let s = &ts.store;
        let mut runs = Vec::new();
        for day in [1, 10, 20] {
            let run = s
                .begin_sync_run(t(day), &["c".into()], "test")
                .await
                .unwrap();
            s.finish_sync_run(
                run,
                t(day),
                RunStatus::Ok,
                RunCounts::default(),
                &serde_json::json!({"listings": ["x"]}),
            )
            .await
            .unwrap();
            runs.push(run);
        }
        // Two old history rows and one at the cut-off day's noon, i.e. after it.
        for (run, day) in [(runs[0], 1), (runs[0], 1), (runs[2], 20)] {
            record_history::ActiveModel {
                record_id: Set(42),
                sync_run_id: Set(run),
                change: Set("changed".into()),
                content_hash: Set(1),
                at: Set(t(day)),
                ..Default::default()
            }
            .insert(s.connection())
            .await
            .unwrap();
        }
        let cut = Utc.with_ymd_and_hms(2026, 6, 15, 0, 0, 0).unwrap();
        assert_eq!(
            s.prune_record_history(cut).await.unwrap(),
            2,
            "{}",
            ts.backend
        );
        let left = s.record_timeline(42).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].at, t(20));
        assert_eq!(s.prune_record_history(cut).await.unwrap(), 0, "idempotent");

        // Runs on days 1 and 10 are before the cut: both cleared; day 20's kept.
        assert_eq!(s.prune_sync_run_detail(cut).await.unwrap(), 2);
        // A cut after every run still keeps the newest run's report.
        let later = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        assert_eq!(s.prune_sync_run_detail(later).await.unwrap(), 0);
        let all = sync_run::Entity::find().all(s.connection()).await.unwrap();
        assert_eq!(all.len(), 3, "runs are kept");
        for r in all {
            assert_eq!(r.report.is_some(), r.id == runs[2], "run {}", r.id);
        }
    }
}
